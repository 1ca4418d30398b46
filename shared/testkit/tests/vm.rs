//! The VM harness boots for real: pure cgroup v2 inside, and a container engine runs there.
//! These tests fail (never skip) when QEMU or the kernel is missing or the VM does not boot.

use std::time::Duration;

use testkit::vm::run_in_vm;

/// TCG boots in a few seconds on an idle machine; the margin is for busy shared cores.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn vm_has_pure_cgroup_v2_with_memory_and_pids() {
    let script = r#"
        # busybox 1.35's `stat -f -c %T` has no name for cgroup2 ("UNKNOWN"), so ask for the
        # file system's magic number: CGROUP2_SUPER_MAGIC is 0x63677270 ("cgrp").
        echo "fsmagic=$(stat -f -c %t /sys/fs/cgroup)"
        echo "mount=$(grep ' /sys/fs/cgroup ' /proc/mounts)"
        echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
        echo "v1-mounts=$(grep -c ' cgroup ' /proc/mounts)"
        mkdir /sys/fs/cgroup/smoke || exit 10
        echo "child-controllers=$(cat /sys/fs/cgroup/smoke/cgroup.controllers)"
        echo 33554432 > /sys/fs/cgroup/smoke/memory.max || exit 11
        echo "memory.max=$(cat /sys/fs/cgroup/smoke/memory.max)"
        rmdir /sys/fs/cgroup/smoke || exit 12
        exit 7
    "#;
    let run = match run_in_vm(&[], script, TIMEOUT) {
        Ok(run) => run,
        Err(reason) => panic!("the VM did not run the script: {reason}"),
    };
    eprintln!(
        "VM boot took {:.1?}, whole run {:.1?}",
        run.boot_time, run.total_time
    );
    // The script's own exit code comes back, so tests can rely on it.
    assert_eq!(run.exit_code, 7, "{run}");
    let out = &run.output;
    assert!(out.contains("fsmagic=63677270\n"), "{run}");
    assert!(
        out.contains("mount=cgroup2 /sys/fs/cgroup cgroup2 "),
        "{run}"
    );
    assert!(out.contains("v1-mounts=0\n"), "{run}");
    let line = |prefix: &str| -> Vec<String> {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let controllers = line("controllers=");
    for wanted in ["memory", "pids", "cpu"] {
        assert!(
            controllers.iter().any(|c| c == wanted),
            "no {wanted}: {run}"
        );
    }
    // Init enabled them for children, so a child cgroup has the files to limit them.
    for wanted in ["memory", "pids"] {
        assert!(run.controllers.iter().any(|c| c == wanted), "{run}");
        assert!(
            line("child-controllers=").iter().any(|c| c == wanted),
            "{run}"
        );
    }
    assert!(out.contains("memory.max=33554432\n"), "{run}");
}

/// The two things a chapter binary needs from the VM: a dynamically linked program from the
/// host runs there (its libraries and loader came along), and pivot_root works, because init
/// left the initramfs for a tmpfs root. This test's own executable is the dynamic program: it
/// is linked like the chapter binaries, and building another package from here would replace
/// that package's binary under the feet of its own tests.
#[test]
fn host_binaries_run_and_pivot_root_works() {
    let me = std::env::current_exe().expect("the test's own path");
    let name = me
        .file_name()
        .and_then(|n| n.to_str())
        .expect("the test binary's name");
    let script = format!(
        r#"
        {name} --list 2>&1 | grep -q '^host_binaries_run_and_pivot_root_works: test$' \
            && echo "ran={name}"
        unshare -m sh -c '
            mount --make-rprivate /
            mkdir -p /tmp/new
            mount -t tmpfs new /tmp/new
            mkdir /tmp/new/old
            cd /tmp/new
            pivot_root . old && echo "pivot_root=ok"
        '
        "#
    );
    let run = match run_in_vm(&[&me], &script, TIMEOUT) {
        Ok(run) => run,
        Err(reason) => panic!("the VM did not run the script: {reason}"),
    };
    assert_eq!(run.exit_code, 0, "{run}");
    // `--list` inside the VM names this very test: the program ran there.
    assert!(run.output.contains(&format!("ran={name}\n")), "{run}");
    assert!(run.output.contains("pivot_root=ok\n"), "{run}");
}
