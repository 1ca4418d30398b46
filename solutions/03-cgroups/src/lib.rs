//! Chapter 3: cgroups.
//!
//! Namespaces decide what a container can see; control groups decide how much it can use. A
//! cgroup is a directory in a special filesystem: create it, write limits into its files
//! (`memory.max`, `pids.max`...), write a pid into `cgroup.procs`, and that process and every
//! child it forks are held to the limits by the kernel.
//!
//! The phases this layer fills in:
//! - prepare: check every value, create the cgroup, write the limits;
//! - clone flags: no cgroup namespace at clone time (see `enter`);
//! - attach: move the waiting child into the cgroup, before it can fork anything;
//! - enter: a new cgroup namespace (now rooted at the container's own cgroup), and the cgroup
//!   filesystem mounted read-only at /sys/fs/cgroup;
//! - exited: tell an OOM kill apart from any other SIGKILL;
//! - release: kill what is left and remove the directories.

mod apply;
pub mod cgroup;
pub mod hierarchy;
pub mod limits;

use std::path::Path;

use engine::{CloneFlags, Container, Context, Exit, Layer, Pid, Result, narrate};
use nix::mount::{MsFlags, mount};

use crate::cgroup::Cgroup;
use crate::hierarchy::Layout;
use crate::limits::{Limits, human};

/// The flags chapter 3 adds to `run`, as strings: they are checked in `prepare`, so a bad
/// value gets the runtime's clear error (and exit code 125) before anything exists.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(id = "cgroups")]
#[command(next_help_heading = "Resource limits (chapter 3)")]
pub struct Args {
    /// Memory limit, e.g. 64m or 1g (at least 6m)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Memory plus swap limit, e.g. 128m; -1 for unlimited swap [default: twice --memory]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,

    /// CPU limit in CPUs, e.g. 0.5 or 2
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<String>,

    /// Relative CPU weight (2 to 262144; 1024 is everyone's default)
    #[arg(long, value_name = "SHARES")]
    pub cpu_shares: Option<String>,

    /// Most processes the container may have at once
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,

    /// CPUs the container may run on, e.g. 0 or 0-1,3
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
}

impl Args {
    /// Parse every value; the first bad one is the error.
    pub fn limits(&self) -> Result<Limits> {
        let host_cpus = limits::host_cpus();
        let memory = self
            .memory
            .as_deref()
            .map(limits::parse_memory)
            .transpose()?;
        Ok(Limits {
            memory,
            swap: limits::parse_swap(self.memory_swap.as_deref(), memory)?,
            cpu: self
                .cpus
                .as_deref()
                .map(|v| limits::parse_cpus(v, host_cpus))
                .transpose()?,
            shares: self
                .cpu_shares
                .as_deref()
                .map(limits::parse_shares)
                .transpose()?,
            pids: self
                .pids_limit
                .as_deref()
                .map(limits::parse_pids)
                .transpose()?,
            cpuset: self
                .cpuset_cpus
                .as_deref()
                .map(|v| limits::parse_cpuset(v, host_cpus))
                .transpose()?,
        })
    }
}

pub struct Cgroups {
    args: Args,
    limits: Limits,
    cgroup: Option<Cgroup>,
}

impl Cgroups {
    pub fn new(args: Args) -> Cgroups {
        Cgroups {
            args,
            limits: Limits::default(),
            cgroup: None,
        }
    }
}

impl Layer for Cgroups {
    fn name(&self) -> &'static str {
        "cgroups"
    }

    // ANCHOR: prepare
    fn prepare(&mut self, c: &mut Container) -> Result<()> {
        self.limits = self.args.limits()?;
        let layout = Layout::detect()?;
        narrate::note("cgroups", &format!("this host's cgroups: {layout:?}"));
        let parent = engine::names::cgroup_parent(&c.state_root);
        // Stored before the limits are written, so that release removes it even when a write fails.
        let cgroup = self.cgroup.insert(Cgroup::create(
            layout,
            &parent,
            &c.id,
            self.limits.cpuset.is_some(),
        )?);
        if layout.uses_v2() {
            apply::apply_v2(cgroup, &self.limits)
        } else {
            apply::apply_v1(cgroup, &self.limits)
        }
    }
    // ANCHOR_END: prepare

    // ANCHOR: placement
    /// A cgroup namespace made at clone time would be rooted at the runtime's cgroup. The child
    /// makes its own in `enter`, once the parent has moved it into the container's cgroup.
    fn clone_flags(&self, flags: CloneFlags) -> CloneFlags {
        flags - CloneFlags::CLONE_NEWCGROUP
    }

    fn attach(&mut self, _c: &Container, child: Pid) -> Result<()> {
        match &self.cgroup {
            Some(cgroup) => cgroup.join(child),
            None => Ok(()),
        }
    }

    fn enter(&self, c: &Container) -> Result<()> {
        narrate::step(
            "cgroups",
            "a cgroup namespace rooted at our cgroup",
            "unshare(CLONE_NEWCGROUP)",
        );
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).ctx("unshare", "CLONE_NEWCGROUP")?;
        match &self.cgroup {
            Some(cgroup) => mount_cgroupfs(cgroup, &c.rootfs.join("sys/fs/cgroup")),
            None => Ok(()),
        }
    }
    // ANCHOR_END: placement

    // ANCHOR: exited
    fn exited(&mut self, _c: &Container, exit: Exit) -> Option<String> {
        let cgroup = self.cgroup.as_ref()?;
        let kills = cgroup.oom_kills();
        if kills == 0 {
            return None;
        }
        let limit = self
            .limits
            .memory
            .map(human)
            .unwrap_or_else(|| "(none)".into());
        Some(match exit {
            Exit::Signal(nix::sys::signal::Signal::SIGKILL) => {
                format!("OOM-killed: the container reached its memory limit of {limit}")
            }
            _ => format!(
                "{kills} process(es) of the container were OOM-killed (memory limit {limit})"
            ),
        })
    }
    // ANCHOR_END: exited

    fn release(&mut self, _c: &Container) -> Result<()> {
        match self.cgroup.take() {
            Some(cgroup) => cgroup.remove(),
            None => Ok(()),
        }
    }
}

/// The container sees its own cgroup at /sys/fs/cgroup, read-only: it can read its usage and
/// limits, and cannot raise them. Mounted after `unshare`, so the mount's root is our cgroup.
fn mount_cgroupfs(cgroup: &Cgroup, target: &Path) -> Result<()> {
    let read_only =
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if cgroup.layout.uses_v2() {
        narrate::step(
            "cgroups",
            "mount our cgroup read-only",
            format!("mount(\"cgroup2\", {target:?}, \"cgroup2\", MS_RDONLY)"),
        );
        return mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            read_only,
            None::<&str>,
        )
        .ctx("mount", target.display());
    }
    // v1: a small tmpfs with one read-only mount per hierarchy, then the tmpfs made read-only.
    narrate::step(
        "cgroups",
        "mount a tmpfs for the v1 hierarchies",
        format!("mount(\"tmpfs\", {target:?}, \"tmpfs\")"),
    );
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755,size=64k"),
    )
    .ctx("mount", target.display())?;
    for dir in &cgroup.dirs {
        let options = dir.controllers.join(",");
        let point = target.join(&options);
        std::fs::create_dir_all(&point).ctx("mkdir", point.display())?;
        narrate::step(
            "cgroups",
            "mount a v1 hierarchy read-only",
            format!("mount(\"cgroup\", {point:?}, \"cgroup\", MS_RDONLY, {options:?})"),
        );
        if let Err(e) = mount(
            Some("cgroup"),
            &point,
            Some("cgroup"),
            read_only,
            Some(options.as_str()),
        ) {
            // Inside a user namespace the kernel refuses v1 hierarchies (only cgroup2 may be
            // mounted there): the container then simply does not see its cgroup.
            narrate::note(
                "cgroups",
                &format!("cannot mount the {options} hierarchy here ({e}): skipped"),
            );
        }
    }
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | read_only,
        None::<&str>,
    )
    .ctx("mount", format!("{} (remount read-only)", target.display()))
}
