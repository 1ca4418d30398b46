//! Chapter 3's promises, checked with real containers: memory, process and CPU limits are
//! enforced by the kernel, the limit files hold the right values (seen from the host), the
//! container sees its own cgroup as `/`, and nothing is left after exit, even after a crash.
//! These run on this machine's layout (cgroup v1 hybrid here); tests/cgroup_v2_vm.rs runs the
//! key scenarios on a pure cgroup v2 kernel in a VM.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use solution::hierarchy::Layout;
use testkit::{Outcome, TestRoot};

const CH03: &str = env!("CARGO_BIN_EXE_ch03");

/// Grows a shell variable to 64 MiB by doubling it, then says "done".
const MEMORY_HOG: &str = "x=a; i=0; while [ $i -lt 26 ]; do x=$x$x; i=$((i+1)); done; echo done";

fn run_sh(root: &TestRoot, flags: &[&str], script: &str) -> Outcome {
    let mut args: Vec<&str> = vec!["run"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", script]);
    root.run(CH03, &args)
}

#[test]
fn a_memory_hog_is_oom_killed_and_reported_and_runs_without_a_limit() {
    let root = TestRoot::new("ch03_oom");
    let out = run_sh(&root, &["--memory", "32m"], MEMORY_HOG);
    assert_eq!(out.code, 137, "{out}");
    assert!(!out.stdout.contains("done"), "{out}");
    assert!(
        out.stderr
            .contains("OOM-killed: the container reached its memory limit of 32 MiB"),
        "{out}"
    );

    let out = run_sh(&root, &[], MEMORY_HOG);
    assert_eq!(out.code, 0, "without a limit the hog finishes: {out}");
    assert_eq!(out.out(), "done", "{out}");
    assert!(!out.stderr.contains("OOM"), "{out}");
    root.assert_no_leftovers();
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit_and_the_host_is_fine() {
    let root = TestRoot::new("ch03_pids");
    let out = run_sh(
        &root,
        &["--pids-limit", "32"],
        // ash gives up on a script whose fork fails, so the bomb runs in a subshell; after it the
        // limit is reached and even `ls | wc` could not fork: count with a glob instead.
        "(i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done); set -- /proc/[0-9]*; echo $#",
    );
    assert_eq!(out.code, 0, "{out}");
    let running: usize = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .expect("a count");
    assert!(running <= 32, "at most 32 processes: {out}");
    assert!(
        running >= 20,
        "the limit, not something else, stopped the forks: {out}"
    );
    assert!(
        out.stderr.contains("can't fork"),
        "fork fails inside: {out}"
    );
    // The host can still start processes, and the bomb's processes are all gone.
    let host = Outcome::of(std::process::Command::new("true"));
    assert_eq!(host.code, 0, "the host can still start processes");
    root.assert_no_leftovers();
}

#[test]
fn a_cpu_burner_gets_about_its_quota() {
    let root = TestRoot::new("ch03_cpu");
    // Burn for 2 seconds of wall time, then read the cgroup's own CPU counter (v2: cpu.stat in
    // microseconds; v1: cpuacct.usage in nanoseconds) and the elapsed time from /proc/uptime.
    let script = "t0=$(cut -d' ' -f1 /proc/uptime); timeout 2 sh -c 'while :; do :; done'; \
                  t1=$(cut -d' ' -f1 /proc/uptime); \
                  if [ -f /sys/fs/cgroup/cpu.stat ]; then \
                    echo usage_us $(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d' ' -f2); \
                  else echo usage_us $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage) / 1000 )); fi; \
                  echo wall $t0 $t1";
    let out = run_sh(&root, &["--cpus", "0.5"], script);
    assert_eq!(out.code, 0, "{out}");
    let mut usage_us = 0.0;
    let mut wall_s = 0.0;
    for line in out.stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["usage_us", n] => usage_us = n.parse().unwrap(),
            ["wall", t0, t1] => wall_s = t1.parse::<f64>().unwrap() - t0.parse::<f64>().unwrap(),
            _ => {}
        }
    }
    let share = usage_us / 1e6 / wall_s;
    // The quota caps it at 0.5 (plus rounding at period edges); the lower bound only guards
    // against a counter that reads zero, because other tests share the machine's two cores.
    assert!(
        (0.2..=0.65).contains(&share),
        "used {share:.2} of a CPU with --cpus 0.5: {out}"
    );
}

/// The host path of the container's cgroup for `controller`, from the host's view of its
/// /proc/PID/cgroup.
fn host_cgroup_dir(pid: u32, layout: Layout, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        let matches = match layout {
            Layout::V2 => controllers.is_empty(),
            _ => controllers.split(',').any(|c| c == controller),
        };
        if matches {
            let mount = match layout {
                Layout::V2 => PathBuf::from("/sys/fs/cgroup"),
                _ => engine::cleanup::cgroup_mounts()
                    .into_iter()
                    .find(|m| {
                        m.file_name().is_some_and(|n| {
                            n.to_string_lossy().split(',').any(|c| c == controller)
                        })
                    })
                    .unwrap(),
            };
            return mount.join(path.trim_start_matches('/'));
        }
    }
    panic!("no {controller} cgroup in {text}");
}

fn read(dir: &std::path::Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

#[test]
fn the_limit_files_hold_the_values_and_go_away_after_exit() {
    let root = TestRoot::new("ch03_files");
    let layout = Layout::detect().unwrap();
    let flags = [
        "--memory",
        "64m",
        "--pids-limit",
        "64",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
    ];
    let mut args = vec!["run"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", "echo ready; sleep 30"]);
    let mut runtime = testkit::spawn(&root, CH03, &args);
    let mut line = String::new();
    BufReader::new(runtime.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");

    let container = testkit::children_of(runtime.id())[0];
    let memory = host_cgroup_dir(container, layout, "memory");
    let pids = host_cgroup_dir(container, layout, "pids");
    let cpu = host_cgroup_dir(container, layout, "cpu");
    let cpuset = host_cgroup_dir(container, layout, "cpuset");
    assert!(
        memory.to_string_lossy().contains("/carton-"),
        "named after the state root: {memory:?}"
    );
    if layout == Layout::V2 {
        assert_eq!(read(&memory, "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read(&pids, "pids.max"), "64");
        assert_eq!(read(&cpu, "cpu.max"), "50000 100000");
        assert_eq!(read(&cpu, "cpu.weight"), "20");
        assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    } else {
        assert_eq!(
            read(&memory, "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(read(&pids, "pids.max"), "64");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    }

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(container as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut stderr = String::new();
    let status = runtime.wait().unwrap();
    runtime
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(137), "{stderr}");
    assert!(
        !stderr.contains("OOM"),
        "a plain SIGKILL is not an OOM kill: {stderr}"
    );
    for dir in [&memory, &pids, &cpu, &cpuset] {
        assert!(!dir.exists(), "{} is left after exit", dir.display());
    }
    root.assert_no_leftovers();
}

#[test]
fn the_container_sees_its_own_cgroup_as_the_root() {
    let root = TestRoot::new("ch03_cgroupns");
    let out = run_sh(
        &root,
        &["--memory", "64m"],
        "cat /proc/self/cgroup; grep ' /sys/fs/cgroup' /proc/self/mountinfo",
    );
    assert_eq!(out.code, 0, "{out}");
    let cgroup_lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.contains("/sys/fs/cgroup"))
        .collect();
    assert!(!cgroup_lines.is_empty(), "{out}");
    for line in cgroup_lines {
        assert!(
            line.ends_with(":/"),
            "the container is at the root of its cgroup namespace: {line}\n{out}"
        );
    }
    // The cgroup filesystem is there, read-only.
    let mounts: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("/sys/fs/cgroup"))
        .collect();
    assert!(!mounts.is_empty(), "/sys/fs/cgroup is mounted: {out}");
    assert!(
        mounts
            .iter()
            .all(|l| l.split(' ').nth(5).unwrap_or("").starts_with("ro")),
        "{out}"
    );
}

#[test]
fn nothing_is_left_after_a_failed_start() {
    let root = TestRoot::new("ch03_failed_start");
    let out = root.run(CH03, &["run", "--memory", "64m", "--", "no-such-program"]);
    assert_eq!(out.code, 127, "{out}");
    root.assert_no_leftovers();
}

#[test]
fn bad_values_are_refused_before_anything_is_created() {
    let root = TestRoot::new("ch03_bad_values");
    let cases: [(&[&str], &str); 11] = [
        (&["--memory", "abc"], "expected a size"),
        (&["--memory", "0"], "more than zero"),
        (&["--memory", "-1m"], "expected a size"),
        (&["--memory", "1.5.2"], "expected a size"),
        (&["--memory", "1m"], "minimum is 6m"),
        (&["--cpus", "0"], "more than zero"),
        (&["--cpus", "1.5.2"], "expected a number"),
        (&["--cpus", "999"], "this machine has"),
        (&["--pids-limit", "0"], "at least 1"),
        (&["--cpuset-cpus", "999"], "this machine has CPUs"),
        (&["--memory-swap", "1g"], "needs --memory"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run"];
        args.extend(flags);
        args.extend(["--", "true"]);
        let out = root.run(CH03, &args);
        assert_eq!(out.code, 125, "{flags:?}: {out}");
        assert!(out.stderr.contains(expected), "{flags:?}: {out}");
        root.assert_no_leftovers();
    }
}

#[test]
fn clean_removes_the_cgroup_of_a_runtime_killed_mid_start() {
    let root = TestRoot::new("ch03_crash");
    let mut command = root.command(CH03);
    command
        .env("CARTON_TEST_PAUSE_AT", "attach")
        .args(["run", "--memory", "64m", "--", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut runtime = command.spawn().unwrap();
    let mut stderr = BufReader::new(runtime.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("paused after attach") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the runtime ended before pausing"
        );
    }
    runtime.kill().unwrap();
    runtime.wait().unwrap();

    let left = root.leftovers();
    assert!(
        left.iter()
            .any(|l| matches!(l, testkit::Leftover::Cgroup(_))),
        "a runtime killed after attach leaves its cgroup: {left:?}"
    );
    let (_, failed) = engine::cleanup::clean(root.path());
    assert!(failed.is_empty(), "{failed:?}");
    root.assert_no_leftovers();
}
