//! Helpers for the behaviour tests: every test runs real containers with a chapter's binary and
//! looks at the effects from inside the container and from the host.
//!
//! ```ignore
//! let root = testkit::TestRoot::new("exit_codes");      // fails loudly without root
//! let out = root.run(env!("CARGO_BIN_EXE_ch01"), &["run", "--", "sh", "-c", "exit 42"]);
//! assert_eq!(out.code, 42, "{out}");
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use engine::cleanup::Leftover;

pub mod net;
pub mod vm;

/// Fail the test at once, and say why, when it does not run as root. A container test that
/// passed without root would be a lie, so there is no skipping.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "this test runs real containers and needs root. Run the suite as root: \
             `./workshop test`, `./workshop verify N`, or `sudo -E cargo test`"
        );
    }
}

/// A private state root (`CARTON_ROOT`) for one test, so tests never see each other's
/// containers, rootfs or kernel objects. Dropping it removes whatever the test left.
pub struct TestRoot {
    path: PathBuf,
}

impl TestRoot {
    pub fn new(test_name: &str) -> TestRoot {
        require_root();
        let unique = engine::container::new_id();
        let path = std::env::temp_dir().join(format!("carton-test-{test_name}-{}", &unique[..6]));
        std::fs::create_dir_all(&path).expect("create the test's state root");
        TestRoot { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The workshop's busybox rootfs, made under this test's root.
    pub fn busybox_rootfs(&self) -> PathBuf {
        engine::rootfs::busybox_rootfs(&self.path).expect("build the busybox rootfs")
    }

    /// A fresh copy of the busybox rootfs that the test may change freely.
    pub fn private_rootfs(&self, name: &str) -> PathBuf {
        let source = self.busybox_rootfs();
        let copy = self.path.join("private").join(name);
        std::fs::create_dir_all(self.path.join("private")).expect("create the private rootfs dir");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&source)
            .arg(&copy)
            .status()
            .expect("run cp");
        assert!(
            status.success(),
            "cp -a {} {}",
            source.display(),
            copy.display()
        );
        copy
    }

    /// A command for a chapter binary with this test's `CARTON_ROOT`.
    pub fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(binary);
        command.env("CARTON_ROOT", &self.path).env("NO_COLOR", "1");
        command
    }

    /// Run a chapter binary to completion and capture what it printed.
    pub fn run<S: AsRef<OsStr>>(&self, binary: &str, args: &[S]) -> Outcome {
        let mut command = self.command(binary);
        command.args(args);
        Outcome::of(command)
    }

    /// Objects this test's runs left behind (processes, mounts, half-built directories).
    pub fn leftovers(&self) -> Vec<Leftover> {
        engine::cleanup::leftovers(&self.path)
    }

    /// Assert that nothing of this test's runs remains in the kernel.
    pub fn assert_no_leftovers(&self) {
        let found = self.leftovers();
        assert!(found.is_empty(), "left behind: {}", list(&found));
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        let (_, failed) = engine::cleanup::clean(&self.path);
        for (item, why) in &failed {
            eprintln!("testkit: could not remove {item}: {why}");
        }
        // A runtime that is still finishing may write while the tree is removed: try again.
        for attempt in 0..5 {
            match std::fs::remove_dir_all(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) if attempt == 4 => {
                    eprintln!("testkit: could not remove {}: {e}", self.path.display())
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }
}

fn list(items: &[Leftover]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a finished command did: its exit code and its output, printed in full when an
/// assertion about it fails.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn of(mut command: Command) -> Outcome {
        let shown = format!("{command:?}");
        let output = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not start {shown}: {e}"));
        use std::os::unix::process::ExitStatusExt;
        let code = output
            .status
            .code()
            .unwrap_or_else(|| 128 + output.status.signal().unwrap_or(0));
        Outcome {
            code,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Standard output with surrounding whitespace removed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The classic chroot escape (assets/chroot_escape.c), built as a static program so it runs in
/// any rootfs: chroot into a subdirectory while the working directory stays outside it, climb
/// with `..` to the real root, and chroot there. Usage inside: `/chroot-escape PROGRAM [ARGS]`.
pub fn chroot_escape_binary(dir: &Path) -> PathBuf {
    static_helper("chroot_escape", dir)
}

/// A small C program from assets/, compiled statically into `dir`: busybox lacks a few tools
/// the tests need (System V IPC, the chroot escape), and a static binary needs no libraries
/// inside the container.
pub fn static_helper(name: &str, dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("assets/{name}.c"));
    let binary = dir.join(name.replace('_', "-"));
    let output = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("run cc (a C compiler is needed to build the test helpers)");
    assert!(
        output.status.success(),
        "cc -static {} failed (is libc6-dev installed?): {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// Start a chapter binary in the background (for tests that look at a running container from
/// the host). Standard output is piped, so the test can wait for a line the container prints.
pub fn spawn<S: AsRef<OsStr>>(root: &TestRoot, binary: &str, args: &[S]) -> std::process::Child {
    root.command(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runtime")
}

/// The pids of the direct children of `pid` (from /proc/PID/task/*/children).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// The namespace of `kind` ("uts", "pid", "mnt"...) that process `pid` is in, as the kernel
/// names it: `uts:[4026531838]`.
pub fn namespace_of(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The host's hostname, as the kernel reports it.
pub fn host_hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}
