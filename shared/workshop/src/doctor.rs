//! `workshop doctor`: can this machine run every chapter? Each check says ✓, ! (works, with a
//! caveat) or ✗ (a chapter will fail), and every ✗ comes with the one line that fixes it.
//!
//! The detection is split into pure functions over text the kernel gives us (mountinfo,
//! /proc/filesystems, cgroup files), which are unit-tested below, and the code that reads it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cargo;
use crate::ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but something is worth knowing (an optional feature, a setting a chapter changes).
    Warn,
    /// Something a chapter needs is missing.
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Run every check, print them, and say whether nothing required failed.
pub fn run() -> bool {
    ui::heading("doctor: can this machine run the workshop?");
    let checks = checks();
    for check in &checks {
        print(check);
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed == 0 {
        ui::ok("ready", "nothing required is missing");
        true
    } else {
        ui::fail(
            &format!("{failed} required check(s) failed"),
            "fix them and run `./workshop doctor` again",
        );
        false
    }
}

fn print(check: &Check) {
    let name = format!("{:<22}", check.name);
    match check.status {
        Status::Ok => ui::ok(&name, &check.detail),
        Status::Warn => ui::warn(&name, &check.detail),
        Status::Fail => ui::fail(&name, &check.detail),
    }
    if check.status != Status::Ok
        && let Some(fix) = &check.fix
    {
        ui::fix(fix);
    }
}

pub fn checks() -> Vec<Check> {
    let mut checks = vec![root(), kernel()];
    checks.extend(namespaces());
    checks.push(cgroups());
    checks.push(overlayfs());
    checks.extend(nftables());
    checks.push(ip_forward());
    checks.push(busybox());
    checks.extend(docker_forward());
    checks.push(compiler());
    checks.push(cgroup_v2_vm());
    checks.extend(tools());
    checks
}

fn root() -> Check {
    if nix::unistd::geteuid().is_root() {
        Check::ok("root", "running as root")
    } else {
        Check::fail(
            "root",
            "not root: containers need chroot(2), mount(2) and namespaces",
            "run `./workshop ...` (it re-runs itself with sudo) or become root",
        )
    }
}

fn kernel() -> Check {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = release.trim();
    match kernel_version(release) {
        Some(version) if version >= (5, 6) => Check::ok("kernel", release),
        Some(_) => Check::warn(
            "kernel",
            format!("{release} is old: the workshop is tested on 6.x"),
            "use a distribution with a 5.10 or newer kernel (Debian 11+, Ubuntu 22.04+)",
        ),
        None => Check::warn(
            "kernel",
            format!("cannot read the version ({release:?})"),
            "check /proc/sys/kernel/osrelease",
        ),
    }
}

/// `6.18.44-fc-v669` -> (6, 18).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The namespace types: name in /proc/self/ns, clone flag, needed by a chapter (else optional).
const NAMESPACES: &[(&str, libc::c_int, bool, &str)] = &[
    ("mnt", libc::CLONE_NEWNS, true, "chapter 2: private mounts"),
    ("uts", libc::CLONE_NEWUTS, true, "chapter 2: --hostname"),
    ("ipc", libc::CLONE_NEWIPC, true, "chapter 2: System V IPC"),
    ("pid", libc::CLONE_NEWPID, true, "chapter 2: PID 1"),
    (
        "net",
        libc::CLONE_NEWNET,
        true,
        "chapter 2 and 5: networking",
    ),
    ("cgroup", libc::CLONE_NEWCGROUP, true, "chapter 3"),
    ("user", libc::CLONE_NEWUSER, false, "chapter 2's --userns"),
    ("time", libc::CLONE_NEWTIME, false, "not used yet"),
];

fn namespaces() -> Vec<Check> {
    NAMESPACES
        .iter()
        .map(|&(name, flag, needed, used_by)| {
            let label = format!("{name} namespace");
            let listed = Path::new("/proc/self/ns").join(name).exists();
            let works = listed && try_unshare(flag);
            match (works, needed) {
                (true, _) => Check::ok(&label, used_by),
                (false, true) => Check::fail(
                    &label,
                    if listed {
                        format!("unshare({}) fails", flag_name(name))
                    } else {
                        format!("/proc/self/ns/{name} is missing")
                    },
                    "use a kernel built with namespaces (any distribution kernel); inside a \
                     container, run privileged",
                ),
                (false, false) => Check::warn(
                    &label,
                    format!("not available ({used_by})"),
                    if name == "user" {
                        "sysctl -w user.max_user_namespaces=15000 (and \
                         kernel.unprivileged_userns_clone=1 on older Debian kernels)"
                    } else {
                        "a kernel 5.6 or newer has it"
                    },
                ),
            }
        })
        .collect()
}

fn flag_name(namespace: &str) -> String {
    match namespace {
        "mnt" => "CLONE_NEWNS".into(),
        other => format!("CLONE_NEW{}", other.to_uppercase()),
    }
}

/// Does unshare(2) of this namespace type work? Tried in a short-lived child so that this
/// process stays where it is.
fn try_unshare(flag: libc::c_int) -> bool {
    // SAFETY: the child only calls unshare(2) and _exit(2), both async-signal-safe, so forking
    // is sound even if this process had other threads.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: plain system calls; the child exits at once without running destructors.
            unsafe {
                let code = if libc::unshare(flag) == 0 { 0 } else { 1 };
                libc::_exit(code)
            }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => matches!(
            nix::sys::wait::waitpid(child, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        ),
        Err(_) => false,
    }
}

/// How the cgroup filesystems are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup2 at /sys/fs/cgroup: one hierarchy (most current distributions).
    V2,
    /// v1 controllers, plus cgroup2 at /sys/fs/cgroup/unified (older systemd setups).
    Hybrid,
    /// Only v1 hierarchies.
    V1,
    /// Nothing usable at /sys/fs/cgroup.
    Missing,
}

/// What statfs(2) says a mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Cgroup2,
    Tmpfs,
    Other,
}

/// The cgroup mode from the filesystem types of /sys/fs/cgroup and /sys/fs/cgroup/unified.
pub fn cgroup_mode(root: Option<FsKind>, unified: Option<FsKind>, v1_mounts: usize) -> CgroupMode {
    match (root, unified) {
        (Some(FsKind::Cgroup2), _) => CgroupMode::V2,
        (Some(FsKind::Tmpfs), Some(FsKind::Cgroup2)) => CgroupMode::Hybrid,
        _ if v1_mounts > 0 => CgroupMode::V1,
        _ => CgroupMode::Missing,
    }
}

fn fs_kind(path: &str) -> Option<FsKind> {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, TMPFS_MAGIC, statfs};
    let stat = statfs(path).ok()?;
    let kind = stat.filesystem_type();
    Some(if kind == CGROUP2_SUPER_MAGIC {
        FsKind::Cgroup2
    } else if kind == TMPFS_MAGIC {
        FsKind::Tmpfs
    } else {
        FsKind::Other
    })
}

/// Every controller a v1 hierarchy can carry (its other mount options are not controllers).
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// The v1 controllers mounted, from /proc/self/mountinfo: each `cgroup` mount names its
/// controllers in its super options (`rw,cpu,cpuacct`); `name=systemd` and `xattr` are not
/// controllers.
pub fn v1_controllers(mountinfo: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let Some((_, after)) = line.split_once(" - ") else {
            continue;
        };
        let mut fields = after.split(' ');
        if fields.next() != Some("cgroup") {
            continue;
        }
        let options = fields.nth(1).unwrap_or("");
        for option in options.split(',') {
            if V1_CONTROLLERS.contains(&option) && !found.iter().any(|f| f == option) {
                found.push(option.to_string());
            }
        }
    }
    found
}

/// This process's cgroup in the v2 hierarchy, from /proc/self/cgroup (`0::/path`).
pub fn v2_own_cgroup(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| path.trim().to_string())
}

/// The controllers every later chapter uses (chapter 3's limits).
pub const NEEDED_CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

pub fn missing_controllers(available: &[String]) -> Vec<&'static str> {
    NEEDED_CONTROLLERS
        .iter()
        .copied()
        .filter(|needed| !available.iter().any(|a| a == needed))
        .collect()
}

fn words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn cgroups() -> Check {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v1 = v1_controllers(&mountinfo);
    let mode = cgroup_mode(
        fs_kind("/sys/fs/cgroup"),
        fs_kind("/sys/fs/cgroup/unified"),
        v1.len(),
    );
    let (available, detail) = match mode {
        CgroupMode::V2 => {
            let own = fs::read_to_string("/proc/self/cgroup")
                .ok()
                .and_then(|text| v2_own_cgroup(&text))
                .unwrap_or_else(|| "/".into());
            let parent = PathBuf::from("/sys/fs/cgroup").join(own.trim_start_matches('/'));
            let available = words(&parent.join("cgroup.controllers"));
            let delegated = words(&parent.join("cgroup.subtree_control"));
            let detail = format!(
                "v2; controllers in {own}: {}; enabled for its children: {}",
                list(&available),
                list(&delegated)
            );
            (available, detail)
        }
        CgroupMode::Hybrid => {
            let unified = words(Path::new("/sys/fs/cgroup/unified/cgroup.controllers"));
            let detail = format!(
                "hybrid; v1 controllers: {}; on the v2 hierarchy: {}",
                list(&v1),
                list(&unified)
            );
            let mut available = v1.clone();
            available.extend(unified);
            (available, detail)
        }
        CgroupMode::V1 => (v1.clone(), format!("v1; controllers: {}", list(&v1))),
        CgroupMode::Missing => {
            return Check::fail(
                "cgroups",
                "nothing mounted at /sys/fs/cgroup",
                "mount -t cgroup2 none /sys/fs/cgroup",
            );
        }
    };
    let missing = missing_controllers(&available);
    if missing.is_empty() {
        Check::ok("cgroups", detail)
    } else {
        Check::fail(
            "cgroups",
            format!("{detail}; missing: {}", missing.join(", ")),
            "enable the controllers (v2: echo +memory +pids +cpu > \
             /sys/fs/cgroup/cgroup.subtree_control; v1: mount their hierarchies)",
        )
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(" ")
    }
}

/// Is `name` one of the filesystems in /proc/filesystems (`nodev\toverlay`)?
pub fn filesystem_listed(proc_filesystems: &str, name: &str) -> bool {
    proc_filesystems
        .lines()
        .any(|line| line.split_whitespace().last() == Some(name))
}

fn overlayfs() -> Check {
    let listed = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if filesystem_listed(&listed, "overlay") {
        Check::ok("overlayfs", "chapter 4's copy-on-write root")
    } else {
        Check::fail(
            "overlayfs",
            "overlay is not in /proc/filesystems",
            "modprobe overlay",
        )
    }
}

/// A system binary, also when PATH lacks the sbin directories.
fn system_binary(name: &str) -> Option<PathBuf> {
    cargo::on_path(name).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.is_file())
    })
}

fn runs(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn nftables() -> Vec<Check> {
    let Some(nft) = system_binary("nft") else {
        return vec![Check::fail(
            "nft",
            "the nft program is missing (chapter 5's NAT and port publishing)",
            "apt-get install nftables (or ./workshop setup)",
        )];
    };
    let binary = Check::ok("nft", nft.display().to_string());
    let kernel = if runs(&nft, &["list", "tables"]).is_some() {
        Check::ok("nf_tables", "`nft list tables` works")
    } else {
        Check::fail(
            "nf_tables",
            "`nft list tables` fails",
            "modprobe nf_tables (a kernel with nf_tables is needed for chapter 5)",
        )
    };
    vec![binary, kernel]
}

fn ip_forward() -> Check {
    match fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|v| v.trim().to_string()) {
        Ok(value) if value == "1" => Check::ok("ip_forward", "1"),
        Ok(value) => Check::warn(
            "ip_forward",
            format!("{value}: containers on a bridge cannot reach out until it is 1"),
            "chapter 5's runtime turns it on; by hand: sysctl -w net.ipv4.ip_forward=1",
        ),
        Err(e) => Check::warn(
            "ip_forward",
            format!("cannot read /proc/sys/net/ipv4/ip_forward: {e}"),
            "is /proc mounted?",
        ),
    }
}

fn busybox() -> Check {
    match engine::rootfs::find_static_busybox() {
        Ok(path) => Check::ok("busybox (static)", path.display().to_string()),
        Err(e) => Check::fail(
            "busybox (static)",
            e.to_string(),
            "apt-get install busybox-static (or ./workshop setup)",
        ),
    }
}

/// Does `nft list chain ip filter FORWARD` show Docker's `policy drop`?
pub fn forward_policy_drops(chain_listing: &str) -> bool {
    chain_listing
        .lines()
        .any(|line| line.contains("hook forward") && line.contains("policy drop"))
}

fn docker_installed() -> bool {
    system_binary("dockerd").is_some()
        || system_binary("docker").is_some()
        || Path::new("/var/run/docker.sock").exists()
}

fn docker_forward() -> Option<Check> {
    if !docker_installed() {
        return None;
    }
    let nft = system_binary("nft")?;
    let listing = runs(&nft, &["list", "chain", "ip", "filter", "FORWARD"]);
    Some(match listing {
        Some(text) if forward_policy_drops(&text) => Check::warn(
            "Docker's FORWARD",
            "Docker set the FORWARD policy to drop: bridged containers cannot reach out",
            "chapter 5 adds its own accept rules; to check by hand: \
             iptables -I DOCKER-USER -j ACCEPT (or nft insert rule ip filter FORWARD accept)",
        ),
        Some(_) => Check::ok("Docker's FORWARD", "policy accept"),
        None => Check::ok(
            "Docker's FORWARD",
            "Docker installed, no FORWARD chain loaded",
        ),
    })
}

/// Where a static C library may live (libc6-dev puts it in the multiarch directory).
fn static_libc() -> Option<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/lib64"),
        PathBuf::from("/usr/lib"),
        PathBuf::from("/lib64"),
    ];
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        dirs.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with("-linux-gnu")),
        );
    }
    dirs.into_iter()
        .map(|dir| dir.join("libc.a"))
        .find(|p| p.is_file())
}

fn compiler() -> Check {
    let Some(cc) = system_binary("cc") else {
        return Check::fail(
            "cc",
            "no C compiler (the tests build the chroot-escape program with it)",
            "apt-get install gcc libc6-dev (or ./workshop setup)",
        );
    };
    match static_libc() {
        Some(libc) => Check::ok("cc", format!("{}, {}", cc.display(), libc.display())),
        None => Check::fail(
            "cc",
            "no static C library (libc.a): `cc -static` fails",
            "apt-get install libc6-dev",
        ),
    }
}

/// Chapter 3 is tested on a pure cgroup v2 kernel in a QEMU VM: QEMU and a kernel image to boot.
fn cgroup_v2_vm() -> Check {
    let name = "cgroup v2 VM";
    let fix = "./workshop setup installs qemu-system-x86 (and linux-image-cloud-amd64 on Debian)";
    let Some(qemu) = system_binary("qemu-system-x86_64") else {
        return Check::warn(
            name,
            "no qemu-system-x86_64 (chapter 3's cgroup v2 test boots a VM)",
            fix,
        );
    };
    let cloud = std::fs::read_dir("/boot").ok().and_then(|entries| {
        entries.flatten().map(|e| e.path()).find(|p| {
            p.to_string_lossy().ends_with("-cloud-amd64")
                && p.to_string_lossy().contains("vmlinuz-")
        })
    });
    let own = nix::sys::utsname::uname()
        .ok()
        .map(|u| {
            std::path::PathBuf::from(format!("/boot/vmlinuz-{}", u.release().to_string_lossy()))
        })
        .filter(|p| p.is_file());
    match cloud.or(own) {
        Some(kernel) => Check::ok(
            name,
            format!("{}, kernel {}", qemu.display(), kernel.display()),
        ),
        None => Check::warn(
            name,
            "no kernel image in /boot to boot (CARTON_VM_KERNEL may point at one)",
            fix,
        ),
    }
}

fn tools() -> Vec<Check> {
    let mut checks = Vec::new();
    for (tool, why) in [
        ("mdbook", "builds the book"),
        ("mdbook-mermaid", "draws the book's diagrams"),
    ] {
        checks.push(match system_binary(tool).or_else(|| cargo_bin(tool)) {
            Some(path) => Check::ok(tool, path.display().to_string()),
            None => Check::warn(
                tool,
                format!("not installed ({why}; `./workshop test` needs it)"),
                "./workshop setup installs it",
            ),
        });
    }
    checks
}

/// A tool installed by `cargo install`, next to cargo.
fn cargo_bin(name: &str) -> Option<PathBuf> {
    let candidate = cargo::program().parent()?.join(name);
    candidate.is_file().then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_controllers_come_from_the_cgroup_mounts() {
        assert_eq!(
            v1_controllers(HYBRID_MOUNTINFO),
            ["cpu", "cpuacct", "memory", "pids"]
        );
        assert!(v1_controllers("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").is_empty());
    }

    #[test]
    fn the_mode_follows_the_filesystem_types() {
        assert_eq!(cgroup_mode(Some(FsKind::Cgroup2), None, 0), CgroupMode::V2);
        assert_eq!(
            cgroup_mode(Some(FsKind::Tmpfs), Some(FsKind::Cgroup2), 8),
            CgroupMode::Hybrid
        );
        assert_eq!(
            cgroup_mode(Some(FsKind::Tmpfs), Some(FsKind::Tmpfs), 8),
            CgroupMode::V1
        );
        assert_eq!(cgroup_mode(Some(FsKind::Tmpfs), None, 8), CgroupMode::V1);
        assert_eq!(cgroup_mode(None, None, 0), CgroupMode::Missing);
    }

    #[test]
    fn the_own_v2_cgroup_is_the_zero_line() {
        assert_eq!(
            v2_own_cgroup("12:pids:/x\n0::/user.slice/session-1.scope\n").as_deref(),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(v2_own_cgroup("3:memory:/\n"), None);
    }

    #[test]
    fn missing_controllers_are_named() {
        let available: Vec<String> = ["cpu", "pids", "hugetlb"].map(String::from).to_vec();
        assert_eq!(missing_controllers(&available), ["memory"]);
    }

    #[test]
    fn kernel_versions_are_read() {
        assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(kernel_version("5.10.0-28-cloud-amd64"), Some((5, 10)));
        assert_eq!(kernel_version("weird"), None);
    }

    #[test]
    fn filesystems_are_matched_by_whole_name() {
        let text = "nodev\tsysfs\nnodev\toverlay\n\text4\n";
        assert!(filesystem_listed(text, "overlay"));
        assert!(filesystem_listed(text, "ext4"));
        assert!(!filesystem_listed(text, "over"));
    }

    #[test]
    fn dockers_drop_policy_is_recognised() {
        let drop = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward \
                    priority filter; policy drop;\n\t\tcounter jump DOCKER-USER\n\t}\n}\n";
        assert!(forward_policy_drops(drop));
        assert!(!forward_policy_drops(&drop.replace("drop", "accept")));
    }
}
