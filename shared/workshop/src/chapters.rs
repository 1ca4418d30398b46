//! The workspace and its chapters, found on disk: every `chapters/NN-topic` directory is one.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace's top directory (where the top-level Cargo.toml is).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// One chapter of the workshop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub number: u32,
    /// The directory name, e.g. `01-chroot`; the same under chapters/, exercises/, solutions/.
    pub name: String,
    /// The cargo package of the chapter's runtime (`ch01`, ..., `carton`).
    pub package: String,
}

impl Chapter {
    /// The topic part of the name: `chroot` for `01-chroot`.
    pub fn topic(&self) -> &str {
        self.name
            .split_once('-')
            .map(|(_, topic)| topic)
            .unwrap_or(&self.name)
    }
}

/// Every chapter under `chapters/`, in order.
pub fn discover(top: &Path) -> Vec<Chapter> {
    let Ok(entries) = fs::read_dir(top.join("chapters")) else {
        return Vec::new();
    };
    let mut found: Vec<Chapter> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let number = chapter_number(&name)?;
            let manifest = fs::read_to_string(entry.path().join("Cargo.toml")).ok()?;
            let package = package_name(&manifest)?;
            Some(Chapter {
                number,
                name,
                package,
            })
        })
        .collect();
    found.sort_by_key(|c| c.number);
    found
}

/// Chapter `number`, or an error that lists the chapters there are.
pub fn find(top: &Path, number: u32) -> Result<Chapter, String> {
    let all = discover(top);
    all.iter()
        .find(|c| c.number == number)
        .cloned()
        .ok_or_else(|| {
            let there: Vec<String> = all.iter().map(|c| c.number.to_string()).collect();
            format!(
                "there is no chapter {number} yet (chapters: {})",
                if there.is_empty() {
                    "none".to_string()
                } else {
                    there.join(", ")
                }
            )
        })
}

/// `01-chroot` -> 1; names without a leading number are not chapters.
pub fn chapter_number(dir_name: &str) -> Option<u32> {
    let (number, topic) = dir_name.split_once('-')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || topic.is_empty() {
        return None;
    }
    number.parse().ok()
}

/// The `name = "..."` of a manifest's `[package]` table.
pub fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_directories_are_numbered() {
        assert_eq!(chapter_number("01-chroot"), Some(1));
        assert_eq!(chapter_number("07-runtime"), Some(7));
        assert_eq!(chapter_number("chroot"), None);
        assert_eq!(chapter_number("x1-chroot"), None);
        assert_eq!(chapter_number("01-"), None);
    }

    #[test]
    fn the_package_name_comes_from_the_package_table() {
        let manifest = "[package]\nname = \"ch01\"\nedition.workspace = true\n\n\
                        [[bin]]\nname = \"other\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("ch01"));
        assert_eq!(package_name("[[bin]]\nname = \"x\"\n"), None);
    }

    #[test]
    fn the_topic_follows_the_number() {
        let chapter = Chapter {
            number: 1,
            name: "01-chroot".into(),
            package: "ch01".into(),
        };
        assert_eq!(chapter.topic(), "chroot");
    }
}
