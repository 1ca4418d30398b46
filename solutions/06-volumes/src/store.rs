//! Named volumes live under the state root, outside every image and container:
//!
//! ```text
//! volumes/NAME/_data        what the container sees at the mount point
//! volumes/NAME/volume.json  when it was made, whether it is anonymous
//! containers/ID/volumes     the volumes a container uses, one name per line
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};
use serde::{Deserialize, Serialize};

pub const DATA: &str = "_data";
pub const USED_VOLUMES: &str = "volumes";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeInfo {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Mountpoint")]
    pub mountpoint: PathBuf,
    #[serde(rename = "CreatedAt")]
    pub created: u64,
    #[serde(rename = "Anonymous")]
    pub anonymous: bool,
    #[serde(rename = "UsedBy", default)]
    pub used_by: Vec<String>,
}

pub fn volumes_dir(state_root: &Path) -> PathBuf {
    state_root.join("volumes")
}

pub fn data_dir(state_root: &Path, name: &str) -> PathBuf {
    volumes_dir(state_root).join(name).join(DATA)
}

/// Make the volume if it does not exist; true when it was made now.
pub fn create(state_root: &Path, name: &str, anonymous: bool) -> Result<bool> {
    let dir = volumes_dir(state_root).join(name);
    if dir.join(DATA).is_dir() {
        return Ok(false);
    }
    narrate::step(
        "volumes",
        "create a volume",
        format!("mkdir({:?})", dir.join(DATA)),
    );
    fs::create_dir_all(dir.join(DATA)).ctx("mkdir", dir.join(DATA).display())?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let info = VolumeInfo {
        name: name.to_string(),
        mountpoint: dir.join(DATA),
        created,
        anonymous,
        used_by: Vec::new(),
    };
    let json = serde_json::to_vec_pretty(&info).map_err(|e| Error::other(e.to_string()))?;
    fs::write(dir.join("volume.json"), json).ctx("write", dir.join("volume.json").display())?;
    Ok(true)
}

pub fn inspect(state_root: &Path, name: &str) -> Result<VolumeInfo> {
    let path = volumes_dir(state_root).join(name).join("volume.json");
    let bytes =
        fs::read(&path).map_err(|_| Error::usage(format!("no volume {name} (see `volume ls`)")))?;
    let mut info: VolumeInfo = serde_json::from_slice(&bytes)
        .map_err(|e| Error::other(format!("{}: {e}", path.display())))?;
    info.used_by = users(state_root, name);
    Ok(info)
}

pub fn list(state_root: &Path) -> Vec<VolumeInfo> {
    let mut names: Vec<String> = fs::read_dir(volumes_dir(state_root))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|name| inspect(state_root, name).ok())
        .collect()
}

/// The containers (running or stopped) that use the volume.
pub fn users(state_root: &Path, name: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir(state_root.join("containers")) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .flatten()
        .filter(|e| {
            fs::read_to_string(e.path().join(USED_VOLUMES))
                .is_ok_and(|text| text.lines().any(|l| l == name))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// Remove a volume and its data; refused while a container uses it.
pub fn remove(state_root: &Path, name: &str) -> Result<()> {
    inspect(state_root, name)?;
    let users = users(state_root, name);
    if !users.is_empty() {
        return Err(Error::usage(format!(
            "volume {name} is in use by container(s) {}",
            users.join(", ")
        )));
    }
    let dir = volumes_dir(state_root).join(name);
    narrate::step(
        "volumes",
        "remove a volume and its data",
        format!("rm -r {dir:?}"),
    );
    fs::remove_dir_all(&dir).ctx("rm -r", dir.display())?;
    let _ = fs::remove_dir(volumes_dir(state_root));
    Ok(())
}

pub fn is_empty(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}
