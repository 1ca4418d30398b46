//! One timed run: start a program, wait for it, and take the wall time and the peak memory.
//!
//! The clock is read in this process, around `spawn` and `wait4`, so a runtime is timed as a
//! user feels it: from the moment its process starts until it has exited, including everything
//! it does after the container's command ended (unmounting, removing cgroups and links). There
//! is no shell in between: a shell would add its own start-up to every sample. Memory is taken
//! in a separate run ([`peak_rss_kib`]), never in a timed one.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `argv` once with `CARTON_ROOT=state_root` and return its wall time; its standard error
/// goes to `stderr_file`, so that a failure can be explained. An exit code other than 0 is an
/// error.
pub fn time_once(
    argv: &[OsString],
    state_root: &Path,
    stderr_file: &Path,
) -> Result<Duration, String> {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let stderr =
        File::create(stderr_file).map_err(|e| format!("create {}: {e}", stderr_file.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env("CARTON_ROOT", state_root)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);

    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.to_string_lossy()))?;
    let (status, _) = wait4(child.id())?;
    let wall = started.elapsed();

    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let said = std::fs::read_to_string(stderr_file).unwrap_or_default();
        return Err(format!("{} ({})", describe_status(status), said.trim()));
    }
    Ok(wall)
}

/// The peak memory of one run of `argv`, in KiB: `ru_maxrss` of `wait4`, the largest resident
/// set of the process and of the children it waited for (for a chapter's runtime: itself, the
/// `nft` it ran, and the container, which is `/bin/true` and never the largest).
///
/// Why through GNU time and not our own `wait4`: the kernel keeps a process's ru_maxrss across
/// `execve`, and it starts as the high-water mark of the memory it was forked from. A process
/// that this tool starts begins with this tool's own resident set (several MiB) and could never
/// report less. `time` forks the program from its own small process and reports the same
/// `wait4` field (`%M`), so the floor is about 1 MiB instead.
pub fn peak_rss_kib(
    gnu_time: &Path,
    argv: &[OsString],
    state_root: &Path,
    scratch: &Path,
) -> Result<u64, String> {
    let report = scratch.join("maxrss.txt");
    let mut with_time: Vec<OsString> = vec![gnu_time.into()];
    with_time.extend(["-f", "%M", "-o"].iter().map(OsString::from));
    with_time.push(report.clone().into());
    with_time.push("--".into());
    with_time.extend(argv.iter().cloned());
    time_once(&with_time, state_root, &scratch.join("stderr.txt"))?;
    let text =
        std::fs::read_to_string(&report).map_err(|e| format!("read {}: {e}", report.display()))?;
    text.trim()
        .parse()
        .map_err(|_| format!("GNU time reported {text:?} as the maximum resident set"))
}

/// `wait4(pid)`: the raw status and the resource usage. std's `Child::wait` does not return the
/// rusage, so the child is reaped here instead (and `Child` is then simply dropped: dropping it
/// neither waits nor kills).
pub fn wait4(pid: u32) -> Result<(i32, libc::rusage), String> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; all zeroes is a valid value that wait4 overwrites.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, writable, and live for the whole call.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("wait4({pid}): {error}"));
        }
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}
