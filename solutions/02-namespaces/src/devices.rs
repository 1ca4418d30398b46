//! A minimal /dev: a fresh tmpfs with the handful of device nodes every program expects, and
//! nothing else. The host's /dev (disks, the console, kernel memory) never appears inside.

use std::os::unix::fs::symlink;
use std::path::Path;

use engine::{Context, Result, narrate};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::mounts::ensure_dir;

// ANCHOR: nodes
/// name, major, minor: the character devices of a container's /dev.
pub const NODES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// link name, target: the conveniences programs look for.
pub const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];
// ANCHOR_END: nodes

pub fn populate(dev: &Path, in_userns: bool) -> Result<()> {
    ensure_dir(dev)?;
    narrate::step(
        "dev",
        "mount a tmpfs on /dev",
        format!("mount(\"tmpfs\", {dev:?}, \"tmpfs\", MS_NOSUID, \"mode=755\")"),
    );
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .ctx("mount", dev.display())?;

    for (name, major, minor) in NODES {
        let path = dev.join(name);
        if in_userns {
            bind_host_node(name, &path)?;
        } else {
            make_node(&path, major, minor)?;
        }
    }
    for (name, target) in LINKS {
        symlink(target, dev.join(name)).ctx("symlink", dev.join(name).display())?;
    }

    let pts = dev.join("pts");
    ensure_dir(&pts)?;
    // A private devpts instance: the container's terminals are numbered from 0 and the host's
    // are not visible. (The gid=5 "tty" group option is left out: in a user namespace gid 5
    // may not be mapped.)
    narrate::step(
        "dev",
        "mount a private devpts on /dev/pts",
        "mount(\"devpts\", \"dev/pts\", \"devpts\", \"newinstance,ptmxmode=0666\")",
    );
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .ctx("mount", pts.display())?;

    let shm = dev.join("shm");
    ensure_dir(&shm)?;
    narrate::step(
        "dev",
        "mount a tmpfs on /dev/shm",
        "mount(\"shm\", \"dev/shm\", \"tmpfs\", \"mode=1777\")",
    );
    mount(
        Some("shm"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .ctx("mount", shm.display())?;

    let mqueue = dev.join("mqueue");
    ensure_dir(&mqueue)?;
    narrate::step(
        "dev",
        "mount the POSIX message queues",
        "mount(\"mqueue\", \"dev/mqueue\", \"mqueue\")",
    );
    mount(
        Some("mqueue"),
        &mqueue,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .ctx("mount", mqueue.display())?;
    Ok(())
}

// ANCHOR: mknod
// ANCHOR: mknod_exercise
fn make_node(path: &Path, major: u64, minor: u64) -> Result<()> {
    // EXERCISE: create the character device `path` with mknod(2), numbers major:minor, mode
    // 0666. mknod applies the umask, so set the mode again afterwards with chmod.
    // ANCHOR_END: mknod_exercise
    // BEGIN SOLUTION
    narrate::step(
        "dev",
        "create a device node",
        format!("mknod({path:?}, S_IFCHR|0666, {major}:{minor})"),
    );
    mknod(
        path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(major, minor),
    )
    .ctx("mknod", path.display())?;
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx("chmod", path.display())?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: mknod

// ANCHOR: bind_host_node
/// In a user namespace mknod is refused (device nodes could open any host device), so the host's
/// own nodes are bind-mounted instead, the way rootless runtimes do it.
fn bind_host_node(name: &str, path: &Path) -> Result<()> {
    let host = Path::new("/dev").join(name);
    narrate::step(
        "dev",
        "bind the host's device node",
        format!("mount({host:?}, {path:?}, MS_BIND)"),
    );
    std::fs::File::create(path).ctx("create", path.display())?;
    mount(
        Some(&host),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx("mount", path.display())
}
// ANCHOR_END: bind_host_node
