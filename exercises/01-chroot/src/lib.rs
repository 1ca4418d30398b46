//! Chapter 1: chroot.
//!
//! A container is a process. What makes it look like another machine starts with its root
//! directory: every path the process opens that begins with `/` is looked up from there.
//! `chroot(2)` changes that starting point for the calling process and its children.
//!
//! This layer owns one phase of the engine: `switch_root`. It runs in the child, after the
//! parent said "go" and before the command is executed.
// Your exercise: derived from solutions/01-chroot/src/lib.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use engine::{Container, Context, Layer, Result, narrate};

/// The chroot layer. It has no flags of its own: the root filesystem comes from `--rootfs`
/// (or the workshop's busybox rootfs), which every chapter's `run` command has.
pub struct Chroot;

impl Layer for Chroot {
    fn name(&self) -> &'static str {
        "chroot"
    }

    fn switch_root(&self, c: &Container) -> Option<Result<()>> {
        Some(change_root(c))
    }
}

/// Make `c.rootfs` the root directory of this process, and move into it.
fn change_root(c: &Container) -> Result<()> {
    // EXERCISE: call chroot(2) on c.rootfs, then chdir(2) to "/" so that the working directory
    // is inside the new root (chroot does not move it). Narrate each call with narrate::step.
    todo!(
        "exercise: call chroot(2) on c.rootfs, then chdir(2) to \"/\" so that the working directory is inside the new root (chroot does not move it)"
    );
    Ok(())
}
