//! `ch06`: the runtime as it stands after chapter 6: chroot, namespaces, cgroups, images, a
//! network, and volumes.

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as volumes;
#[cfg(feature = "solution")]
use solution as volumes;

#[derive(Parser)]
#[command(
    name = "ch06",
    version,
    about = "Chapter 6 of the carton workshop: volumes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container made from an image, with volumes
    Run(Box<Run>),
    #[command(flatten)]
    Images(images::Command),
    #[command(flatten)]
    Networking(networking::Command),
    #[command(flatten)]
    Volumes(volumes::Command),
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
    volumes: volumes::Args,
    #[command(flatten)]
    common: RunArgs,
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(run) => {
            // ANCHOR: layers
            let layers: Vec<Box<dyn Layer>> = vec![
                Box::new(chroot::Chroot),
                Box::new(namespaces::Namespaces::new(run.namespaces)),
                Box::new(cgroups::Cgroups::new(run.cgroups)),
                Box::new(images::Images::new(run.images)),
                Box::new(networking::Network::new(run.network)),
                Box::new(volumes::Volumes::new(run.volumes)),
            ];
            // ANCHOR_END: layers
            engine::run_command("ch06", &run.common, layers)
        }
        Command::Images(command) => images::run_command("ch06", command, false),
        Command::Networking(command) => networking::run_command("ch06", command),
        Command::Volumes(command) => volumes::run_command("ch06", command),
    };
    std::process::exit(code);
}
