//! The values of the limit flags, parsed and checked before anything is created.
//!
//! Every function here is pure: a string in, a number (or a clear error) out. That makes them
//! easy to test, and it means a typo never leaves a half-made cgroup behind.

use engine::{Error, Result};

/// Every limit a container can have; `None` means "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory: Option<u64>,
    pub swap: Swap,
    pub cpu: Option<CpuQuota>,
    pub shares: Option<u64>,
    pub pids: Option<u64>,
    pub cpuset: Option<String>,
}

/// `--memory-swap`, with Docker's meaning: the limit of memory AND swap together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Swap {
    /// Not given: as much swap as memory (Docker's default).
    #[default]
    Default,
    /// `-1`: no limit on swap.
    Unlimited,
    /// A total of memory plus swap, in bytes.
    Total(u64),
}

/// `--cpus 0.5` becomes "50 ms of CPU time in every 100 ms".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

/// The period the kernel's CFS bandwidth control uses by default, and Docker too.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Below this the container cannot even start its first program (Docker refuses under 6 MiB).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// "64m" -> 67108864. Units: b, k, m, g (powers of 1024), upper or lower case; a fraction is
/// allowed ("1.5g"). Zero, negatives and anything else are refused.
pub fn parse_bytes(flag: &str, text: &str) -> Result<u64> {
    let bad = |why: &str| Error::usage(format!("{flag} {text:?}: {why}"));
    let lower = text.trim().to_ascii_lowercase();
    let (number, unit) = match lower.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => lower.split_at(at),
        None => (lower.as_str(), ""),
    };
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad("expected a size like 64m, 512k or 1g")),
    };
    let digits_around_dot = !number.starts_with('.') && !number.ends_with('.');
    if number.is_empty() || number.matches('.').count() > 1 || !digits_around_dot {
        return Err(bad("expected a size like 64m, 512k or 1g"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| bad("expected a size like 64m, 512k or 1g"))?;
    let bytes = value * multiplier as f64;
    if bytes < 1.0 {
        return Err(bad("must be more than zero"));
    }
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(bad("is too large"));
    }
    Ok(bytes as u64)
}

/// `--memory`: a size of at least 6 MiB.
pub fn parse_memory(text: &str) -> Result<u64> {
    let bytes = parse_bytes("--memory", text)?;
    if bytes < MIN_MEMORY {
        return Err(Error::usage(format!(
            "--memory {text:?}: the minimum is 6m"
        )));
    }
    Ok(bytes)
}

// ANCHOR: parse_swap
/// `--memory-swap`: -1, or a size at least as large as `--memory` (which it needs).
pub fn parse_swap(text: Option<&str>, memory: Option<u64>) -> Result<Swap> {
    let Some(text) = text else {
        return Ok(Swap::Default);
    };
    if memory.is_none() {
        return Err(Error::usage(
            "--memory-swap needs --memory: it is the total of memory and swap",
        ));
    }
    if text.trim() == "-1" {
        return Ok(Swap::Unlimited);
    }
    let total = parse_bytes("--memory-swap", text)?;
    if Some(total) < memory {
        return Err(Error::usage(format!(
            "--memory-swap {text:?}: memory plus swap cannot be less than --memory"
        )));
    }
    Ok(Swap::Total(total))
}
// ANCHOR_END: parse_swap

// ANCHOR: parse_cpus
/// `--cpus 1.5`: a positive number of CPUs, at most the host's.
pub fn parse_cpus(text: &str, host_cpus: usize) -> Result<CpuQuota> {
    let bad = |why: String| Error::usage(format!("--cpus {text:?}: {why}"));
    let valid = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1
        && !text.ends_with('.')
        && !text.starts_with('.');
    let cpus: f64 = if valid {
        text.parse()
            .map_err(|_| bad("expected a number like 0.5 or 2".into()))?
    } else {
        return Err(bad("expected a number like 0.5 or 2".into()));
    };
    if cpus <= 0.0 {
        return Err(bad("must be more than zero".into()));
    }
    if cpus > host_cpus as f64 {
        return Err(bad(format!("this machine has {host_cpus} CPUs")));
    }
    let quota_us = (cpus * CPU_PERIOD_US as f64).round() as u64;
    // The kernel refuses quotas under 1 ms.
    if quota_us < 1000 {
        return Err(bad("the smallest share is 0.01 CPU".into()));
    }
    Ok(CpuQuota {
        quota_us,
        period_us: CPU_PERIOD_US,
    })
}
// ANCHOR_END: parse_cpus

/// `--cpu-shares`: a relative weight, 2 to 262144 (v1's range; 1024 is the default).
pub fn parse_shares(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(shares) if (2..=262_144).contains(&shares) => Ok(shares),
        _ => Err(Error::usage(format!(
            "--cpu-shares {text:?}: expected a whole number from 2 to 262144"
        ))),
    }
}

// ANCHOR: shares_to_weight
/// cgroup v2 has `cpu.weight` (1 to 10000, default 100) instead of v1's shares: the same line
/// through both ranges' ends, as the OCI runtimes convert it.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}
// ANCHOR_END: shares_to_weight

/// `--pids-limit`: at least 1 process.
pub fn parse_pids(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(pids) if pids >= 1 => Ok(pids),
        _ => Err(Error::usage(format!(
            "--pids-limit {text:?}: expected a whole number of processes, at least 1"
        ))),
    }
}

/// `--cpuset-cpus 0-1,3`: CPU numbers and ranges, each CPU one the host has.
pub fn parse_cpuset(text: &str, host_cpus: usize) -> Result<String> {
    let bad = |why: String| Error::usage(format!("--cpuset-cpus {text:?}: {why}"));
    if text.is_empty() {
        return Err(bad("expected CPU numbers like 0 or 0-1,3".into()));
    }
    for part in text.split(',') {
        let (low, high) = part.split_once('-').unwrap_or((part, part));
        let (Ok(low), Ok(high)) = (low.parse::<usize>(), high.parse::<usize>()) else {
            return Err(bad("expected CPU numbers like 0 or 0-1,3".into()));
        };
        if low > high {
            return Err(bad(format!("the range {part} runs backwards")));
        }
        if high >= host_cpus {
            return Err(bad(format!("this machine has CPUs 0 to {}", host_cpus - 1)));
        }
    }
    Ok(text.to_string())
}

/// The number of CPUs the kernel has online.
pub fn host_cpus() -> usize {
    // SAFETY: sysconf only reads a system value.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if online > 0 { online as usize } else { 1 }
}

/// 33554432 -> "32 MiB", for messages.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units_and_fractions() {
        assert_eq!(parse_bytes("--memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("--memory", "64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("--memory", "512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("--memory", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("--memory", "4096").unwrap(), 4096);
    }

    #[test]
    fn bad_sizes_are_refused() {
        for bad in [
            "abc", "0", "-1m", "1.5.2", "", "m", "12q", "1.", ".5m", "0m",
        ] {
            assert!(parse_bytes("--memory", bad).is_err(), "{bad}");
        }
        assert!(parse_memory("1m").is_err(), "below the minimum");
    }

    #[test]
    fn swap_is_docker_style_memory_plus_swap() {
        assert_eq!(parse_swap(None, Some(64 << 20)).unwrap(), Swap::Default);
        assert_eq!(
            parse_swap(Some("-1"), Some(64 << 20)).unwrap(),
            Swap::Unlimited
        );
        assert_eq!(
            parse_swap(Some("128m"), Some(64 << 20)).unwrap(),
            Swap::Total(128 << 20)
        );
        assert!(
            parse_swap(Some("32m"), Some(64 << 20)).is_err(),
            "less than memory"
        );
        assert!(parse_swap(Some("128m"), None).is_err(), "needs --memory");
    }

    #[test]
    fn cpus_become_a_quota_per_period() {
        assert_eq!(
            parse_cpus("0.5", 2).unwrap(),
            CpuQuota {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(parse_cpus("2", 2).unwrap().quota_us, 200_000);
        for bad in ["0", "-1", "abc", "1.5.2", "3", "0.001", "", "1."] {
            assert!(parse_cpus(bad, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_map_onto_weights_end_to_end() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert!(parse_shares("1").is_err());
        assert!(parse_shares("abc").is_err());
    }

    #[test]
    fn pids_and_cpusets_are_checked() {
        assert_eq!(parse_pids("64").unwrap(), 64);
        for bad in ["0", "-1", "abc", "1.5"] {
            assert!(parse_pids(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_cpuset("0-1", 2).unwrap(), "0-1");
        assert_eq!(parse_cpuset("0,1", 2).unwrap(), "0,1");
        for bad in ["2", "0-2", "1-0", "a", "", "0,,1"] {
            assert!(parse_cpuset(bad, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(human(32 << 20), "32 MiB");
        assert_eq!(human(2 << 30), "2 GiB");
    }
}
