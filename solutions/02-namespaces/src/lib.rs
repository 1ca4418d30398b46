//! Chapter 2: namespaces.
//!
//! A namespace gives a process its own copy of one kind of global resource: its own hostname
//! (UTS), its own process numbers (PID), its own mount table (mount), its own System V IPC
//! objects (IPC), its own network stack (network), its own view of the cgroup tree (cgroup),
//! and, on request, its own user and group ids (user). `clone(2)` creates them all at once with
//! one flag each.
//!
//! This layer also takes the root switch over from chapter 1: `pivot_root(2)` moves the whole
//! mount tree, so the host's root is no longer reachable, where `chroot(2)` only changed where
//! `/` is looked up (and could be climbed out of).

mod devices;
mod loopback;
mod mounts;
mod userns;

use engine::{CloneFlags, Container, Context, Error, Layer, Pid, Result, narrate};

pub use userns::{IdMap, IdRange};

/// The flags chapter 2 adds to `run`.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(id = "namespaces")]
#[command(next_help_heading = "Namespaces (chapter 2)")]
pub struct Args {
    /// Hostname inside the container [default: the container's id]
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// Run in a user namespace: root inside is an unprivileged user on the host. The host ids
    /// may be given as START:COUNT [default: root's range in /etc/subuid and /etc/subgid, else
    /// 1000000:65536]
    #[arg(long, value_name = "START:COUNT", num_args = 0..=1, require_equals = true, default_missing_value = "auto")]
    pub userns: Option<String>,
}

/// The namespaces layer.
pub struct Namespaces {
    args: Args,
    hostname: String,
    id_map: Option<IdMap>,
}

impl Namespaces {
    pub fn new(args: Args) -> Namespaces {
        Namespaces {
            args,
            hostname: String::new(),
            id_map: None,
        }
    }
}

impl Layer for Namespaces {
    fn name(&self) -> &'static str {
        "namespaces"
    }

    /// Check the flags before anything exists, so a bad value leaves nothing behind.
    fn prepare(&mut self, c: &mut Container) -> Result<()> {
        self.hostname = self.args.hostname.clone().unwrap_or_else(|| c.id.clone());
        validate_hostname(&self.hostname)?;
        self.id_map = match self.args.userns.as_deref() {
            None => None,
            Some("auto") => Some(userns::default_map()?),
            Some(spec) => Some(userns::parse_map(spec)?),
        };
        Ok(())
    }

    // ANCHOR: clone_flags
    // ANCHOR: clone_flags_exercise
    fn clone_flags(&self, flags: CloneFlags) -> CloneFlags {
        // EXERCISE: add one clone flag per namespace: UTS, PID, mount, IPC, network and cgroup,
        // and the user namespace when self.id_map is Some. The flags are CloneFlags::CLONE_NEW*.
        // ANCHOR_END: clone_flags_exercise
        // BEGIN SOLUTION
        let mut flags = flags
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWCGROUP;
        if self.id_map.is_some() {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        // END SOLUTION
        flags
    }
    // ANCHOR_END: clone_flags

    // ANCHOR: phases
    /// Host side: a user namespace starts with no ids mapped; its parent writes the maps while
    /// the child waits on the sync pipe.
    fn attach(&mut self, _c: &Container, child: Pid) -> Result<()> {
        if let Some(map) = &self.id_map {
            userns::write_maps(child, map)?;
        }
        Ok(())
    }

    /// Child side, in the new namespaces, with the host's paths still visible.
    fn enter(&self, c: &Container) -> Result<()> {
        if self.id_map.is_some() {
            userns::become_root()?;
        }
        narrate::step(
            "namespaces",
            "set the hostname",
            format!("sethostname({:?})", self.hostname),
        );
        nix::unistd::sethostname(&self.hostname).ctx("sethostname", &self.hostname)?;
        loopback::bring_up()?;
        mounts::prepare_root(&c.rootfs, self.id_map.is_some())
    }

    /// This takes over chapter 1's chroot: the engine asks the layers from the top down.
    fn switch_root(&self, c: &Container) -> Option<Result<()>> {
        Some(mounts::pivot_root(&c.rootfs))
    }
    // ANCHOR_END: phases
}

/// A hostname is 1 to 64 characters (the kernel's limit): letters, digits, `-` and `.`, not
/// starting with `-` or `.` (RFC 1123 labels, which every resolver accepts).
pub fn validate_hostname(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::usage(format!("--hostname {name:?}: {why}")));
    if name.is_empty() || name.len() > 64 {
        return bad("a hostname is 1 to 64 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return bad(&format!(
            "{c:?} is not allowed: use letters, digits, '-' and '.'"
        ));
    }
    if name.starts_with(['-', '.']) || name.contains("..") {
        return bad("a hostname cannot start with '-' or '.', nor hold '..'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_rfc_1123() {
        for good in ["web", "a1b2c3d4e5f6", "db-1.internal", &"x".repeat(64)] {
            assert!(validate_hostname(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            "under_score",
            "space d",
            "-lead",
            ".lead",
            "a..b",
            "ünï",
        ] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }
}
