//! Which cgroup layout this host has.
//!
//! - **v2** ("unified"): /sys/fs/cgroup is one cgroup2 filesystem; a cgroup is one directory
//!   with all the controllers' files in it. Most distributions since 2021.
//! - **v1**: /sys/fs/cgroup is a tmpfs with one hierarchy per controller (memory/, cpu/,
//!   pids/...); a container has one directory in each.
//! - **hybrid**: v1's layout, plus a cgroup2 at /sys/fs/cgroup/unified that holds no
//!   controllers. The controllers are on v1, so the runtime treats it as v1.

use std::path::PathBuf;

use engine::{Context, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    V2,
    V1,
    Hybrid,
}

impl Layout {
    // ANCHOR: detect
    /// The filesystem type of /sys/fs/cgroup tells them apart (statfs's magic number).
    pub fn detect() -> Result<Layout> {
        let root = nix::sys::statfs::statfs("/sys/fs/cgroup").ctx("statfs", "/sys/fs/cgroup")?;
        let kind = root.filesystem_type();
        if kind == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return Ok(Layout::V2);
        }
        if kind != nix::sys::statfs::TMPFS_MAGIC {
            return Err(Error::other(
                "/sys/fs/cgroup is neither cgroup2 nor a tmpfs of v1 hierarchies: is cgroupfs mounted?",
            ));
        }
        let unified = nix::sys::statfs::statfs("/sys/fs/cgroup/unified");
        Ok(match unified {
            Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => {
                Layout::Hybrid
            }
            _ => Layout::V1,
        })
    }
    // ANCHOR_END: detect

    pub fn uses_v2(self) -> bool {
        self == Layout::V2
    }
}

/// A v1 hierarchy: where it is mounted and which controllers it carries ("cpu", or
/// "cpu,cpuacct" where the two are mounted together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mount_point: PathBuf,
    pub controllers: Vec<String>,
}

/// The controllers cgroup v1 knows.
pub const V1_CONTROLLERS: [&str; 14] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The v1 hierarchies, read from mountinfo text (`/proc/self/mountinfo`).
pub fn v1_hierarchies(mountinfo: &str) -> Vec<V1Hierarchy> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split(' ');
            if right.next()? != "cgroup" {
                return None;
            }
            let options = right.nth(1)?;
            // The super options mix controllers with mount options ("rw,xattr,name=systemd"):
            // keep only the names of v1 controllers.
            let controllers: Vec<String> = options
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o))
                .map(str::to_string)
                .collect();
            let mount_point =
                PathBuf::from(engine::cleanup::unescape_octal(left.split(' ').nth(4)?));
            (!controllers.is_empty()).then_some(V1Hierarchy {
                mount_point,
                controllers,
            })
        })
        .collect()
}

/// The v1 hierarchy that carries `controller`.
pub fn v1_hierarchy_of<'a>(
    hierarchies: &'a [V1Hierarchy],
    controller: &str,
) -> Option<&'a V1Hierarchy> {
    hierarchies
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == controller))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
38 35 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
40 35 0:35 / /sys/fs/cgroup/pids rw,nosuid shared:14 - cgroup cgroup rw,pids
";

    #[test]
    fn v1_hierarchies_and_their_controllers_are_read_from_mountinfo() {
        let found = v1_hierarchies(HYBRID);
        assert_eq!(
            found.len(),
            3,
            "name=systemd carries no controller: {found:?}"
        );
        let cpu = v1_hierarchy_of(&found, "cpuacct").unwrap();
        assert_eq!(cpu.mount_point, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            v1_hierarchy_of(&found, "memory").unwrap().mount_point,
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert!(v1_hierarchy_of(&found, "cpuset").is_none());
    }
}
