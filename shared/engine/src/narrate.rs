//! `--explain`: the runtime tells you every step it takes, with the system call it makes.
//!
//! ```text
//! [engine] create the child process      clone(SIGCHLD) = 4242
//! [chroot] change the root directory     chroot("/var/lib/carton/rootfs/busybox")
//! ```
//!
//! Narration goes to standard error so that it never mixes with the container's own output on
//! standard output. It is coloured on a terminal and plain otherwise, or when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use colored::Colorize;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turn narration on or off for this process (and the child it clones, which inherits it).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    colored::control::set_override(colour);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One step: which layer takes it, what it does in plain words, and the call that does it.
pub fn step(layer: &str, what: &str, call: impl AsRef<str>) {
    if !enabled() {
        return;
    }
    // Pad before colouring: escape codes would count as width.
    let tag = format!("{:<13}", format!("[{layer}]"));
    let line = format!(
        "{} {:<40} {}\n",
        tag.cyan().bold(),
        what,
        call.as_ref().dimmed()
    );
    // One write per line, so that the parent's and the child's lines never interleave mid-line.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A note that is not a system call (a decision, a value that was computed).
pub fn note(layer: &str, what: &str) {
    step(layer, what, "");
}

/// The start of a phase of the lifecycle, so the narration reads like the engine's diagram.
pub fn phase(name: &str, side: &str) {
    if !enabled() {
        return;
    }
    let line = format!(
        "{} {}\n",
        format!("── {name}").magenta().bold(),
        format!("({side})").dimmed()
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Print an error the way every chapter's binary does: one red word, then the message.
pub fn error(message: &str) {
    let _ = writeln!(std::io::stderr(), "{} {message}", "error:".red().bold());
}

/// Something the user should know about how the container ended (an OOM kill, say).
pub fn notice(message: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "{} {message}",
        "container:".yellow().bold()
    );
}
