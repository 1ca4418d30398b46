//! `workshop bench`: what each layer of the runtime costs, measured against the bare floor
//! (`unshare ... chroot`) and against the production runtimes runc and crun, in one run on one
//! machine, with the same busybox root filesystem everywhere.
//!
//! Method: every configuration runs a few times to warm up (page cache, the built-in image,
//! the bridge), then all configurations take turns, round after round (A B C, C A B, ...), so
//! that a busy moment of the machine hits them all alike instead of one whole configuration;
//! the order within a round is shuffled ([`stats::round_order`] says why). Each run is timed from
//! outside, as a whole process ([`measure`]). Nothing else runs in this tool while a run is
//! timed: no spinner, no progress thread.
//!
//! Besides the start-up table: N containers started at once on one bridge, images of 1, 16
//! and 128 layers, and the throughput of `import` against `tar -x`. Results go to the terminal,
//! to `bench.json`, to a Markdown table and to an SVG chart that the book's appendix includes.

mod fixtures;
mod json;
mod machine;
mod measure;
mod stats;
mod svg;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cargo;
use crate::chapters::{self, Chapter};
use crate::ui;
use json::Json;
use machine::Machine;
use stats::Summary;
use svg::Family;

/// The command line of `workshop bench`.
pub struct Options {
    /// A smoke run: few iterations, a small import; writes nothing unless `out` is given.
    pub quick: bool,
    /// Timed runs per configuration (after the warm-up).
    pub runs: Option<usize>,
    /// Where to write bench.json, bench.md and bench.svg.
    pub out: Option<PathBuf>,
    /// Time the debug builds of the chapters instead of release builds.
    pub debug: bool,
}

/// How much to do.
struct Plan {
    warmup: usize,
    runs: usize,
    concurrent: usize,
    concurrent_rounds: usize,
    layer_counts: Vec<usize>,
    import_megabytes: u64,
    import_rounds: usize,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        if options.quick {
            Plan {
                warmup: 1,
                runs: options.runs.unwrap_or(3),
                concurrent: 20,
                concurrent_rounds: 1,
                layer_counts: vec![1, 16, 128],
                import_megabytes: 10,
                import_rounds: 1,
            }
        } else {
            Plan {
                warmup: 5,
                runs: options.runs.unwrap_or(100),
                concurrent: 20,
                concurrent_rounds: 5,
                layer_counts: vec![1, 16, 128],
                import_megabytes: 100,
                import_rounds: 5,
            }
        }
    }
}

/// One way of starting the `/bin/true` container.
#[derive(Clone)]
struct Config {
    name: String,
    /// What this configuration adds to the one before it.
    adds: String,
    argv: Vec<OsString>,
    family: Family,
}

/// A configuration's results.
struct Measured {
    config: Config,
    summary: Summary,
    /// ru_maxrss of one run, KiB (`None`: GNU time is not installed, or that run failed).
    max_rss_kib: Option<u64>,
}

/// A configuration that could not run: the table says why instead of leaving it out silently.
struct Failed {
    name: String,
    error: String,
}

/// A chapter's runtime, built and copied into the work directory.
struct Runtime {
    chapter: Chapter,
    binary: PathBuf,
    /// From `run --help`: the runtime takes its root from an image (chapter 4 on).
    images: bool,
    /// From `run --help`: the runtime has the network layer (`--network`).
    network: bool,
}

impl Runtime {
    /// `run` and the flags that give the container the busybox root: the image (`--rm`, so
    /// its writable layer goes with it) or the rootfs directory.
    fn run_args(&self, rootfs: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["run".into()];
        if self.images {
            args.push("--rm".into());
        } else {
            args.push("--rootfs".into());
            args.push(rootfs.into());
        }
        args
    }
}

pub fn run(top: &Path, options: &Options) -> bool {
    match bench(top, options) {
        Ok(complete) => complete,
        Err(error) => {
            ui::error(&error);
            false
        }
    }
}

fn bench(top: &Path, options: &Options) -> Result<bool, String> {
    let plan = Plan::new(options);
    let machine = machine::describe();
    ui::heading("workshop bench: what isolation costs");
    describe_machine(&machine);
    require_tools()?;
    if cargo::on_path("time").is_none() {
        ui::warn(
            "GNU time is not installed:",
            "the max RSS column stays empty (apt-get install time)",
        );
    }

    let built = build_runtimes(top, options.debug)?;
    let work = WorkDir::new()?;
    let rootfs = engine::rootfs::busybox_rootfs(work.path())
        .map_err(|e| format!("build the busybox rootfs: {e}"))?;
    let runtimes = install_runtimes(&built, &work)?;
    let bundle = fixtures::oci_bundle(&work.path().join("bundle"), &rootfs)?;

    // 1. Start and exit of a /bin/true container, every configuration.
    let configs = start_configurations(&runtimes, &rootfs, &bundle, &work);
    ui::heading(&format!(
        "Start and exit of a /bin/true container: {} warm-up + {} interleaved runs each",
        plan.warmup, plan.runs
    ));
    let (start, mut failed) = measure_interleaved(&configs, &plan, &work);
    let baselines = Baselines::of(&start);
    print_table(&start, &baselines);

    // 2. N containers at once on the bridge.
    ui::heading(&format!(
        "{} containers started at once on one bridge network",
        plan.concurrent
    ));
    let concurrency = concurrent_run(&runtimes, &rootfs, &plan, &work);
    print_concurrency(&concurrency);

    // 3. Images of 1, 16 and 128 layers.
    ui::heading("Images of many layers: `ch04 run --rm --image X -- /bin/true`");
    let layers = match image_layer_configs(&runtimes, &rootfs, &plan, &work) {
        Ok(configs) => {
            let (measured, layer_failures) = measure_interleaved(&configs, &plan, &work);
            failed.extend(layer_failures);
            print_table(&measured, &Baselines::default());
            measured
        }
        Err(error) => {
            failed.push(Failed {
                name: "image layers".into(),
                error,
            });
            Vec::new()
        }
    };

    // 4. import against tar -x.
    ui::heading(&format!(
        "Import of a {} MB root filesystem tarball, against tar -x",
        plan.import_megabytes
    ));
    let import = import_throughput(&runtimes, &rootfs, &plan, &work);
    print_import(&import);

    for failure in &failed {
        ui::fail(&failure.name, &failure.error);
    }
    let targets = targets(&start, &baselines, &concurrency);
    ui::heading("Targets (measured, never asserted)");
    for target in &targets {
        let text = format!("{}: {}", target.goal, target.measured);
        match target.met {
            Some(true) => ui::ok(&text, ""),
            Some(false) => ui::warn(&text, "missed"),
            None => ui::warn(&text, "not measured"),
        }
    }

    let out = match (&options.out, options.quick) {
        (Some(dir), _) => Some(dir.clone()),
        (None, false) => Some(top.join("book/src/appendix")),
        (None, true) => None,
    };
    let results = Results {
        machine: &machine,
        plan: &plan,
        debug: options.debug,
        start: &start,
        baselines: &baselines,
        failed: &failed,
        concurrency: &concurrency,
        layers: &layers,
        import: &import,
        targets: &targets,
    };
    match out {
        Some(dir) => write_results(&dir, &results)?,
        None => ui::note("quick run: no files written (give --out DIR to keep them)"),
    }

    let leftovers = work.finish();
    if !leftovers.is_empty() {
        ui::fail("left behind", &leftovers.join("; "));
    }
    Ok(failed.is_empty() && leftovers.is_empty())
}

fn describe_machine(machine: &Machine) {
    ui::note(&format!(
        "{}, {} cores{}, kernel {}, {}; load average {}",
        machine.cpu,
        machine.cores,
        if machine.virtual_machine {
            " (a virtual machine)"
        } else {
            ""
        },
        machine.kernel,
        machine.cgroups,
        machine.load
    ));
}

/// The host tools the benchmark compares with or needs. runc and crun are the point of the
/// comparison, so their absence is an error, not a silently shorter table.
fn require_tools() -> Result<(), String> {
    let missing: Vec<&str> = [
        "unshare",
        "chroot",
        "tar",
        "sha256sum",
        "cp",
        "runc",
        "crun",
    ]
    .into_iter()
    .filter(|tool| cargo::on_path(tool).is_none())
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "missing on this machine: {}. Install them: `apt-get install runc crun util-linux tar coreutils`",
        missing.join(", ")
    ))
}

// ---------------------------------------------------------------------------------------------
// The runtimes

/// Build every chapter's binary with the reference solution, in one cargo run.
fn build_runtimes(top: &Path, debug: bool) -> Result<Vec<(Chapter, PathBuf)>, String> {
    let chapters = chapters::discover(top);
    if chapters.is_empty() {
        return Err("no chapters under chapters/".into());
    }
    let profile = if debug { "debug" } else { "release" };
    ui::note(&format!(
        "building {} ({profile}, with the reference solutions)...",
        chapters
            .iter()
            .map(|c| c.package.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut args: Vec<String> = vec!["build".into(), "-q".into()];
    if !debug {
        args.push("--release".into());
    }
    for chapter in &chapters {
        args.push("-p".into());
        args.push(chapter.package.clone());
    }
    args.push("--features".into());
    args.push(
        chapters
            .iter()
            .map(|c| format!("{}/solution", c.package))
            .collect::<Vec<_>>()
            .join(","),
    );
    let status = cargo::status(top, cargo::command(top, &args))
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo {} failed ({status})", args.join(" ")));
    }
    let dir = cargo::target_dir(top).join(profile);
    Ok(chapters
        .into_iter()
        .map(|chapter| {
            let binary = dir.join(&chapter.package);
            (chapter, binary)
        })
        .collect())
}

/// Copy each binary into the work directory (so that a build elsewhere in the checkout cannot
/// swap it halfway through) and ask its `run --help` what it can do.
fn install_runtimes(built: &[(Chapter, PathBuf)], work: &WorkDir) -> Result<Vec<Runtime>, String> {
    let bin = work.path().join("bin");
    fs::create_dir_all(&bin).map_err(|e| format!("mkdir {}: {e}", bin.display()))?;
    let mut runtimes = Vec::new();
    for (chapter, built) in built {
        let binary = bin.join(&chapter.package);
        fs::copy(built, &binary)
            .map_err(|e| format!("copy {} -> {}: {e}", built.display(), binary.display()))?;
        let help = fixtures::helper(&binary.to_string_lossy(), &["run", "--help"])?;
        runtimes.push(Runtime {
            chapter: chapter.clone(),
            binary,
            images: help.contains("--image"),
            network: help.contains("--network"),
        });
    }
    Ok(runtimes)
}

/// What a chapter adds to the one before, for the table.
fn adds(chapter: u32) -> &'static str {
    match chapter {
        1 => "chroot into the rootfs",
        2 => "+ namespaces, pivot_root, /proc, /dev",
        3 => "+ cgroups (none of the limits set)",
        4 => "+ image store, overlay root",
        5 => "+ network layer",
        6 => "+ volumes layer (no volume given)",
        _ => "+ this chapter's layer",
    }
}

fn os(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

/// Every configuration of the start-up table, in the order of the table.
fn start_configurations(
    runtimes: &[Runtime],
    rootfs: &Path,
    bundle: &Path,
    work: &WorkDir,
) -> Vec<Config> {
    let mut configs = Vec::new();
    let mut floor = os(&[
        "unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
    ]);
    floor.push("chroot".into());
    floor.push(rootfs.into());
    floor.push("/bin/true".into());
    configs.push(Config {
        name: "floor".into(),
        adds: "unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS /bin/true".into(),
        argv: floor,
        family: Family::Floor,
    });

    for runtime in runtimes {
        let package = &runtime.chapter.package;
        let mut base: Vec<OsString> = vec![runtime.binary.clone().into()];
        base.extend(runtime.run_args(rootfs));
        let with = |extra: &[&str]| {
            let mut argv = base.clone();
            argv.extend(os(extra));
            argv.extend(os(&["--", "/bin/true"]));
            argv
        };
        if runtime.network {
            configs.push(Config {
                name: format!("{package} --network none"),
                adds: format!("{} (--network none: lo only)", adds(runtime.chapter.number)),
                argv: with(&["--network", "none"]),
                family: Family::Chapter,
            });
            configs.push(Config {
                name: format!("{package} bridge"),
                adds: "+ veth pair on the default bridge, address, NAT rules".into(),
                argv: with(&[]),
                family: Family::Chapter,
            });
        } else {
            configs.push(Config {
                name: package.clone(),
                adds: adds(runtime.chapter.number).into(),
                argv: with(&[]),
                family: Family::Chapter,
            });
        }
        if runtime.chapter.number == 3 {
            configs.push(Config {
                name: format!("{package} limits"),
                adds: "+ --memory 64m --cpus 0.5 --pids-limit 64".into(),
                argv: with(&["--memory", "64m", "--cpus", "0.5", "--pids-limit", "64"]),
                family: Family::Chapter,
            });
        }
    }

    let mut runc: Vec<OsString> = os(&["runc", "--root"]);
    runc.push(work.path().join("runc").into());
    runc.extend(os(&["run", "--bundle"]));
    runc.push(bundle.into());
    runc.push(work.production_id("runc").into());
    configs.push(Config {
        name: "runc".into(),
        adds: "OCI runtime in Go, `runc spec` defaults".into(),
        argv: runc,
        family: Family::Production,
    });

    let mut crun: Vec<OsString> = os(&["crun", "--root"]);
    crun.push(work.path().join("crun").into());
    crun.extend(os(&["run", "--bundle"]));
    crun.push(bundle.into());
    crun.push(work.production_id("crun").into());
    if machine::cgroup_layout() == machine::CgroupLayout::Hybrid {
        configs.push(Config {
            name: "crun wrapper".into(),
            adds: "unshare -m sh -c 'umount unified; exec /bin/true'".into(),
            argv: crun_wrapper(os(&["/bin/true"])),
            family: Family::Wrapper,
        });
        configs.push(Config {
            name: "crun (in wrapper)".into(),
            adds: "OCI runtime in C, same bundle".into(),
            argv: crun_wrapper(crun),
            family: Family::Production,
        });
    } else {
        configs.push(Config {
            name: "crun".into(),
            adds: "OCI runtime in C, same bundle".into(),
            argv: crun,
            family: Family::Production,
        });
    }
    configs
}

/// crun 1.8 refuses a cgroup-hybrid host (it sees cgroup2 at /sys/fs/cgroup/unified and then
/// finds the v1 controllers). In a private mount namespace without that mount, it takes the
/// host for plain v1. `unshare -m` makes the mount private, so the host keeps its mount.
fn crun_wrapper(command: Vec<OsString>) -> Vec<OsString> {
    let mut argv = os(&[
        "unshare",
        "-m",
        "sh",
        "-c",
        "umount /sys/fs/cgroup/unified && exec \"$@\"",
        "sh",
    ]);
    argv.extend(command);
    argv
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// Warm every configuration up, then run them in turns. A configuration that fails is taken
/// out (and reported) instead of stopping the whole benchmark.
fn measure_interleaved(
    configs: &[Config],
    plan: &Plan,
    work: &WorkDir,
) -> (Vec<Measured>, Vec<Failed>) {
    let stderr_file = work.path().join("stderr.txt");
    let mut failed = Vec::new();
    let mut alive: Vec<&Config> = Vec::new();
    for config in configs {
        let warm = (0..plan.warmup.max(1)).try_for_each(|_| {
            measure::time_once(&config.argv, work.path(), &stderr_file).map(|_| ())
        });
        match warm {
            Ok(()) => alive.push(config),
            Err(error) => failed.push(Failed {
                name: config.name.clone(),
                error,
            }),
        }
    }

    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); alive.len()];
    let mut broken: BTreeMap<usize, String> = BTreeMap::new();
    for round in 0..plan.runs {
        for i in stats::round_order(alive.len(), round) {
            let config = alive[i];
            if broken.contains_key(&i) {
                continue;
            }
            match measure::time_once(&config.argv, work.path(), &stderr_file) {
                Ok(wall) => samples[i].push(wall),
                Err(error) => {
                    broken.insert(i, format!("run {} of {}: {error}", round + 1, plan.runs));
                }
            }
        }
        // A line every 10 rounds, printed between runs, never during one.
        if (round + 1) % 10 == 0 && round + 1 < plan.runs {
            ui::note(&format!("  {}/{} rounds", round + 1, plan.runs));
        }
    }

    let mut measured = Vec::new();
    for (i, config) in alive.into_iter().enumerate() {
        if let Some(error) = broken.remove(&i) {
            failed.push(Failed {
                name: config.name.clone(),
                error,
            });
            continue;
        }
        let Some(summary) = stats::summarize(&samples[i]) else {
            continue;
        };
        // Memory: one more run, untimed, after all the timed ones.
        let max_rss_kib = cargo::on_path("time").and_then(|gnu_time| {
            measure::peak_rss_kib(&gnu_time, &config.argv, work.path(), work.path()).ok()
        });
        measured.push(Measured {
            config: config.clone(),
            summary,
            max_rss_kib,
        });
    }
    (measured, failed)
}

/// The medians everything is compared with.
#[derive(Default)]
struct Baselines {
    floor: Option<Duration>,
    /// crun's own cost: the wrapped run minus the wrapper alone, where a wrapper was needed.
    crun: Option<Duration>,
    crun_wrapper: Option<Duration>,
}

impl Baselines {
    fn of(measured: &[Measured]) -> Baselines {
        let median = |name: &str| {
            measured
                .iter()
                .find(|m| m.config.name == name)
                .map(|m| m.summary.median)
        };
        let crun_wrapper = median("crun wrapper");
        let crun = match (median("crun (in wrapper)"), crun_wrapper) {
            (Some(wrapped), Some(wrapper)) => stats::minus(wrapped, wrapper),
            _ => median("crun"),
        };
        Baselines {
            floor: median("floor"),
            crun,
            crun_wrapper,
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn ratio_text(value: Duration, base: Option<Duration>) -> String {
    base.and_then(|b| stats::ratio(value, b))
        .map(|r| format!("{r:.2}x"))
        .unwrap_or_else(|| "-".into())
}

/// The rows of the start-up table, shared by the terminal and the Markdown file.
fn table_rows(measured: &[Measured], baselines: &Baselines) -> Vec<[String; 8]> {
    let mut rows = Vec::new();
    for m in measured {
        let s = &m.summary;
        rows.push([
            m.config.name.clone(),
            svg::format_ms(ms(s.median)),
            svg::format_ms(ms(s.p90)),
            format!(
                "{}-{}",
                svg::format_ms(ms(s.min)),
                svg::format_ms(ms(s.max))
            ),
            ratio_text(s.median, baselines.floor),
            ratio_text(s.median, baselines.crun),
            m.max_rss_kib
                .map(|kib| format!("{:.1}", kib as f64 / 1024.0))
                .unwrap_or_else(|| "-".into()),
            m.config.adds.clone(),
        ]);
        if m.config.name == "crun (in wrapper)"
            && let Some(crun) = baselines.crun
        {
            rows.push([
                "crun minus wrapper".into(),
                svg::format_ms(ms(crun)),
                "-".into(),
                "-".into(),
                ratio_text(crun, baselines.floor),
                "1.00x".into(),
                "-".into(),
                "difference of the two medians above: crun's own cost".into(),
            ]);
        }
    }
    rows
}

const HEADER: [&str; 8] = [
    "configuration",
    "median ms",
    "p90 ms",
    "min-max ms",
    "x floor",
    "x crun",
    "max RSS MiB",
    "what it adds",
];

fn print_table(measured: &[Measured], baselines: &Baselines) {
    let rows = table_rows(measured, baselines);
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths[i];
            // Names and descriptions to the left, numbers to the right.
            if i == 0 || i == cells.len() - 1 {
                text.push_str(&format!("{cell:<width$}  "));
            } else {
                text.push_str(&format!("{cell:>width$}  "));
            }
        }
        text.trim_end().to_string()
    };
    println!("{}", line(&HEADER.map(String::from)));
    for row in &rows {
        println!("{}", line(row));
    }
}

// ---------------------------------------------------------------------------------------------
// N containers at once

struct Concurrency {
    runtime: String,
    containers: usize,
    /// Per round: from the first spawn until every container printed its address.
    start: Vec<Duration>,
    /// Per round: from "go on and exit" until every runtime process exited (after removing its
    /// veth and giving its address back).
    remove: Vec<Duration>,
    /// The fewest distinct addresses seen in a round (all containers were up at once).
    distinct_addresses: usize,
    leftovers: Vec<String>,
}

/// Start N containers on the default bridge at once. Each prints its eth0 address and then
/// waits on its standard input, so that all N are up at the same time (distinct addresses are
/// then a real test of the address allocation); closing their input lets them all exit.
fn concurrent_run(
    runtimes: &[Runtime],
    rootfs: &Path,
    plan: &Plan,
    work: &WorkDir,
) -> Result<Concurrency, String> {
    let Some(runtime) = runtimes.iter().rev().find(|r| r.network) else {
        return Err("no chapter binary has the network layer (`--network`) yet".into());
    };
    let mut argv: Vec<OsString> = runtime.run_args(rootfs);
    argv.extend(os(&[
        "--",
        "/bin/sh",
        "-c",
        "ip -o -4 addr show dev eth0; read line; exit 0",
    ]));
    let mut result = Concurrency {
        runtime: runtime.chapter.package.clone(),
        containers: plan.concurrent,
        start: Vec::new(),
        remove: Vec::new(),
        distinct_addresses: usize::MAX,
        leftovers: Vec::new(),
    };
    for _ in 0..plan.concurrent_rounds {
        let (start, remove, addresses) =
            one_concurrent_round(runtime, &argv, plan.concurrent, work)?;
        result.start.push(start);
        result.remove.push(remove);
        result.distinct_addresses = result.distinct_addresses.min(addresses.len());
    }
    result.leftovers = engine::cleanup::leftovers(work.path())
        .iter()
        .map(|l| l.to_string())
        .collect();
    Ok(result)
}

fn one_concurrent_round(
    runtime: &Runtime,
    argv: &[OsString],
    count: usize,
    work: &WorkDir,
) -> Result<(Duration, Duration, BTreeSet<String>), String> {
    let started = Instant::now();
    let mut children: Vec<Child> = Vec::new();
    let mut outcome = Ok(BTreeSet::new());
    for i in 0..count {
        let stderr_path = work.path().join(format!("concurrent-{i}.stderr"));
        let spawned = fs::File::create(&stderr_path)
            .map_err(|e| format!("create {}: {e}", stderr_path.display()))
            .and_then(|stderr| {
                Command::new(&runtime.binary)
                    .args(argv)
                    .env("CARTON_ROOT", work.path())
                    .env("NO_COLOR", "1")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(stderr)
                    .spawn()
                    .map_err(|e| format!("start {}: {e}", runtime.binary.display()))
            });
        match spawned {
            Ok(child) => children.push(child),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // Each container's first line is its address; read them in order (the others keep
    // starting meanwhile), and stop at the first that ends without one.
    if let Ok(addresses) = outcome.as_mut() {
        for (i, child) in children.iter_mut().enumerate() {
            let mut line = String::new();
            if let Some(stdout) = child.stdout.take() {
                let _ = BufReader::new(stdout).read_line(&mut line);
            }
            match address_in(&line) {
                Some(address) => {
                    addresses.insert(address);
                }
                None => {
                    let stderr_path = work.path().join(format!("concurrent-{i}.stderr"));
                    let said = fs::read_to_string(&stderr_path).unwrap_or_default();
                    outcome = Err(format!(
                        "container {} of {count} printed no address: {:?} {}",
                        i + 1,
                        line.trim(),
                        said.trim()
                    ));
                    break;
                }
            }
        }
    }
    let all_up = started.elapsed();

    // Let them all go (also after a failure, so that nothing keeps running), and wait.
    let released = Instant::now();
    for child in &mut children {
        drop(child.stdin.take());
    }
    for child in &mut children {
        let _ = child.wait();
    }
    let all_gone = released.elapsed();
    outcome.map(|addresses| (all_up, all_gone, addresses))
}

/// The address in busybox `ip -o -4 addr` output: `75: eth0    inet 10.1.2.3/24 brd ...`.
fn address_in(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "inet")?;
    let with_prefix = words.next()?;
    Some(with_prefix.split('/').next()?.to_string())
}

fn print_concurrency(concurrency: &Result<Concurrency, String>) {
    match concurrency {
        Ok(c) => {
            let start = stats::median(&c.start).map(ms).unwrap_or(0.0);
            let remove = stats::median(&c.remove).map(ms).unwrap_or(0.0);
            println!(
                "{}: {} containers up in {} ms, all gone {} ms later (median of {} rounds); \
                 {} distinct addresses; {}",
                c.runtime,
                c.containers,
                svg::format_ms(start),
                svg::format_ms(remove),
                c.start.len(),
                c.distinct_addresses,
                if c.leftovers.is_empty() {
                    "nothing left behind".to_string()
                } else {
                    format!("left behind: {}", c.leftovers.join("; "))
                }
            );
        }
        Err(why) => ui::warn("not measured:", why),
    }
}

// ---------------------------------------------------------------------------------------------
// Images of many layers

/// Import an image of 1, 16 and 128 layers into chapter 4's store and make a configuration
/// that runs each.
fn image_layer_configs(
    runtimes: &[Runtime],
    rootfs: &Path,
    plan: &Plan,
    work: &WorkDir,
) -> Result<Vec<Config>, String> {
    let ch04 = runtimes
        .iter()
        .find(|r| r.chapter.number == 4)
        .ok_or("there is no chapter 4 runtime")?;
    let layouts = work.path().join("layouts");
    fs::create_dir_all(&layouts).map_err(|e| format!("mkdir {}: {e}", layouts.display()))?;
    let base_layer = layouts.join("busybox.tar");
    fixtures::tar_directory(rootfs, &base_layer)?;
    let mut configs = Vec::new();
    for &count in &plan.layer_counts {
        let tag = format!("bench-layers:{count}");
        let layout = layouts.join(count.to_string());
        fixtures::image_layout(&layout, &base_layer, count.saturating_sub(1), &tag)?;
        run_runtime(ch04, &[OsStr::new("import"), layout.as_os_str()], work)?;
        let mut argv: Vec<OsString> = vec![ch04.binary.clone().into()];
        argv.extend(os(&["run", "--rm", "--image", &tag, "--", "/bin/true"]));
        configs.push(Config {
            name: format!("{} layer{}", count, if count == 1 { "" } else { "s" }),
            adds: format!("overlay with {count} lower dir(s)"),
            argv,
            family: Family::Chapter,
        });
    }
    Ok(configs)
}

/// A runtime command that is set-up, not measured; its output, or an error with its stderr.
fn run_runtime(runtime: &Runtime, args: &[&OsStr], work: &WorkDir) -> Result<String, String> {
    let output = Command::new(&runtime.binary)
        .args(args)
        .env("CARTON_ROOT", work.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("start {}: {e}", runtime.binary.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} {:?} failed: {}",
            runtime.chapter.package,
            args,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------------
// import against tar -x

struct Import {
    bytes: u64,
    import: Vec<Duration>,
    tar: Vec<Duration>,
}

/// `ch04 import big.tar NAME` against `tar -xf big.tar -C DIR`, in turns, on the same
/// filesystem: both read the same file from the page cache and write the same files.
fn import_throughput(
    runtimes: &[Runtime],
    rootfs: &Path,
    plan: &Plan,
    work: &WorkDir,
) -> Result<Import, String> {
    let ch04 = runtimes
        .iter()
        .find(|r| r.chapter.number == 4)
        .ok_or("there is no chapter 4 runtime")?;
    let (archive, bytes) = fixtures::big_tarball(work.path(), rootfs, plan.import_megabytes)?;
    let stderr_file = work.path().join("stderr.txt");
    let target = work.path().join("tar-x");
    let mut import = Import {
        bytes,
        import: Vec::new(),
        tar: Vec::new(),
    };
    for _ in 0..plan.import_rounds {
        let mut argv: Vec<OsString> = vec![ch04.binary.clone().into(), "import".into()];
        argv.push(archive.clone().into());
        argv.push("bench-big:latest".into());
        import
            .import
            .push(measure::time_once(&argv, work.path(), &stderr_file)?);
        run_runtime(
            ch04,
            &[OsStr::new("rmi"), OsStr::new("bench-big:latest")],
            work,
        )?;

        fs::create_dir_all(&target).map_err(|e| format!("mkdir {}: {e}", target.display()))?;
        let mut argv: Vec<OsString> = os(&["tar", "-xf"]);
        argv.push(archive.clone().into());
        argv.push("-C".into());
        argv.push(target.clone().into());
        import
            .tar
            .push(measure::time_once(&argv, work.path(), &stderr_file)?);
        fs::remove_dir_all(&target).map_err(|e| format!("rm -r {}: {e}", target.display()))?;
    }
    let _ = fs::remove_file(&archive);
    Ok(import)
}

fn print_import(import: &Result<Import, String>) {
    match import {
        Ok(i) => {
            for (what, times) in [("ch04 import", &i.import), ("tar -x", &i.tar)] {
                if let Some(median) = stats::median(times) {
                    println!(
                        "{what:<12} {} ms  {:.0} MB/s  (median of {})",
                        svg::format_ms(ms(median)),
                        stats::megabytes_per_second(i.bytes, median).unwrap_or(0.0),
                        times.len()
                    );
                }
            }
        }
        Err(why) => ui::warn("not measured:", why),
    }
}

// ---------------------------------------------------------------------------------------------
// Targets

struct Target {
    goal: String,
    measured: String,
    /// `None`: the configuration it needs was not measured.
    met: Option<bool>,
}

fn targets(
    start: &[Measured],
    baselines: &Baselines,
    concurrency: &Result<Concurrency, String>,
) -> Vec<Target> {
    let median = |name: &str| {
        start
            .iter()
            .find(|m| m.config.name == name)
            .map(|m| m.summary.median)
    };
    // Chapter 6's runtime without a network: `--network none` once it has the network layer;
    // until then it has chapter 2's empty network namespace, which is the same thing.
    let (ch06_name, ch06_none) = match (median("ch06 --network none"), median("ch06")) {
        (Some(none), _) => ("ch06 --network none", Some(none)),
        (None, Some(plain)) => ("ch06 (no network layer yet: lo only)", Some(plain)),
        _ => ("ch06", None),
    };
    let mut targets = Vec::new();
    let fmt = |d: Duration| format!("{} ms", svg::format_ms(ms(d)));

    let (measured, met) = match (ch06_none, baselines.crun) {
        (Some(ours), Some(crun)) => (
            format!("{} against crun's {}", fmt(ours), fmt(crun)),
            Some(ours < crun),
        ),
        _ => ("not measured".to_string(), None),
    };
    targets.push(Target {
        goal: format!("{ch06_name}: median below crun's"),
        measured,
        met,
    });

    let (measured, met) = match (ch06_none, baselines.floor) {
        (Some(ours), Some(floor)) => {
            let r = stats::ratio(ours, floor).unwrap_or(f64::INFINITY);
            (
                format!("{r:.2}x the floor ({})", fmt(floor)),
                Some(r <= 3.0),
            )
        }
        _ => ("not measured".to_string(), None),
    };
    targets.push(Target {
        goal: format!("{ch06_name}: within 3x of the floor"),
        measured,
        met,
    });

    // The bridge against --network none: chapter 6's when it has the network layer, else
    // chapter 5's, which is the same layer.
    let pair = ["ch06", "ch05"].into_iter().find_map(|p| {
        Some((
            p,
            median(&format!("{p} bridge"))?,
            median(&format!("{p} --network none"))?,
        ))
    });
    let (goal, measured, met) = match pair {
        Some((package, bridge, none)) => {
            let r = stats::ratio(bridge, none).unwrap_or(f64::INFINITY);
            (
                format!("{package} default bridge: within 2x of --network none"),
                format!("{} against {}: {r:.2}x", fmt(bridge), fmt(none)),
                Some(r <= 2.0),
            )
        }
        None => (
            "default bridge: within 2x of --network none".to_string(),
            "no runtime with the network layer was measured".to_string(),
            None,
        ),
    };
    targets.push(Target {
        goal,
        measured,
        met,
    });

    let (measured, met) = match concurrency {
        Ok(c) => {
            let ok = c.distinct_addresses == c.containers && c.leftovers.is_empty();
            (
                format!(
                    "{} of {} distinct addresses, {} left behind",
                    c.distinct_addresses,
                    c.containers,
                    c.leftovers.len()
                ),
                Some(ok),
            )
        }
        Err(why) => (why.clone(), None),
    };
    targets.push(Target {
        goal: "N containers at once: all start, distinct addresses, none left".into(),
        measured,
        met,
    });
    targets
}

// ---------------------------------------------------------------------------------------------
// Writing the results

struct Results<'a> {
    machine: &'a Machine,
    plan: &'a Plan,
    debug: bool,
    start: &'a [Measured],
    baselines: &'a Baselines,
    failed: &'a [Failed],
    concurrency: &'a Result<Concurrency, String>,
    layers: &'a [Measured],
    import: &'a Result<Import, String>,
    targets: &'a [Target],
}

fn write_results(dir: &Path, results: &Results) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let files = [
        ("bench.json", to_json(results).render()),
        ("bench.md", to_markdown(results)),
        ("bench.svg", to_svg(results)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        ui::ok("wrote", &path.display().to_string());
    }
    Ok(())
}

fn duration_json(d: Option<Duration>) -> Json {
    Json::rounded(d.map(ms), 3)
}

fn measured_json(m: &Measured, baselines: &Baselines) -> Json {
    let s = &m.summary;
    Json::object(vec![
        ("name", Json::text(&m.config.name)),
        ("adds", Json::text(&m.config.adds)),
        (
            "command",
            Json::text(
                m.config
                    .argv
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("runs", Json::Number(s.runs as f64)),
        ("median_ms", duration_json(Some(s.median))),
        ("p90_ms", duration_json(Some(s.p90))),
        ("min_ms", duration_json(Some(s.min))),
        ("max_ms", duration_json(Some(s.max))),
        (
            "ratio_to_floor",
            Json::rounded(baselines.floor.and_then(|f| stats::ratio(s.median, f)), 3),
        ),
        (
            "ratio_to_crun",
            Json::rounded(baselines.crun.and_then(|c| stats::ratio(s.median, c)), 3),
        ),
        (
            "max_rss_kib",
            m.max_rss_kib
                .map(|kib| Json::Number(kib as f64))
                .unwrap_or(Json::Null),
        ),
    ])
}

fn to_json(r: &Results) -> Json {
    let machine = Json::object(vec![
        ("cpu", Json::text(&r.machine.cpu)),
        ("cores", Json::Number(r.machine.cores as f64)),
        ("kernel", Json::text(&r.machine.kernel)),
        ("cgroups", Json::text(&r.machine.cgroups)),
        ("virtual_machine", Json::Bool(r.machine.virtual_machine)),
        ("load_average_at_start", Json::text(&r.machine.load)),
    ]);
    let method = Json::object(vec![
        ("warmup_runs", Json::Number(r.plan.warmup as f64)),
        ("timed_runs", Json::Number(r.plan.runs as f64)),
        (
            "order",
            Json::text("interleaved: every configuration once per round, in a shuffled order"),
        ),
        (
            "clock",
            Json::text("wall time around spawn and wait4 of the whole process, no shell"),
        ),
        (
            "max_rss",
            Json::text(
                "ru_maxrss from wait4: the process and the children it reaped, largest of all runs",
            ),
        ),
        (
            "build",
            Json::text(if r.debug { "debug" } else { "release" }),
        ),
    ]);
    let baselines = Json::object(vec![
        ("floor_median_ms", duration_json(r.baselines.floor)),
        ("crun_median_ms", duration_json(r.baselines.crun)),
        (
            "crun_wrapper_median_ms",
            duration_json(r.baselines.crun_wrapper),
        ),
    ]);
    let concurrency = match r.concurrency {
        Ok(c) => Json::object(vec![
            ("measured", Json::Bool(true)),
            ("runtime", Json::text(&c.runtime)),
            ("containers", Json::Number(c.containers as f64)),
            ("start_median_ms", duration_json(stats::median(&c.start))),
            ("remove_median_ms", duration_json(stats::median(&c.remove))),
            (
                "start_ms",
                Json::List(c.start.iter().map(|d| duration_json(Some(*d))).collect()),
            ),
            (
                "remove_ms",
                Json::List(c.remove.iter().map(|d| duration_json(Some(*d))).collect()),
            ),
            (
                "distinct_addresses",
                Json::Number(c.distinct_addresses as f64),
            ),
            (
                "left_behind",
                Json::List(c.leftovers.iter().map(Json::text).collect()),
            ),
        ]),
        Err(why) => Json::object(vec![
            ("measured", Json::Bool(false)),
            ("why", Json::text(why)),
        ]),
    };
    let import = match r.import {
        Ok(i) => {
            let import_median = stats::median(&i.import);
            let tar_median = stats::median(&i.tar);
            let rate =
                |d: Option<Duration>| d.and_then(|d| stats::megabytes_per_second(i.bytes, d));
            Json::object(vec![
                ("measured", Json::Bool(true)),
                ("bytes", Json::Number(i.bytes as f64)),
                ("rounds", Json::Number(i.import.len() as f64)),
                ("import_median_ms", duration_json(import_median)),
                ("import_mb_per_s", Json::rounded(rate(import_median), 1)),
                ("tar_x_median_ms", duration_json(tar_median)),
                ("tar_x_mb_per_s", Json::rounded(rate(tar_median), 1)),
                (
                    "import_over_tar_x",
                    Json::rounded(
                        import_median
                            .zip(tar_median)
                            .and_then(|(a, b)| stats::ratio(a, b)),
                        2,
                    ),
                ),
            ])
        }
        Err(why) => Json::object(vec![
            ("measured", Json::Bool(false)),
            ("why", Json::text(why)),
        ]),
    };
    Json::object(vec![
        ("generated_by", Json::text("workshop bench")),
        ("machine", machine),
        ("method", method),
        ("baselines", baselines),
        (
            "start",
            Json::List(
                r.start
                    .iter()
                    .map(|m| measured_json(m, r.baselines))
                    .collect(),
            ),
        ),
        (
            "image_layers",
            Json::List(
                r.layers
                    .iter()
                    .map(|m| measured_json(m, &Baselines::default()))
                    .collect(),
            ),
        ),
        ("concurrent", concurrency),
        ("import", import),
        (
            "failed",
            Json::List(
                r.failed
                    .iter()
                    .map(|f| {
                        Json::object(vec![
                            ("name", Json::text(&f.name)),
                            ("error", Json::text(&f.error)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "targets",
            Json::List(
                r.targets
                    .iter()
                    .map(|t| {
                        Json::object(vec![
                            ("goal", Json::text(&t.goal)),
                            ("measured", Json::text(&t.measured)),
                            ("met", t.met.map(Json::Bool).unwrap_or(Json::Null)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = format!("| {} |\n", header.join(" | "));
    text.push_str(&format!(
        "|{}\n",
        header
            .iter()
            .enumerate()
            // Names and descriptions to the left, numbers to the right.
            .map(|(i, name)| if i == 0 || *name == "what it adds" {
                "---|"
            } else {
                "---:|"
            })
            .collect::<String>()
    ));
    for row in rows {
        text.push_str(&format!("| {} |\n", row.join(" | ").replace('\n', " ")));
    }
    text
}

/// The tables the book's appendix includes: generated, so the book shows the numbers of the
/// same run as bench.json and the chart.
fn to_markdown(r: &Results) -> String {
    let mut text = String::from("<!-- Written by `./workshop bench`: do not edit by hand. -->\n\n");
    let rows: Vec<Vec<String>> = table_rows(r.start, r.baselines)
        .into_iter()
        .map(|row| {
            let mut row = row.to_vec();
            row[0] = format!("`{}`", row[0]);
            row
        })
        .collect();
    text.push_str(&markdown_table(&HEADER, &rows));
    text.push_str(&format!(
        "\n{} warm-up and {} timed runs per configuration, interleaved; {} build of the chapters.\n",
        r.plan.warmup,
        r.plan.runs,
        if r.debug { "debug" } else { "release" }
    ));
    if !r.layers.is_empty() {
        text.push_str("\n**Images of many layers** (`ch04 run --rm --image X -- /bin/true`):\n\n");
        let rows: Vec<Vec<String>> = table_rows(r.layers, &Baselines::default())
            .into_iter()
            .map(|row| {
                vec![
                    row[0].clone(),
                    row[1].clone(),
                    row[2].clone(),
                    row[3].clone(),
                    row[6].clone(),
                ]
            })
            .collect();
        text.push_str(&markdown_table(
            &["image", "median ms", "p90 ms", "min-max ms", "max RSS MiB"],
            &rows,
        ));
    }
    text.push_str("\n**Many containers at once:** ");
    match r.concurrency {
        Ok(c) => text.push_str(&format!(
            "{} `{}` containers on the default bridge were all up {} ms after the first start and \
             all gone {} ms after they were told to exit (median of {} rounds); {} distinct \
             addresses; {}.\n",
            c.containers,
            c.runtime,
            svg::format_ms(stats::median(&c.start).map(ms).unwrap_or(0.0)),
            svg::format_ms(stats::median(&c.remove).map(ms).unwrap_or(0.0)),
            c.start.len(),
            c.distinct_addresses,
            if c.leftovers.is_empty() {
                "nothing left behind".to_string()
            } else {
                format!("left behind: {}", c.leftovers.join("; "))
            }
        )),
        Err(why) => text.push_str(&format!("not measured: {why}.\n")),
    }
    text.push_str("\n**Import:** ");
    match r.import {
        Ok(i) => {
            let rate = |times: &[Duration]| {
                stats::median(times)
                    .and_then(|d| stats::megabytes_per_second(i.bytes, d))
                    .unwrap_or(0.0)
            };
            text.push_str(&format!(
                "a {:.0} MB root filesystem tarball: `ch04 import` {:.0} MB/s, `tar -x` {:.0} MB/s \
                 (median of {} rounds each).\n",
                i.bytes as f64 / 1e6,
                rate(&i.import),
                rate(&i.tar),
                i.import.len()
            ));
        }
        Err(why) => text.push_str(&format!("not measured: {why}.\n")),
    }
    if !r.failed.is_empty() {
        text.push_str("\n**Failed:**\n\n");
        for f in r.failed {
            text.push_str(&format!("- `{}`: {}\n", f.name, f.error));
        }
    }
    text
}

fn to_svg(r: &Results) -> String {
    let bars: Vec<svg::Bar> = r
        .start
        .iter()
        .map(|m| svg::Bar {
            label: m.config.name.clone(),
            median_ms: ms(m.summary.median),
            p90_ms: ms(m.summary.p90),
            note: ratio_text(m.summary.median, r.baselines.floor) + " floor",
            family: m.config.family,
        })
        .collect();
    let subtitle = format!(
        "{}, {} cores{}, kernel {}, {}; {} runs each, interleaved",
        r.machine.cpu,
        r.machine.cores,
        if r.machine.virtual_machine {
            " (VM)"
        } else {
            ""
        },
        r.machine.kernel,
        r.machine.cgroups,
        r.plan.runs
    );
    svg::chart(
        "What isolation costs: start and exit of a /bin/true container",
        &subtitle,
        &bars,
    )
}

// ---------------------------------------------------------------------------------------------
// The work directory

/// The benchmark's own state root, named like the tests' roots so that `workshop clean` finds
/// it after a crash. Everything the benchmark makes is under it, or named after it (runc's and
/// crun's container ids); `finish` removes it all.
struct WorkDir {
    path: PathBuf,
    suffix: String,
}

impl WorkDir {
    fn new() -> Result<WorkDir, String> {
        let suffix = engine::container::new_id()[..6].to_string();
        let path =
            std::env::temp_dir().join(format!("{}bench-{suffix}", crate::clean::TEST_ROOT_PREFIX));
        fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(WorkDir { path, suffix })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// The container id runc or crun runs the bundle under.
    fn production_id(&self, runtime: &str) -> String {
        format!("carton-bench-{runtime}-{}", self.suffix)
    }

    /// Remove everything; what could not be removed, described.
    fn finish(mut self) -> Vec<String> {
        let left = self.clean();
        // Done: Drop has nothing more to do.
        self.path = PathBuf::new();
        left
    }

    fn clean(&self) -> Vec<String> {
        if self.path.as_os_str().is_empty() {
            return Vec::new();
        }
        let mut left = Vec::new();
        // `run` deletes its container when the process exits; a benchmark stopped halfway can
        // still leave one, with its cgroups.
        let runc_id = self.production_id("runc");
        let mut runc_delete = os(&["runc", "--root"]);
        runc_delete.push(self.path.join("runc").into());
        runc_delete.extend(os(&["delete", "-f", &runc_id]));
        let crun_id = self.production_id("crun");
        let mut crun_delete = os(&["crun", "--root"]);
        crun_delete.push(self.path.join("crun").into());
        crun_delete.extend(os(&["delete", "-f", &crun_id]));
        if machine::cgroup_layout() == machine::CgroupLayout::Hybrid {
            crun_delete = crun_wrapper(crun_delete);
        }
        for argv in [runc_delete, crun_delete] {
            let _ = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // runc and crun make a container's cgroup under their own cgroup of each hierarchy
        // (which is not always the root: /proc/self/cgroup says where that is).
        let own_cgroups: Vec<String> = fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.splitn(3, ':').nth(2))
            .map(|path| path.trim_start_matches('/').to_string())
            .collect();
        for mount in engine::cleanup::cgroup_mounts() {
            for (id, own) in [&runc_id, &crun_id]
                .into_iter()
                .flat_map(|id| own_cgroups.iter().map(move |own| (id, own)))
            {
                let dir = mount.join(own).join(id);
                if dir.is_dir()
                    && let Err(e) = engine::cleanup::remove_cgroup(&dir)
                {
                    left.push(format!("cgroup {}: {e}", dir.display()));
                }
            }
        }
        let (_, failed) = engine::cleanup::clean(&self.path);
        left.extend(failed.iter().map(|(item, why)| format!("{item}: {why}")));
        if let Err(e) = fs::remove_dir_all(&self.path) {
            left.push(format!("{}: {e}", self.path.display()));
        }
        left
    }
}

impl Drop for WorkDir {
    /// Also on an early return with an error: nothing the benchmark made may stay.
    fn drop(&mut self) {
        for item in self.clean() {
            ui::warn("could not remove", &item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_busybox_ip_output() {
        let line = "75: eth0    inet 10.143.58.2/24 brd 10.143.58.255 scope global eth0\\       \
                    valid_lft forever preferred_lft forever\n";
        assert_eq!(address_in(line).as_deref(), Some("10.143.58.2"));
        assert_eq!(address_in("Device \"eth0\" does not exist."), None);
        assert_eq!(address_in(""), None);
    }

    #[test]
    fn crun_runs_inside_the_wrapper_as_its_arguments() {
        let argv = crun_wrapper(os(&["crun", "run", "x"]));
        let text: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            text,
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                "umount /sys/fs/cgroup/unified && exec \"$@\"",
                "sh",
                "crun",
                "run",
                "x"
            ]
        );
    }

    #[test]
    fn crun_is_compared_without_its_wrapper() {
        let measured = |name: &str, median: u64| Measured {
            config: Config {
                name: name.into(),
                adds: String::new(),
                argv: Vec::new(),
                family: Family::Production,
            },
            summary: Summary {
                runs: 1,
                median: Duration::from_millis(median),
                p90: Duration::from_millis(median),
                min: Duration::from_millis(median),
                max: Duration::from_millis(median),
            },
            max_rss_kib: None,
        };
        let hybrid = Baselines::of(&[
            measured("floor", 3),
            measured("crun wrapper", 4),
            measured("crun (in wrapper)", 16),
        ]);
        assert_eq!(hybrid.floor, Some(Duration::from_millis(3)));
        assert_eq!(hybrid.crun, Some(Duration::from_millis(12)));
        let plain = Baselines::of(&[measured("crun", 10)]);
        assert_eq!(plain.crun, Some(Duration::from_millis(10)));
        assert_eq!(plain.floor, None);
    }
}
