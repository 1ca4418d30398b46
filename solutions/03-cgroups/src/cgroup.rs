//! One container's cgroup: a directory per hierarchy (v1) or a single directory (v2), created
//! before the child is placed in it and removed after it exits.

use std::fs;
use std::path::{Path, PathBuf};

use engine::{Context, Error, Pid, Result, narrate};

use crate::hierarchy::{Layout, V1Hierarchy, v1_hierarchies, v1_hierarchy_of};

/// The cgroup directory of one hierarchy, and the controllers whose files it has.
#[derive(Debug, Clone)]
pub struct Dir {
    pub controllers: Vec<String>,
    /// Where the hierarchy is mounted on the host: /sys/fs/cgroup or /sys/fs/cgroup/memory.
    pub mount_point: PathBuf,
    /// The container's directory in it: MOUNT_POINT/carton-1a2b3c/ID.
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Cgroup {
    pub layout: Layout,
    pub dirs: Vec<Dir>,
}

/// The controllers every container uses; cpuset only when `--cpuset-cpus` is given (a v1
/// cpuset cgroup must be filled in before a process may join it).
pub fn wanted_controllers(cpuset: bool) -> Vec<&'static str> {
    let mut wanted = vec!["memory", "pids", "cpu", "cpuacct"];
    if cpuset {
        wanted.push("cpuset");
    }
    wanted
}

impl Cgroup {
    /// Create the directories: PARENT (shared by the containers of this state root) and ID.
    pub fn create(layout: Layout, parent: &str, id: &str, cpuset: bool) -> Result<Cgroup> {
        let wanted = wanted_controllers(cpuset);
        let dirs = if layout.uses_v2() {
            create_v2(parent, id, &wanted)?
        } else {
            create_v1(parent, id, &wanted)?
        };
        Ok(Cgroup { layout, dirs })
    }

    /// The directory that holds `controller`'s files.
    pub fn dir_of(&self, controller: &str) -> Option<&Dir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
    }

    /// Write one control file, e.g. ("memory", "memory.max", "33554432").
    pub fn write(&self, controller: &str, file: &str, value: impl ToString) -> Result<()> {
        let dir = self.dir_of(controller).ok_or_else(|| {
            Error::other(format!(
                "the {controller} controller is not available on this host (see `workshop doctor`)"
            ))
        })?;
        let path = dir.path.join(file);
        let value = value.to_string();
        narrate::step(
            "cgroups",
            &format!("set {file}"),
            format!("write({path:?}, {value:?})"),
        );
        fs::write(&path, &value).ctx("write", path.display())
    }

    /// Like `write`, for a file the kernel only has with an option (swap accounting).
    pub fn write_if_present(
        &self,
        controller: &str,
        file: &str,
        value: impl ToString,
    ) -> Result<()> {
        match self.dir_of(controller) {
            Some(dir) if dir.path.join(file).exists() => self.write(controller, file, value),
            _ => {
                narrate::note(
                    "cgroups",
                    &format!("{file} does not exist here (no swap accounting): skipped"),
                );
                Ok(())
            }
        }
    }

    // ANCHOR: join
    // ANCHOR: join_exercise
    /// Host side, while the child waits: put it in the cgroup, so that everything it does from
    /// its first instruction on (and every process it forks) counts against the limits.
    pub fn join(&self, child: Pid) -> Result<()> {
        for dir in &self.dirs {
            let procs = dir.path.join("cgroup.procs");
            // EXERCISE: move the child into this cgroup: write its pid to cgroup.procs.
            // ANCHOR_END: join_exercise
            // BEGIN SOLUTION
            narrate::step(
                "cgroups",
                "move the child into its cgroup",
                format!("write({procs:?}, \"{child}\")"),
            );
            fs::write(&procs, child.to_string()).ctx("write", procs.display())?;
            // END SOLUTION
        }
        Ok(())
    }
    // ANCHOR_END: join

    // ANCHOR: oom_kills
    /// How many times the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let Some(dir) = self.dir_of("memory") else {
            return 0;
        };
        // v2 counts in memory.events, v1 (kernel 4.13+) in memory.oom_control.
        let file = if self.layout.uses_v2() {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = fs::read_to_string(dir.path.join(file)).unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
    // ANCHOR_END: oom_kills

    /// Kill whatever is left, remove the container's directories, and the parent's if no other
    /// container of this state root uses it any more.
    pub fn remove(&self) -> Result<()> {
        let mut first_error = None;
        for dir in &self.dirs {
            narrate::step(
                "cgroups",
                "remove the cgroup",
                format!("rmdir({:?})", dir.path),
            );
            if let Err(why) = engine::cleanup::remove_cgroup(&dir.path) {
                first_error.get_or_insert(why);
            }
            if let Some(parent) = dir.path.parent() {
                // Fails while another container of this state root still runs: that is fine.
                let _ = fs::remove_dir(parent);
            }
        }
        match first_error {
            Some(why) => Err(Error::other(why)),
            None => Ok(()),
        }
    }
}

// ANCHOR: create_v2
fn create_v2(parent: &str, id: &str, wanted: &[&str]) -> Result<Vec<Dir>> {
    let root = Path::new("/sys/fs/cgroup");
    let available = fs::read_to_string(root.join("cgroup.controllers"))
        .ctx("read", "/sys/fs/cgroup/cgroup.controllers")?;
    let controllers: Vec<String> = wanted
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .map(|c| c.to_string())
        .collect();
    // v2's rule: a cgroup's children get a controller only if the cgroup lists it in
    // cgroup.subtree_control; and a cgroup with controllers enabled for its children may hold
    // no process itself (the root cgroup excepted). So: enable at the root and in PARENT,
    // and put processes only in the leaves.
    let parent_dir = root.join(parent);
    create_dir(&parent_dir)?;
    for dir in [root, parent_dir.as_path()] {
        enable_v2_controllers(dir, &controllers)?;
    }
    let path = parent_dir.join(id);
    create_dir(&path)?;
    Ok(vec![Dir {
        controllers,
        mount_point: root.to_path_buf(),
        path,
    }])
}

fn enable_v2_controllers(dir: &Path, controllers: &[String]) -> Result<()> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&file).unwrap_or_default();
    for controller in controllers {
        if enabled.split_whitespace().any(|e| e == controller) {
            continue;
        }
        narrate::step(
            "cgroups",
            &format!("let children use {controller}"),
            format!("write({file:?}, \"+{controller}\")"),
        );
        fs::write(&file, format!("+{controller}")).ctx("write", file.display())?;
    }
    Ok(())
}
// ANCHOR_END: create_v2

fn create_v1(parent: &str, id: &str, wanted: &[&str]) -> Result<Vec<Dir>> {
    let mountinfo =
        fs::read_to_string("/proc/self/mountinfo").ctx("read", "/proc/self/mountinfo")?;
    let hierarchies = v1_hierarchies(&mountinfo);
    let mut dirs: Vec<Dir> = Vec::new();
    for controller in wanted {
        let Some(V1Hierarchy {
            mount_point,
            controllers,
        }) = v1_hierarchy_of(&hierarchies, controller)
        else {
            continue;
        };
        if dirs.iter().any(|d| &d.mount_point == mount_point) {
            continue; // co-mounted with one we already have (cpu,cpuacct)
        }
        let parent_dir = mount_point.join(parent);
        let path = parent_dir.join(id);
        create_dir(&parent_dir)?;
        create_dir(&path)?;
        if controllers.iter().any(|c| c == "cpuset") {
            // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and refuses
            // processes until both are set: inherit them from the level above.
            for dir in [&parent_dir, &path] {
                inherit_cpuset(dir)?;
            }
        }
        dirs.push(Dir {
            controllers: controllers.clone(),
            mount_point: mount_point.clone(),
            path,
        });
    }
    Ok(dirs)
}

// ANCHOR: inherit_cpuset
fn inherit_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read_to_string(dir.join(file)).unwrap_or_default();
        if own.trim().is_empty() {
            let from = dir.parent().map(|p| p.join(file)).unwrap_or_default();
            let value = fs::read_to_string(&from).ctx("read", from.display())?;
            fs::write(dir.join(file), value.trim()).ctx("write", dir.join(file).display())?;
        }
    }
    Ok(())
}
// ANCHOR_END: inherit_cpuset

fn create_dir(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => {
            narrate::step("cgroups", "create a cgroup", format!("mkdir({path:?})"));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).ctx("mkdir", path.display()),
    }
}
