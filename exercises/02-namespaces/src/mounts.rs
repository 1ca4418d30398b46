//! The container's mount table, made in its own mount namespace, and the root switch.
//!
//! Order matters, and each step has a reason:
//! 1. make every mount private, so nothing we mount propagates back to the host;
//! 2. bind the rootfs onto itself, because pivot_root wants a mount point as the new root;
//! 3. mount /proc, /sys and /dev under the rootfs while the host's /proc is still visible
//!    (inside a user namespace the kernel only allows a new proc or sysfs mount when one is
//!    already fully visible in the mount namespace);
//! 4. pivot_root into the rootfs and detach the old root, so nothing of the host is reachable.
// Your exercise: derived from solutions/02-namespaces/src/mounts.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::path::Path;

use engine::{Context, Result, narrate};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::devices;

/// Steps 1 to 3, in the child, before the root switch.
pub fn prepare_root(rootfs: &Path, in_userns: bool) -> Result<()> {
    narrate::step(
        "mount",
        "make every mount private",
        "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE)",
    );
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .ctx("mount", "/ (MS_REC|MS_PRIVATE)")?;

    narrate::step(
        "mount",
        "bind the rootfs onto itself",
        format!("mount({rootfs:?}, {rootfs:?}, MS_BIND|MS_REC)"),
    );
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx("mount", format!("{} (bind)", rootfs.display()))?;

    mount_proc_and_sys(rootfs)?;
    devices::populate(&rootfs.join("dev"), in_userns)
}

fn mount_proc_and_sys(rootfs: &Path) -> Result<()> {
    let proc_dir = rootfs.join("proc");
    let sys_dir = rootfs.join("sys");
    ensure_dir(&proc_dir)?;
    ensure_dir(&sys_dir)?;
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    // EXERCISE: mount a proc filesystem on proc_dir (it shows the processes of the new PID
    // namespace), then a read-only sysfs on sys_dir. Use the `hardened` flags for both.
    todo!(
        "exercise: mount a proc filesystem on proc_dir (it shows the processes of the new PID namespace), then a read-only sysfs on sys_dir"
    );
    Ok(())
}

/// Step 4: make the rootfs `/` and leave the host's root behind for good.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    // EXERCISE: switch the root with pivot_root(2) in four calls: chdir into the rootfs;
    // pivot_root(".", ".") stacks the old root on top of the new one; umount2(".", MNT_DETACH)
    // detaches that old root (and every host mount below it); chdir("/") to stand in the new root.
    todo!("exercise: switch the root with pivot_root(2) in four calls");
    Ok(())
}

/// Mount points must exist; a rootfs without /proc gets one.
pub fn ensure_dir(path: &Path) -> Result<()> {
    if !path.is_dir() {
        std::fs::create_dir_all(path).ctx("mkdir", path.display())?;
    }
    Ok(())
}
