//! `workshop`: the learner's tool.

mod exercises;

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
    /// Derive every exercise from its solution (maintainers), or check they are up to date
    Exercises {
        /// Only check; exit 1 if an exercise differs from what its solution derives
        #[arg(long)]
        check: bool,
    },
}

/// The workspace's top directory (where the top-level Cargo.toml is).
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let top = workspace();
    match cli.command {
        Command::Exercises { check } => {
            let mut bad = false;
            for (_, name) in exercises::chapters(&top) {
                let result = if check {
                    exercises::stale(&top, &name).map(|stale| {
                        for path in &stale {
                            eprintln!("out of date: {}", path.display());
                        }
                        bad |= !stale.is_empty();
                    })
                } else {
                    exercises::write(&top, &name).map(|()| println!("wrote exercises/{name}"))
                };
                if let Err(e) = result {
                    eprintln!("error: {e}");
                    bad = true;
                }
            }
            if check && !bad {
                println!("every exercise matches its solution");
            }
            if bad {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
