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

/// The nftables table of this state root (family `ip`): `carton` or `carton_1a2b3c`. nft
/// identifiers allow letters, digits and `_`, not `-`.
pub fn nft_table(state_root: &Path) -> String {
    match root_tag(state_root).as_str() {
        "" => "carton".to_string(),
        tag => format!("carton_{tag}"),
    }
}

/// The start of the name of every bridge of this state root: `carton` (bridges `carton0`,
/// `carton1`...) or `cb1a2b3c-` (bridges `cb1a2b3c-0`...). A network's bridge is this prefix and
/// the network's number; the result fits the kernel's 15-character limit for interface names.
pub fn bridge_prefix(state_root: &Path) -> String {
    match root_tag(state_root).as_str() {
        "" => "carton".to_string(),
        tag => format!("cb{tag}-"),
    }
}

/// The bridge of network number `index` of this state root: `carton0`, `cb1a2b3c-0`.
pub fn bridge_name(state_root: &Path, index: u32) -> String {
    format!("{}{index}", bridge_prefix(state_root))
}

/// Is `name` one of this state root's bridges (the prefix followed by a number)?
pub fn is_bridge_of(state_root: &Path, name: &str) -> bool {
    name.strip_prefix(&bridge_prefix(state_root))
        .is_some_and(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The host end of a container's veth pair: `ct` and the first 8 hex digits of its id.
pub fn veth_host(container_id: &str) -> String {
    format!("ct{}", &container_id[..container_id.len().min(8)])
}

/// The container end of the pair, as it is made in the container's network namespace (where
/// it is renamed `eth0`): the host end's name and `p`.
pub fn veth_peer(container_id: &str) -> String {
    format!("{}p", veth_host(container_id))
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

    #[test]
    fn network_names_fit_the_kernel_and_carry_the_tag() {
        let root = Path::new("/tmp/carton-test-a");
        let tag = root_tag(root);
        assert_eq!(nft_table(Path::new("/var/lib/carton")), "carton");
        assert_eq!(nft_table(root), format!("carton_{tag}"));
        assert_eq!(bridge_name(Path::new("/var/lib/carton"), 0), "carton0");
        let bridge = bridge_name(root, 999);
        assert_eq!(bridge, format!("cb{tag}-999"));
        assert!(bridge.len() <= 15);
        assert!(is_bridge_of(root, &bridge));
        assert!(!is_bridge_of(root, "carton0"));
        assert!(!is_bridge_of(root, &format!("cb{tag}-")));
        assert_eq!(veth_host("0123456789ab"), "ct01234567");
        assert_eq!(veth_peer("0123456789ab"), "ct01234567p");
    }
}
