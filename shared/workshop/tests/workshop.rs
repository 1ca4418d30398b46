//! The workshop tool, run for real: `doctor` on this machine, and `clean` after a runtime was
//! killed with SIGKILL halfway through starting a container.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use testkit::{Outcome, TestRoot};

const WORKSHOP: &str = env!("CARGO_BIN_EXE_workshop");

fn workshop(args: &[&str]) -> Command {
    let mut command = Command::new(WORKSHOP);
    command.args(args).env("NO_COLOR", "1");
    command
}

#[test]
fn doctor_passes_on_this_machine_and_names_each_check() {
    testkit::require_root();
    let out = Outcome::of(workshop(&["doctor"]));
    assert_eq!(out.code, 0, "{out}");
    for check in [
        "root",
        "kernel",
        "mnt namespace",
        "uts namespace",
        "ipc namespace",
        "pid namespace",
        "net namespace",
        "cgroup namespace",
        "user namespace",
        "cgroups",
        "overlayfs",
        "nft",
        "nf_tables",
        "ip_forward",
        "busybox (static)",
        "cc",
    ] {
        assert!(
            out.stdout.lines().any(|line| {
                // `✓ name   detail`: the mark, a space, then the check's name.
                let rest: String = line.chars().skip(2).collect();
                rest.starts_with(&format!("{check} "))
            }),
            "doctor does not report the {check:?} check: {out}"
        );
    }
    assert!(!out.stdout.contains('✗'), "a check failed: {out}");
}

/// The chapter 1 runtime next to this workshop binary, built with the reference solution.
/// `target/debug/ch01` is whichever variant cargo built last (the learner's exercise after a
/// `workshop verify 1`): when it is missing or cannot run a container, build the reference.
fn ch01_binary(root: &TestRoot) -> PathBuf {
    let binary = Path::new(WORKSHOP)
        .parent()
        .expect("the workshop binary is in a directory")
        .join("ch01");
    let works = |binary: &Path| {
        binary.is_file()
            && root
                .run(binary.to_str().unwrap_or(""), &["run", "--", "true"])
                .code
                == 0
    };
    if !works(&binary) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "ch01", "--features", "solution"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .status()
            .expect("run cargo build -p ch01");
        assert!(status.success(), "cargo build -p ch01 --features solution");
        assert!(
            works(&binary),
            "{} cannot run a container",
            binary.display()
        );
    }
    binary
}

/// Processes whose parent is `pid`, from /proc/*/stat (the 4th field, after the `(comm)`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, after_comm) = stat.rsplit_once(") ")?;
            let parent: u32 = after_comm.split(' ').nth(1)?.parse().ok()?;
            (parent == pid).then_some(child)
        })
        .collect()
}

/// Gone, or a zombie waiting for its new parent to reap it (it holds nothing any more).
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Processes whose root directory is inside `root`.
fn processes_rooted_in(root: &Path) -> Vec<String> {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| {
            let link = fs::read_link(e.path().join("root")).ok()?;
            link.starts_with(&root)
                .then(|| format!("{} ({})", e.file_name().to_string_lossy(), link.display()))
        })
        .collect()
}

/// Read `stream` until a line contains `needle` (true) or a minute passes (false); the lines
/// read so far, for the failure message. The stream keeps being drained in the background.
fn wait_for_line(stream: impl std::io::Read + Send + 'static, needle: &str) -> (bool, Vec<String>) {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = received.recv_timeout(Duration::from_secs(60)) {
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return (true, seen);
        }
    }
    (false, seen)
}

#[test]
fn clean_leaves_nothing_after_a_run_killed_mid_start() {
    let root = TestRoot::new("workshop_clean");
    let ch01 = ch01_binary(&root);

    let mut runtime = root.command(ch01.to_str().expect("a UTF-8 path"));
    runtime
        .args(["run", "--", "/bin/sleep", "1000"])
        .env("CARTON_TEST_PAUSE_AT", "attach")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut runtime = runtime.spawn().expect("start ch01");

    // Wait for the runtime to say it stopped after attach (the child is cloned and waiting).
    let stderr = runtime.stderr.take().expect("piped stderr");
    let (paused, seen) = wait_for_line(stderr, "paused after attach");
    let children = children_of(runtime.id());
    if !paused {
        let _ = runtime.kill();
        let _ = runtime.wait();
        panic!(
            "ch01 never said \"paused after attach\"; its stderr:\n{}",
            seen.join("\n")
        );
    }
    assert!(
        !children.is_empty(),
        "after attach the container's process should exist"
    );

    // SIGKILL: the runtime runs no release at all.
    runtime.kill().expect("SIGKILL the runtime");
    let _ = runtime.wait();

    let root_arg = root.path().to_str().expect("a UTF-8 path").to_string();
    let mut clean = workshop(&["clean", "--root", &root_arg]);
    clean.env("CARTON_ROOT", root.path());
    let out = Outcome::of(clean);
    assert_eq!(out.code, 0, "workshop clean failed: {out}");

    // Give the kernel a moment to finish off the container's process (PR_SET_PDEATHSIG or
    // clean's SIGKILL are delivered asynchronously).
    for _ in 0..200 {
        if children.iter().all(|&pid| is_gone(pid)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let alive: Vec<u32> = children.iter().copied().filter(|&p| !is_gone(p)).collect();
    assert!(
        alive.is_empty(),
        "the container's process survived: {alive:?}"
    );
    assert_eq!(root.leftovers(), Vec::new(), "workshop clean left: {out}");
    assert_eq!(
        processes_rooted_in(root.path()),
        Vec::<String>::new(),
        "processes still rooted in the state root"
    );
    let check = Outcome::of(workshop(&["clean", "--check", "--root", &root_arg]));
    assert_eq!(
        check.code, 0,
        "clean --check still finds something: {check}"
    );
}

/// A process the container started in the background has no parent-death signal: when the
/// runtime is killed it lives on inside the rootfs. Only `workshop clean` finds and ends it.
#[test]
fn clean_ends_a_process_a_killed_container_left_running() {
    let root = TestRoot::new("workshop_clean_orphan");
    let ch01 = ch01_binary(&root);

    // A shell starts a background command with stdin from /dev/null, which chapter 1's rootfs
    // lacks: a plain empty file does for this test.
    let rootfs = root.private_rootfs("rootfs");
    fs::write(rootfs.join("dev/null"), "").expect("write dev/null");

    let mut runtime = root.command(ch01.to_str().expect("a UTF-8 path"));
    runtime
        .arg("run")
        .arg("--rootfs")
        .arg(&rootfs)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "sleep 1000 >&- 2>&- & echo started; exec sleep 1001",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut runtime = runtime.spawn().expect("start ch01");
    let stdout = runtime.stdout.take().expect("piped stdout");
    let (started, seen) = wait_for_line(stdout, "started");
    runtime.kill().expect("SIGKILL the runtime");
    let _ = runtime.wait();
    assert!(started, "the container never started: {seen:?}");

    // The background sleep is still there, with its root in the rootfs (for a moment after its
    // fork it may still be called `sh`).
    let before = root.leftovers();
    assert!(
        before
            .iter()
            .any(|item| matches!(item, testkit::Leftover::Process { .. })),
        "expected the orphaned background process as a leftover, found {before:?}"
    );

    let root_arg = root.path().to_str().expect("a UTF-8 path").to_string();
    let out = Outcome::of(workshop(&["clean", "--root", &root_arg]));
    assert_eq!(out.code, 0, "workshop clean failed: {out}");
    assert!(
        out.stdout.contains("removed"),
        "clean says nothing removed: {out}"
    );
    assert_eq!(root.leftovers(), Vec::new(), "workshop clean left: {out}");
    assert_eq!(
        processes_rooted_in(root.path()),
        Vec::<String>::new(),
        "processes still rooted in the state root"
    );
}
