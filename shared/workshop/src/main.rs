//! `workshop`: the learner's tool. Run it through `./workshop` at the top of the checkout, which
//! builds it, finds cargo (also under sudo) and makes sure it runs as root.
//!
//! Each command lives in its own module; this file only dispatches.

mod bench;
mod book;
mod cargo;
mod chapters;
mod clean;
mod doctor;
mod exercises;
mod exercises_cmd;
mod hint;
mod progress;
mod reset;
mod setup;
mod suite;
mod testrun;
mod tour;
mod ui;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "workshop",
    version,
    about = "The carton workshop: build a container runtime, one layer per chapter"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what is missing (apt packages, the book's tools), build, check, then the tour
    Setup {
        /// Do not run the tour at the end
        #[arg(long)]
        no_tour: bool,
    },
    /// Check that this machine can run every chapter, with a fix for each problem
    Doctor,
    /// Watch the runtime work, as far as the chapters go (built from the reference solutions)
    Tour {
        /// Wait for Enter between steps (only on a terminal)
        #[arg(long)]
        pause: bool,
    },
    /// Which chapters your code already solves
    Progress,
    /// Run chapter N's tests against your exercise and explain the failures
    Verify {
        /// The chapter's number
        chapter: u32,
        /// Run them against the reference solution instead
        #[arg(long)]
        solution: bool,
    },
    /// Show chapter N's next hint
    Hint {
        /// The chapter's number
        chapter: u32,
        /// Show every hint
        #[arg(long)]
        all: bool,
        /// Show the hints you have already seen, without a new one
        #[arg(long)]
        again: bool,
    },
    /// Put chapter N's exercise back as it was (your changes to it are lost)
    Reset {
        /// The chapter's number
        chapter: u32,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
    },
    /// Remove what crashed runs left behind (processes, mounts, test state roots)
    Clean {
        /// Only list what is left; exit 1 if anything is (the CI leak check)
        #[arg(long)]
        check: bool,
        /// Only this state root, instead of /var/lib/carton, $CARTON_ROOT and the test roots
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// The whole suite, as CI runs it: fmt, clippy, exercises, tests, the book, leaks
    Test,
    /// Build the book into book/build and check its includes and links
    Book,
    /// Time a /bin/true container with every chapter's runtime, against runc, crun and the floor
    Bench {
        /// A smoke run: 3 runs each, a 10 MB import; writes files only with --out
        #[arg(long)]
        quick: bool,
        /// Timed runs per configuration [default: 100, or 3 with --quick]
        #[arg(long, value_name = "N")]
        runs: Option<usize>,
        /// Where to write bench.json, bench.md and bench.svg [default: book/src/appendix]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Time the debug builds of the chapters instead of release builds
        #[arg(long)]
        debug: bool,
    },
    /// Derive every exercise from its solution (maintainers), or check they are up to date
    Exercises {
        /// Only check; exit 1 if an exercise differs from what its solution derives
        #[arg(long)]
        check: bool,
    },
}

impl Command {
    /// Commands that run containers or touch the kernel's objects need root.
    fn needs_root(&self) -> Option<&'static str> {
        match self {
            Command::Setup { .. } => Some("setup"),
            Command::Tour { .. } => Some("tour"),
            Command::Progress => Some("progress"),
            Command::Verify { .. } => Some("verify"),
            Command::Clean { .. } => Some("clean"),
            Command::Test => Some("test"),
            Command::Bench { .. } => Some("bench"),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::init();
    let top = chapters::workspace();

    if let Some(name) = cli.command.needs_root()
        && !nix::unistd::geteuid().is_root()
    {
        ui::error(&format!(
            "`workshop {name}` needs root: it runs real containers. Use `./workshop {name}`, \
             which re-runs itself with sudo."
        ));
        return ExitCode::FAILURE;
    }

    let ok = match cli.command {
        Command::Setup { no_tour } => setup::run(&top, !no_tour),
        Command::Doctor => doctor::run(),
        Command::Tour { pause } => tour::run(&top, pause),
        Command::Progress => progress::run(&top),
        Command::Verify { chapter, solution } => verify::run(&top, chapter, solution),
        Command::Hint {
            chapter,
            all,
            again,
        } => hint::run(&top, chapter, all, again),
        Command::Reset { chapter, yes } => reset::run(&top, chapter, yes),
        Command::Clean { check, root } => {
            if check {
                clean::check(root.as_deref())
            } else {
                clean::clean(root.as_deref())
            }
        }
        Command::Test => suite::run(&top),
        Command::Book => match book::build_and_check(&top) {
            Ok(()) => {
                ui::ok(
                    "book",
                    &format!("built in {}", top.join("book/build/index.html").display()),
                );
                true
            }
            Err(problems) => {
                for problem in &problems {
                    ui::error(problem);
                }
                false
            }
        },
        Command::Bench {
            quick,
            runs,
            out,
            debug,
        } => bench::run(
            &top,
            &bench::Options {
                quick,
                runs,
                out,
                debug,
            },
        ),
        Command::Exercises { check } => exercises_cmd::run(&top, check),
    };
    // Under sudo, whatever root wrote in the checkout goes back to the learner.
    cargo::give_back(&top);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
