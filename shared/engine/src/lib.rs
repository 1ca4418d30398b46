//! The carton engine: the container lifecycle that every chapter of the workshop shares.
//!
//! A chapter's runtime is a stack of [`Layer`]s given to [`run`]. The engine runs the same
//! phases for every chapter (see [`lifecycle`]); each layer fills in the phases it needs.

pub mod cleanup;
pub mod container;
pub mod error;
pub mod layer;
pub mod lifecycle;
pub mod names;
pub mod narrate;
pub mod rootfs;
pub mod state;

pub use container::{Container, RunArgs};
pub use error::{Context, Error, Result};
pub use layer::Layer;
pub use lifecycle::{Exit, guarded, run};
pub use nix::sched::CloneFlags;
pub use nix::unistd::Pid;

/// What every chapter's `run` command does: check the flags, run the container with the
/// chapter's layers, print any error, and return the exit code to leave with.
pub fn run_command(program: &str, args: &RunArgs, mut layers: Vec<Box<dyn Layer>>) -> i32 {
    narrate::enable(args.explain);
    let outcome = require_root(program)
        .and_then(|()| Container::from_args(args))
        .and_then(|container| run(container, &mut layers));
    match outcome {
        Ok(exit) => exit.code(),
        Err(error) => {
            narrate::error(&format!("{program}: {error}"));
            error.exit_code()
        }
    }
}

/// Containers are made with privileged system calls (chroot, mount, clone of namespaces).
pub fn require_root(program: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{program} must run as root: it calls chroot(2), mount(2) and clone(2) with namespace \
             flags. Try `sudo {program} ...`"
        )))
    }
}
