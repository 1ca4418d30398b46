//! One timed run: start a program, wait for it, and take the wall time and the peak memory.
//!
//! The clock is read in this process, around `spawn` and `wait4`, so a runtime is timed as a
//! user feels it: from the moment its process starts until it has exited, including everything
//! it does after the container's command ended (unmounting, removing cgroups and links). There
//! is no shell in between: a shell would add its own start-up to every sample.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// The largest resident set, in KiB, of the process and the descendants it waited for
    /// (`ru_maxrss` from `wait4`). For a chapter's runtime that is its own peak unless the
    /// container (here `/bin/true`) was larger, which it never is.
    pub max_rss_kib: u64,
}

/// Run `argv` once with `CARTON_ROOT=state_root`; its standard error goes to `stderr_file`, so
/// that a failure can be explained. An exit code other than 0 is an error.
pub fn time_once(
    argv: &[OsString],
    state_root: &Path,
    stderr_file: &Path,
) -> Result<Sample, String> {
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
    let (status, usage) = wait4(child.id())?;
    let wall = started.elapsed();

    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let said = std::fs::read_to_string(stderr_file).unwrap_or_default();
        return Err(format!("{} ({})", describe_status(status), said.trim()));
    }
    Ok(Sample {
        wall,
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
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
