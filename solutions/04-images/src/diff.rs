//! `diff`: what a container changed, read from its upper directory, like `docker diff`.
//!
//! - `D /path`: a whiteout (the container deleted a file of the image);
//! - `C /path`: the path exists in the image too (changed, or a directory with changes inside);
//! - `A /path`: new.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: String,
    pub kind: char,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.path)
    }
}

/// The changes in `upper` against the image's layers (`lowers`, bottom first).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Vec<Change> {
    let mut found = Vec::new();
    walk(upper, Path::new(""), lowers, &mut found);
    found.sort();
    found
}

fn walk(upper: &Path, relative: &Path, lowers: &[PathBuf], found: &mut Vec<Change>) {
    let Ok(entries) = fs::read_dir(upper.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = relative.join(entry.file_name());
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let shown = format!("/{}", name.display());
        let kind = if meta.file_type().is_char_device() && meta.rdev() == 0 {
            'D'
        } else if in_image(&name, lowers) {
            'C'
        } else {
            'A'
        };
        found.push(Change { path: shown, kind });
        if meta.is_dir() {
            walk(upper, &name, lowers, found);
        }
    }
}

/// Does the image show this path? Look from the top layer down: a whiteout hides it.
fn in_image(relative: &Path, lowers: &[PathBuf]) -> bool {
    for layer in lowers.iter().rev() {
        if let Ok(meta) = fs::symlink_metadata(layer.join(relative)) {
            return !(meta.file_type().is_char_device() && meta.rdev() == 0);
        }
    }
    false
}
