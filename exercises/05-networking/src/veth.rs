//! The veth pair: a virtual cable with two ends. One end stays on the host, plugged into the
//! network's bridge; the other is made in the container's network namespace, where it becomes
//! the container's eth0.
//!
//! ```text
//!   container netns          host
//!   eth0 (10.100.0.2) ════ ct0123abcd ── bridge carton0 (10.100.0.1) ── eth0 ── outside
//! ```
// Your exercise: derived from solutions/05-networking/src/veth.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use engine::{Result, narrate};
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{Handle, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::netlink;

/// Host side: create the pair with the container's end made directly in its network namespace
/// (`netns`, an open /proc/PID/ns/net), then plug the host end into the bridge and bring it up.
pub async fn create(
    handle: &Handle,
    host_end: &str,
    container_end: &str,
    netns: RawFd,
    bridge: &str,
) -> Result<()> {
    // EXERCISE: create the veth pair with one end already in the container, in one RTM_NEWLINK:
    // handle.link().add(LinkVeth::new(host_end, container_end).set_info_data(...).build()),
    // where the peer's own attributes go in InfoData::Veth(InfoVeth::Peer(...)): its name and
    // the namespace it is made in, LinkUnspec::new_with_name(container_end).setns_by_fd(netns)
    // .build(). `.execute().await` it; turn an error into ours with
    // netlink::error("RTM_NEWLINK", host_end, e, None), and narrate the step.
    todo!(
        "exercise: create the veth pair with one end already in the container, in one RTM_NEWLINK"
    );
    plug_into_bridge(handle, host_end, bridge).await
}

/// `ip link set HOST master BRIDGE up` and `bridge link set dev HOST hairpin on`. Hairpin lets
/// the bridge send a frame back out of the port it came in on: a container that connects to
/// its own published port goes out through its veth and must come back through it.
async fn plug_into_bridge(handle: &Handle, host_end: &str, bridge: &str) -> Result<()> {
    let bridge_index = netlink::require_link(handle, bridge).await?;
    let index = netlink::require_link(handle, host_end).await?;
    narrate::step(
        "network",
        "plug the host end into the bridge",
        format!("RTM_NEWLINK {host_end} master {bridge} up"),
    );
    handle
        .link()
        .set(
            LinkUnspec::new_with_index(index)
                .controller(bridge_index)
                .up()
                .build(),
        )
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_NEWLINK", host_end, e, None))?;
    narrate::step(
        "network",
        "turn hairpin mode on for that port",
        format!("RTM_NEWLINK {host_end} IFLA_BRPORT_MODE hairpin on"),
    );
    handle
        .link()
        .set_port(LinkBridgePort::new(index).hairpin(true).build())
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_NEWLINK", host_end, e, None))
}

/// Inside the container's network namespace (see `netlink::inside`): rename the end to eth0,
/// give it the address, bring it and lo up, and route everything else via the gateway.
pub async fn configure_inside(
    handle: Handle,
    container_end: String,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<()> {
    let index = netlink::require_link(&handle, &container_end).await?;
    narrate::step(
        "network",
        "rename it eth0",
        format!("RTM_NEWLINK {container_end} name eth0"),
    );
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).name("eth0").build())
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_NEWLINK", "eth0", e, None))?;
    narrate::step(
        "network",
        "give eth0 the container's address",
        format!("RTM_NEWADDR {address}/{prefix} dev eth0"),
    );
    handle
        .address()
        .add(index, IpAddr::V4(address), prefix)
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_NEWADDR", format!("{address}/{prefix}"), e, None))?;
    for (name, link) in [
        ("lo", netlink::require_link(&handle, "lo").await?),
        ("eth0", index),
    ] {
        narrate::step(
            "network",
            &format!("bring {name} up"),
            format!("RTM_NEWLINK {name} up"),
        );
        handle
            .link()
            .set(LinkUnspec::new_with_index(link).up().build())
            .execute()
            .await
            .map_err(|e| netlink::error("RTM_NEWLINK", name, e, None))?;
    }
    narrate::step(
        "network",
        "default route via the gateway",
        format!("RTM_NEWROUTE default via {gateway} dev eth0"),
    );
    handle
        .route()
        .add(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gateway)
                .output_interface(index)
                .build(),
        )
        .execute()
        .await
        .map_err(|e| {
            netlink::error(
                "RTM_NEWROUTE",
                format!("default via {gateway}"),
                e,
                Some("the gateway must be inside the subnet of eth0's address"),
            )
        })
}

/// Delete the host end; the kernel deletes its peer with it. Gone already is fine (the pair
/// also disappears when the container's network namespace does).
pub async fn delete(handle: &Handle, host_end: &str) -> Result<()> {
    let Some(index) = netlink::link_index(handle, host_end).await? else {
        return Ok(());
    };
    narrate::step(
        "network",
        "delete the veth pair",
        format!("RTM_DELLINK {host_end}"),
    );
    match handle.link().del(index).execute().await {
        Err(e) if netlink::errno_of(&e) != Some(nix::errno::Errno::ENODEV) => {
            Err(netlink::error("RTM_DELLINK", host_end, e, None))
        }
        _ => Ok(()),
    }
}
