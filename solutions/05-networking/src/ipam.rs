//! IP address management: which container has which address of a network.
//!
//! One file per allocated address, `networks/NAME/10.100.0.2`, holding the container's id and
//! its published ports. A file is created with O_CREAT|O_EXCL under the networks lock, so two
//! runs can never take one address. A run killed with SIGKILL leaves its file behind: the id in
//! it says whose it was, and when that container is gone (or its runtime died) the address may
//! be taken again.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};

use crate::ports::{self, Publish};
use crate::store::{self, NetworkConfig};

/// One allocated address.
#[derive(Debug, Clone)]
pub struct Allocation {
    pub network: String,
    pub address: Ipv4Addr,
    pub container_id: String,
    pub ports: Vec<Publish>,
    pub path: PathBuf,
}

/// Every allocation of every network of the state root.
pub fn allocations(state_root: &Path) -> Vec<Allocation> {
    let mut found = Vec::new();
    let Ok(networks) = fs::read_dir(store::networks_dir(state_root)) else {
        return found;
    };
    for network in networks.flatten().filter(|e| e.path().is_dir()) {
        let name = network.file_name().to_string_lossy().into_owned();
        for file in fs::read_dir(network.path()).into_iter().flatten().flatten() {
            let Some(address) = file.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let text = fs::read_to_string(file.path()).unwrap_or_default();
            let mut lines = text.lines();
            let container_id = lines.next().unwrap_or("").trim().to_string();
            let ports = lines
                .filter_map(|l| l.strip_prefix("publish "))
                .filter_map(|spec| ports::parse(spec).ok())
                .collect();
            found.push(Allocation {
                network: name.clone(),
                address,
                container_id,
                ports,
                path: file.path(),
            });
        }
    }
    found.sort_by_key(|a| (a.network.clone(), a.address));
    found
}

/// Is the container alive: its runtime marked its directory and still runs? (A stopped
/// container that is kept, chapter 4 on, has a directory but no runtime.)
pub fn alive(state_root: &Path, container_id: &str) -> bool {
    let dir = state_root.join("containers").join(container_id);
    !container_id.is_empty()
        && dir.join(engine::state::RUNTIME_PID).is_file()
        && !engine::state::abandoned(&dir)
}

/// The allocations of live containers: what the firewall rules are built from.
pub fn live_allocations(state_root: &Path) -> Vec<Allocation> {
    allocations(state_root)
        .into_iter()
        .filter(|a| alive(state_root, &a.container_id))
        .collect()
}

// ANCHOR: allocate
/// Take a free address of `network` for the container (the caller holds the lock). Refuses
/// ports that a live container of this state root publishes already.
pub fn allocate(
    state_root: &Path,
    network: &NetworkConfig,
    container_id: &str,
    publish: &[Publish],
) -> Result<Ipv4Addr> {
    for other in live_allocations(state_root) {
        for mine in publish {
            if let Some(theirs) = other.ports.iter().find(|p| p.conflicts_with(mine)) {
                return Err(Error::usage(format!(
                    "-p {mine}: host port {} is already published by container {} (-p {theirs})",
                    mine.host_port, other.container_id
                )));
            }
        }
    }
    let mut content = format!("{container_id}\n");
    for p in publish {
        content.push_str(&format!("publish {p}\n"));
    }
    let dir = store::network_dir(state_root, &network.name);
    for address in network.subnet.hosts().filter(|a| *a != network.gateway) {
        let path = dir.join(address.to_string());
        if try_create(&path, &content)? {
            narrate::step(
                "network",
                "allocate an address",
                format!("open({path:?}, O_CREAT|O_EXCL) = {address}"),
            );
            return Ok(address);
        }
        // Taken. By a container that is gone? Then the address is free again.
        let owner = fs::read_to_string(&path).unwrap_or_default();
        let owner = owner.lines().next().unwrap_or("").trim();
        if !alive(state_root, owner) {
            narrate::note(
                "network",
                &format!("reclaim {address}: its container {owner} is gone"),
            );
            fs::remove_file(&path).ctx("unlink", path.display())?;
            if try_create(&path, &content)? {
                return Ok(address);
            }
        }
    }
    Err(Error::other(format!(
        "network {} is full: every address of {} is taken",
        network.name, network.subnet
    )))
}
// ANCHOR_END: allocate

/// Create `path` only if it does not exist; false when it does.
fn try_create(path: &Path, content: &str) -> Result<bool> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(content.as_bytes())
                .and_then(|()| file.sync_all())
                .ctx("write", path.display())?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).ctx("open O_CREAT|O_EXCL", path.display()),
    }
}

/// Give the address back (the caller holds the lock). Only the owner's file is removed.
pub fn release(state_root: &Path, network: &str, address: Ipv4Addr, container_id: &str) {
    let path = store::network_dir(state_root, network).join(address.to_string());
    let owner = fs::read_to_string(&path).unwrap_or_default();
    if owner.lines().next().map(str::trim) == Some(container_id) {
        narrate::step(
            "network",
            "release the address",
            format!("unlink({path:?})"),
        );
        let _ = fs::remove_file(&path);
    }
}
