//! The bridge of a network: a virtual switch on the host. Every container of the network has
//! one end of its veth pair plugged in; the bridge itself has the gateway address, so the host
//! is the containers' router.
// Your exercise: derived from solutions/05-networking/src/bridge.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::net::IpAddr;

use engine::{Result, narrate};
use rtnetlink::{Handle, LinkBridge, LinkUnspec};

use crate::netlink;
use crate::store::NetworkConfig;
use crate::sysctl;

/// Make the network's bridge if it does not exist: `ip link add NAME type bridge`, the gateway
/// address, up. Also what the bridge needs for published ports (route_localnet) and the host
/// for forwarding (ip_forward).
pub async fn ensure(handle: &Handle, network: &NetworkConfig) -> Result<()> {
    let name = &network.bridge;
    if netlink::link_index(handle, name).await?.is_none() {
        narrate::step(
            "network",
            "create the network's bridge",
            format!("RTM_NEWLINK {name} type bridge"),
        );
        match handle
            .link()
            .add(LinkBridge::new(name).build())
            .execute()
            .await
        {
            Ok(()) => {}
            // Another run made it in the meantime: fine.
            Err(e) if netlink::errno_of(&e) == Some(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(netlink::error("RTM_NEWLINK", name, e, None)),
        }
    }
    let index = netlink::require_link(handle, name).await?;
    let gateway = IpAddr::V4(network.gateway);
    let mut addresses = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    let mut has_gateway = false;
    while let Some(address) = futures_util::TryStreamExt::try_next(&mut addresses)
        .await
        .map_err(|e| netlink::error("RTM_GETADDR", name, e, None))?
    {
        has_gateway |= address.attributes.iter().any(|a| {
            matches!(a, rtnetlink::packet_route::address::AddressAttribute::Address(ip) if *ip == gateway)
        });
    }
    if !has_gateway {
        narrate::step(
            "network",
            "give the bridge the gateway address",
            format!(
                "RTM_NEWADDR {}/{} dev {name}",
                network.gateway, network.subnet.prefix
            ),
        );
        match handle
            .address()
            .add(index, gateway, network.subnet.prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if netlink::errno_of(&e) == Some(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(netlink::error("RTM_NEWADDR", name, e, None)),
        }
    }
    narrate::step(
        "network",
        "bring the bridge up",
        format!("RTM_NEWLINK {name} up"),
    );
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_NEWLINK", name, e, None))?;
    sysctl::enable_route_localnet(name)?;
    sysctl::enable_ip_forward()
}

/// Delete a bridge (`network rm`). Gone already is fine.
pub async fn delete(handle: &Handle, name: &str) -> Result<()> {
    let Some(index) = netlink::link_index(handle, name).await? else {
        return Ok(());
    };
    narrate::step(
        "network",
        "delete the bridge",
        format!("RTM_DELLINK {name}"),
    );
    handle
        .link()
        .del(index)
        .execute()
        .await
        .map_err(|e| netlink::error("RTM_DELLINK", name, e, None))
}
