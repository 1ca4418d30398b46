//! Chapter 6's promises, checked with real containers: binds reach the host (and `:ro` ones
//! cannot be written), named volumes outlive containers and start with the image's files,
//! tmpfs lives in memory, a symlinked target cannot put a mount outside the root, anonymous
//! volumes go with `--rm`, and bad specs are refused before anything exists.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use testkit::{Outcome, TestRoot};

const CH06: &str = env!("CARGO_BIN_EXE_ch06");

fn run_sh(root: &TestRoot, flags: &[&str], script: &str) -> Outcome {
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", script]);
    root.run(CH06, &args)
}

fn host_dir(root: &TestRoot, name: &str) -> PathBuf {
    let dir = root.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn volume_data(root: &TestRoot, name: &str) -> PathBuf {
    root.path().join("volumes").join(name).join("_data")
}

#[test]
fn a_bind_mount_shares_files_both_ways() {
    let root = TestRoot::new("ch06_bind");
    let shared = host_dir(&root, "shared");
    fs::write(shared.join("from-host"), "hello from the host\n").unwrap();
    let bind = format!("{}:/mnt/shared", shared.display());
    let out = run_sh(
        &root,
        &["-v", &bind],
        "cat /mnt/shared/from-host; echo written inside > /mnt/shared/from-container",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hello from the host\n", "{out}");
    assert_eq!(
        fs::read_to_string(shared.join("from-container")).unwrap(),
        "written inside\n"
    );
    root.assert_no_leftovers();
}

#[test]
fn a_read_only_bind_refuses_writes_and_the_host_path_is_untouched() {
    let root = TestRoot::new("ch06_ro");
    let shared = host_dir(&root, "shared");
    fs::write(shared.join("keep"), "original\n").unwrap();
    for flag in [
        format!("{}:/data:ro", shared.display()),
        format!(
            "type=bind,source={},target=/data,readonly",
            shared.display()
        ),
    ] {
        let name = if flag.starts_with("type=") {
            "--mount"
        } else {
            "-v"
        };
        let out = run_sh(
            &root,
            &[name, &flag],
            "cat /data/keep; echo changed > /data/keep; touch /data/new",
        );
        assert_eq!(out.stdout, "original\n", "{out}");
        assert_ne!(out.code, 0, "{out}");
        assert!(out.stderr.contains("Read-only file system"), "EROFS: {out}");
    }
    assert_eq!(
        fs::read_to_string(shared.join("keep")).unwrap(),
        "original\n"
    );
    assert!(!shared.join("new").exists());
}

#[test]
fn a_named_volume_outlives_its_container_and_cannot_be_removed_while_in_use() {
    let root = TestRoot::new("ch06_named");
    let out = run_sh(&root, &["-v", "notes:/notes"], "echo kept > /notes/n");
    assert_eq!(out.code, 0, "{out}");
    let out = run_sh(&root, &["-v", "notes:/notes"], "cat /notes/n");
    assert_eq!(
        out.stdout, "kept\n",
        "the next container sees the data: {out}"
    );

    let inspect = root.run(CH06, &["volume", "inspect", "notes"]);
    assert_eq!(inspect.code, 0, "{inspect}");
    let mountpoint = volume_data(&root, "notes").display().to_string();
    assert!(
        inspect
            .stdout
            .contains(&format!("\"Mountpoint\": \"{mountpoint}\"")),
        "{inspect}"
    );

    let mut user = testkit::spawn(
        &root,
        CH06,
        &[
            "run",
            "--rm",
            "-v",
            "notes:/notes",
            "--",
            "/bin/sh",
            "-c",
            "echo ready; sleep 30",
        ],
    );
    let mut line = String::new();
    BufReader::new(user.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let refused = root.run(CH06, &["volume", "rm", "notes"]);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(refused.stderr.contains("in use"), "{refused}");
    let inspect = root.run(CH06, &["volume", "inspect", "notes"]);
    assert!(
        inspect.stdout.contains("\"UsedBy\": [\n    \""),
        "inspect names the user: {inspect}"
    );

    for child in testkit::children_of(user.id()) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    user.wait().unwrap();
    let removed = root.run(CH06, &["volume", "rm", "notes"]);
    assert_eq!(removed.code, 0, "{removed}");
    assert!(!volume_data(&root, "notes").exists());
    root.assert_no_leftovers();
}

#[test]
fn a_new_volume_starts_with_the_images_files_and_a_full_one_is_not_overwritten() {
    let root = TestRoot::new("ch06_copy_up");
    let out = run_sh(&root, &["-v", "etc:/etc"], "ls /etc; echo mine > /etc/mine");
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("os-release") && out.stdout.contains("passwd"),
        "the image's /etc: {out}"
    );
    let copied = fs::metadata(volume_data(&root, "etc").join("passwd")).unwrap();
    let original = fs::metadata(root.busybox_rootfs().join("etc/passwd")).unwrap();
    assert_eq!(
        (copied.mode(), copied.uid(), copied.gid()),
        (original.mode(), original.uid(), original.gid()),
        "modes and owners kept"
    );

    // Not empty any more: the image's files are not copied again over the volume's.
    fs::remove_file(volume_data(&root, "etc").join("os-release")).unwrap();
    let out = run_sh(&root, &["-v", "etc:/etc"], "ls /etc");
    assert_eq!(out.stdout, "group\nmine\npasswd\n", "{out}");
}

#[test]
fn a_tmpfs_is_in_memory_with_its_size_and_gone_after_exit() {
    let root = TestRoot::new("ch06_tmpfs");
    let out = run_sh(
        &root,
        &["--tmpfs", "/scratch:size=2m,mode=1700"],
        "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; echo x > /scratch/f",
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .starts_with("tmpfs /scratch tmpfs rw,nosuid,nodev"),
        "{out}"
    );
    assert!(out.stdout.contains("size=2048k"), "{out}");
    assert!(out.stdout.contains("\n1700\n"), "{out}");
    let out = run_sh(
        &root,
        &["--mount", "type=tmpfs,target=/scratch"],
        "ls -A /scratch | wc -l",
    );
    assert_eq!(out.out(), "0", "a tmpfs starts empty every time: {out}");
}

#[test]
fn a_symlinked_target_cannot_put_the_mount_outside_the_root() {
    let root = TestRoot::new("ch06_symlink");
    // An image whose /data is a symlink that climbs out: /data -> /../../../etc
    let out = root.run(
        CH06,
        &["run", "--", "/bin/sh", "-c", "ln -s /../../../etc /data"],
    );
    assert_eq!(out.code, 0, "{out}");
    let ps = root.run(CH06, &["ps"]);
    let id = ps
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(root.run(CH06, &["commit", &id, "evil"]).code, 0);
    assert_eq!(root.run(CH06, &["rm", &id]).code, 0);

    let shared = host_dir(&root, "shared");
    let marker = format!("planted-{}", std::process::id());
    for flag in [
        format!("{}:/data", shared.display()),
        "evilvol:/data".to_string(),
    ] {
        let out = run_sh(
            &root,
            &["--image", "evil", "-v", &flag],
            &format!("echo x > /data/{marker}; grep -c ' /etc ' /proc/self/mountinfo"),
        );
        assert_eq!(out.code, 0, "{flag}: {out}");
        assert_eq!(
            out.out(),
            "1",
            "the mount landed on the container's own /etc: {out}"
        );
        assert!(
            !PathBuf::from("/etc").join(&marker).exists(),
            "{flag}: the host's /etc was written"
        );
    }
    assert!(
        shared.join(&marker).exists(),
        "the write went through the bind"
    );
    assert!(
        volume_data(&root, "evilvol").join(&marker).exists(),
        "the write went to the volume"
    );
}

#[test]
fn anonymous_volumes_go_with_a_removed_container_and_named_ones_stay() {
    let root = TestRoot::new("ch06_anonymous");
    let out = run_sh(
        &root,
        &["-v", "/cache", "-v", "named:/named"],
        "touch /cache/x /named/y",
    );
    assert_eq!(out.code, 0, "{out}");
    let left: Vec<String> = fs::read_dir(root.path().join("volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["named"], "only the named volume stays");
}

#[test]
fn bad_specs_are_refused_and_nothing_is_created() {
    let root = TestRoot::new("ch06_bad");
    let missing = root.path().join("no-such-dir").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["-v".into(), "./relative:/x".into()],
            "relative host path",
        ),
        (vec!["-v".into(), format!("{missing}:/x")], "does not exist"),
        (
            vec!["-v".into(), "/tmp:/x:sideways".into()],
            "unknown option",
        ),
        (vec!["-v".into(), "/tmp:".into()], "empty"),
        (vec!["-v".into(), "/tmp:/".into()], "cannot be /"),
        (
            vec!["--mount".into(), "type=bind,target=/x".into()],
            "needs source=",
        ),
        (
            vec!["--tmpfs".into(), "/x:size=lots".into()],
            "expected a size",
        ),
        (
            vec!["-v".into(), "vol:/x".into(), "-v".into(), "/tmp:/x".into()],
            "two mounts at /x",
        ),
    ];
    for (flags, expected) in cases {
        // No --rm: even a container that would be kept leaves nothing when it never starts.
        let mut args = vec!["run".to_string()];
        args.extend(flags.clone());
        args.extend(["--".to_string(), "true".to_string()]);
        let out = root.run(CH06, &args);
        assert_eq!(out.code, 125, "{flags:?}: {out}");
        assert!(out.stderr.contains(expected), "{flags:?}: {out}");
        assert!(
            !root.path().join("volumes").exists(),
            "{flags:?} created a volume"
        );
        assert!(
            !root.path().join("containers").exists(),
            "{flags:?} left a container"
        );
    }
    root.assert_no_leftovers();
}

#[test]
fn a_start_that_fails_takes_away_the_volume_it_created() {
    let root = TestRoot::new("ch06_failed_start");
    let out = root.run(
        CH06,
        &["run", "-v", "fresh:/fresh", "--", "no-such-program"],
    );
    assert_eq!(out.code, 127, "{out}");
    assert!(
        !volume_data(&root, "fresh").exists(),
        "the volume made for a failed run is removed"
    );
    assert!(
        !root.path().join("containers").exists(),
        "no container is kept"
    );

    // A volume that existed before is not touched by a failed run.
    assert_eq!(root.run(CH06, &["volume", "create", "older"]).code, 0);
    let out = root.run(
        CH06,
        &["run", "-v", "older:/older", "--", "no-such-program"],
    );
    assert_eq!(out.code, 127, "{out}");
    assert!(volume_data(&root, "older").exists());

    // prune takes unused anonymous volumes; named ones only with --all.
    let out = root.run(CH06, &["volume", "prune"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out}");
    let out = root.run(CH06, &["volume", "prune", "--all"]);
    assert_eq!(out.stdout, "older\n", "{out}");
    root.assert_no_leftovers();
}
