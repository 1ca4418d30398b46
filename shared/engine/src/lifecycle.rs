//! The life of a container, the same for every chapter.
//!
//! ```text
//! host (runtime process)                       child (becomes the container)
//! prepare   each layer, in chapter order
//! clone     flags refined by each layer  ─────▶ waits on the sync pipe
//! attach    each layer, child pid known
//! go        write to the sync pipe ───────────▶ enter        each layer
//!                                               switch root  one layer owns it
//!                                               finish       each layer
//!                                               exec         the user's command
//! wait      exit status                 ◀────── error pipe: a failure before exec, or EOF
//! release   each layer, reverse order, also after a failed start
//! ```
//!
//! Read `run` from top to bottom: it is this diagram in code.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::container::{Container, DEFAULT_PATH};
use crate::error::{Context, Error, Result};
use crate::layer::Layer;
use crate::narrate;

/// How the container's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit(n)`.
    Code(i32),
    /// A signal killed it.
    Signal(Signal),
}

// ANCHOR: exit_code
impl Exit {
    /// The exit code a shell would report: n, or 128 + the signal's number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal as i32,
        }
    }
}
// ANCHOR_END: exit_code

// ANCHOR: run
/// Run one container to completion with the given stack of layers (chapter order).
pub fn run(mut c: Container, layers: &mut [Box<dyn Layer>]) -> Result<Exit> {
    // prepare: host side, in chapter order. Remember how far we got, so that release undoes
    // exactly the layers that may have created something.
    narrate::phase("prepare", "host");
    crate::state::begin(&c)?;
    let mut prepared = 0;
    let mut outcome = Ok(Exit::Code(0));
    for layer in layers.iter_mut() {
        prepared += 1;
        if let Err(e) = guarded(layer.name(), || layer.prepare(&mut c)) {
            outcome = Err(e);
            break;
        }
    }
    pause_point("prepare");

    if outcome.is_ok() {
        outcome = start_and_wait(&c, layers);
    }
    c.started = outcome.is_ok();

    narrate::phase("release", "host");
    for layer in layers[..prepared].iter_mut().rev() {
        if let Err(e) = guarded(layer.name(), || layer.release(&c)) {
            // Keep going: one layer's failure must not leave the others' objects behind.
            narrate::error(&format!("{} layer could not clean up: {e}", layer.name()));
        }
    }
    crate::state::end(&c, &outcome);
    outcome
}
// ANCHOR_END: run

fn start_and_wait(c: &Container, layers: &mut [Box<dyn Layer>]) -> Result<Exit> {
    let mut flags = CloneFlags::empty();
    for layer in layers.iter() {
        flags = guarded(layer.name(), || Ok(layer.clone_flags(flags)))?;
    }

    // ANCHOR: pipes
    // Two pipes. Both are close-on-exec, so neither leaks into the container's command.
    // - sync: the child blocks reading it until the parent has attached it (cgroups, maps...).
    // - error: the child writes why it failed before exec; a successful exec closes it (EOF).
    let (sync_read, sync_write) = pipe2(OFlag::O_CLOEXEC).ctx("pipe2", "sync pipe")?;
    let (error_read, error_write) = pipe2(OFlag::O_CLOEXEC).ctx("pipe2", "error pipe")?;
    // ANCHOR_END: pipes

    narrate::phase("clone", "host");
    let child = clone_child(flags)?;
    if child.is_none() {
        // We are the child. Close the parent's ends first, so that EOF on the sync pipe really
        // means "the parent is gone".
        drop(sync_write);
        drop(error_read);
        child_main(c, layers, sync_read, error_write);
    }
    let child = child.expect("checked above");
    drop(sync_read);
    drop(error_write);
    narrate::step(
        "engine",
        "the child exists and waits for \"go\"",
        format!("pid {child}"),
    );
    forward_signals_to(child);

    // attach: host side, the child's pid is known.
    narrate::phase("attach", "host");
    for layer in layers.iter_mut() {
        if let Err(e) = guarded(layer.name(), || layer.attach(c, child)) {
            abandon(child);
            return Err(e);
        }
    }
    pause_point("attach");

    // ANCHOR: go
    // go: one byte on the sync pipe lets the child continue.
    narrate::phase("go", "host");
    narrate::step(
        "engine",
        "tell the child to go on",
        "write(sync_pipe, \"g\")",
    );
    let mut sync = std::fs::File::from(sync_write);
    if let Err(e) = sync.write_all(b"g") {
        abandon(child);
        return Err(Error::other(format!(
            "the child died before it could start: {e}"
        )));
    }
    drop(sync);

    // Anything on the error pipe is a failure before exec. EOF alone means exec succeeded.
    let mut report = Vec::new();
    let _ = std::fs::File::from(error_read).read_to_end(&mut report);
    let exit = wait_for(child)?;
    if !flags.contains(CloneFlags::CLONE_NEWNS) {
        sweep_host_mounts(&c.rootfs);
    }
    if !report.is_empty() {
        return Err(decode_child_error(&report));
    }
    // ANCHOR_END: go
    narrate::phase("wait", "host");
    narrate::step(
        "engine",
        "the command exited",
        format!("waitpid({child}) = {exit:?}"),
    );
    for layer in layers.iter_mut() {
        if let Some(message) = guarded(layer.name(), || Ok(layer.exited(c, exit)))? {
            narrate::notice(&message);
        }
    }
    Ok(exit)
}

/// `clone(2)` with fork semantics: no new stack, the child continues from here with a copy of
/// the parent's memory. Returns the child's pid in the parent and `None` in the child.
fn clone_child(flags: CloneFlags) -> Result<Option<Pid>> {
    // A clone copies only the calling thread. Another thread holding a lock (the allocator's,
    // stdout's) at that moment would leave the child stuck forever, so refuse to clone from a
    // multi-threaded process. Chapters that need threads (tokio for netlink) start them later.
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1);
    if threads > 1 {
        return Err(Error::other(format!(
            "clone from a process with {threads} threads: start threads only after the clone"
        )));
    }
    narrate::step(
        "engine",
        "create the child process",
        format!("clone({})", describe_flags(flags)),
    );
    // ANCHOR: clone
    let raw_flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a raw clone without CLONE_VM and without a new stack behaves like fork(): the child
    // gets a private copy of this single-threaded process and returns here with 0. The other
    // arguments (stack, parent tid, child tid, tls) are unused and zero.
    let ret = unsafe { libc::syscall(libc::SYS_clone, raw_flags, 0usize, 0usize, 0usize, 0usize) };
    match ret {
        -1 => Err(Error::sys(
            "clone",
            describe_flags(flags),
            nix::errno::Errno::last(),
        )),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
    // ANCHOR_END: clone
}

/// The child's whole life: wait for "go", run the layers' child phases, exec the command.
/// Never returns: it execs, or reports its error on the error pipe and exits.
fn child_main(c: &Container, layers: &[Box<dyn Layer>], sync: OwnedFd, error_pipe: OwnedFd) -> ! {
    let outcome = catch_unwind(AssertUnwindSafe(|| child_steps(c, layers, sync)));
    let error = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(error)) => error,
        Err(panic) => Error::other(format!("the child panicked: {}", panic_message(&*panic))),
    };
    let message = format!("{}\n{}", error.exit_code(), error);
    let _ = std::fs::File::from(error_pipe).write_all(message.as_bytes());
    // SAFETY: _exit ends this process at once, without running the parent's atexit handlers or
    // flushing buffers it copied from the parent (which would print their content twice).
    unsafe { libc::_exit(error.exit_code()) }
}

// ANCHOR: child_steps
fn child_steps(c: &Container, layers: &[Box<dyn Layer>], sync: OwnedFd) -> Result<Infallible> {
    // If the runtime dies (even by SIGKILL), take the container down with it instead of leaving
    // an orphan nobody waits for. A runtime with detached containers uses a monitor process
    // for this, which is then the parent.
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };

    let mut go = [0u8; 1];
    match std::fs::File::from(sync).read(&mut go) {
        Ok(1) => {}
        // EOF: the parent gave up (or died) before attaching us. Nothing to report to.
        // SAFETY: see child_main.
        _ => unsafe { libc::_exit(125) },
    }

    narrate::phase("enter", "child");
    for layer in layers {
        guarded(layer.name(), || layer.enter(c))?;
    }

    narrate::phase("switch root", "child");
    let owner = layers
        .iter()
        .rev()
        .find_map(|layer| guarded(layer.name(), || layer.switch_root(c).transpose()).transpose());
    match owner {
        Some(result) => result?,
        None => narrate::note("engine", "no layer switches the root: the host's / stays"),
    }

    narrate::phase("finish", "child");
    for layer in layers {
        guarded(layer.name(), || layer.finish(c))?;
    }

    narrate::phase("exec", "child");
    exec_command(c)
}
// ANCHOR_END: child_steps

/// Change to the working directory, find the program, and replace this process with it.
fn exec_command(c: &Container) -> Result<Infallible> {
    narrate::step(
        "engine",
        "change to the working directory",
        format!("chdir({:?})", c.workdir),
    );
    nix::unistd::chdir(c.workdir.as_str()).map_err(|errno| Error::Exec {
        code: 126,
        message: format!(
            "working directory {} is not usable in the container: {}",
            c.workdir,
            errno.desc()
        ),
    })?;

    let program = resolve_program(&c.command[0], c.env_var("PATH").unwrap_or(DEFAULT_PATH))?;
    let args = to_cstrings(c.command.iter().map(String::as_str))?;
    let env = to_cstrings(
        c.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )?;

    // The runtime's own descriptors (pipes, files Rust or a test harness opened) must not reach
    // the container: mark every descriptor above 2 close-on-exec. A leaked descriptor of a host
    // directory was a real escape (CVE-2024-21626).
    narrate::step(
        "engine",
        "close inherited descriptors on exec",
        "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)",
    );
    // SAFETY: close_range only changes flags of this process's descriptors.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };

    // Rust ignores SIGPIPE in its programs, and an ignored signal stays ignored across exec.
    // The container's programs expect the default (`yes | head` must end), so restore it.
    // SAFETY: setting a default disposition has no memory-safety implications.
    unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }.ctx("signal", "SIGPIPE")?;
    signal::sigprocmask(
        signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    )
    .ctx("sigprocmask", "unblock all")?;

    narrate::step(
        "engine",
        "replace this process with the command",
        format!("execve({program:?}, {:?})", c.command),
    );
    // ANCHOR: exec_failure
    let errno = nix::unistd::execve(&program, &args, &env).unwrap_err();
    Err(Error::Exec {
        code: if errno == nix::errno::Errno::ENOENT {
            127
        } else {
            126
        },
        message: format!(
            "cannot execute {} in the container: {}{}",
            program.to_string_lossy(),
            errno.desc(),
            crate::error::hint_for("execve", errno)
                .map(|h| format!("\n  hint: {h}"))
                .unwrap_or_default()
        ),
    })
    // ANCHOR_END: exec_failure
}

/// Find the program as a shell would: a name with a `/` is a path, anything else is looked up
/// in the container's `$PATH`. Runs inside the new root, so these are the container's files.
pub fn resolve_program(name: &str, path_var: &str) -> Result<CString> {
    let not_found = |what: String| Error::Exec {
        code: 127,
        message: what,
    };
    let found = |path: &Path| -> Result<CString> {
        let meta = std::fs::metadata(path)
            .map_err(|_| not_found(format!("no such file in the container: {}", path.display())))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(Error::Exec {
                code: 126,
                message: format!(
                    "{} in the container is not an executable file",
                    path.display()
                ),
            });
        }
        CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::usage(format!("{name:?}: a path cannot hold a NUL byte")))
    };
    if name.contains('/') {
        return found(Path::new(name));
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        if candidate.is_file() {
            return found(&candidate);
        }
    }
    Err(not_found(format!(
        "executable file not found in the container: {name} (searched $PATH={path_var})"
    )))
}

fn to_cstrings<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CString>> {
    items
        .map(|s| {
            CString::new(s)
                .map_err(|_| Error::usage(format!("{s:?}: an argument cannot hold a NUL byte")))
        })
        .collect()
}

/// Wait for the child, retrying when a forwarded signal interrupts the wait.
fn wait_for(child: Pid) -> Result<Exit> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(Exit::Signal(signal)),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(Error::sys("waitpid", child, errno)),
        }
    }
}

/// Without a mount namespace (chapter 1), a mount the command makes lands in the HOST's mount
/// table, under the rootfs, and outlives the container. Take such mounts away when it exits.
fn sweep_host_mounts(rootfs: &std::path::Path) {
    let rootfs = std::fs::canonicalize(rootfs).unwrap_or_else(|_| rootfs.to_path_buf());
    let mut left: Vec<_> = crate::cleanup::mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&rootfs))
        .collect();
    // Deepest first: a mount on top of another must go before it.
    left.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for mount_point in left {
        narrate::step(
            "engine",
            "no mount namespace: remove a mount it left on the host",
            format!("umount2({mount_point:?}, MNT_DETACH)"),
        );
        let _ = nix::mount::umount2(&mount_point, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Give up on a child that has not been told to go: kill it and reap it.
fn abandon(child: Pid) {
    let _ = signal::kill(child, Signal::SIGKILL);
    let _ = wait_for(child);
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

// ANCHOR: signal_proxy
/// The runtime must outlive its container to clean up after it, so the signals that would end
/// the runtime are passed on to the container instead (like `docker run`'s signal proxy).
fn forward_signals_to(child: Pid) {
    CHILD.store(child.as_raw(), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        // SAFETY: the handler only loads an atomic and calls kill(2), both async-signal-safe.
        let _ = unsafe { signal::sigaction(sig, &action) };
    }
}
// ANCHOR_END: signal_proxy

thread_local! {
    /// Set while a layer's phase runs, so the panic hook knows the panic will be reported.
    static IN_LAYER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the last panic inside a layer happened ("exercises/01-chroot/src/lib.rs:33").
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A panic inside a layer (an exercise's `todo!()`, most often) is reported as one clear error
/// line by `guarded`; the default hook's backtrace would bury it. Panics elsewhere are bugs and
/// keep the default report.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_LAYER.with(|flag| flag.get()) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_AT.with(|slot| *slot.borrow_mut() = at);
            } else {
                default_hook(info);
            }
        }));
    });
}

/// Run one layer's phase, turning a panic (such as an exercise's `todo!()`) into an error, so
/// that the engine still releases everything and the learner sees which layer stopped, and where.
/// Chapters' own subcommands (import, network create...) use it too.
pub fn guarded<T>(layer: &str, phase: impl FnOnce() -> Result<T>) -> Result<T> {
    install_panic_hook();
    let was_in_layer = IN_LAYER.with(|flag| flag.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(phase));
    IN_LAYER.with(|flag| flag.set(was_in_layer));
    match outcome {
        Ok(result) => result,
        Err(panic) => {
            let at = PANIC_AT
                .with(|slot| slot.borrow_mut().take())
                .unwrap_or_default();
            let message = panic_message(&*panic);
            Err(Error::other(
                if message.starts_with("not yet implemented") {
                    format!("the {layer} layer is not written yet ({at}): {message}")
                } else {
                    format!("the {layer} layer panicked ({at}): {message}")
                },
            ))
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

fn decode_child_error(report: &[u8]) -> Error {
    let text = String::from_utf8_lossy(report);
    let (code, message) = text.split_once('\n').unwrap_or(("125", &text));
    let code = code.parse().unwrap_or(125);
    match code {
        126 | 127 => Error::Exec {
            code,
            message: message.to_string(),
        },
        _ => Error::Other(message.to_string()),
    }
}

/// `CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD`, as strace would print it.
pub fn describe_flags(flags: CloneFlags) -> String {
    let mut names: Vec<String> = flags
        .iter_names()
        .map(|(name, _)| name.to_string())
        .collect();
    names.push("SIGCHLD".to_string());
    names.join("|")
}

/// A test hook: `CARTON_TEST_PAUSE_AT=attach` makes the runtime stop for good after that phase,
/// so a test can kill it there (with SIGKILL) and check that `workshop clean` leaves nothing.
fn pause_point(phase: &str) {
    if std::env::var("CARTON_TEST_PAUSE_AT").as_deref() == Ok(phase) {
        let _ = writeln!(
            std::io::stderr(),
            "carton: paused after {phase} (CARTON_TEST_PAUSE_AT)"
        );
        loop {
            nix::unistd::pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_death_is_reported_as_128_plus_the_signal() {
        assert_eq!(Exit::Signal(Signal::SIGKILL).code(), 137);
        assert_eq!(Exit::Signal(Signal::SIGTERM).code(), 143);
        assert_eq!(Exit::Code(42).code(), 42);
    }

    #[test]
    fn flags_read_like_strace() {
        assert_eq!(describe_flags(CloneFlags::empty()), "SIGCHLD");
        assert_eq!(
            describe_flags(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID),
            "CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD"
        );
    }

    #[test]
    fn child_errors_keep_their_exit_code() {
        assert_eq!(decode_child_error(b"127\nnot found").exit_code(), 127);
        assert_eq!(decode_child_error(b"125\nboom").to_string(), "boom");
        assert_eq!(decode_child_error(b"garbage").exit_code(), 125);
    }
}
