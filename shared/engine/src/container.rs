//! The container context: everything the layers need to know about the container being made.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};

/// The flags every chapter's `run` command has, whatever its layers: which root filesystem,
/// which command, with which environment and working directory.
#[derive(Args, Debug, Clone)]
#[group(id = "container")]
#[command(next_help_heading = "Container")]
pub struct RunArgs {
    /// Root filesystem directory of the container [default: the workshop's busybox rootfs]
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// Set an environment variable in the container (repeatable)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "PATH")]
    pub workdir: Option<String>,

    /// Narrate every step with the system call it makes
    // No `-v`: from chapter 6 on, `-v` is `--volume`, as in Docker.
    #[arg(long, alias = "verbose")]
    pub explain: bool,

    /// The command to run inside the container, and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// The search path a container gets unless `--env PATH=...` says otherwise (the one Docker uses).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One container being made. The engine fills it from the command line; layers read it and may
/// refine it in `prepare` (a later chapter replaces `rootfs` with an overlay mount, for example).
#[derive(Debug, Clone)]
pub struct Container {
    /// A short random hex id, like Docker's short ids.
    pub id: String,
    /// The directory that becomes `/` for the container.
    pub rootfs: PathBuf,
    /// Whether `--rootfs` was given (a later chapter that builds the root itself refuses it).
    pub rootfs_given: bool,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The complete environment of the command: nothing of the runtime's own leaks in.
    pub env: Vec<(String, String)>,
    /// The working directory inside the container.
    pub workdir: String,
    /// Where the runtime keeps its state: `$CARTON_ROOT`, or /var/lib/carton.
    pub state_root: PathBuf,
    /// Keep the container's directory (`containers/ID`) after it exits: a chapter that can
    /// look at a stopped container again (diff, commit, logs) sets this in `prepare`.
    pub keep: bool,
    /// Set by the engine before `release`: the command really ran (exec succeeded). A container
    /// that never started leaves nothing behind, whatever `keep` says.
    pub started: bool,
}

impl Container {
    /// `$CARTON_ROOT/containers/ID`: the container's own files (its state, and from chapter 4 on
    /// its writable layer, later its hosts file and log). Made before `prepare`, removed after
    /// `release` unless `keep` is set.
    pub fn dir(&self) -> PathBuf {
        self.state_root.join("containers").join(&self.id)
    }

    /// Build the context from the common flags. Validates what can be validated before anything
    /// is created, so a bad flag leaves nothing behind.
    pub fn from_args(args: &RunArgs) -> Result<Container> {
        let state_root = state_root();
        let rootfs = match &args.rootfs {
            Some(dir) => dir.clone(),
            None => crate::rootfs::busybox_rootfs(&state_root)?,
        };
        check_rootfs(&rootfs)?;

        let mut env = vec![
            ("PATH".to_string(), DEFAULT_PATH.to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        for pair in &args.env {
            let (key, value) = parse_env(pair)?;
            env.retain(|(k, _)| k != &key);
            env.push((key, value));
        }

        let workdir = args.workdir.clone().unwrap_or_else(|| "/".to_string());
        if !workdir.starts_with('/') {
            return Err(Error::usage(format!(
                "--workdir {workdir}: the working directory must be an absolute path inside the container"
            )));
        }

        Ok(Container {
            id: new_id(),
            rootfs,
            rootfs_given: args.rootfs.is_some(),
            command: args.command.clone(),
            env,
            workdir,
            state_root,
            keep: false,
            started: false,
        })
    }

    /// The value of an environment variable of the container.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `$CARTON_ROOT`, or /var/lib/carton. Every test sets its own, so tests never collide.
pub fn state_root() -> PathBuf {
    match std::env::var_os("CARTON_ROOT") {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from("/var/lib/carton"),
    }
}

fn check_rootfs(rootfs: &Path) -> Result<()> {
    let shown = rootfs.display();
    let meta = std::fs::metadata(rootfs)
        .map_err(|_| Error::usage(format!("root filesystem {shown} does not exist")))?;
    if !meta.is_dir() {
        return Err(Error::usage(format!(
            "root filesystem {shown} is not a directory"
        )));
    }
    let mut entries = std::fs::read_dir(rootfs)
        .map_err(|e| Error::usage(format!("root filesystem {shown} cannot be read: {e}")))?;
    if entries.next().is_none() {
        return Err(Error::usage(format!(
            "root filesystem {shown} is empty: a container needs at least the program it runs \
             (try the default busybox rootfs: leave out --rootfs)"
        )));
    }
    Ok(())
}

/// `KEY=VALUE` -> (KEY, VALUE). The key must be non-empty and hold no `=`.
pub fn parse_env(pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(Error::usage(format!("--env {pair:?}: expected KEY=VALUE"))),
    }
}

/// Twelve hex digits from the kernel's random source.
pub fn new_id() -> String {
    let mut bytes = [0u8; 6];
    if getrandom(&mut bytes).is_err() {
        // Fall back on the clock and pid: ids need to be unique, not secret.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mixed = nanos ^ ((std::process::id() as u128) << 32);
        bytes.copy_from_slice(&mixed.to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("EMPTY=").unwrap(), ("EMPTY".into(), "".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("NOVALUE").is_err());
    }

    #[test]
    fn ids_are_twelve_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
