//! cgroup v2 for real. This project's machines are cgroup v1 "hybrid"; most learners run pure
//! cgroup v2. So this test boots a small VM (QEMU, a Debian cloud kernel, an initramfs with
//! busybox and this chapter's `ch03`) whose /sys/fs/cgroup is a pure cgroup2, and runs the
//! chapter's key scenarios there. If the VM cannot boot, the test fails: it never skips.

use std::path::Path;
use std::time::Duration;

const CH03: &str = env!("CARGO_BIN_EXE_ch03");

const SCENARIOS: &str = r#"
export CARTON_ROOT=/var/lib/carton
echo "== layout $(stat -f -c %t /sys/fs/cgroup)"

echo "== oom"
ch03 run --memory 32m -- /bin/sh -c 'x=a; i=0; while [ $i -lt 26 ]; do x=$x$x; i=$((i+1)); done; echo done' 2>&1
echo "oom exit=$?"

echo "== pids"
ch03 run --pids-limit 16 -- /bin/sh -c '(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done); set -- /proc/[0-9]*; echo count=$#' 2>&1
echo "pids exit=$?"

echo "== files"
ch03 run --memory 64m --memory-swap 96m --pids-limit 64 --cpus 0.5 --cpu-shares 512 -- /bin/sh -c \
  'for f in memory.max memory.swap.max pids.max cpu.max cpu.weight; do echo "$f=$(cat /sys/fs/cgroup/$f)"; done; cat /proc/self/cgroup' 2>&1
echo "files exit=$?"

echo "== leftovers"
ls /sys/fs/cgroup | grep carton || echo "no carton cgroup left"
"#;

#[test]
fn the_key_scenarios_pass_on_a_pure_cgroup_v2_kernel() {
    let run = testkit::vm::run_in_vm(&[Path::new(CH03)], SCENARIOS, Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("the cgroup v2 VM could not run the scenarios: {e}"));
    let out = &run.output;
    let has = |text: &str| out.lines().any(|line| line.trim() == text);

    assert!(
        has("== layout 63677270"),
        "the VM's /sys/fs/cgroup is cgroup2:\n{run}"
    );

    // Memory limit with the OOM report.
    assert!(has("oom exit=137"), "the hog is OOM-killed:\n{run}");
    assert!(
        out.contains("OOM-killed: the container reached its memory limit of 32 MiB"),
        "{run}"
    );
    assert!(!has("done"), "{run}");

    // Pids limit: forks fail inside, the container ends normally.
    assert!(out.contains("can't fork"), "{run}");
    let count: usize = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("count="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no process count:\n{run}"));
    assert!(count <= 16, "at most 16 processes, saw {count}:\n{run}");
    assert!(has("pids exit=0"), "{run}");

    // The v2 files hold the values, and the container sees itself at the root.
    for expected in [
        "memory.max=67108864",
        "memory.swap.max=33554432",
        "pids.max=64",
        "cpu.max=50000 100000",
        "cpu.weight=20",
        "0::/",
        "files exit=0",
    ] {
        assert!(has(expected), "missing {expected:?}:\n{run}");
    }

    // Every container's cgroup (and the parent) is removed after exit.
    assert!(has("no carton cgroup left"), "{run}");
    eprintln!(
        "cgroup v2 VM: booted in {:?}, ran in {:?}",
        run.boot_time, run.total_time
    );
}
