//! The limits, written to the cgroup's control files: the heart of this chapter.
//!
//! | flag              | cgroup v2                 | cgroup v1                                |
//! |-------------------|---------------------------|------------------------------------------|
//! | --memory          | memory.max                | memory.limit_in_bytes                    |
//! | --memory-swap     | memory.swap.max (swap only) | memory.memsw.limit_in_bytes (mem+swap) |
//! | --cpus            | cpu.max "QUOTA PERIOD"    | cpu.cfs_quota_us, cpu.cfs_period_us      |
//! | --cpu-shares      | cpu.weight                | cpu.shares                               |
//! | --pids-limit      | pids.max                  | pids.max                                 |
//! | --cpuset-cpus     | cpuset.cpus               | cpuset.cpus                              |
// Your exercise: derived from solutions/03-cgroups/src/apply.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use engine::Result;

use crate::cgroup::Cgroup;
use crate::limits::{Limits, Swap, shares_to_weight};

pub fn apply_v2(cgroup: &Cgroup, limits: &Limits) -> Result<()> {
    // EXERCISE: write each limit that is set to its cgroup v2 file with cgroup.write(controller,
    // file, value): memory.max; memory.swap.max (swap ONLY: the docker-style total minus memory,
    // "max" when unlimited, as much as memory by default: use write_if_present); cpu.max as
    // "QUOTA PERIOD"; cpu.weight from the shares; pids.max; cpuset.cpus.
    todo!(
        "exercise: write each limit that is set to its cgroup v2 file with cgroup.write(controller, file, value)"
    );
    Ok(())
}

pub fn apply_v1(cgroup: &Cgroup, limits: &Limits) -> Result<()> {
    // EXERCISE: the same limits for cgroup v1: memory.limit_in_bytes, then
    // memory.memsw.limit_in_bytes (memory PLUS swap; -1 when unlimited; twice the memory by
    // default; use write_if_present); cpu.cfs_period_us then cpu.cfs_quota_us; cpu.shares;
    // pids.max; cpuset.cpus.
    todo!("exercise: the same limits for cgroup v1");
    Ok(())
}
