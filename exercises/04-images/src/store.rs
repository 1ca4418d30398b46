//! The image store, under `$CARTON_ROOT/images`:
//!
//! ```text
//! layers/SHA256/     one directory per layer, named by the sha256 of its uncompressed tar
//!                    (its "diff id"), extracted once and shared by every image that has it
//! l/SHORT -> ../layers/SHA256   short names, so the overlay options of 128 layers fit a page
//! images/ID.json     an image: its layers, bottom first
//! tags.json          name:tag -> image id
//! ```
// Your exercise: derived from solutions/04-images/src/store.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract;

/// The short name of a layer in `l/`: 12 hex digits are plenty to tell layers apart here.
pub const SHORT: usize = 12;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Image {
    /// sha256 of the image's layer list: two images with the same layers are the same image.
    pub id: String,
    /// Diff ids, bottom layer first.
    pub layers: Vec<String>,
    /// Seconds since 1970.
    pub created: u64,
    /// Where it came from: "built-in busybox", "import of x.tar", "commit of CONTAINER".
    pub comment: String,
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(state_root: &Path) -> Result<Store> {
        let root = state_root.join("images");
        for dir in ["layers", "l", "images"] {
            fs::create_dir_all(root.join(dir)).ctx("mkdir", root.join(dir).display())?;
        }
        Ok(Store { root })
    }

    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.root.join("layers").join(diff_id)
    }

    /// The directory of short links, from which the overlay is mounted.
    pub fn links_dir(&self) -> PathBuf {
        self.root.join("l")
    }

    /// Unpack a layer archive into the store, unless a layer with the same content is already
    /// there. Returns its diff id.
    pub fn add_layer(&self, archive: impl Read) -> Result<String> {
        let building = self.root.join("layers").join(format!(
            ".building-{}-{}",
            std::process::id(),
            engine::container::new_id()
        ));
        fs::create_dir(&building).ctx("mkdir", building.display())?;
        let mut hashing = Hashing::new(archive);
        let extracted = extract::extract_layer(&mut hashing, &building).and_then(|summary| {
            // The tar reader may stop before the archive's last padding: hash all of it.
            std::io::copy(&mut hashing, &mut std::io::sink()).ctx("read", "layer archive")?;
            Ok(summary)
        });
        let summary = match extracted {
            Ok(summary) => summary,
            Err(e) => {
                let _ = fs::remove_dir_all(&building);
                return Err(e);
            }
        };
        let diff_id = hashing.hex_digest();
        let layer = self.layer_dir(&diff_id);
        if layer.exists() || fs::rename(&building, &layer).is_err() {
            // Already stored (by an earlier import, or a concurrent one): layers are shared.
            let _ = fs::remove_dir_all(&building);
            narrate::note(
                "images",
                &format!("layer {} is already stored", &diff_id[..SHORT]),
            );
        } else {
            narrate::step(
                "images",
                "store a new layer",
                format!(
                    "{} entries, {} whiteouts -> layers/{}",
                    summary.entries,
                    summary.whiteouts,
                    &diff_id[..SHORT]
                ),
            );
        }
        let link = self.links_dir().join(&diff_id[..SHORT]);
        if fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink(format!("../layers/{diff_id}"), &link);
        }
        Ok(diff_id)
    }

    /// Record an image made of these layers (bottom first); returns it.
    pub fn add_image(&self, layers: Vec<String>, comment: &str) -> Result<Image> {
        if layers.is_empty() {
            return Err(Error::usage("an image needs at least one layer"));
        }
        let id = sha256_hex(layers.join("\n").as_bytes());
        let path = self.root.join("images").join(format!("{id}.json"));
        if let Ok(existing) = self.image_by_id(&id) {
            return Ok(existing);
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let image = Image {
            id,
            layers,
            created,
            comment: comment.to_string(),
        };
        let json = serde_json::to_vec_pretty(&image).map_err(|e| Error::other(e.to_string()))?;
        write_atomically(&path, &json)?;
        Ok(image)
    }

    pub fn image_by_id(&self, id: &str) -> Result<Image> {
        let path = self.root.join("images").join(format!("{id}.json"));
        let text = fs::read(&path).map_err(|_| Error::usage(format!("no image {id}")))?;
        serde_json::from_slice(&text).map_err(|e| Error::other(format!("{}: {e}", path.display())))
    }

    pub fn images(&self) -> Vec<Image> {
        let Ok(entries) = fs::read_dir(self.root.join("images")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .filter_map(|id| self.image_by_id(&id).ok())
            .collect()
    }

    /// name:tag -> image id, read under the store's lock.
    pub fn tags(&self) -> BTreeMap<String, String> {
        fs::read(self.root.join("tags.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Change the tags with the store locked, so two commands never lose each other's writes.
    pub fn update_tags<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock()?;
        let mut tags = self.tags();
        let result = change(&mut tags)?;
        let json = serde_json::to_vec_pretty(&tags).map_err(|e| Error::other(e.to_string()))?;
        write_atomically(&self.root.join("tags.json"), &json)?;
        Ok(result)
    }

    pub fn tag(&self, image: &Image, reference: &str) -> Result<()> {
        let reference = normalize_reference(reference)?;
        self.update_tags(|tags| {
            tags.insert(reference, image.id.clone());
            Ok(())
        })
    }

    /// Find an image by `name[:tag]` or by (a prefix of) its id.
    pub fn resolve(&self, reference: &str) -> Result<Image> {
        if let Ok(normal) = normalize_reference(reference)
            && let Some(id) = self.tags().get(&normal)
        {
            return self.image_by_id(id);
        }
        let matches: Vec<Image> = self
            .images()
            .into_iter()
            .filter(|i| reference.len() >= 4 && i.id.starts_with(reference))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
            0 => Err(Error::usage(format!(
                "no image {reference}: see `images`, or `import` one"
            ))),
            _ => Err(Error::usage(format!(
                "{reference} is the start of several image ids: give more of it"
            ))),
        }
    }

    /// Remove an image record, then every layer no image uses any more.
    pub fn remove_image(&self, id: &str) -> Result<()> {
        let path = self.root.join("images").join(format!("{id}.json"));
        fs::remove_file(&path).ctx("rm", path.display())?;
        let used: Vec<String> = self.images().into_iter().flat_map(|i| i.layers).collect();
        for entry in fs::read_dir(self.root.join("layers"))
            .ctx("read", "layers")?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || used.contains(&name) {
                continue;
            }
            narrate::step(
                "images",
                "remove a layer no image uses",
                format!("rm -r layers/{}", &name[..SHORT.min(name.len())]),
            );
            let _ = fs::remove_file(self.links_dir().join(&name[..SHORT.min(name.len())]));
            fs::remove_dir_all(entry.path()).ctx("rm -r", entry.path().display())?;
        }
        Ok(())
    }

    /// Bytes used by a layer on disk.
    pub fn layer_size(&self, diff_id: &str) -> u64 {
        disk_usage(&self.layer_dir(diff_id))
    }

    fn lock(&self) -> Result<fs::File> {
        let path = self.root.join("lock");
        let file = fs::File::create(&path).ctx("open", path.display())?;
        // SAFETY: flock on a descriptor we own; the lock goes when the file is dropped.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::sys(
                "flock",
                path.display(),
                nix::errno::Errno::last(),
            ));
        }
        Ok(file)
    }
}

/// `busybox` -> `busybox:latest`; checks the characters a reference may hold.
pub fn normalize_reference(reference: &str) -> Result<String> {
    let bad = |why: &str| Error::usage(format!("image name {reference:?}: {why}"));
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
    {
        return Err(bad(
            "a name is lowercase letters, digits and . _ - / (like library/busybox)",
        ));
    }
    if name.starts_with(['.', '-', '/']) || name.contains("..") || name.contains("//") {
        return Err(bad("a name cannot start with . - or /, nor hold .. or //"));
    }
    // A ':' in the name can only be a registry's port, in the first part: localhost:5000/app.
    if let Some((registry, _)) = name.split_once('/')
        && let Some((_, port)) = registry.split_once(':')
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad(
            "a ':' before the first '/' must be a registry's port, like localhost:5000/app",
        ));
    }
    if name.split('/').skip(1).any(|part| part.contains(':'))
        || (!name.contains('/') && name.contains(':'))
    {
        return Err(bad(
            "a ':' separates the tag, and only a registry's port may hold another",
        ));
    }
    if tag.is_empty()
        || tag.len() > 128
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(bad("a tag is 1 to 128 letters, digits and . _ -"));
    }
    Ok(format!("{name}:{tag}"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes what passes through it: the diff id of a layer is the sha256 of its
/// uncompressed archive, computed while it is being unpacked.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    pub fn hex_digest(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Write, fsync, rename: a reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = fs::File::create(&temporary).ctx("create", temporary.display())?;
    file.write_all(bytes).ctx("write", temporary.display())?;
    file.sync_all().ctx("fsync", temporary.display())?;
    fs::rename(&temporary, path).ctx("rename", path.display())
}

/// Bytes of the regular files under `dir` (not following symlinks).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_get_a_tag_and_bad_ones_are_refused() {
        assert_eq!(normalize_reference("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize_reference("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(
            normalize_reference("library/alpine:3").unwrap(),
            "library/alpine:3"
        );
        assert_eq!(
            normalize_reference("localhost:5000/app").unwrap(),
            "localhost:5000/app:latest"
        );
        for bad in ["", "UPPER", "a b", "-x", "a..b", "x:", "x:bad/tag", "x:t@g"] {
            assert!(normalize_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_digest_is_the_sha256_of_what_was_read() {
        let mut reader = Hashing::new(&b"abc"[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        assert_eq!(
            reader.hex_digest(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
