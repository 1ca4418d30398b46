//! The container's directory under the state root, and the mark that says a runtime is using it.
//!
//! While a runtime runs a container, `containers/ID/runtime.pid` holds the runtime's pid and
//! its start time. A directory whose runtime is gone while that file remains was left by a crash
//! (`workshop clean` removes it); one without the file is a container kept on purpose.

use std::fs;
use std::path::Path;

use crate::container::Container;
use crate::error::{Context, Result};
use crate::lifecycle::Exit;

pub const RUNTIME_PID: &str = "runtime.pid";
pub const EXIT_CODE: &str = "exit_code";

/// Before `prepare`: make the directory and mark it as in use by this process.
pub fn begin(c: &Container) -> Result<()> {
    let dir = c.dir();
    fs::create_dir_all(&dir).ctx("mkdir", dir.display())?;
    let me = std::process::id();
    let mark = format!("{me} {}\n", start_time(me).unwrap_or(0));
    fs::write(dir.join(RUNTIME_PID), mark).ctx("write", dir.join(RUNTIME_PID).display())
}

/// After `release`: remove the directory, or keep it (when a layer asked and the command ran)
/// with the exit code for later commands.
pub fn end(c: &Container, outcome: &Result<Exit>) {
    let dir = c.dir();
    // A container that never ran (a bad flag, a missing command) is not kept: nothing of a
    // failed start may stay behind.
    if c.keep && c.started {
        let code = match outcome {
            Ok(exit) => exit.code(),
            Err(e) => e.exit_code(),
        };
        let _ = fs::write(dir.join(EXIT_CODE), format!("{code}\n"));
        let _ = fs::remove_file(dir.join(RUNTIME_PID));
    } else {
        let _ = fs::remove_dir_all(&dir);
        // The containers/ directory itself goes when the last container has.
        let _ = fs::remove_dir(c.state_root.join("containers"));
    }
}

/// Is the runtime that marked `dir` gone? (Its pid is not running, or is a newer process that
/// reused the number: the start time tells them apart.)
pub fn abandoned(dir: &Path) -> bool {
    let Ok(mark) = fs::read_to_string(dir.join(RUNTIME_PID)) else {
        return false;
    };
    let mut fields = mark
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let (pid, started) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
    pid == 0 || start_time(pid as u32) != Some(started)
}

/// A process's start time in clock ticks since boot: field 22 of /proc/PID/stat.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_and_is_not_abandoned() {
        let me = std::process::id();
        let started = start_time(me).expect("a start time");
        let dir = std::env::temp_dir().join(format!("carton-state-test-{me}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(RUNTIME_PID), format!("{me} {started}\n")).unwrap();
        assert!(!abandoned(&dir));
        fs::write(dir.join(RUNTIME_PID), format!("{me} {}\n", started + 1)).unwrap();
        assert!(
            abandoned(&dir),
            "a reused pid is told apart by its start time"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
