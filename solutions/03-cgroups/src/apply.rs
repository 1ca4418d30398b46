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

use engine::Result;

use crate::cgroup::Cgroup;
use crate::limits::{Limits, Swap, shares_to_weight};

// ANCHOR: apply_v2
// ANCHOR: apply_v2_exercise
pub fn apply_v2(cgroup: &Cgroup, limits: &Limits) -> Result<()> {
    // EXERCISE: write each limit that is set to its cgroup v2 file with cgroup.write(controller,
    // file, value): memory.max; memory.swap.max (swap ONLY: the docker-style total minus memory,
    // "max" when unlimited, as much as memory by default: use write_if_present); cpu.max as
    // "QUOTA PERIOD"; cpu.weight from the shares; pids.max; cpuset.cpus.
    // ANCHOR_END: apply_v2_exercise
    // BEGIN SOLUTION
    if let Some(memory) = limits.memory {
        cgroup.write("memory", "memory.max", memory)?;
        let swap = match limits.swap {
            Swap::Default => memory.to_string(),
            Swap::Unlimited => "max".to_string(),
            Swap::Total(total) => (total - memory).to_string(),
        };
        cgroup.write_if_present("memory", "memory.swap.max", swap)?;
    }
    if let Some(cpu) = limits.cpu {
        cgroup.write(
            "cpu",
            "cpu.max",
            format!("{} {}", cpu.quota_us, cpu.period_us),
        )?;
    }
    if let Some(shares) = limits.shares {
        cgroup.write("cpu", "cpu.weight", shares_to_weight(shares))?;
    }
    if let Some(pids) = limits.pids {
        cgroup.write("pids", "pids.max", pids)?;
    }
    if let Some(cpus) = &limits.cpuset {
        cgroup.write("cpuset", "cpuset.cpus", cpus)?;
    }
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: apply_v2

// ANCHOR: apply_v1
// ANCHOR: apply_v1_exercise
pub fn apply_v1(cgroup: &Cgroup, limits: &Limits) -> Result<()> {
    // EXERCISE: the same limits for cgroup v1: memory.limit_in_bytes, then
    // memory.memsw.limit_in_bytes (memory PLUS swap; -1 when unlimited; twice the memory by
    // default; use write_if_present); cpu.cfs_period_us then cpu.cfs_quota_us; cpu.shares;
    // pids.max; cpuset.cpus.
    // ANCHOR_END: apply_v1_exercise
    // BEGIN SOLUTION
    if let Some(memory) = limits.memory {
        cgroup.write("memory", "memory.limit_in_bytes", memory)?;
        let total = match limits.swap {
            Swap::Default => (memory * 2).to_string(),
            Swap::Unlimited => "-1".to_string(),
            Swap::Total(total) => total.to_string(),
        };
        cgroup.write_if_present("memory", "memory.memsw.limit_in_bytes", total)?;
    }
    if let Some(cpu) = limits.cpu {
        cgroup.write("cpu", "cpu.cfs_period_us", cpu.period_us)?;
        cgroup.write("cpu", "cpu.cfs_quota_us", cpu.quota_us)?;
    }
    if let Some(shares) = limits.shares {
        cgroup.write("cpu", "cpu.shares", shares)?;
    }
    if let Some(pids) = limits.pids {
        cgroup.write("pids", "pids.max", pids)?;
    }
    if let Some(cpus) = &limits.cpuset {
        cgroup.write("cpuset", "cpuset.cpus", cpus)?;
    }
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: apply_v1
