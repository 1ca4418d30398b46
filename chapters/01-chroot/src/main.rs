//! `ch01`: the runtime as it stands after chapter 1. One layer: chroot.

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as chroot;
#[cfg(feature = "solution")]
use solution as chroot;

#[derive(Parser)]
#[command(
    name = "ch01",
    version,
    about = "Chapter 1 of the carton workshop: chroot"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container (here: a process with another root directory)
    Run(RunArgs),
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            // ANCHOR: layers
            let layers: Vec<Box<dyn Layer>> = vec![Box::new(chroot::Chroot)];
            // ANCHOR_END: layers
            std::process::exit(engine::run_command("ch01", &args, layers));
        }
    }
}
