//! `ch03`: the runtime as it stands after chapter 3: chroot, namespaces, cgroups.

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as cgroups;
#[cfg(feature = "solution")]
use solution as cgroups;

#[derive(Parser)]
#[command(
    name = "ch03",
    version,
    about = "Chapter 3 of the carton workshop: cgroups"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container with its own namespaces and resource limits
    Run(Run),
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    namespaces: namespaces::Args,
    #[command(flatten)]
    cgroups: cgroups::Args,
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
                Box::new(cgroups::Cgroups::new(run.cgroups)),
            ];
            // ANCHOR_END: layers
            std::process::exit(engine::run_command("ch03", &run.common, layers));
        }
    }
}
