//! The commands chapter 4 adds: images, import, rmi, tag, ps, diff, commit, rm.
// Your exercise: derived from solutions/04-images/src/commands.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::fs;
use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};

use crate::store::{Store, normalize_reference};
use crate::{IMAGE_FILE, archive, diff};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List the images: name, id, layers and size
    Images,
    /// Import an image: a `docker save` or OCI tarball, an OCI layout directory, or a root
    /// filesystem tarball (which needs a NAME)
    Import {
        path: PathBuf,
        #[arg(value_name = "NAME[:TAG]")]
        name: Option<String>,
    },
    /// Remove an image name, and the image when no name is left (refused while a container uses it)
    Rmi {
        #[arg(value_name = "IMAGE")]
        image: String,
    },
    /// Give an image another name
    Tag {
        #[arg(value_name = "IMAGE")]
        source: String,
        #[arg(value_name = "NAME[:TAG]")]
        target: String,
    },
    /// List the containers: running ones, and stopped ones that were not run with --rm
    Ps,
    /// Show what a container changed: A added, C changed, D deleted
    Diff {
        #[arg(value_name = "CONTAINER")]
        container: String,
    },
    /// Make a new image from a stopped container's changes
    Commit {
        #[arg(value_name = "CONTAINER")]
        container: String,
        #[arg(value_name = "NAME[:TAG]")]
        name: String,
    },
    /// Remove a stopped container and its writable layer
    Rm {
        #[arg(value_name = "CONTAINER")]
        container: String,
    },
}

/// Run one of the commands; returns the exit code.
pub fn run_command(program: &str, command: Command, explain: bool) -> i32 {
    engine::narrate::enable(explain);
    let state_root = engine::container::state_root();
    let outcome = engine::require_root(program)
        .and_then(|()| engine::guarded("images", || execute(&state_root, command)));
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            narrate::error(&format!("{program}: {error}"));
            1
        }
    }
}

fn execute(state_root: &Path, command: Command) -> Result<()> {
    let store = Store::open(state_root)?;
    match command {
        Command::Images => {
            archive::busybox_image(&store, state_root)?;
            let tags = store.tags();
            println!(
                "{:<32} {:<14} {:>6} {:>10}",
                "IMAGE", "ID", "LAYERS", "SIZE"
            );
            for (reference, id) in &tags {
                let image = store.image_by_id(id)?;
                let size: u64 = image.layers.iter().map(|l| store.layer_size(l)).sum();
                println!(
                    "{:<32} {:<14} {:>6} {:>10}",
                    reference,
                    &id[..12],
                    image.layers.len(),
                    human(size)
                );
            }
            Ok(())
        }
        Command::Import { path, name } => {
            if let Some(name) = &name {
                normalize_reference(name)?;
            }
            for (reference, image) in archive::import(&store, &path, name.as_deref())? {
                println!(
                    "{reference} {} ({} layers)",
                    &image.id[..12],
                    image.layers.len()
                );
            }
            Ok(())
        }
        Command::Tag { source, target } => {
            let image = archive::find_image(&store, state_root, &source)?;
            store.tag(&image, &target)
        }
        Command::Rmi { image } => remove_image(&store, state_root, &image),
        Command::Ps => {
            println!("{:<14} {:<14} STATUS", "CONTAINER", "IMAGE");
            for dir in containers(state_root) {
                let id = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let image = fs::read_to_string(dir.join(IMAGE_FILE)).unwrap_or_default();
                let image =
                    tag_of(&store, &image).unwrap_or_else(|| image.chars().take(12).collect());
                println!("{:<14} {:<14} {}", id, image, status(&dir));
            }
            Ok(())
        }
        Command::Diff { container } => {
            let dir = find_container(state_root, &container)?;
            let image = store.image_by_id(
                fs::read_to_string(dir.join(IMAGE_FILE))
                    .ctx("read", "image")?
                    .trim(),
            )?;
            let lowers: Vec<PathBuf> = image.layers.iter().map(|l| store.layer_dir(l)).collect();
            for change in diff::changes(&dir.join("upper"), &lowers) {
                println!("{change}");
            }
            Ok(())
        }
        Command::Commit { container, name } => {
            let reference = normalize_reference(&name)?;
            let dir = find_container(state_root, &container)?;
            refuse_running(&dir)?;
            let base = store.image_by_id(
                fs::read_to_string(dir.join(IMAGE_FILE))
                    .ctx("read", "image")?
                    .trim(),
            )?;
            narrate::step(
                "images",
                "pack the container's upper directory as a layer",
                format!("tar of {:?}", dir.join("upper")),
            );
            let layer = archive::upper_to_layer(&dir.join("upper"))?;
            let diff_id = store.add_layer(&layer[..])?;
            let mut layers = base.layers.clone();
            layers.push(diff_id);
            let image = store.add_image(layers, &format!("commit of container {container}"))?;
            store.tag(&image, &reference)?;
            println!("{reference} {}", &image.id[..12]);
            Ok(())
        }
        Command::Rm { container } => {
            let dir = find_container(state_root, &container)?;
            refuse_running(&dir)?;
            // A crashed run may have left the overlay mounted: never delete through a mount.
            let _ = nix::mount::umount2(&dir.join("merged"), nix::mount::MntFlags::MNT_DETACH);
            narrate::step(
                "images",
                "remove the container and its writable layer",
                format!("rm -r {dir:?}"),
            );
            fs::remove_dir_all(&dir).ctx("rm -r", dir.display())
        }
    }
}

fn remove_image(store: &Store, state_root: &Path, reference: &str) -> Result<()> {
    let image = store.resolve(reference)?;
    let users: Vec<String> = containers(state_root)
        .into_iter()
        .filter(|dir| {
            fs::read_to_string(dir.join(IMAGE_FILE)).is_ok_and(|id| id.trim() == image.id)
        })
        .filter_map(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if !users.is_empty() {
        return Err(Error::usage(format!(
            "image {reference} is used by container(s) {}: remove them first (`rm ID`)",
            users.join(", ")
        )));
    }
    let by_tag = normalize_reference(reference)
        .ok()
        .filter(|r| store.tags().contains_key(r));
    let left = store.update_tags(|tags| {
        match &by_tag {
            Some(tag) => {
                tags.remove(tag);
            }
            None => tags.retain(|_, id| *id != image.id),
        }
        Ok(tags.values().filter(|id| **id == image.id).count())
    })?;
    if let Some(tag) = by_tag {
        println!("untagged {tag}");
    }
    if left == 0 {
        store.remove_image(&image.id)?;
        println!("deleted {}", &image.id[..12]);
    }
    Ok(())
}

/// Every container directory under the state root.
pub fn containers(state_root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(state_root.join("containers"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A container by its id or an unambiguous start of it.
pub fn find_container(state_root: &Path, prefix: &str) -> Result<PathBuf> {
    if prefix.is_empty() {
        return Err(Error::usage("which container? give its id (see `ps`)"));
    }
    let matches: Vec<PathBuf> = containers(state_root)
        .into_iter()
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::usage(format!("no container {prefix} (see `ps`)"))),
        _ => Err(Error::usage(format!(
            "{prefix} is the start of several container ids: give more of it"
        ))),
    }
}

fn is_running(dir: &Path) -> bool {
    dir.join(engine::state::RUNTIME_PID).exists() && !engine::state::abandoned(dir)
}

fn refuse_running(dir: &Path) -> Result<()> {
    if is_running(dir) {
        return Err(Error::usage(format!(
            "container {} is running: wait for it to exit",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )));
    }
    Ok(())
}

fn status(dir: &Path) -> String {
    if is_running(dir) {
        return "running".to_string();
    }
    match fs::read_to_string(dir.join(engine::state::EXIT_CODE)) {
        Ok(code) => format!("exited ({})", code.trim()),
        Err(_) => "dead (its runtime crashed: `rm` it)".to_string(),
    }
}

fn tag_of(store: &Store, id: &str) -> Option<String> {
    store
        .tags()
        .into_iter()
        .find(|(_, tagged)| tagged == id.trim())
        .map(|(reference, _)| reference)
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
