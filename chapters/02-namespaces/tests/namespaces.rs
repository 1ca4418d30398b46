//! Chapter 2's promises, checked with real containers from inside and from the host: each
//! namespace isolates what it should, the root switch leaves nothing of the host reachable,
//! /dev is minimal, and the user namespace maps root to an unprivileged host uid.

use std::fs;
use std::io::{BufRead, BufReader};

use testkit::{Outcome, TestRoot};

const CH02: &str = env!("CARGO_BIN_EXE_ch02");

fn run_sh(root: &TestRoot, flags: &[&str], script: &str) -> Outcome {
    let mut args: Vec<&str> = vec!["run"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", script]);
    root.run(CH02, &args)
}

#[test]
fn the_hostname_is_the_containers_and_the_hosts_is_untouched() {
    let root = TestRoot::new("ch02_hostname");
    let before = testkit::host_hostname();
    let out = run_sh(
        &root,
        &["--hostname", "box-1"],
        "hostname; cat /proc/sys/kernel/hostname",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "box-1\nbox-1\n", "{out}");
    assert_eq!(
        testkit::host_hostname(),
        before,
        "the host's hostname changed"
    );

    // Without --hostname the container is named after its id, like Docker's.
    let out = run_sh(&root, &[], "hostname");
    assert_eq!(out.out().len(), 12, "{out}");
    assert!(out.out().chars().all(|c| c.is_ascii_hexdigit()), "{out}");
}

#[test]
fn the_command_is_pid_1_and_sees_only_the_containers_processes() {
    let root = TestRoot::new("ch02_pid");
    let host_pid = std::process::id();
    let script = format!(
        "echo $$; ls -d /proc/[0-9]* | wc -l; if [ -e /proc/{host_pid} ]; then echo HOST-PID-VISIBLE; fi; ps -o pid,comm"
    );
    let out = run_sh(&root, &[], &script);
    assert_eq!(out.code, 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    let processes: usize = lines[1].trim().parse().expect("a count");
    assert!(
        processes <= 3,
        "only the shell and its commands should be visible: {out}"
    );
    assert!(!out.stdout.contains("HOST-PID-VISIBLE"), "{out}");
}

/// Mounts of the host, without the ones other tests of the suite make at the same time.
fn host_mounts(own_root: &std::path::Path) -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let own = own_root.display().to_string();
    text.lines()
        .filter(|line| !line.contains("carton-test-") || line.contains(&own))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_mount_made_inside_never_reaches_the_host() {
    let root = TestRoot::new("ch02_mounts");
    let rootfs = root.busybox_rootfs();
    let before = host_mounts(root.path());
    let out = run_sh(
        &root,
        &[],
        "mount -t tmpfs inside-only /mnt && grep -c inside-only /proc/self/mountinfo",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.out(), "1", "the mount exists inside: {out}");
    let after = host_mounts(root.path());
    assert_eq!(before, after, "the host's mount table changed");
    assert!(
        !after.iter().any(|l| l.contains("inside-only")),
        "the mount leaked to the host"
    );
    assert!(
        fs::read_dir(rootfs.join("mnt")).unwrap().next().is_none(),
        "/mnt on the host is empty"
    );
}

#[test]
fn system_v_ipc_objects_do_not_cross() {
    let root = TestRoot::new("ch02_ipc");
    let rootfs = root.private_rootfs("ipc");
    let probe = testkit::static_helper("ipc_probe", root.path());
    fs::copy(&probe, rootfs.join("ipc-probe")).unwrap();
    let rootfs_arg = rootfs.display().to_string();
    let key = format!("{:x}", 0x4341_0000u32 + std::process::id() % 0xffff);

    // Made inside: gone for the host (and gone with the namespace).
    let out = run_sh(
        &root,
        &["--rootfs", &rootfs_arg],
        &format!("/ipc-probe create {key} && /ipc-probe check {key}"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("shm present\nmsg present"), "{out}");
    let host = Outcome::of({
        let mut c = std::process::Command::new(&probe);
        c.args(["check", &key]);
        c
    });
    assert_eq!(
        host.stdout, "shm absent\nmsg absent\n",
        "an object made inside is seen by the host: {host}"
    );

    // Made on the host: invisible inside.
    let mut create = std::process::Command::new(&probe);
    create.args(["create", &key]);
    assert_eq!(Outcome::of(create).code, 0);
    let out = run_sh(
        &root,
        &["--rootfs", &rootfs_arg],
        &format!("/ipc-probe check {key}"),
    );
    remove_host_ipc(&key);
    assert_eq!(
        out.stdout, "shm absent\nmsg absent\n",
        "a host object is seen inside: {out}"
    );
}

fn remove_host_ipc(key_hex: &str) {
    let key = i32::from_str_radix(key_hex, 16).unwrap();
    // SAFETY: System V calls on a key this test created; a failed lookup only means "not there".
    unsafe {
        let shm = libc::shmget(key, 0, 0);
        if shm >= 0 {
            libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut());
        }
        let msg = libc::msgget(key, 0);
        if msg >= 0 {
            libc::msgctl(msg, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

#[test]
fn the_network_has_only_lo_and_it_is_up() {
    let root = TestRoot::new("ch02_net");
    let out = run_sh(&root, &[], "ls /sys/class/net; ip -o link");
    assert_eq!(out.code, 0, "{out}");
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("lo"), "{out}");
    let link = lines.next().unwrap_or_default();
    assert!(
        link.starts_with("1: lo:") && link.contains(",UP"),
        "lo is up: {out}"
    );
    assert_eq!(lines.next(), None, "only lo: {out}");
}

#[test]
fn every_namespace_differs_from_the_hosts() {
    let root = TestRoot::new("ch02_ns");
    let kinds = ["uts", "pid", "mnt", "ipc", "net", "cgroup", "user"];
    let script = kinds
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .join("; ");

    let out = run_sh(&root, &[], &script);
    assert_eq!(out.code, 0, "{out}");
    let inside: Vec<&str> = out.stdout.lines().collect();
    for (kind, seen) in kinds.iter().zip(&inside) {
        let host = testkit::namespace_of("self", kind);
        if *kind == "user" {
            assert_eq!(
                *seen, host,
                "without --userns the user namespace is the host's"
            );
        } else {
            assert_ne!(*seen, host, "the {kind} namespace is the host's: {out}");
        }
    }

    let out = run_sh(&root, &["--userns"], &script);
    assert_eq!(out.code, 0, "{out}");
    let user = out.stdout.lines().nth(6).unwrap_or_default().to_string();
    assert_ne!(
        user,
        testkit::namespace_of("self", "user"),
        "--userns gives a new user namespace: {out}"
    );
}

#[test]
fn with_userns_root_inside_is_an_unprivileged_uid_on_the_host() {
    let root = TestRoot::new("ch02_userns");
    let rootfs = root.private_rootfs("userns");
    let rootfs_arg = rootfs.display().to_string();
    let mut runtime = testkit::spawn(
        &root,
        CH02,
        &[
            "run",
            "--userns=1200000:65536",
            "--rootfs",
            &rootfs_arg,
            "--",
            "/bin/sh",
            "-c",
            "id -u; id -g; touch /tmp/made-inside; echo ready; sleep 30",
        ],
    );
    let mut stdout = BufReader::new(runtime.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..3 {
        stdout.read_line(&mut seen).unwrap();
    }
    assert_eq!(seen, "0\n0\nready\n", "root inside");

    // From the host: the container's PID 1 is the runtime's child, running as uid 1200000.
    let container = testkit::children_of(runtime.id());
    assert_eq!(container.len(), 1, "the runtime has one child");
    let status = fs::read_to_string(format!("/proc/{}/status", container[0])).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("1200000"),
        "{uid_line}"
    );

    use std::os::unix::fs::MetadataExt;
    let made = fs::metadata(rootfs.join("tmp/made-inside")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (1200000, 1200000),
        "the file belongs to the mapped ids"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(container[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = runtime.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    root.assert_no_leftovers();
}

#[test]
fn the_chroot_escape_fails_and_nothing_of_the_old_root_is_reachable() {
    let root = TestRoot::new("ch02_escape");
    let rootfs = root.private_rootfs("escape");
    fs::copy(
        testkit::chroot_escape_binary(root.path()),
        rootfs.join("chroot-escape"),
    )
    .unwrap();
    let secret = root.path().join("host-secret");
    fs::write(&secret, "host secret").unwrap();
    let rootfs_arg = rootfs.display().to_string();
    let secret_arg = secret.display().to_string();

    let out = root.run(
        CH02,
        &[
            "run",
            "--rootfs",
            &rootfs_arg,
            "--",
            "/chroot-escape",
            "/bin/cat",
            &secret_arg,
        ],
    );
    assert!(
        !out.stdout.contains("host secret"),
        "the escape reached the host: {out}"
    );
    assert_ne!(out.code, 0, "cat cannot find the host's file: {out}");

    // The mount table inside holds the container's mounts only: no host path, no old root.
    let out = run_sh(
        &root,
        &["--rootfs", &rootfs_arg],
        "cut -d' ' -f5 /proc/self/mountinfo",
    );
    assert_eq!(out.code, 0, "{out}");
    let points: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        points,
        [
            "/",
            "/proc",
            "/sys",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue"
        ],
        "{out}"
    );
}

#[test]
fn dev_holds_exactly_the_minimal_nodes() {
    let root = TestRoot::new("ch02_dev");
    let out = run_sh(
        &root,
        &[],
        "for f in /dev/*; do if [ -L $f ]; then echo \"$f -> $(readlink $f)\"; \
         elif [ -c $f ]; then stat -c '%n %t:%T' $f; else echo \"$f dir\"; fi; done; \
         echo x > /dev/full",
    );
    let expected = "\
/dev/fd -> /proc/self/fd
/dev/full 1:7
/dev/mqueue dir
/dev/null 1:3
/dev/ptmx -> pts/ptmx
/dev/pts dir
/dev/random 1:8
/dev/shm dir
/dev/stderr -> /proc/self/fd/2
/dev/stdin -> /proc/self/fd/0
/dev/stdout -> /proc/self/fd/1
/dev/tty 5:0
/dev/urandom 1:9
/dev/zero 1:5
";
    assert_eq!(out.stdout, expected, "{out}");
    assert_ne!(out.code, 0, "writing to /dev/full fails: {out}");
    assert!(out.stderr.contains("No space left on device"), "{out}");
}

#[test]
fn sys_is_read_only() {
    let root = TestRoot::new("ch02_sys");
    let out = run_sh(
        &root,
        &[],
        "grep ' /sys ' /proc/mounts; echo 1 > /sys/kernel/profiling",
    );
    assert!(out.stdout.contains("sysfs /sys sysfs ro,"), "{out}");
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
}

#[test]
fn bad_hostnames_and_userns_ranges_are_refused_and_leave_nothing() {
    let root = TestRoot::new("ch02_bad_input");
    let too_long = "x".repeat(65);
    for (flag, expected) in [
        (format!("--hostname={too_long}"), "1 to 64 characters"),
        ("--hostname=bad_name".to_string(), "'_' is not allowed"),
        ("--hostname=-lead".to_string(), "cannot start with"),
        ("--userns=0:65536".to_string(), "host id 0 is root"),
        ("--userns=100000:0".to_string(), "at least one id"),
        ("--userns=lots".to_string(), "expected START:COUNT"),
        (
            "--userns=4294967000:65536".to_string(),
            "past the largest id",
        ),
    ] {
        let out = root.run(CH02, &["run", &flag, "--", "true"]);
        assert_eq!(out.code, 125, "{flag}: {out}");
        assert!(out.stderr.contains(expected), "{flag}: {out}");
    }
    root.assert_no_leftovers();
}
