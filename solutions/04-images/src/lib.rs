//! Chapter 4: images and a copy-on-write root with overlayfs.
//!
//! Until now a container ran in a directory and could change it for good. This layer gives each
//! container a root made of the image's read-only layers (shared by every container of that
//! image) under a writable layer of its own. Writes, changes and deletions land in the
//! container's upper directory; the image never changes.
//!
//! The phases: `prepare` finds the image, mounts the overlay and points the container's rootfs
//! at it; `release` unmounts it. `--rm` drops the upper directory with the container;
//! without it the container stays (in `ps`), for `diff` and `commit`, until `rm`.

pub mod archive;
pub mod commands;
pub mod diff;
pub mod extract;
pub mod overlay;
pub mod store;

use engine::{Container, Context, Layer, Result, narrate};

pub use commands::{Command, run_command};

use crate::overlay::OverlayDirs;
use crate::store::Store;

/// The flags chapter 4 adds to `run`.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(id = "images")]
#[command(next_help_heading = "Image (chapter 4)")]
pub struct Args {
    /// The image to run [default: busybox, built from the host's busybox-static]
    #[arg(long, value_name = "NAME[:TAG]")]
    pub image: Option<String>,

    /// Remove the container (and its writable layer) when it exits
    #[arg(long)]
    pub rm: bool,
}

/// The file in a container's directory that names its image.
pub const IMAGE_FILE: &str = "image";

pub struct Images {
    args: Args,
    dirs: Option<OverlayDirs>,
}

impl Images {
    pub fn new(args: Args) -> Images {
        Images { args, dirs: None }
    }
}

impl Layer for Images {
    fn name(&self) -> &'static str {
        "images"
    }

    // ANCHOR: prepare
    fn prepare(&mut self, c: &mut Container) -> Result<()> {
        let store = Store::open(&c.state_root)?;
        if c.rootfs_given {
            return Err(engine::Error::usage(
                "from chapter 4 on, a container's root is an image: use --image NAME (a directory \
                 becomes an image with `tar -C DIR -c . > x.tar` and `import x.tar NAME`)",
            ));
        }
        let reference = self.args.image.as_deref().unwrap_or("busybox");
        let image = archive::find_image(&store, &c.state_root, reference)?;
        narrate::note(
            "images",
            &format!(
                "image {} with {} layer(s)",
                &image.id[..12],
                image.layers.len()
            ),
        );
        c.keep = !self.args.rm;
        let image_file = c.dir().join(IMAGE_FILE);
        std::fs::write(&image_file, &image.id).ctx("write", image_file.display())?;

        let lowers: Vec<String> = image
            .layers
            .iter()
            .map(|l| l[..store::SHORT].to_string())
            .collect();
        let dirs = self.dirs.insert(OverlayDirs::under(&c.dir()));
        overlay::mount_overlay(&store.links_dir(), &lowers, dirs)?;
        // From here on, every later phase sees the overlay as the container's root filesystem.
        c.rootfs = dirs.merged.clone();
        Ok(())
    }
    // ANCHOR_END: prepare

    fn release(&mut self, c: &Container) -> Result<()> {
        let Some(dirs) = self.dirs.take() else {
            return Ok(());
        };
        overlay::unmount_overlay(&dirs)?;
        if !c.keep {
            narrate::step(
                "images",
                "drop the container's writable layer (--rm)",
                format!("rm -r {:?}", c.dir()),
            );
        }
        // The directories themselves go with the container's directory (engine::state).
        let _ = std::fs::remove_dir(&dirs.merged);
        Ok(())
    }
}
