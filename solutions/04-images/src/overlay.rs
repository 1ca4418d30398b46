//! The container's root: an overlay of the image's read-only layers and a writable layer of its
//! own.
//!
//! ```text
//!   merged/   what the container sees            (the mount point)
//!     upper/  the container's changes            (read-write, one per container)
//!     lower:  layer N ... layer 1                (read-only, shared by every container)
//!   work/     overlayfs's scratch space          (empty, on the same filesystem as upper)
//! ```
//!
//! Reading a file finds it in the uppermost layer that has it. Writing one first copies it up
//! into upper/ ("copy-up"). Deleting one that a lower layer has leaves a "whiteout" in upper/:
//! a character device 0/0 with the file's name, which hides it.

use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// The directories of one container's overlay, under its own directory.
pub struct OverlayDirs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl OverlayDirs {
    pub fn under(container_dir: &Path) -> OverlayDirs {
        OverlayDirs {
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
            merged: container_dir.join("merged"),
        }
    }
}

// ANCHOR: options
/// The mount options for overlayfs. `lowers` comes bottom layer first (the order of an image's
/// layers); the names are short, relative to the directory the mount is made from, so that 128
/// layers still fit in the one page (4096 bytes) the kernel accepts for mount options.
// ANCHOR: options_exercise
pub fn mount_options(lowers: &[String], upper: &Path, work: &Path) -> String {
    // EXERCISE: build "lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK". overlayfs wants
    // the uppermost lower layer FIRST, the reverse of the image's order.
    // ANCHOR_END: options_exercise
    // BEGIN SOLUTION
    let lowerdir: Vec<&str> = lowers.iter().rev().map(String::as_str).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    )
    // END SOLUTION
}
// ANCHOR_END: options

// ANCHOR: mount_overlay
/// Mount the overlay. `layer_links` is the directory that holds a short link per layer; the
/// mount is made from there so the relative lower names resolve.
pub fn mount_overlay(layer_links: &Path, lowers: &[String], dirs: &OverlayDirs) -> Result<()> {
    for dir in [&dirs.upper, &dirs.work, &dirs.merged] {
        std::fs::create_dir_all(dir).ctx("mkdir", dir.display())?;
    }
    let options = mount_options(lowers, &dirs.upper, &dirs.work);
    if options.len() >= 4096 {
        return Err(Error::usage(format!(
            "the image has too many layers: their overlay options are {} bytes, the kernel takes 4095",
            options.len()
        )));
    }
    narrate::step(
        "overlay",
        "mount the image layers and a writable layer",
        format!(
            "mount(\"overlay\", {:?}, \"overlay\", \"{}\")",
            dirs.merged,
            shorten(&options)
        ),
    );
    // Relative lowerdir names are resolved from the working directory of the process that
    // mounts: step into the links directory for the call, then step back.
    let back = std::env::current_dir().ctx("getcwd", ".")?;
    nix::unistd::chdir(layer_links).ctx("chdir", layer_links.display())?;
    let mounted = mount(
        Some("overlay"),
        &dirs.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    );
    nix::unistd::chdir(&back).ctx("chdir", back.display())?;
    mounted.ctx("mount", format!("overlay on {}", dirs.merged.display()))
}
// ANCHOR_END: mount_overlay

pub fn unmount_overlay(dirs: &OverlayDirs) -> Result<()> {
    narrate::step(
        "overlay",
        "unmount the container's root",
        format!("umount2({:?}, MNT_DETACH)", dirs.merged),
    );
    match umount2(&dirs.merged, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(errno) => Err(Error::sys("umount2", dirs.merged.display(), errno)),
    }
}

/// Options of a 128-layer image are long: show the start and the end.
fn shorten(options: &str) -> String {
    if options.len() <= 160 {
        return options.to_string();
    }
    format!("{}...{}", &options[..80], &options[options.len() - 60..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uppermost_layer_comes_first() {
        let lowers = vec![
            "bottom".to_string(),
            "middle".to_string(),
            "top".to_string(),
        ];
        assert_eq!(
            mount_options(&lowers, Path::new("/c/upper"), Path::new("/c/work")),
            "lowerdir=top:middle:bottom,upperdir=/c/upper,workdir=/c/work"
        );
    }
}
