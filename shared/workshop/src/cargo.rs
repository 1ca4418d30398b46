//! Running cargo from the workshop, also when the learner came in through `sudo`.
//!
//! The trap: under `sudo`, PATH loses `~/.cargo/bin`, and a cargo run as root writes root-owned
//! files into the learner's `target/` and `~/.cargo`; their next `cargo build` then fails with
//! "Permission denied". The chapters' tests must run as root (they make real containers), so
//! cargo runs as root here, but with the learner's own toolchain and cache (`CARGO_HOME`,
//! `RUSTUP_HOME`, exported by `./workshop`), and after every cargo run the workshop gives back to
//! the learner (`SUDO_UID:SUDO_GID`) every file root created in the checkout and in their
//! `CARGO_HOME`. As plain root (CI, no `SUDO_USER`) nothing is handed back.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The cargo to run: `$WORKSHOP_CARGO` (set by `./workshop`), `$CARGO` (set by cargo itself
/// for `cargo run` and tests), `cargo` on PATH, or `~/.cargo/bin/cargo`.
pub fn program() -> PathBuf {
    for var in ["WORKSHOP_CARGO", "CARGO"] {
        if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
    }
    if let Some(found) = on_path("cargo") {
        return found;
    }
    if let Some(home) = std::env::var_os("HOME") {
        let candidate = PathBuf::from(home).join(".cargo/bin/cargo");
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("cargo")
}

/// The first executable called `name` in PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `cargo ARGS...` in the workspace, with the directory of cargo at the front of PATH so that
/// its subcommands (`cargo-nextest`, `cargo-clippy`) and `mdbook` are found next to it.
pub fn command<I, S>(top: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let cargo = program();
    let mut command = Command::new(&cargo);
    command.args(args).current_dir(top);
    if let Some(dir) = cargo.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut path = OsString::from(dir);
        if let Some(rest) = std::env::var_os("PATH") {
            path.push(":");
            path.push(rest);
        }
        command.env("PATH", path);
    }
    command
}

/// Run a cargo command with its output going straight to the terminal.
pub fn status(top: &Path, mut command: Command) -> std::io::Result<ExitStatus> {
    let status = command.status();
    give_back(top);
    status
}

/// Where cargo puts what it builds: `$CARGO_TARGET_DIR`, or `target/` in the workspace.
pub fn target_dir(top: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => top.join(dir),
        None => top.join("target"),
    }
}

/// Is `cargo nextest` installed? (The tests fall back to `cargo test` without it.)
pub fn has_nextest(top: &Path) -> bool {
    let mut probe = command(top, ["nextest", "--version"]);
    probe.stdout(Stdio::null()).stderr(Stdio::null());
    probe.status().map(|s| s.success()).unwrap_or(false)
}

/// The learner who ran `sudo ./workshop`: (uid, gid), when it is not root itself.
pub fn sudo_owner() -> Option<(u32, u32)> {
    owner_from(
        std::env::var("SUDO_UID").ok().as_deref(),
        std::env::var("SUDO_GID").ok().as_deref(),
    )
}

/// (uid, gid) from sudo's variables; root, or anything unparsable, means "nobody to give to".
pub fn owner_from(uid: Option<&str>, gid: Option<&str>) -> Option<(u32, u32)> {
    let uid: u32 = uid?.trim().parse().ok()?;
    let gid: u32 = gid?.trim().parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// Give every root-created file in the checkout (but .git) and in CARGO_HOME back to the
/// learner who came in through sudo. Does nothing as plain root.
pub fn give_back(top: &Path) {
    let Some((uid, gid)) = sudo_owner() else {
        return;
    };
    let mut places = vec![top.to_path_buf()];
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        places.push(PathBuf::from(home));
    }
    for place in places {
        chown_tree(&place, uid, gid);
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.uid() != uid {
        let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
    }
    if !meta.is_dir() {
        return;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == ".git" {
            continue;
        }
        chown_tree(&entry.path(), uid, gid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_user_behind_sudo_gets_files_back() {
        assert_eq!(owner_from(Some("1000"), Some("1000")), Some((1000, 1000)));
        assert_eq!(owner_from(Some("0"), Some("0")), None);
        assert_eq!(owner_from(None, Some("1000")), None);
        assert_eq!(owner_from(Some("abc"), Some("1000")), None);
    }
}
