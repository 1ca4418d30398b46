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
    found
}

/// Remove every leftover under `state_root`; returns what was removed and what could not be.
pub fn clean(state_root: &Path) -> (Vec<Leftover>, Vec<(Leftover, String)>) {
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let mut items = leftovers(state_root);
    // Processes first (they may hold mounts busy), then mounts deepest first, then directories.
    items.sort_by_key(|item| match item {
        Leftover::Process { .. } => (0, 0),
        Leftover::Mount(path) => (1, usize::MAX - path.components().count()),
        Leftover::Cgroup(path) => (2, usize::MAX - path.components().count()),
        Leftover::PartialDir(_) | Leftover::StateDir(_) => (3, 0),
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
