//! Chapter 5: networking.
//!
//! Chapter 2 gave the container a network namespace of its own, with nothing in it but `lo`.
//! This layer connects it: a veth pair (a virtual cable) with one end in the container, named
//! eth0, and the other on the host, plugged into a bridge (a virtual switch) that holds the
//! gateway address. The host routes for the containers, and nftables rules translate their
//! addresses on the way out (masquerade) and the published ports on the way in (DNAT).
//!
//! The phases this layer fills in:
//! - prepare: check the flags; find or make the network; allocate an address; write the
//!   firewall rules (unless the kernel has them already);
//! - clone flags: `--network host` takes chapter 2's new network namespace away again;
//! - attach: the child's namespace exists: make the bridge if needed, the veth pair with one
//!   end in that namespace, and configure it from inside (a thread that joins the namespace);
//! - enter: /etc/hosts, /etc/hostname and /etc/resolv.conf, bind-mounted into the root;
//! - release: delete the veth pair, give the address back, rewrite the rules without ours (if
//!   we had any).

mod bridge;
pub mod command;
mod files;
pub mod ipam;
pub mod nat;
mod netlink;
pub mod ports;
pub mod store;
pub mod subnet;
mod sysctl;
mod veth;

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use engine::{CloneFlags, Container, Context, Error, Layer, Pid, Result, narrate};

pub use command::{Command, NetworkCommand, run_command};
use ports::Publish;
use store::{DEFAULT_NETWORK, NetworkConfig};

/// The flags chapter 5 adds to `run`.
#[derive(clap::Args, Debug, Clone)]
#[group(id = "networking")]
#[command(next_help_heading = "Network (chapter 5)")]
pub struct Args {
    /// none (only lo), host (the host's network), bridge (the default network) or the name of
    /// a network made with `network create`
    #[arg(long, value_name = "MODE", default_value = DEFAULT_NETWORK)]
    pub network: String,

    /// Publish a container's port on the host (repeatable)
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "[IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]"
    )]
    pub publish: Vec<String>,
}

/// Where the container's network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Its own namespace with only `lo` (chapter 2's).
    None,
    /// The host's namespace: no isolation at all.
    Host,
    /// A veth pair on the bridge of this network.
    Bridge(String),
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode> {
        match text {
            "none" => Ok(Mode::None),
            "host" => Ok(Mode::Host),
            _ if text.starts_with("container:") => Err(Error::usage(format!(
                "--network {text}: joining another container's network comes in chapter 7"
            ))),
            name => {
                store::validate_name(name)
                    .map_err(|e| Error::usage(format!("--network {name:?}: {e}")))?;
                Ok(Mode::Bridge(name.to_string()))
            }
        }
    }
}

/// The network layer.
pub struct Network {
    args: Args,
    mode: Mode,
    publish: Vec<Publish>,
    network: Option<NetworkConfig>,
    address: Option<Ipv4Addr>,
    veth_host: Option<String>,
}

impl Network {
    pub fn new(args: Args) -> Network {
        Network {
            args,
            mode: Mode::None,
            publish: Vec::new(),
            network: None,
            address: None,
            veth_host: None,
        }
    }
}

impl Layer for Network {
    fn name(&self) -> &'static str {
        "network"
    }

    fn prepare(&mut self, c: &mut Container) -> Result<()> {
        self.mode = Mode::parse(&self.args.network)?;
        self.publish = ports::parse_all(&self.args.publish)?;
        let name = match &self.mode {
            Mode::Bridge(name) => name.clone(),
            mode => {
                if !self.publish.is_empty() {
                    return Err(Error::usage(format!(
                        "-p needs a bridge network: with --network {} the container has no \
                         address of its own to forward to",
                        self.args.network
                    )));
                }
                narrate::note("network", &format!("network mode: {mode:?}"));
                return Ok(());
            }
        };
        let root = c.state_root.clone();
        if name != DEFAULT_NETWORK && store::load(&root, &name)?.is_none() {
            return Err(command::unknown(&name));
        }
        let _lock = store::lock(&root)?;
        let network = match store::load(&root, &name)? {
            Some(network) => network,
            None if name == DEFAULT_NETWORK => {
                narrate::note("network", "first use of the default network: define it");
                store::create(&root, DEFAULT_NETWORK, None, None)?
            }
            None => return Err(command::unknown(&name)),
        };
        narrate::note(
            "network",
            &format!(
                "network {}: subnet {}, gateway {}, bridge {}",
                network.name, network.subnet, network.gateway, network.bridge
            ),
        );
        self.address = Some(ipam::allocate(&root, &network, &c.id, &self.publish)?);
        self.network = Some(network);
        nat::apply(&root)
    }

    // ANCHOR: clone_flags
    /// `--network host`: chapter 2 asked for a new network namespace; take it away again, so
    /// the container shares the host's.
    fn clone_flags(&self, flags: CloneFlags) -> CloneFlags {
        match self.mode {
            Mode::Host => flags - CloneFlags::CLONE_NEWNET,
            _ => flags,
        }
    }
    // ANCHOR_END: clone_flags

    // ANCHOR: attach
    fn attach(&mut self, c: &Container, child: Pid) -> Result<()> {
        let (Some(network), Some(address)) = (self.network.clone(), self.address) else {
            return Ok(());
        };
        let host_end = engine::names::veth_host(&c.id);
        let container_end = engine::names::veth_peer(&c.id);
        // Recorded before it exists, so that release deletes a half-made pair too.
        self.veth_host = Some(host_end.clone());
        let netns_path = format!("/proc/{child}/ns/net");
        let netns = std::fs::File::open(&netns_path).ctx("open", &netns_path)?;
        let peer = container_end.clone();
        netlink::run(|handle| async move {
            bridge::ensure(&handle, &network).await?;
            veth::create(
                &handle,
                &host_end,
                &peer,
                netns.as_raw_fd(),
                &network.bridge,
            )
            .await
        })?;
        let (prefix, gateway) = match &self.network {
            Some(n) => (n.subnet.prefix, n.gateway),
            None => return Ok(()),
        };
        netlink::inside(child.as_raw(), move |handle| {
            veth::configure_inside(handle, container_end, address, prefix, gateway)
        })
    }
    // ANCHOR_END: attach

    fn enter(&self, c: &Container) -> Result<()> {
        files::provide(c, self.address)
    }

    fn release(&mut self, c: &Container) -> Result<()> {
        let mut outcome = Ok(());
        if let Some(host_end) = self.veth_host.take() {
            outcome = netlink::run(|handle| async move { veth::delete(&handle, &host_end).await });
        }
        if let (Some(network), Some(address)) = (&self.network, self.address.take()) {
            let _lock = store::lock(&c.state_root)?;
            ipam::release(&c.state_root, &network.name, address, &c.id);
            outcome = outcome.and(nat::apply(&c.state_root));
        }
        outcome
    }
}
