//! The firewall rules of a state root, in one nftables table of its own: masquerade for the
//! way out, DNAT for published ports, and isolation between networks.
//!
//! `ruleset` is a pure function from the networks and published ports to the text of an nft
//! script; `apply` feeds that script to `nft -f -`, which applies it as one transaction. The
//! script deletes the table and makes it again, so the rules always match the state on disk:
//! a removed container's rules are gone simply because it is no longer in the state. And when
//! the script is the one the kernel's table was made from, `apply` has nothing to do.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use engine::{Context, Error, Result, narrate};

use crate::ipam;
use crate::ports::Publish;
use crate::store;
use crate::subnet::Subnet;

/// A network, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub name: String,
    pub bridge: String,
    pub subnet: Subnet,
}

/// A published port of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRules {
    pub container_id: String,
    pub bridge: String,
    pub address: Ipv4Addr,
    pub publish: Publish,
}

// ANCHOR: ruleset
/// The whole nft script for table `table` (family ip).
pub fn ruleset(table: &str, networks: &[NetworkRules], ports: &[PortRules]) -> String {
    // Creating the table first makes the delete work even when it does not exist yet.
    let mut script = format!("table ip {table}\ndelete table ip {table}\n");
    if networks.is_empty() {
        return script;
    }
    let mut postrouting: Vec<String> = Vec::new();
    let mut publish: Vec<String> = Vec::new();
    for network in networks {
        postrouting.extend(masquerade(network));
    }
    for port in ports {
        publish.extend(dnat(port));
        postrouting.push(hairpin(port));
    }
    let chain = |name: &str, hook: Option<&str>, rules: &[String]| {
        let mut text = format!("\tchain {name} {{\n");
        if let Some(hook) = hook {
            text.push_str(&format!("\t\t{hook}\n"));
        }
        for rule in rules {
            text.push_str(&format!("\t\t{rule}\n"));
        }
        text.push_str("\t}\n");
        text
    };
    // Traffic for a local address of the host: from outside (prerouting) or from the host
    // itself (output) goes through the published ports.
    let to_publish = ["fib daddr type local jump publish".to_string()];
    script.push_str(&format!("table ip {table} {{\n"));
    script.push_str(&chain(
        "prerouting",
        Some("type nat hook prerouting priority dstnat; policy accept;"),
        &to_publish,
    ));
    script.push_str(&chain(
        "output",
        // nft 1.0 knows the name `dstnat` in prerouting only: -100 is the same priority.
        Some("type nat hook output priority -100; policy accept;"),
        &to_publish,
    ));
    script.push_str(&chain("publish", None, &publish));
    script.push_str(&chain(
        "postrouting",
        Some("type nat hook postrouting priority srcnat; policy accept;"),
        &postrouting,
    ));
    script.push_str(&chain(
        "forward",
        Some("type filter hook forward priority filter; policy accept;"),
        &isolation(networks),
    ));
    script.push_str("}\n");
    script
}
// ANCHOR_END: ruleset

// ANCHOR: masquerade
// ANCHOR: masquerade_exercise
/// The way out for one network: packets from its subnet that leave through any other interface
/// than its bridge get the address of that interface as their source (masquerade), so that
/// answers find their way back to the host, which undoes the translation. And for ports
/// published on 127.0.0.1: packets from 127.0.0.0/8 that go out of the bridge get the bridge's
/// address, as the container could never answer to 127.0.0.1 (its own loopback).
fn masquerade(network: &NetworkRules) -> Vec<String> {
    // EXERCISE: return two nft rules, as text. 1: packets with source address in
    // network.subnet whose output interface name is not network.bridge are masqueraded
    // (`ip saddr SUBNET oifname != "BRIDGE" masquerade`). 2: packets with source address in
    // 127.0.0.0/8 that go out of network.bridge are masqueraded. End each with a comment
    // naming the network: `comment "egress of network NAME"`.
    // ANCHOR_END: masquerade_exercise
    // BEGIN SOLUTION
    vec![
        format!(
            "ip saddr {} oifname != \"{}\" masquerade comment \"egress of network {}\"",
            network.subnet, network.bridge, network.name
        ),
        format!(
            "ip saddr 127.0.0.0/8 oifname \"{}\" masquerade comment \"localhost to network {}\"",
            network.bridge, network.name
        ),
    ]
    // END SOLUTION
}
// ANCHOR_END: masquerade

// ANCHOR: dnat
// ANCHOR: dnat_exercise
/// One published port: a packet for HOSTPORT on the host (on `host_ip`, or any local address)
/// gets the container's address and port as its destination (DNAT). The kernel's connection
/// tracking rewrites the answers back.
fn dnat(port: &PortRules) -> Vec<String> {
    let p = &port.publish;
    // EXERCISE: return one nft rule: `[ip daddr HOST_IP ]PROTO dport HOSTPORT dnat to
    // ADDRESS:CONTAINERPORT comment "container ID"`, where PROTO is p.protocol.as_str(), the
    // `ip daddr` match only when p.host_ip is Some, and ADDRESS is port.address.
    // ANCHOR_END: dnat_exercise
    // BEGIN SOLUTION
    let only_to = p
        .host_ip
        .map(|ip| format!("ip daddr {ip} "))
        .unwrap_or_default();
    vec![format!(
        "{only_to}{} dport {} dnat to {}:{} comment \"container {}\"",
        p.protocol.as_str(),
        p.host_port,
        port.address,
        p.container_port,
        port.container_id
    )]
    // END SOLUTION
}
// ANCHOR_END: dnat

// ANCHOR: hairpin_isolation
/// A container that connects to its own published port: the DNAT sends the packet back to it
/// through the bridge (hairpin), and with its own address as the source it would answer
/// itself directly; masquerading makes the answer go back through the host.
fn hairpin(port: &PortRules) -> String {
    format!(
        "ip saddr {a} ip daddr {a} {} dport {} masquerade comment \"container {}\"",
        port.publish.protocol.as_str(),
        port.publish.container_port,
        port.container_id,
        a = port.address
    )
}

/// Different networks must not reach each other: drop what is forwarded from one project
/// bridge to another. (Within one bridge, frames are switched, not forwarded by IP.)
fn isolation(networks: &[NetworkRules]) -> Vec<String> {
    let mut rules = Vec::new();
    for network in networks {
        let others: Vec<String> = networks
            .iter()
            .filter(|n| n.bridge != network.bridge)
            .map(|n| format!("\"{}\"", n.bridge))
            .collect();
        if !others.is_empty() {
            rules.push(format!(
                "iifname \"{}\" oifname {{ {} }} drop comment \"isolate network {}\"",
                network.bridge,
                others.join(", "),
                network.name
            ));
        }
    }
    rules
}
// ANCHOR_END: hairpin_isolation

/// Where `apply` writes down the script it last applied and the handle of the table that came
/// of it.
const APPLIED: &str = ".nft-applied";

/// Rebuild the state root's table from its networks and its live containers' published ports
/// (the caller holds the networks lock), and apply it with `nft -f -` in one transaction.
///
/// Unless the kernel holds that very table already: a container that publishes no port adds no
/// rule, so its start and its end leave the script as it was. `networks/.nft-applied` records
/// the last script applied and the handle the kernel gave its table; when the script is the
/// same and the table with that handle still exists, there is nothing to do. A table deleted
/// since (`workshop clean`, `nft flush ruleset`, a reboot) is made again, and so are rules left
/// by a crashed container: it is no longer live, so the script differs.
pub fn apply(state_root: &Path) -> Result<()> {
    let networks = store::list(state_root)?;
    let network_rules: Vec<NetworkRules> = networks
        .iter()
        .map(|n| NetworkRules {
            name: n.name.clone(),
            bridge: n.bridge.clone(),
            subnet: n.subnet,
        })
        .collect();
    let mut port_rules = Vec::new();
    for allocation in ipam::live_allocations(state_root) {
        let Some(network) = networks.iter().find(|n| n.name == allocation.network) else {
            continue;
        };
        for publish in &allocation.ports {
            port_rules.push(PortRules {
                container_id: allocation.container_id.clone(),
                bridge: network.bridge.clone(),
                address: allocation.address,
                publish: *publish,
            });
        }
    }
    let table = engine::names::nft_table(state_root);
    let script = ruleset(&table, &network_rules, &port_rules);
    let record = store::networks_dir(state_root).join(APPLIED);
    let recorded = fs::read_to_string(&record).unwrap_or_default();
    if let Some(handle) = table_handle(&table)
        && recorded == applied(handle, &script)
    {
        narrate::step(
            "network",
            "the rules are in place: no nft run",
            format!("NFT_MSG_GETTABLE ip {table} = handle {handle}, as recorded"),
        );
        return Ok(());
    }
    // Forget the old record first: a run killed during the transaction must not leave a
    // record that vouches for a table it did not finish.
    match fs::remove_file(&record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).ctx("unlink", record.display());
        }
        _ => {}
    }
    narrate::step(
        "network",
        "write the NAT and isolation rules",
        format!("nft -f - (table ip {table})"),
    );
    for line in script
        .lines()
        .filter(|l| l.starts_with("\t\t") && !l.contains(" hook "))
    {
        narrate::step("nft", "a rule", line.trim());
    }
    run_nft(&script)?;
    if let Some(handle) = table_handle(&table) {
        let temporary = record.with_extension("tmp");
        fs::write(&temporary, applied(handle, &script)).ctx("write", temporary.display())?;
        fs::rename(&temporary, &record).ctx("rename", record.display())?;
    }
    Ok(())
}

/// The text of the record: the table's handle, then the script.
fn applied(handle: u64, script: &str) -> String {
    format!("handle {handle}\n{script}")
}

/// The handle the kernel gave table `table` (family ip) when it made it, or None when there is
/// no such table or nf_tables cannot be asked. One request, NFT_MSG_GETTABLE, on a netlink
/// socket of the netfilter family: what `nft list table` sends first, without starting `nft`.
/// Every table the kernel makes gets a new handle, so the same handle means the same table.
fn table_handle(table: &str) -> Option<u64> {
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        socket,
    };
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_NEWTABLE: u16 = 0;
    const NFT_MSG_GETTABLE: u16 = 1;
    const NFTA_TABLE_NAME: u16 = 1;
    const NFTA_TABLE_HANDLE: u16 = 4;

    // The request: a netlink header, nftables' own header (family ip, version 0), and one
    // attribute, the table's name with its terminating NUL, padded to 4 bytes.
    let attribute_len = 4 + table.len() + 1;
    let total = 16 + 4 + attribute_len.next_multiple_of(4);
    let mut request = Vec::with_capacity(total);
    request.extend((total as u32).to_ne_bytes());
    request.extend((NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE).to_ne_bytes());
    request.extend((libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request.extend(1u32.to_ne_bytes()); // sequence number
    request.extend(0u32.to_ne_bytes()); // port id: the kernel's
    request.extend([libc::AF_INET as u8, 0, 0, 0]);
    request.extend((attribute_len as u16).to_ne_bytes());
    request.extend(NFTA_TABLE_NAME.to_ne_bytes());
    request.extend(table.as_bytes());
    request.resize(total, 0);

    let socket = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .ok()?;
    sendto(
        socket.as_raw_fd(),
        &request,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .ok()?;
    let mut answer = [0u8; 4096];
    let length = recv(socket.as_raw_fd(), &mut answer, MsgFlags::empty()).ok()?;
    let answer = &answer[..length];
    // The table (NFT_MSG_NEWTABLE), or NLMSG_ERROR with ENOENT when there is none.
    let u16_at = |bytes: &[u8], at: usize| u16::from_ne_bytes([bytes[at], bytes[at + 1]]);
    if length < 20 || u16_at(answer, 4) != NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE {
        return None;
    }
    let mut attributes = &answer[20..];
    while attributes.len() >= 4 {
        let len = u16_at(attributes, 0) as usize;
        if len < 4 || len > attributes.len() {
            return None;
        }
        // The type's two high bits are flags (nested, network byte order).
        if u16_at(attributes, 2) & 0x3fff == NFTA_TABLE_HANDLE && len == 12 {
            return Some(u64::from_be_bytes(attributes[4..12].try_into().ok()?));
        }
        attributes = &attributes[len.next_multiple_of(4).min(attributes.len())..];
    }
    None
}

fn run_nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::other(format!(
                "nft -f -: cannot run nft: {e}\n  hint: install the nftables package \
                 (apt-get install nftables)"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .ctx("write", "nft's stdin")?;
    }
    let output = child.wait_with_output().ctx("wait", "nft")?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::other(format!(
        "nft -f -: {}\n  hint: does the kernel have nf_tables and nft_nat (modprobe nft_chain_nat \
         nft_masq nft_fib_ipv4)? The script was:\n{script}",
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_network_means_no_table() {
        assert_eq!(
            ruleset("carton_x", &[], &[]),
            "table ip carton_x\ndelete table ip carton_x\n"
        );
    }
}
