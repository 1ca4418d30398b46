//! Putting a mount at a path inside the container's root, safely.
//!
//! The target is a path in the IMAGE, and the image is not ours: `/data` may be a symlink to
//! `/../../../etc`. Resolved by the host, that lands on the host's /etc: the mount would be made
//! there (in the container's mount namespace, then lost at the root switch, or worse with shared
//! propagation), and a volume's copy-up would copy the host's /etc into it. So the target is
//! resolved with openat2(RESOLVE_IN_ROOT), which treats the
//! rootfs as `/` for every symlink and `..` on the way; and the mount is made onto the opened
//! descriptor (via /proc/self/fd/N), not onto a path that could be swapped in between
//! (CVE-2021-30465 raced exactly that).
// Your exercise: derived from solutions/06-volumes/src/mounts.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use engine::{Context, Error, Result, narrate};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;

/// Open `target` (absolute, inside the container) under `rootfs`, creating what is missing:
/// directories on the way, and at the end a directory, or an empty file when `file` is true.
pub fn open_in_root(rootfs: &Path, target: &str, file: bool) -> Result<OwnedFd> {
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx("open", rootfs.display())?;
    let parts: Vec<&OsStr> = Path::new(target)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    let mut current = std::path::PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        let parent = resolve(&root, &current, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        current.push(part);
        let last = i + 1 == parts.len();
        let exists = resolve(&root, &current, OFlag::O_PATH).is_ok();
        if !exists {
            // Create it through the descriptor of its (already resolved) parent.
            let made = if last && file {
                nix::fcntl::openat(
                    &parent,
                    *part,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_CLOEXEC
                        | OFlag::O_NOFOLLOW,
                    Mode::from_bits_truncate(0o644),
                )
                .map(drop)
            } else {
                nix::sys::stat::mkdirat(&parent, *part, Mode::from_bits_truncate(0o755))
            };
            match made {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(errno) => {
                    return Err(Error::sys(
                        "mkdir",
                        format!("{} in the container", current.display()),
                        errno,
                    ));
                }
            }
        }
    }
    resolve(&root, &current, OFlag::O_PATH)
}

fn resolve(root: &OwnedFd, path: &Path, flags: OFlag) -> Result<OwnedFd> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root, relative, how).ctx(
        "openat2",
        format!("{} in the container (RESOLVE_IN_ROOT)", path.display()),
    )
}

/// Open an existing path inside the root (resolved as if the rootfs were `/`), creating nothing.
pub fn find_in_root(rootfs: &Path, relative: &str) -> Result<OwnedFd> {
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx("open", rootfs.display())?;
    resolve(&root, Path::new(relative), OFlag::O_PATH)
}

/// The path through which the kernel reaches an open descriptor.
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Bind `source` (a host directory or file) onto `target` in the container, read-only if asked.
pub fn bind(rootfs: &Path, source: &Path, target: &str, read_only: bool) -> Result<()> {
    let file = !source.is_dir();
    let place = open_in_root(rootfs, target, file)?;
    // EXERCISE: bind-mount `source` onto the opened target: mount(Some(source), fd_path(&place),
    // None, MS_BIND | MS_REC, None). If read_only, a second call is needed: a bind mount takes
    // the flags of its source, and MS_RDONLY is only honoured on a REMOUNT of the new mount.
    // Re-open the target (open_in_root again: the old descriptor still points below the new
    // mount), then remount it with MS_BIND | MS_REMOUNT | MS_RDONLY | the flags it already has
    // (locked_flags), or the kernel refuses inside a user namespace.
    todo!("exercise: bind-mount `source` onto the opened target");
    Ok(())
}

/// nosuid, nodev, noexec of the mount an open descriptor is on: a remount must keep them.
pub fn locked_flags(fd: &OwnedFd) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, fstatvfs};
    let Ok(stat) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let mut flags = MsFlags::empty();
    for (has, flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if stat.flags().contains(has) {
            flags |= flag;
        }
    }
    flags
}

/// A tmpfs at `target`: memory-backed, gone when the container's mount namespace goes.
pub fn tmpfs(rootfs: &Path, target: &str, options: &str, read_only: bool) -> Result<()> {
    let place = open_in_root(rootfs, target, false)?;
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    narrate::step(
        "volumes",
        "mount a tmpfs",
        format!("mount(\"tmpfs\", {target:?}, \"tmpfs\", {options:?})"),
    );
    mount(
        Some("tmpfs"),
        fd_path(&place).as_str(),
        Some("tmpfs"),
        flags,
        Some(options),
    )
    .ctx("mount", format!("tmpfs on {target}"))
}

/// For messages: a path as text.
pub fn shown(path: &OsStr) -> String {
    String::from_utf8_lossy(path.as_bytes()).into_owned()
}
