//! IPv4 subnets: parsing `10.1.2.0/24`, the addresses inside one, and the choice of a free one.
//!
//! Pure functions, except `host_routes`, which reads the kernel's routing table.
// Your exercise: derived from solutions/05-networking/src/subnet.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use engine::{Error, Result};

/// A subnet: a network address and a prefix length, `10.1.2.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// `10.1.2.0/24`. The host bits must be zero, and the prefix between 8 and 30: a /31 or /32
    /// has no room for a gateway and a container.
    pub fn parse(text: &str) -> Result<Subnet> {
        let bad = |why: String| Error::usage(format!("--subnet {text:?}: {why}"));
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| bad("expected an IPv4 subnet like 10.10.0.0/24".into()))?;
        let network: Ipv4Addr = address
            .parse()
            .map_err(|_| bad(format!("{address:?} is not an IPv4 address")))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad(format!("{prefix:?} is not a prefix length")))?;
        if !(8..=30).contains(&prefix) {
            return Err(bad("the prefix length must be between 8 and 30".into()));
        }
        let subnet = Subnet { network, prefix };
        if subnet.network_address() != network {
            return Err(bad(format!(
                "host bits are set: did you mean {}/{prefix}?",
                subnet.network_address()
            )));
        }
        Ok(subnet)
    }

    pub fn mask(&self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    fn network_address(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let mask = self.mask() & other.mask();
        u32::from(self.network) & mask == u32::from(other.network) & mask
    }

    /// The first usable address: the usual gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Every address a host may have: all but the network and broadcast addresses.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        (u32::from(self.network) + 1..u32::from(self.broadcast())).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `--gateway`: an address inside the subnet that is neither its network nor its broadcast.
pub fn parse_gateway(text: &str, subnet: &Subnet) -> Result<Ipv4Addr> {
    let gateway: Ipv4Addr = text
        .parse()
        .map_err(|_| Error::usage(format!("--gateway {text:?}: not an IPv4 address")))?;
    if !subnet.contains(gateway) || gateway == subnet.network || gateway == subnet.broadcast() {
        return Err(Error::usage(format!(
            "--gateway {gateway}: must be a host address inside the subnet {subnet}"
        )));
    }
    Ok(gateway)
}

/// Subnets the host routes already (its own networks, other runtimes' bridges, other state
/// roots' bridges), from /proc/net/route: a new network must not overlap any of them. The
/// default route (0.0.0.0/0) is left out: it overlaps everything.
pub fn host_routes() -> Vec<(Subnet, String)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let device = fields.first()?.to_string();
            // The kernel prints each address as the hex of its 4 bytes read as a native u32.
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            let prefix = mask.count_ones() as u8;
            let network = Ipv4Addr::from(destination.to_ne_bytes());
            (prefix > 0).then_some((Subnet { network, prefix }, device))
        })
        .collect()
}

/// The subnets carton picks from when none is given: 10.X.Y.0/24 with X in 100..=199, which
/// keeps clear of Docker's 172.17.0.0/16 and Podman's 10.88.0.0/16. The default state root
/// starts at 10.100.0.0/24; any other root starts at a place derived from its tag, so that two
/// roots running at once (parallel tests) start far apart. Taken subnets are skipped.
pub fn pick_free(state_root: &Path, taken: &[Subnet]) -> Result<Subnet> {
    let tag = engine::names::root_tag(state_root);
    let start = u32::from_str_radix(&tag, 16).unwrap_or(0) % CANDIDATES;
    for step in 0..CANDIDATES {
        let candidate = candidate((start + step) % CANDIDATES);
        if !taken.iter().any(|t| t.overlaps(&candidate)) {
            return Ok(candidate);
        }
    }
    Err(Error::other(
        "no free subnet in 10.100.0.0-10.199.255.0: give one with --subnet",
    ))
}

const CANDIDATES: u32 = 100 * 256;

fn candidate(index: u32) -> Subnet {
    let (x, y) = (100 + index / 256, index % 256);
    Subnet {
        network: Ipv4Addr::new(10, x as u8, y as u8, 0),
        prefix: 24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_refuse_what_cannot_work() {
        let s = Subnet::parse("10.1.2.0/24").unwrap();
        assert_eq!(s.to_string(), "10.1.2.0/24");
        assert_eq!(s.first_host(), Ipv4Addr::new(10, 1, 2, 1));
        assert_eq!(s.broadcast(), Ipv4Addr::new(10, 1, 2, 255));
        assert_eq!(s.hosts().count(), 254);
        assert!(s.contains(Ipv4Addr::new(10, 1, 2, 77)));
        assert!(!s.contains(Ipv4Addr::new(10, 1, 3, 1)));
        for bad in [
            "10.1.2.0",
            "10.1.2.5/24",
            "10.1.2.0/31",
            "10.1.2.0/7",
            "x/24",
            "10.1.2.0/x",
        ] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
        let msg = Subnet::parse("10.1.2.5/24").unwrap_err().to_string();
        assert!(msg.contains("did you mean 10.1.2.0/24"), "{msg}");
    }

    #[test]
    fn overlaps_are_symmetric() {
        let big = Subnet::parse("10.0.0.0/8").unwrap();
        let small = Subnet::parse("10.1.2.0/24").unwrap();
        let other = Subnet::parse("10.1.3.0/24").unwrap();
        assert!(big.overlaps(&small) && small.overlaps(&big));
        assert!(!small.overlaps(&other));
    }

    #[test]
    fn gateways_must_be_hosts_of_the_subnet() {
        let s = Subnet::parse("10.1.2.0/24").unwrap();
        assert_eq!(
            parse_gateway("10.1.2.254", &s).unwrap(),
            Ipv4Addr::new(10, 1, 2, 254)
        );
        for bad in ["10.1.2.0", "10.1.2.255", "10.1.3.1", "nope"] {
            assert!(parse_gateway(bad, &s).is_err(), "{bad}");
        }
    }

    #[test]
    fn free_subnets_avoid_the_taken_ones_and_docker_and_podman() {
        let root = Path::new("/var/lib/carton");
        let first = pick_free(root, &[]).unwrap();
        assert_eq!(first.to_string(), "10.100.0.0/24");
        let second = pick_free(root, &[first]).unwrap();
        assert_eq!(second.to_string(), "10.100.1.0/24");
        let docker = Subnet::parse("172.17.0.0/16").unwrap();
        let podman = Subnet::parse("10.88.0.0/16").unwrap();
        for i in [0, 1, 12345, CANDIDATES - 1] {
            let c = candidate(i);
            assert!(!c.overlaps(&docker) && !c.overlaps(&podman), "{c}");
        }
    }
}
