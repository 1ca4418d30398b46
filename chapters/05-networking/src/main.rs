//! `ch05`: the runtime as it stands after chapter 5: chroot, namespaces, cgroups, an image's
//! layers under a copy-on-write root, and a network of its own.

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as networking;
#[cfg(feature = "solution")]
use solution as networking;

#[derive(Parser)]
#[command(
    name = "ch05",
    version,
    about = "Chapter 5 of the carton workshop: networking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container with its own namespaces, limits and network
    Run(Box<Run>),
    #[command(flatten)]
    Images(images::Command),
    #[command(flatten)]
    Networking(networking::Command),
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    namespaces: namespaces::Args,
    #[command(flatten)]
    cgroups: cgroups::Args,
    #[command(flatten)]
    images: images::Args,
    #[command(flatten)]
    network: networking::Args,
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
                Box::new(images::Images::new(run.images)),
                Box::new(networking::Network::new(run.network)),
            ];
            // ANCHOR_END: layers
            std::process::exit(engine::run_command("ch05", &run.common, layers));
        }
        Command::Images(command) => {
            std::process::exit(images::run_command("ch05", command, false));
        }
        Command::Networking(command) => {
            std::process::exit(networking::run_command("ch05", command));
        }
    }
}
