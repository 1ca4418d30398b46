//! `ch04`: the runtime as it stands after chapter 4: chroot, namespaces, cgroups, and an
//! image's layers under a copy-on-write overlay as the root.

use clap::{Parser, Subcommand};
use engine::{Layer, RunArgs};

// Your exercise by default; the reference with `--features solution`.
#[cfg(not(feature = "solution"))]
use exercise as images;
#[cfg(feature = "solution")]
use solution as images;

#[derive(Parser)]
#[command(
    name = "ch04",
    version,
    about = "Chapter 4 of the carton workshop: images and overlayfs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a container made from an image
    Run(Box<Run>),
    #[command(flatten)]
    Images(images::Command),
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
            ];
            // ANCHOR_END: layers
            engine::run_command("ch04", &run.common, layers)
        }
        Command::Images(command) => images::run_command("ch04", command, false),
    };
    std::process::exit(code);
}
