//! `workshop clean [--check]`: remove what crashed runs left behind (processes still in a
//! container's root, mounts, half-built directories), in every state root the project uses:
//! /var/lib/carton, `$CARTON_ROOT`, and the tests' `carton-test-*` roots in the temporary
//! directory (which are deleted too). `--check` only lists them: CI's leak check.
//!
//! Finding and removing each kind of object is the engine's job (`engine::cleanup`): every
//! chapter that creates a new kind of kernel object teaches it to find that kind.

use std::fs;
use std::path::{Path, PathBuf};

use engine::cleanup::{self, Leftover};

use crate::ui;

/// A state root to look in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRoot {
    pub path: PathBuf,
    /// A test's root: the directory itself is a leftover and is deleted.
    pub test_root: bool,
}

/// The prefix of every test's state root (see testkit's `TestRoot`).
pub const TEST_ROOT_PREFIX: &str = "carton-test-";

/// Every state root to clean: just `only` when given, else all of them.
pub fn state_roots(only: Option<&Path>) -> Vec<StateRoot> {
    if let Some(path) = only {
        return vec![StateRoot {
            path: path.to_path_buf(),
            test_root: false,
        }];
    }
    let mut roots = vec![StateRoot {
        path: PathBuf::from("/var/lib/carton"),
        test_root: false,
    }];
    if let Some(root) = std::env::var_os("CARTON_ROOT").filter(|r| !r.is_empty()) {
        roots.push(StateRoot {
            path: PathBuf::from(root),
            test_root: false,
        });
    }
    let mut temp_dirs = vec![std::env::temp_dir()];
    if !temp_dirs.contains(&PathBuf::from("/tmp")) {
        temp_dirs.push(PathBuf::from("/tmp"));
    }
    for dir in temp_dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| is_test_root_name(&e.file_name().to_string_lossy()))
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        found.sort();
        roots.extend(found.into_iter().map(|path| StateRoot {
            path,
            test_root: true,
        }));
    }
    let mut unique: Vec<StateRoot> = Vec::new();
    for root in roots {
        if !unique.iter().any(|u| same_path(&u.path, &root.path)) {
            unique.push(root);
        }
    }
    unique
}

pub fn is_test_root_name(name: &str) -> bool {
    name.strip_prefix(TEST_ROOT_PREFIX)
        .is_some_and(|rest| !rest.is_empty())
}

fn same_path(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

/// Is anything still mounted at or under `root`? Then its directory must not be deleted:
/// deleting would go through the mount into whatever is mounted there.
fn has_mounts_under(root: &Path) -> bool {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    cleanup::mount_points().iter().any(|m| m.starts_with(&root))
}

/// `clean --check`: list what is left; true when nothing is.
pub fn check(only: Option<&Path>) -> bool {
    let mut left = 0;
    for root in state_roots(only) {
        for item in cleanup::leftovers(&root.path) {
            ui::fail("left behind:", &item.to_string());
            left += 1;
        }
        if root.test_root {
            ui::fail(
                "left behind:",
                &format!("test state root {}", root.path.display()),
            );
            left += 1;
        }
    }
    if left == 0 {
        ui::ok(
            "nothing left behind",
            "no process, mount or state directory of a run",
        );
        true
    } else {
        println!("{left} leftover(s): `./workshop clean` removes them.");
        false
    }
}

/// `clean`: remove every leftover; true when everything could be removed.
pub fn clean(only: Option<&Path>) -> bool {
    let mut removed = 0;
    let mut failed = 0;
    for root in state_roots(only) {
        let (gone, stuck) = cleanup::clean(&root.path);
        for item in &gone {
            ui::ok("removed", &describe(item));
        }
        for (item, why) in &stuck {
            ui::fail("could not remove", &format!("{item}: {why}"));
        }
        removed += gone.len();
        failed += stuck.len();
        if root.test_root {
            if has_mounts_under(&root.path) {
                ui::fail(
                    "kept",
                    &format!(
                        "{}: something is still mounted under it",
                        root.path.display()
                    ),
                );
                failed += 1;
            } else {
                match fs::remove_dir_all(&root.path) {
                    Ok(()) => {
                        ui::ok(
                            "removed",
                            &format!("test state root {}", root.path.display()),
                        );
                        removed += 1;
                    }
                    Err(e) => {
                        ui::fail("could not remove", &format!("{}: {e}", root.path.display()));
                        failed += 1;
                    }
                }
            }
        }
    }
    if removed == 0 && failed == 0 {
        ui::ok("nothing to clean", "");
    } else {
        println!("removed {removed}, could not remove {failed}");
    }
    failed == 0
}

fn describe(item: &Leftover) -> String {
    item.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_roots_are_recognised_by_name() {
        assert!(is_test_root_name("carton-test-exit_codes-a1b2c3"));
        assert!(!is_test_root_name("carton-test-"));
        assert!(!is_test_root_name("carton"));
        assert!(!is_test_root_name("my-carton-test-x"));
    }

    #[test]
    fn one_root_when_asked_for_one() {
        let roots = state_roots(Some(Path::new("/tmp/somewhere")));
        assert_eq!(
            roots,
            [StateRoot {
                path: PathBuf::from("/tmp/somewhere"),
                test_root: false
            }]
        );
    }
}
