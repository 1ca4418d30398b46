//! Chapter 1's promises, checked with real containers: the command sees the root filesystem
//! and not the host's files, its exit code comes back, errors are clear, and chroot alone
//! isolates nothing else (and can be escaped).

use std::fs;

use testkit::TestRoot;

const CH01: &str = env!("CARGO_BIN_EXE_ch01");

fn sh(script: &str) -> Vec<String> {
    ["run", "--", "/bin/sh", "-c", script]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn the_command_sees_the_rootfs_and_not_the_hosts_files() {
    let root = TestRoot::new("sees_rootfs");
    let rootfs = root.private_rootfs("rootfs");
    fs::write(rootfs.join("inside-marker"), "in the rootfs\n").unwrap();
    let host_only = root.path().join("host-only-file");
    fs::write(&host_only, "host\n").unwrap();

    let mut args = vec![
        "run".to_string(),
        "--rootfs".into(),
        rootfs.display().to_string(),
    ];
    args.extend(["--", "/bin/sh", "-c"].map(String::from));
    args.push(format!(
        "cat /inside-marker; ls /; if [ -e {host} ]; then echo HOST-VISIBLE; fi",
        host = host_only.display()
    ));
    let out = root.run(CH01, &args);

    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("in the rootfs\n"), "{out}");
    for dir in ["bin", "etc", "proc", "tmp", "usr"] {
        assert!(
            out.stdout.lines().any(|l| l == dir),
            "/{dir} missing in the container: {out}"
        );
    }
    assert!(
        !out.stdout.contains("HOST-VISIBLE"),
        "a host file is visible inside: {out}"
    );
    root.assert_no_leftovers();
}

#[test]
fn exit_codes_propagate() {
    let root = TestRoot::new("exit_codes");
    for code in [0, 1, 42] {
        let out = root.run(CH01, &sh(&format!("exit {code}")));
        assert_eq!(out.code, code, "{out}");
    }
}

#[test]
fn a_signal_death_is_reported_as_128_plus_the_signal() {
    let root = TestRoot::new("signal_exit");
    let out = root.run(CH01, &sh("kill -KILL $$"));
    assert_eq!(out.code, 128 + 9, "{out}");
    let out = root.run(CH01, &sh("kill -TERM $$"));
    assert_eq!(out.code, 128 + 15, "{out}");
}

#[test]
fn a_missing_command_exits_127_and_names_it() {
    let root = TestRoot::new("missing_command");
    let out = root.run(CH01, &["run", "--", "no-such-program"]);
    assert_eq!(out.code, 127, "{out}");
    assert!(
        out.stderr
            .contains("not found in the container: no-such-program"),
        "{out}"
    );

    let out = root.run(CH01, &["run", "--", "/no/such/path"]);
    assert_eq!(out.code, 127, "{out}");
    assert!(out.stderr.contains("/no/such/path"), "{out}");
}

#[test]
fn a_file_that_is_not_executable_exits_126() {
    let root = TestRoot::new("not_executable");
    let out = root.run(CH01, &["run", "--", "/etc/passwd"]);
    assert_eq!(out.code, 126, "{out}");
    assert!(out.stderr.contains("/etc/passwd"), "{out}");
}

#[test]
fn a_missing_or_empty_rootfs_is_a_clear_error() {
    let root = TestRoot::new("bad_rootfs");
    let missing = root.path().join("does-not-exist");
    let out = root.run(
        CH01,
        &[
            "run",
            "--rootfs",
            &missing.display().to_string(),
            "--",
            "sh",
        ],
    );
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("does not exist"), "{out}");

    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let out = root.run(
        CH01,
        &["run", "--rootfs", &empty.display().to_string(), "--", "sh"],
    );
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("is empty"), "{out}");
    root.assert_no_leftovers();
}

#[test]
fn env_and_workdir_take_effect_and_the_hosts_environment_stays_out() {
    let root = TestRoot::new("env_workdir");
    let mut command = root.command(CH01);
    command
        .env("HOST_SECRET", "must-not-leak")
        .args([
            "run",
            "--env",
            "GREETING=hello world",
            "--workdir",
            "/tmp",
            "--",
        ])
        .args(["/bin/sh", "-c", "echo \"$GREETING\"; pwd; env"]);
    let out = testkit::Outcome::of(command);

    assert_eq!(out.code, 0, "{out}");
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("hello world"), "{out}");
    assert_eq!(lines.next(), Some("/tmp"), "{out}");
    assert!(
        !out.stdout.contains("HOST_SECRET"),
        "the host's environment leaked in: {out}"
    );
    assert!(
        !out.stdout.contains("CARTON_ROOT"),
        "the runtime's environment leaked in: {out}"
    );
    assert!(out.stdout.contains("PATH=/usr/local/sbin:"), "{out}");
}

#[test]
fn a_bad_env_or_workdir_is_refused() {
    let root = TestRoot::new("bad_flags");
    let out = root.run(CH01, &["run", "--env", "NOEQUALS", "--", "true"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("expected KEY=VALUE"), "{out}");

    let out = root.run(CH01, &["run", "--workdir", "relative", "--", "true"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("absolute path"), "{out}");

    let out = root.run(CH01, &["run", "--workdir", "/no/such/dir", "--", "true"]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("/no/such/dir"), "{out}");
}

#[test]
fn chroot_isolates_nothing_else_hostname_and_processes_are_the_hosts() {
    let root = TestRoot::new("no_isolation");
    let me = std::process::id();
    let out = root.run(
        CH01,
        &sh(&format!(
            "hostname; echo $$; kill -0 {me} && echo CAN-SIGNAL-HOST"
        )),
    );
    assert_eq!(out.code, 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        testkit::host_hostname(),
        "the hostname is the host's: {out}"
    );
    let pid: u32 = lines[1].parse().expect("a pid");
    assert_ne!(
        pid, 1,
        "without a PID namespace the command is not PID 1: {out}"
    );
    assert_eq!(
        lines[2], "CAN-SIGNAL-HOST",
        "a process inside can signal a host process: {out}"
    );
}

#[test]
fn the_classic_chroot_escape_reaches_the_hosts_root() {
    let root = TestRoot::new("escape");
    let rootfs = root.private_rootfs("rootfs");
    let escape = testkit::chroot_escape_binary(root.path());
    fs::copy(&escape, rootfs.join("chroot-escape")).unwrap();
    // A file on the host, outside the rootfs: only an escaped process can read it.
    let secret = root.path().join("host-secret");
    let content = format!("host secret {}", engine::container::new_id());
    fs::write(&secret, &content).unwrap();

    let out = root.run(
        CH01,
        &[
            "run",
            "--rootfs",
            &rootfs.display().to_string(),
            "--",
            "/chroot-escape",
            "/bin/cat",
            &secret.display().to_string(),
        ],
    );
    assert_eq!(out.code, 0, "the escape failed: {out}");
    assert_eq!(
        out.stdout, content,
        "the escaped process reads the host's file: {out}"
    );
}

#[test]
fn explain_narrates_each_step_with_its_system_call() {
    let root = TestRoot::new("explain");
    let out = root.run(CH01, &["run", "--explain", "--", "true"]);
    assert_eq!(out.code, 0, "{out}");
    for expected in [
        "clone(SIGCHLD)",
        "chroot(\"",
        "chdir(\"/\")",
        "execve(\"/bin/true\"",
    ] {
        assert!(
            out.stderr.contains(expected),
            "narration lacks {expected}: {out}"
        );
    }
    assert!(
        out.stdout.is_empty(),
        "narration must not go to stdout: {out}"
    );
}

#[test]
fn a_mount_made_inside_lands_on_the_host_and_is_removed_with_the_container() {
    let root = TestRoot::new("ch01_mount_leak");
    let rootfs = root.private_rootfs("mounts");
    let rootfs_arg = rootfs.display().to_string();
    // No mount namespace yet: the container's mount is the host's, visible from here while it runs.
    let out = root.run(
        CH01,
        &["run", "--rootfs", &rootfs_arg, "--", "/bin/sh", "-c", "mount -t tmpfs leak /mnt && grep -c ' /mnt ' /proc/self/mounts 2>/dev/null; echo mounted"],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.ends_with("mounted\n"), "{out}");
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&format!("{}/mnt", rootfs.display())),
        "the engine removed the mount after exit"
    );
    root.assert_no_leftovers();
}
