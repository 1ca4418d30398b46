//! Chapter 1: chroot.
//!
//! A container is a process. What makes it look like another machine starts with its root
//! directory: every path the process opens that begins with `/` is looked up from there.
//! `chroot(2)` changes that starting point for the calling process and its children.
//!
//! This layer owns one phase of the engine: `switch_root`. It runs in the child, after the
//! parent said "go" and before the command is executed.

use engine::{Container, Context, Layer, Result, narrate};

/// The chroot layer. It has no flags of its own: the root filesystem comes from `--rootfs`
/// (or the workshop's busybox rootfs), which every chapter's `run` command has.
pub struct Chroot;

impl Layer for Chroot {
    fn name(&self) -> &'static str {
        "chroot"
    }

    // ANCHOR: switch_root
    fn switch_root(&self, c: &Container) -> Option<Result<()>> {
        Some(change_root(c))
    }
    // ANCHOR_END: switch_root
}

// ANCHOR: change_root
/// Make `c.rootfs` the root directory of this process, and move into it.
fn change_root(c: &Container) -> Result<()> {
    // EXERCISE: call chroot(2) on c.rootfs, then chdir(2) to "/" so that the working directory
    // is inside the new root (chroot does not move it). Narrate each call with narrate::step.
    // BEGIN SOLUTION
    narrate::step(
        "chroot",
        "change the root directory",
        format!("chroot({:?})", c.rootfs),
    );
    nix::unistd::chroot(&c.rootfs).ctx("chroot", c.rootfs.display())?;

    // chroot(2) changes where "/" is looked up, but not the current directory: without this
    // chdir the process would still stand in a host directory, outside its new root.
    narrate::step("chroot", "move into the new root", "chdir(\"/\")");
    nix::unistd::chdir("/").ctx("chdir", "/")?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: change_root
