//! `volume create | ls | inspect | rm | prune`.

use engine::{Error, Result, narrate};

use crate::spec::check_volume_name;
use crate::store;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a named volume
    Create { name: String },
    /// List the volumes
    Ls,
    /// Show a volume as JSON: its mount point, and the containers that use it
    Inspect { name: String },
    /// Remove a volume and its data (refused while a container uses it)
    Rm { name: String },
    /// Remove the anonymous volumes no container uses (with --all, the named ones too)
    Prune {
        /// Named volumes too
        #[arg(long)]
        all: bool,
    },
}

pub fn run_command(program: &str, command: Command) -> i32 {
    let state_root = engine::container::state_root();
    let outcome = engine::require_root(program).and_then(|()| {
        let Command::Volume(command) = command;
        engine::guarded("volumes", || execute(&state_root, command))
    });
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            narrate::error(&format!("{program}: {error}"));
            1
        }
    }
}

fn execute(state_root: &std::path::Path, command: VolumeCommand) -> Result<()> {
    match command {
        VolumeCommand::Create { name } => {
            let name = check_volume_name(&name).map_err(Error::usage)?;
            if !store::create(state_root, &name, false)? {
                return Err(Error::usage(format!("volume {name} already exists")));
            }
            println!("{name}");
            Ok(())
        }
        VolumeCommand::Ls => {
            println!("{:<28} {:<10} MOUNTPOINT", "VOLUME", "USERS");
            for volume in store::list(state_root) {
                println!(
                    "{:<28} {:<10} {}",
                    volume.name,
                    volume.used_by.len(),
                    volume.mountpoint.display()
                );
            }
            Ok(())
        }
        VolumeCommand::Inspect { name } => {
            let info = store::inspect(state_root, &name)?;
            let json =
                serde_json::to_string_pretty(&info).map_err(|e| Error::other(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        VolumeCommand::Rm { name } => {
            store::remove(state_root, &name)?;
            println!("{name}");
            Ok(())
        }
        VolumeCommand::Prune { all } => {
            let unused = store::list(state_root)
                .into_iter()
                .filter(|v| v.used_by.is_empty());
            for volume in unused.filter(|v| all || v.anonymous) {
                store::remove(state_root, &volume.name)?;
                println!("{}", volume.name);
            }
            Ok(())
        }
    }
}
