//! Chapter 4's promises, checked with real containers: the image never changes, deletions are
//! whiteouts, containers of one image share its layers and not their writes, `diff` and `commit`
//! see exactly the change, imports run, 128 layers mount, and hostile archives are refused.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use support::{Entry, docker_save, fingerprint, layer, oci_layout};
use testkit::{Outcome, TestRoot};

const CH04: &str = env!("CARGO_BIN_EXE_ch04");

fn run_sh(root: &TestRoot, flags: &[&str], script: &str) -> Outcome {
    let mut args: Vec<&str> = vec!["run"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", script]);
    root.run(CH04, &args)
}

/// The only container of a test root.
fn only_container(root: &TestRoot) -> PathBuf {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.path().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

fn id_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn layers_dir(root: &TestRoot) -> PathBuf {
    root.path().join("images/layers")
}

#[test]
fn writes_changes_and_deletions_never_reach_the_image() {
    let root = TestRoot::new("ch04_image_untouched");
    // The first run makes the built-in busybox image; fingerprint its layers after that.
    assert_eq!(run_sh(&root, &["--rm"], "true").code, 0);
    let before = fingerprint(&layers_dir(&root));
    let out = run_sh(
        &root,
        &["--rm"],
        "echo new > /new-file; echo more >> /etc/passwd; rm /etc/os-release; rm -r /home; \
         chmod 700 /tmp; cat /etc/passwd | tail -1",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.out(),
        "more",
        "the container sees its own change: {out}"
    );
    assert_eq!(
        before,
        fingerprint(&layers_dir(&root)),
        "the image's layers changed"
    );
    // A new container starts from the untouched image.
    let out = run_sh(
        &root,
        &["--rm"],
        "cat /etc/os-release | head -1; ls /new-file 2>&1; tail -1 /etc/passwd",
    );
    assert!(out.stdout.starts_with("NAME=\"carton busybox\""), "{out}");
    assert!(out.stdout.contains("No such file"), "{out}");
    assert!(!out.stdout.contains("more"), "{out}");
    root.assert_no_leftovers();
}

#[test]
fn a_deletion_is_a_whiteout_and_a_replaced_directory_is_opaque() {
    let root = TestRoot::new("ch04_whiteout");
    let out = run_sh(
        &root,
        &[],
        "rm /etc/os-release; rm -r /usr/sbin; mkdir /usr/sbin; echo mine > /usr/sbin/only; \
         ls /etc/os-release 2>&1; ls /usr/sbin",
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("No such file"),
        "the file is gone inside: {out}"
    );
    assert!(
        out.stdout.ends_with("only\n"),
        "the new directory holds only its own file: {out}"
    );

    let upper = only_container(&root).join("upper");
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let whiteout = fs::symlink_metadata(upper.join("etc/os-release")).unwrap();
    assert!(
        whiteout.file_type().is_char_device() && whiteout.rdev() == 0,
        "a 0/0 character device"
    );
    let opaque = solution::extract::get_xattr(&upper.join("usr/sbin"), "trusted.overlay.opaque");
    assert_eq!(
        opaque.as_deref(),
        Some(&b"y"[..]),
        "the replaced directory is opaque"
    );
}

#[test]
fn two_containers_of_one_image_share_its_layers_but_not_their_writes() {
    let root = TestRoot::new("ch04_two");
    // Both write the same path; each must read back its own content.
    let script = "hostname > /mine; cat /mine; echo ready; sleep 30";
    let mut first = testkit::spawn(
        &root,
        CH04,
        &[
            "run",
            "--rm",
            "--hostname",
            "first",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    let mut second = testkit::spawn(
        &root,
        CH04,
        &[
            "run",
            "--rm",
            "--hostname",
            "second",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    let mut seen = Vec::new();
    for runtime in [&mut first, &mut second] {
        let mut out = BufReader::new(runtime.stdout.take().unwrap());
        let mut text = String::new();
        out.read_line(&mut text).unwrap();
        out.read_line(&mut text).unwrap();
        seen.push(text);
    }
    assert_eq!(
        seen,
        ["first\nready\n", "second\nready\n"],
        "each container reads its own write"
    );

    // From the host: two overlay mounts with the same lower directories.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let own = root.path().display().to_string();
    let lowers: Vec<String> = mountinfo
        .lines()
        .filter(|l| l.contains(&own) && l.contains(" - overlay "))
        .filter_map(|l| {
            l.split(',')
                .find(|o| o.starts_with("lowerdir="))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(lowers.len(), 2, "{mountinfo}");
    assert_eq!(
        lowers[0], lowers[1],
        "both containers stand on the same layers"
    );

    let uppers: Vec<PathBuf> = fs::read_dir(root.path().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("upper/mine"))
        .collect();
    let contents: Vec<String> = uppers
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        contents.contains(&"first\n".to_string()) && contents.contains(&"second\n".to_string()),
        "{contents:?}"
    );

    for mut runtime in [first, second] {
        for child in testkit::children_of(runtime.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        runtime.wait().unwrap();
    }
    root.assert_no_leftovers();
    assert!(
        !root.path().join("containers").exists(),
        "--rm removes the containers"
    );
}

#[test]
fn diff_reports_the_change_and_commit_captures_exactly_it() {
    let root = TestRoot::new("ch04_diff_commit");
    let out = run_sh(
        &root,
        &[],
        "echo hello > /greeting; rm /etc/os-release; mkdir -p /srv/app; echo 1 > /srv/app/v",
    );
    assert_eq!(out.code, 0, "{out}");
    let id = id_of(&only_container(&root));

    let out = root.run(CH04, &["diff", &id[..6]]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout, "C /etc\nD /etc/os-release\nA /greeting\nA /srv\nA /srv/app\nA /srv/app/v\n",
        "{out}"
    );

    let layers_before: Vec<String> = fs::read_dir(layers_dir(&root))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let out = root.run(CH04, &["commit", &id, "greeter:1.0"]);
    assert_eq!(out.code, 0, "{out}");
    let new_layer: Vec<PathBuf> = fs::read_dir(layers_dir(&root))
        .unwrap()
        .flatten()
        .filter(|e| !layers_before.contains(&e.file_name().to_string_lossy().into_owned()))
        .map(|e| e.path())
        .collect();
    assert_eq!(new_layer.len(), 1, "commit adds one layer");
    let captured: Vec<String> = fingerprint(&new_layer[0])
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        captured,
        [
            "etc",
            "etc/os-release",
            "greeting",
            "srv",
            "srv/app",
            "srv/app/v"
        ],
        "only the change"
    );

    let out = run_sh(
        &root,
        &["--rm", "--image", "greeter:1.0"],
        "cat /greeting /srv/app/v; ls /etc/os-release 2>&1; true",
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with("hello\n1\n") && out.stdout.contains("No such file"),
        "{out}"
    );

    let out = root.run(CH04, &["images"]);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("greeter:1.0") && l.split_whitespace().nth(2) == Some("2")),
        "{out}"
    );

    // rmi is refused while a container uses the image, rm then rmi work, and nothing is left.
    let out = run_sh(&root, &["--image", "greeter:1.0"], "true");
    assert_eq!(out.code, 0, "{out}");
    let out = root.run(CH04, &["rmi", "greeter:1.0"]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("is used by container"), "{out}");
    let ps = root.run(CH04, &["ps"]);
    for line in ps.stdout.lines().skip(1) {
        let id = line.split_whitespace().next().unwrap();
        assert_eq!(root.run(CH04, &["rm", id]).code, 0);
    }
    assert_eq!(root.run(CH04, &["rmi", "greeter:1.0"]).code, 0);
    assert!(
        !new_layer[0].exists(),
        "the committed layer is removed with its last image"
    );
    root.assert_no_leftovers();
}

#[test]
fn oci_layouts_docker_save_and_rootfs_tarballs_import_and_whiteouts_hide_the_right_files() {
    let root = TestRoot::new("ch04_import");
    let base = support::busybox_layer(&root.busybox_rootfs());
    let middle = layer(&[
        Entry::Dir("data/"),
        Entry::File("data/a", b"a"),
        Entry::File("data/b", b"b"),
        Entry::Dir("cache/"),
        Entry::File("cache/old", b"old"),
        Entry::File("keep", b"keep"),
    ]);
    let top = layer(&[
        Entry::File("data/.wh.a", b""),
        Entry::Dir("cache/"),
        Entry::File("cache/.wh..wh..opq", b""),
        Entry::File("cache/new", b"new"),
    ]);
    let layout = root.path().join("layout");
    oci_layout(
        &layout,
        &[base.clone(), middle.clone(), top.clone()],
        "layered:1",
    );
    let out = root.run(CH04, &["import", &layout.display().to_string()]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("layered:1"), "{out}");
    let out = run_sh(
        &root,
        &["--rm", "--image", "layered:1"],
        "ls /data /cache; cat /keep",
    );
    assert_eq!(out.stdout, "/cache:\nnew\n\n/data:\nb\nkeep", "{out}");

    let saved = root.path().join("saved.tar");
    docker_save(&saved, &[base.clone(), middle], "saved:2");
    let out = root.run(CH04, &["import", &saved.display().to_string()]);
    assert_eq!(out.code, 0, "{out}");
    let out = run_sh(
        &root,
        &["--rm", "--image", "saved:2"],
        "cat /data/a /data/b",
    );
    assert_eq!(out.stdout, "ab", "{out}");

    let exported = root.path().join("rootfs.tar");
    fs::write(&exported, &base).unwrap();
    let out = root.run(CH04, &["import", &exported.display().to_string()]);
    assert_ne!(out.code, 0, "a rootfs tarball needs a name: {out}");
    let out = root.run(
        CH04,
        &["import", &exported.display().to_string(), "exported"],
    );
    assert_eq!(out.code, 0, "{out}");
    let out = run_sh(&root, &["--rm", "--image", "exported"], "echo runs");
    assert_eq!(out.out(), "runs", "{out}");

    // Layers are stored once: the base of all three imports is one directory.
    let base_id = support::sha256(&base);
    assert!(layers_dir(&root).join(&base_id).is_dir());
    root.assert_no_leftovers();
}

#[test]
fn an_image_of_128_layers_mounts_and_every_file_is_visible() {
    let root = TestRoot::new("ch04_128");
    let mut layers = vec![support::busybox_layer(&root.busybox_rootfs())];
    let names: Vec<String> = (1..128).map(|i| format!("layers/file-{i:03}")).collect();
    for name in &names {
        layers.push(layer(&[
            Entry::Dir("layers/"),
            Entry::File(name, name.as_bytes()),
        ]));
    }
    let layout = root.path().join("tall");
    oci_layout(&layout, &layers, "tall:128");
    let out = root.run(CH04, &["import", &layout.display().to_string()]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("(128 layers)"), "{out}");
    let out = run_sh(
        &root,
        &["--rm", "--image", "tall:128"],
        "ls /layers | wc -l; cat /layers/file-001 /layers/file-127",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "127\nlayers/file-001layers/file-127", "{out}");
}

/// Import a hostile layer as a rootfs tarball: it must be refused with `expected` in the
/// message, and nothing may appear outside the store.
fn refused(root: &TestRoot, name: &str, archive: Vec<u8>, expected: &str) {
    fs::create_dir_all(root.path().join("outside")).unwrap();
    let path = root.path().join(format!("{name}.tar"));
    fs::write(&path, archive).unwrap();
    let before: Vec<String> = fingerprint(root.path())
        .into_iter()
        .filter(|l| !l.starts_with("images"))
        .collect();
    let out = root.run(CH04, &["import", &path.display().to_string(), name]);
    assert_ne!(out.code, 0, "{name} was accepted: {out}");
    assert!(
        out.stderr.contains("refused layer archive") && out.stderr.contains(expected),
        "{name}: {out}"
    );
    let after: Vec<String> = fingerprint(root.path())
        .into_iter()
        .filter(|l| !l.starts_with("images"))
        .collect();
    assert_eq!(before, after, "{name} wrote outside the store");
    assert!(!root.path().join("etc-escape").exists() && !Path::new("/tmp/carton-escaped").exists());
    let leftovers: Vec<String> = fs::read_dir(layers_dir(root))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "{name} left a layer behind: {leftovers:?}"
    );
}

#[test]
fn hostile_archives_are_refused_and_write_nothing_outside() {
    let root = TestRoot::new("ch04_hostile");
    refused(
        &root,
        "dotdot",
        layer(&[Entry::File("../../../../../../tmp/carton-escaped", b"x")]),
        "climbs out with '..'",
    );
    refused(
        &root,
        "absolute",
        layer(&[Entry::File("/tmp/carton-escaped", b"x")]),
        "is an absolute path",
    );
    let outside = root.path().join("outside").display().to_string();
    refused(
        &root,
        "symlink",
        layer(&[
            Entry::Symlink("evil", &outside),
            Entry::File("evil/planted", b"x"),
        ]),
        "through the symlink evil",
    );
    refused(
        &root,
        "hardlink",
        layer(&[Entry::Hardlink("passwd", "../../../../etc/passwd")]),
        "points outside the layer",
    );
    refused(
        &root,
        "whiteout",
        layer(&[Entry::Dir("a/"), Entry::File("a/.wh...", b"")]),
        "names no file",
    );
    assert!(
        fs::read_dir(root.path().join("outside"))
            .unwrap()
            .next()
            .is_none(),
        "nothing planted outside"
    );
}

#[test]
fn bad_image_input_gets_clear_errors() {
    let root = TestRoot::new("ch04_bad_input");
    for (args, expected) in [
        (
            vec!["run", "--image", "nope:1", "--", "true"],
            "no image nope:1",
        ),
        (vec!["run", "--image", "Bad Name", "--", "true"], "no image"),
        (vec!["import", "/no/such/file.tar", "x"], "does not exist"),
        (vec!["tag", "busybox", "UPPER"], "image name"),
        (vec!["diff", "0123456789ab"], "no container"),
        (vec!["rmi", "nope"], "no image nope"),
        (vec!["run", "--rootfs", "/tmp", "--", "true"], "use --image"),
    ] {
        let out = root.run(CH04, &args);
        assert_ne!(out.code, 0, "{args:?}: {out}");
        assert!(out.stderr.contains(expected), "{args:?}: {out}");
    }
    root.assert_no_leftovers();
}

#[test]
fn a_container_that_never_started_is_not_kept() {
    let root = TestRoot::new("ch04_never_started");
    let out = root.run(CH04, &["run", "--", "no-such-program"]);
    assert_eq!(out.code, 127, "{out}");
    let ps = root.run(CH04, &["ps"]);
    assert_eq!(ps.stdout.lines().count(), 1, "only the header: {ps}");
    root.assert_no_leftovers();
}
