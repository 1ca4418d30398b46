//! Names of kernel objects, derived from the state root.
//!
//! Two state roots (two test runs, or a test and the real /var/lib/carton) must never touch each
//! other's cgroups, bridges or firewall tables. Every such name carries a short tag computed from
//! the root's path, and `workshop clean` finds leftovers by that tag.

use std::path::Path;

/// The default state root's objects are plainly "carton"; any other root adds a 6-hex tag.
pub fn root_tag(state_root: &Path) -> String {
    let canonical = std::fs::canonicalize(state_root).unwrap_or_else(|_| state_root.to_path_buf());
    if canonical == Path::new("/var/lib/carton") {
        return String::new();
    }
    // FNV-1a: short, stable across runs and Rust versions (unlike std's hasher).
    let mut hash: u32 = 0x811c_9dc5;
    for byte in canonical.as_os_str().as_encoded_bytes() {
        hash ^= *byte as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", hash & 0xff_ffff)
}

/// The parent cgroup of every container of this state root: `carton` or `carton-1a2b3c`.
pub fn cgroup_parent(state_root: &Path) -> String {
    match root_tag(state_root).as_str() {
        "" => "carton".to_string(),
        tag => format!("carton-{tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_short_and_distinct() {
        let a = root_tag(Path::new("/tmp/carton-test-a"));
        let b = root_tag(Path::new("/tmp/carton-test-b"));
        assert_eq!(a.len(), 6);
        assert_ne!(a, b);
        assert_eq!(a, root_tag(Path::new("/tmp/carton-test-a")));
        assert_eq!(cgroup_parent(Path::new("/var/lib/carton")), "carton");
        assert_eq!(
            cgroup_parent(Path::new("/tmp/carton-test-a")),
            format!("carton-{a}")
        );
    }
}
