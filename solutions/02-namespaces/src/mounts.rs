//! The container's mount table, made in its own mount namespace, and the root switch.
//!
//! Order matters, and each step has a reason:
//! 1. make every mount private, so nothing we mount propagates back to the host;
//! 2. bind the rootfs onto itself, because pivot_root wants a mount point as the new root;
//! 3. mount /proc, /sys and /dev under the rootfs while the host's /proc is still visible
//!    (inside a user namespace the kernel only allows a new proc or sysfs mount when one is
//!    already fully visible in the mount namespace);
//! 4. pivot_root into the rootfs and detach the old root, so nothing of the host is reachable.

use std::path::Path;

use engine::{Context, Result, narrate};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::devices;

// ANCHOR: prepare_root
/// Steps 1 to 3, in the child, before the root switch.
pub fn prepare_root(rootfs: &Path, in_userns: bool) -> Result<()> {
    // ANCHOR: private
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
    // ANCHOR_END: private

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
// ANCHOR_END: prepare_root

// ANCHOR: proc_sys
// ANCHOR: proc_sys_exercise
fn mount_proc_and_sys(rootfs: &Path) -> Result<()> {
    let proc_dir = rootfs.join("proc");
    let sys_dir = rootfs.join("sys");
    ensure_dir(&proc_dir)?;
    ensure_dir(&sys_dir)?;
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    // EXERCISE: mount a proc filesystem on proc_dir (it shows the processes of the new PID
    // namespace), then a read-only sysfs on sys_dir. Use the `hardened` flags for both.
    // ANCHOR_END: proc_sys_exercise
    // BEGIN SOLUTION
    narrate::step(
        "mount",
        "mount /proc for the new PID namespace",
        format!("mount(\"proc\", {proc_dir:?}, \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC)"),
    );
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        hardened,
        None::<&str>,
    )
    .ctx("mount", proc_dir.display())?;

    narrate::step(
        "mount",
        "mount /sys read-only",
        format!("mount(\"sysfs\", {sys_dir:?}, \"sysfs\", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC)"),
    );
    mount(
        Some("sysfs"),
        &sys_dir,
        Some("sysfs"),
        hardened | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .ctx("mount", sys_dir.display())?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: proc_sys

// ANCHOR: pivot_root
// ANCHOR: pivot_root_exercise
/// Step 4: make the rootfs `/` and leave the host's root behind for good.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    // EXERCISE: switch the root with pivot_root(2) in four calls: chdir into the rootfs;
    // pivot_root(".", ".") stacks the old root on top of the new one; umount2(".", MNT_DETACH)
    // detaches that old root (and every host mount below it); chdir("/") to stand in the new root.
    // ANCHOR_END: pivot_root_exercise
    // BEGIN SOLUTION
    narrate::step(
        "pivot_root",
        "move into the new root",
        format!("chdir({rootfs:?})"),
    );
    nix::unistd::chdir(rootfs).ctx("chdir", rootfs.display())?;

    // With the same directory twice, the old root ends up mounted on top of the new root, at
    // ".": no directory in the rootfs is needed to hold it.
    narrate::step(
        "pivot_root",
        "swap the root mounts",
        "pivot_root(\".\", \".\")",
    );
    nix::unistd::pivot_root(".", ".").ctx("pivot_root", rootfs.display())?;

    narrate::step(
        "pivot_root",
        "detach the old root",
        "umount2(\".\", MNT_DETACH)",
    );
    umount2(".", MntFlags::MNT_DETACH).ctx("umount2", "the old root")?;

    narrate::step("pivot_root", "stand in the new root", "chdir(\"/\")");
    nix::unistd::chdir("/").ctx("chdir", "/")?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: pivot_root

/// Mount points must exist; a rootfs without /proc gets one.
pub fn ensure_dir(path: &Path) -> Result<()> {
    if !path.is_dir() {
        std::fs::create_dir_all(path).ctx("mkdir", path.display())?;
    }
    Ok(())
}
