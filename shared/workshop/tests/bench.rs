//! `workshop bench --quick`, run for real: a smoke run that proves the benchmark works end to
//! end (every configuration starts and exits, the files are written and hold what the book
//! needs). Timings are printed, never asserted: performance is measured, not tested.
//!
//! runc and crun are part of what is measured, so the test needs them (CI installs them). It
//! fails, and says so, when they are missing: a benchmark without its comparison is not one.

use std::fs;
use std::process::Command;

use testkit::Outcome;

const WORKSHOP: &str = env!("CARGO_BIN_EXE_workshop");

#[test]
fn a_quick_bench_times_every_configuration_and_writes_its_results() {
    testkit::require_root();
    for tool in ["runc", "crun", "unshare"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} is not installed: the benchmark compares with it. \
             Install it: apt-get install runc crun util-linux"
        );
    }
    let out_dir = std::env::temp_dir().join(format!("carton-bench-smoke-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out_dir);

    // --debug: the chapters' debug builds, which the test suite has already built, so the smoke
    // run costs seconds rather than a release build.
    let mut command = Command::new(WORKSHOP);
    command
        .args(["bench", "--quick", "--debug", "--out"])
        .arg(&out_dir)
        .env("NO_COLOR", "1");
    let out = Outcome::of(command);
    let json = fs::read_to_string(out_dir.join("bench.json")).unwrap_or_default();
    let markdown = fs::read_to_string(out_dir.join("bench.md")).unwrap_or_default();
    let svg = fs::read_to_string(out_dir.join("bench.svg")).unwrap_or_default();
    let _ = fs::remove_dir_all(&out_dir);
    assert_eq!(out.code, 0, "{out}");

    for name in [
        "floor",
        "ch01",
        "ch02",
        "ch03",
        "ch03 limits",
        "ch04",
        "runc",
        "crun",
    ] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(name)),
            "no row for {name} in the table: {out}"
        );
        assert!(
            json.contains(&format!("\"name\": \"{name}")),
            "no entry for {name} in bench.json: {json}"
        );
    }
    for key in [
        "\"machine\"",
        "\"median_ms\"",
        "\"p90_ms\"",
        "\"ratio_to_floor\"",
        "\"ratio_to_crun\"",
        "\"max_rss_kib\"",
        "\"image_layers\"",
        "\"concurrent\"",
        "\"import\"",
        "\"targets\"",
    ] {
        assert!(json.contains(key), "bench.json has no {key}: {json}");
    }
    for layers in ["1 layer", "16 layers", "128 layers"] {
        assert!(json.contains(&format!("\"name\": \"{layers}\"")), "{json}");
    }
    assert!(json.contains("\"failed\": []"), "{json}");
    assert!(markdown.contains("| `floor` |"), "{markdown}");
    assert!(
        svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(svg.contains(">floor</text>"), "{svg}");
    // The bench exits with 1 when anything it made is left (containers, mounts, cgroups,
    // links, its state root); say it plainly too.
    assert!(!out.stdout.contains("left behind:"), "{out}");
}
