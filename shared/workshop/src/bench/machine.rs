//! The machine the numbers come from. A benchmark without it is not worth reading: the same
//! runtime is twice as fast on another CPU, and a VM pays more for every system call.

use std::fs;

#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub cgroups: String,
    /// The CPU's `hypervisor` flag: the kernel runs in a virtual machine.
    pub virtual_machine: bool,
    /// /proc/loadavg when the benchmark started: other work on the machine skews the results.
    pub load: String,
}

pub fn describe() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".to_string());
    let virtual_machine = field(&cpuinfo, "flags")
        .map(|flags| flags.split_whitespace().any(|f| f == "hypervisor"))
        .unwrap_or(false);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let load = fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Machine {
        cpu,
        cores,
        kernel,
        cgroups: cgroup_layout().describe().to_string(),
        virtual_machine,
        load,
    }
}

/// The first value of `key` in /proc/cpuinfo's `key : value` lines.
fn field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayout {
    V2,
    /// v1 controllers, and cgroup2 mounted at /sys/fs/cgroup/unified.
    Hybrid,
    V1,
}

impl CgroupLayout {
    fn describe(self) -> &'static str {
        match self {
            CgroupLayout::V2 => "cgroup v2 (unified)",
            CgroupLayout::Hybrid => {
                "cgroup v1 hybrid (controllers on v1, cgroup2 at /sys/fs/cgroup/unified)"
            }
            CgroupLayout::V1 => "cgroup v1",
        }
    }
}

/// Which cgroup layout the host has, from the filesystem types (statfs magic numbers).
pub fn cgroup_layout() -> CgroupLayout {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
    let is_cgroup2 = |path: &str| {
        statfs(path)
            .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
            .unwrap_or(false)
    };
    if is_cgroup2("/sys/fs/cgroup") {
        CgroupLayout::V2
    } else if is_cgroup2("/sys/fs/cgroup/unified") {
        CgroupLayout::Hybrid
    } else {
        CgroupLayout::V1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_fields_are_read_by_key() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu hypervisor sse\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(field(text, "cache size"), None);
    }
}
