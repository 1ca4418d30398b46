//! `ch02`: the runtime as it stands after chapter 2: chroot, then namespaces (which take over
//! the root switch with pivot_root).

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as namespaces;
#[cfg(feature = "solution")]
use solution as namespaces;

#[derive(Parser)]
#[command(
    name = "ch02",
    version,
    about = "Chapter 2 of the carton workshop: namespaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container with its own namespaces
    Run(Run),
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    namespaces: namespaces::Args,
    #[command(flatten)]
    common: RunArgs,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(run) => {
            // ANCHOR: layers
            let layers: Vec<Box<dyn Layer>> = vec![
                Box::new(chroot::Chroot),
                Box::new(namespaces::Namespaces::new(run.namespaces)),
            ];
            // ANCHOR_END: layers
            std::process::exit(engine::run_command("ch02", &run.common, layers));
        }
    }
}
