//! Errors that say what failed, on what, and why it usually happens.
//!
//! A container runtime is a long list of system calls. When one fails, "EINVAL" alone teaches
//! nothing: the message names the operation, the object (a path, a pid, a link), the errno, and,
//! when there is a usual cause, a hint in plain words.

use std::fmt;
use std::path::Path;

use nix::errno::Errno;

/// Everything that can go wrong while running a container.
#[derive(Debug)]
pub enum Error {
    /// A system call (or a file operation) failed.
    Sys {
        /// The call, as a learner would look it up: "chroot", "mount", "write".
        op: &'static str,
        /// What it was applied to: a path, a pid, a file name.
        target: String,
        errno: Errno,
        /// The most likely cause, if there is a usual one.
        hint: Option<&'static str>,
    },
    /// The user asked for something that cannot work (a bad flag value, a missing rootfs).
    Usage(String),
    /// The command could not be started inside the container. Carries the exit code a shell
    /// would use: 127 when it does not exist, 126 when it cannot be executed.
    Exec { code: i32, message: String },
    /// Anything else, with a sentence that explains it.
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn sys(op: &'static str, target: impl fmt::Display, errno: Errno) -> Error {
        Error::Sys {
            op,
            target: target.to_string(),
            errno,
            hint: hint_for(op, errno),
        }
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    pub fn other(message: impl Into<String>) -> Error {
        Error::Other(message.into())
    }

    // ANCHOR: exit_code
    /// The exit code the runtime uses when this error stops a container from starting.
    /// 125 follows `docker run`: "the runtime itself failed", distinct from the command's own codes.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { code, .. } => *code,
            _ => 125,
        }
    }
    // ANCHOR_END: exit_code
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys {
                op,
                target,
                errno,
                hint,
            } => {
                write!(f, "{op} {target}: {errno:?} ({})", errno.desc())?;
                if let Some(hint) = hint {
                    write!(f, "\n  hint: {hint}")?;
                }
                Ok(())
            }
            Error::Usage(message) | Error::Other(message) => f.write_str(message),
            Error::Exec { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// Attach the name of the failed operation and its object to a `nix` or `std::io` result:
///
/// ```ignore
/// nix::unistd::chroot(&rootfs).ctx("chroot", rootfs.display())?;
/// ```
pub trait Context<T> {
    fn ctx(self, op: &'static str, target: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, op: &'static str, target: impl fmt::Display) -> Result<T> {
        self.map_err(|errno| Error::sys(op, target, errno))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, target: impl fmt::Display) -> Result<T> {
        self.map_err(|e| match e.raw_os_error() {
            Some(code) => Error::sys(op, target, Errno::from_raw(code)),
            None => Error::Other(format!("{op} {target}: {e}")),
        })
    }
}

/// Shorthand for a path as an error's target.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The usual causes of the failures learners meet, one line each. The table grows with the
/// chapters: add the operation and errno you saw, and the explanation you wish you had read.
pub fn hint_for(op: &str, errno: Errno) -> Option<&'static str> {
    use Errno::*;
    Some(match (op, errno) {
        (_, EPERM) | (_, EACCES) if op != "execve" => {
            "this needs root (CAP_SYS_ADMIN and friends): run it as root or through sudo"
        }
        ("chroot", ENOENT) | ("chdir", ENOENT) => "the directory does not exist",
        ("chroot", ENOTDIR) => "the root filesystem must be a directory",
        ("execve", ENOENT) => {
            "the file exists but its interpreter or loader does not: a dynamically linked program \
             needs its libraries inside the root filesystem"
        }
        ("execve", EACCES) => "the file is not executable (check its mode and the mount's noexec)",
        ("execve", ENOEXEC) => "the file is not a program this kernel can run",
        ("pivot_root", EINVAL) => {
            "is the new root a mount point (bind it onto itself first), and is the mount tree \
             private (a shared parent makes pivot_root refuse)?"
        }
        ("pivot_root", EBUSY) => "the new root or the old root is already mounted there",
        ("mount", EBUSY) => "something is already mounted there, or the target is in use",
        ("mount", ENODEV) => "the kernel does not know this filesystem type (a missing module?)",
        ("mount", ENOENT) => "the mount point (or the source) does not exist",
        ("umount2", EINVAL) => "the path is not a mount point",
        ("clone", EINVAL) => "this combination of namespace flags is not allowed",
        ("clone", ENOSPC) => "the limit on namespaces of this type is reached (see /proc/sys/user)",
        ("sethostname", EINVAL) => "a hostname is 1 to 64 characters",
        ("rmdir", EBUSY) => "a process is still inside (cgroup) or something is mounted here",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sys_error_names_the_call_the_object_the_errno_and_the_cause() {
        let e = Error::sys("pivot_root", "/var/lib/carton/x", Errno::EINVAL);
        let text = e.to_string();
        assert!(text.starts_with("pivot_root /var/lib/carton/x: EINVAL (Invalid argument)"));
        assert!(text.contains("hint: is the new root a mount point"));
    }

    #[test]
    fn the_runtime_fails_with_125_and_exec_errors_keep_their_code() {
        assert_eq!(Error::usage("bad").exit_code(), 125);
        let e = Error::Exec {
            code: 127,
            message: "not found".into(),
        };
        assert_eq!(e.exit_code(), 127);
    }
}
