//! Finding and removing what a crashed run left behind.
//!
//! A runtime killed with SIGKILL runs no `release`. Everything it creates is named from its
//! state root, so the leftovers can be found again by name and removed: this is what
//! `workshop clean` does, and what the tests and CI use as their leak check.
//!
//! Each chapter that creates a new kind of kernel object teaches this module to find it.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, umount2};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// One thing a run left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A process whose root directory is inside the state root (a chroot-ed container).
    Process {
        pid: i32,
        comm: String,
        root: PathBuf,
    },
    /// A mount whose mount point is inside the state root.
    Mount(PathBuf),
    /// A half-built directory (a rootfs that was being made when the run died).
    PartialDir(PathBuf),
    /// A cgroup directory named after the state root (chapter 3).
    Cgroup(PathBuf),
    /// A container's directory whose runtime died before removing it.
    StateDir(PathBuf),
    /// A network interface of a dead container: its veth pair (chapter 5).
    Link(String),
    /// A bridge of this state root (chapter 5). Listed as a leftover when no network of the
    /// root names it any more; `clean` removes every bridge of the root (a later run makes the
    /// bridge of its network again).
    Bridge(String),
    /// The nftables table of this state root (chapter 5). Listed when the root has no network
    /// any more; `clean` removes it in any case.
    NftTable(String),
    /// An address allocation file (`networks/NAME/ADDRESS`) of a dead container (chapter 5).
    Allocation(PathBuf),
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Process { pid, comm, root } => {
                write!(
                    f,
                    "process {pid} ({comm}) with its root in {}",
                    root.display()
                )
            }
            Leftover::Mount(path) => write!(f, "mount on {}", path.display()),
            Leftover::PartialDir(path) => write!(f, "half-built directory {}", path.display()),
            Leftover::Cgroup(path) => write!(f, "cgroup {}", path.display()),
            Leftover::StateDir(path) => write!(
                f,
                "container directory {} of a dead runtime",
                path.display()
            ),
            Leftover::Link(name) => write!(f, "network link {name} of a dead container"),
            Leftover::Bridge(name) => write!(f, "bridge {name}"),
            Leftover::NftTable(name) => write!(f, "nftables table ip {name}"),
            Leftover::Allocation(path) => write!(
                f,
                "address allocation {} of a dead container",
                path.display()
            ),
        }
    }
}

/// Everything under `state_root` that no running runtime owns any more.
pub fn leftovers(state_root: &Path) -> Vec<Leftover> {
    let mut found = Vec::new();
    let root = canonical(state_root);

    for (pid, comm, proc_root) in processes() {
        if proc_root.starts_with(&root) && pid != std::process::id() as i32 {
            found.push(Leftover::Process {
                pid,
                comm,
                root: proc_root,
            });
        }
    }
    for mount_point in mount_points() {
        if mount_point.starts_with(&root) {
            found.push(Leftover::Mount(mount_point));
        }
    }
    let parent = crate::names::cgroup_parent(&root);
    for hierarchy in cgroup_mounts() {
        let dir = hierarchy.join(&parent);
        if dir.is_dir() {
            // Children before the parent, so removal can go in this order.
            let mut dirs = subdirectories(&dir);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            found.extend(dirs.into_iter().map(Leftover::Cgroup));
        }
    }
    if let Ok(entries) = fs::read_dir(root.join("containers")) {
        for entry in entries.flatten() {
            if crate::state::abandoned(&entry.path()) {
                found.push(Leftover::StateDir(entry.path()));
            }
        }
    }
    if let Ok(entries) = fs::read_dir(root.join("rootfs")) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(".busybox-building-")
            {
                found.push(Leftover::PartialDir(entry.path()));
            }
        }
    }
    found.extend(network_leftovers(&root));
    found
}

/// Chapter 5's objects that no live container or network of the root needs: veth pairs and
/// address allocations of dead containers, bridges no network names, a table with no network.
fn network_leftovers(root: &Path) -> Vec<Leftover> {
    let mut found = Vec::new();
    let networks = root.join("networks");
    let Ok(entries) = fs::read_dir(&networks) else {
        // No network was ever made here; a crash can still have left a bridge or the table.
        found.extend(bridges_of(root).into_iter().map(Leftover::Bridge));
        found.extend(nft_table_of(root).map(Leftover::NftTable));
        return found;
    };
    let mut named_bridges = Vec::new();
    let mut dead_ids = Vec::new();
    for network in entries.flatten().filter(|e| e.path().is_dir()) {
        if let Ok(config) = fs::read_to_string(network.path().join("config")) {
            named_bridges.extend(
                config
                    .lines()
                    .filter_map(|l| l.strip_prefix("bridge="))
                    .map(str::to_string),
            );
        }
        for file in fs::read_dir(network.path()).into_iter().flatten().flatten() {
            let is_address = file
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<std::net::Ipv4Addr>().is_ok());
            if !is_address {
                continue;
            }
            let owner = fs::read_to_string(file.path()).unwrap_or_default();
            let id = owner.lines().next().unwrap_or("").trim().to_string();
            if !container_alive(root, &id) {
                found.push(Leftover::Allocation(file.path()));
                dead_ids.push(id);
            }
        }
    }
    // veths: those named after a dead container, and any on one of our bridges whose container
    // is gone (a run killed between creating the pair and writing its allocation).
    let mut links: Vec<String> = Vec::new();
    for id in dead_ids.iter().filter(|id| !id.is_empty()) {
        for name in [crate::names::veth_host(id), crate::names::veth_peer(id)] {
            if Path::new("/sys/class/net").join(&name).exists() {
                links.push(name);
            }
        }
    }
    for bridge in bridges_of(root) {
        for port in fs::read_dir(Path::new("/sys/class/net").join(&bridge).join("brif"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = port.file_name().to_string_lossy().into_owned();
            let Some(short_id) = name.strip_prefix("ct") else {
                continue;
            };
            if !live_container_ids(root)
                .iter()
                .any(|id| id.starts_with(short_id))
            {
                links.push(name);
            }
        }
        if !named_bridges.contains(&bridge) {
            found.push(Leftover::Bridge(bridge));
        }
    }
    links.sort();
    links.dedup();
    found.extend(links.into_iter().map(Leftover::Link));
    if named_bridges.is_empty() {
        found.extend(nft_table_of(root).map(Leftover::NftTable));
    }
    found
}

/// Is the container `id` of this root alive: its runtime marked its directory and still runs?
/// (A stopped container that is kept has a directory but no runtime.)
fn container_alive(root: &Path, id: &str) -> bool {
    let dir = root.join("containers").join(id);
    !id.is_empty()
        && dir.join(crate::state::RUNTIME_PID).is_file()
        && !crate::state::abandoned(&dir)
}

fn live_container_ids(root: &Path) -> Vec<String> {
    fs::read_dir(root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| container_alive(root, id))
        .collect()
}

/// The bridges of this state root that exist in the kernel, from /sys/class/net.
pub fn bridges_of(root: &Path) -> Vec<String> {
    let mut found: Vec<String> = fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| crate::names::is_bridge_of(root, name))
        .filter(|name| {
            Path::new("/sys/class/net")
                .join(name)
                .join("bridge")
                .is_dir()
        })
        .collect();
    found.sort();
    found
}

/// The root's nftables table, if it exists (`nft list table` succeeds). No `nft`, no table.
pub fn nft_table_of(root: &Path) -> Option<String> {
    let table = crate::names::nft_table(root);
    let status = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(table)
}

/// Delete a network interface with iproute2. Gone already is fine: deleting one end of a veth
/// pair deletes the other.
fn delete_link(name: &str) -> Result<(), String> {
    let exists = || Path::new("/sys/class/net").join(name).exists();
    if !exists() {
        return Ok(());
    }
    // A veth can vanish meanwhile: the kernel deletes it with a dying container's namespace.
    run_tool("ip", &["link", "delete", name]).or_else(|e| if exists() { Err(e) } else { Ok(()) })
}

fn run_tool(program: &str, args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Remove every leftover under `state_root`; returns what was removed and what could not be.
pub fn clean(state_root: &Path) -> (Vec<Leftover>, Vec<(Leftover, String)>) {
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let mut items = leftovers(state_root);
    // Every bridge and the table of the root go too, in use or not: `clean` leaves the kernel as
    // if this root had never run (a network's next container makes its bridge again).
    let root = canonical(state_root);
    for bridge in bridges_of(&root) {
        if !items.contains(&Leftover::Bridge(bridge.clone())) {
            items.push(Leftover::Bridge(bridge));
        }
    }
    if let Some(table) = nft_table_of(&root)
        && !items.contains(&Leftover::NftTable(table.clone()))
    {
        items.push(Leftover::NftTable(table));
    }
    // Processes first (they may hold mounts busy), then mounts deepest first, then cgroups,
    // links (veths before the bridges they are on), the table, and last the files.
    items.sort_by_key(|item| match item {
        Leftover::Process { .. } => (0, 0),
        Leftover::Mount(path) => (1, usize::MAX - path.components().count()),
        Leftover::Cgroup(path) => (2, usize::MAX - path.components().count()),
        Leftover::Link(_) => (3, 0),
        Leftover::Bridge(_) => (4, 0),
        Leftover::NftTable(_) => (5, 0),
        Leftover::PartialDir(_) | Leftover::StateDir(_) | Leftover::Allocation(_) => (6, 0),
    });
    for item in items {
        let result = match &item {
            Leftover::Process { pid, .. } => kill(Pid::from_raw(*pid), Signal::SIGKILL)
                .map_err(|e| e.to_string())
                .map(|_| wait_gone(*pid)),
            Leftover::Mount(path) => umount2(path, MntFlags::MNT_DETACH).map_err(|e| e.to_string()),
            Leftover::PartialDir(path) | Leftover::StateDir(path) => {
                fs::remove_dir_all(path).map_err(|e| e.to_string())
            }
            Leftover::Cgroup(path) => remove_cgroup(path),
            Leftover::Link(name) | Leftover::Bridge(name) => delete_link(name),
            Leftover::NftTable(table) => run_tool("nft", &["delete", "table", "ip", table]),
            Leftover::Allocation(path) => match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
        };
        match result {
            Ok(()) => removed.push(item),
            Err(why) => failed.push((item, why)),
        }
    }
    (removed, failed)
}

/// Kill what is left in a cgroup, then remove it. A cgroup directory can only be removed once
/// no process is in it, and the kernel may take a moment to let go of a killed one (EBUSY).
pub fn remove_cgroup(dir: &Path) -> Result<(), String> {
    for _ in 0..200 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => return Err(format!("rmdir {}: {e}", dir.display())),
        }
    }
    Err(format!("rmdir {}: still busy after 2 s", dir.display()))
}

/// Where cgroup hierarchies are mounted (v1: one per controller; v2: one), from mountinfo.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| PathBuf::from(unescape_octal(point)))
        })
        .collect()
}

/// `dir` and every directory below it.
fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                found.extend(subdirectories(&entry.path()));
            }
        }
    }
    found
}

fn wait_gone(pid: i32) {
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// (pid, command name, root directory) of every process we may look at.
fn processes() -> Vec<(i32, String, PathBuf)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let root = fs::read_link(entry.path().join("root")).ok()?;
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            Some((pid, comm.trim().to_string(), root))
        })
        .collect()
}

/// Mount points of this mount namespace, from /proc/self/mountinfo (field 5, octal-escaped).
pub fn mount_points() -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .collect()
}

/// mountinfo writes a space as `\040`, a newline as `\012` and so on.
pub fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_octal("/a\\040b"), "/a b");
        assert_eq!(unescape_octal("/plain"), "/plain");
        assert_eq!(unescape_octal("/end\\04"), "/end\\04");
    }
}
