//! The `Layer` trait: what one chapter adds to the runtime, phase by phase.
//!
//! Every method has a default that does nothing, so a layer implements only the phases it needs.
//! The engine calls the layers in chapter order (release in reverse order); read `lifecycle.rs`
//! once and every chapter becomes "what this layer does in each phase".

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::container::Container;
use crate::error::Result;
use crate::lifecycle::Exit;

// ANCHOR: layer_trait
pub trait Layer {
    /// A short name, shown in the narration: `[chroot] ...`.
    fn name(&self) -> &'static str;

    /// Host side, before the child exists: validate flags, create what the container will use
    /// (directories, mounts, cgroups, links). May refine the container context.
    fn prepare(&mut self, _c: &mut Container) -> Result<()> {
        Ok(())
    }

    /// Host side: add (or remove) `clone(2)` flags. Each layer refines the flags of the one
    /// before it, so a later layer can take a namespace away again (`--network host`).
    fn clone_flags(&self, flags: CloneFlags) -> CloneFlags {
        flags
    }

    /// Host side, after `clone`: the child exists (its pid is known) but waits on the sync pipe.
    /// Join it to a cgroup, write its uid/gid maps, move a network device into its namespace.
    fn attach(&mut self, _c: &Container, _child: Pid) -> Result<()> {
        Ok(())
    }

    /// Child side, first: the host's paths are still visible.
    fn enter(&self, _c: &Container) -> Result<()> {
        Ok(())
    }

    /// Child side: make the container's root filesystem the process's `/`. Exactly one layer
    /// owns this step: the engine asks the layers from the last chapter down and uses the first
    /// that answers `Some`, so a later chapter (pivot_root) takes over from an earlier one
    /// (chroot) without editing it.
    fn switch_root(&self, _c: &Container) -> Option<Result<()>> {
        None
    }

    /// Child side, inside the new root, just before the command is executed.
    fn finish(&self, _c: &Container) -> Result<()> {
        Ok(())
    }

    /// Host side, right after the command exited and before release: a chance to explain the
    /// exit (an OOM kill, for example). A returned sentence is printed for the user.
    fn exited(&mut self, _c: &Container, _exit: Exit) -> Option<String> {
        None
    }

    /// Host side, after the container has exited, or after a failed start: undo what `prepare`
    /// and `attach` made. Runs in reverse chapter order and must tolerate a half-made state.
    fn release(&mut self, _c: &Container) -> Result<()> {
        Ok(())
    }
}
// ANCHOR_END: layer_trait
