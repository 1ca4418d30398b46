//! `-p [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]`: which port of the host leads to which port of
//! the container. Parsed and checked before anything is created.
// Your exercise: derived from solutions/05-networking/src/ports.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::fmt;
use std::net::Ipv4Addr;

use engine::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// Only traffic to this host address is forwarded; `None`: any address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl Publish {
    /// Do two publications claim the same port of the host? Any-address claims every address.
    pub fn conflicts_with(&self, other: &Publish) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && (self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip)
    }
}

impl fmt::Display for Publish {
    /// The form the user wrote, fully spelled out: `127.0.0.1:8080:80/tcp`, `8080:80/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

/// Parse one `-p` value.
pub fn parse(spec: &str) -> Result<Publish> {
    let bad = |why: String| {
        Error::usage(format!(
            "-p {spec:?}: {why} (expected [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp], e.g. 8080:80)"
        ))
    };
    let (ports, protocol) = match spec.rsplit_once('/') {
        Some((ports, "tcp")) => (ports, Protocol::Tcp),
        Some((ports, "udp")) => (ports, Protocol::Udp),
        Some((_, other)) => return Err(bad(format!("unknown protocol {other:?}"))),
        None => (spec, Protocol::Tcp),
    };
    let fields: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, container_port) = match fields.as_slice() {
        [host, container] => (None, *host, *container),
        [ip, host, container] => {
            let ip: Ipv4Addr = ip
                .parse()
                .map_err(|_| bad(format!("{ip:?} is not an IPv4 address of the host")))?;
            (Some(ip), *host, *container)
        }
        _ => return Err(bad("a host port and a container port are needed".into())),
    };
    Ok(Publish {
        host_ip,
        host_port: port(host_port).map_err(|why| bad(format!("host port {why}")))?,
        container_port: port(container_port).map_err(|why| bad(format!("container port {why}")))?,
        protocol,
    })
}

/// A port number: 1 to 65535.
fn port(text: &str) -> std::result::Result<u16, String> {
    let number: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    match number {
        1..=65535 => Ok(number as u16),
        _ => Err(format!("{number} is out of range: ports are 1 to 65535")),
    }
}

/// Parse every `-p` of one run, refusing one host port claimed twice.
pub fn parse_all(specs: &[String]) -> Result<Vec<Publish>> {
    let mut all: Vec<Publish> = Vec::new();
    for spec in specs {
        let publish = parse(spec)?;
        if let Some(earlier) = all.iter().find(|p| p.conflicts_with(&publish)) {
            return Err(Error::usage(format!(
                "-p {spec}: host port {} is already published by -p {earlier}",
                publish.host_port
            )));
        }
        all.push(publish);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let p = parse("127.0.0.1:8080:80").unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!((p.host_port, p.container_port), (8080, 80));
        assert_eq!(p.protocol, Protocol::Tcp);
        assert_eq!(parse("53:53/udp").unwrap().protocol, Protocol::Udp);
        assert_eq!(parse("8080:80/tcp").unwrap().to_string(), "8080:80/tcp");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("0:80", "out of range"),
            ("70000:80", "out of range"),
            ("8080:0", "container port 0 is out of range"),
            ("8080", "a host port and a container port"),
            ("a:b:c:d", "a host port and a container port"),
            ("x:80", "not a number"),
            ("8080:80/sctp", "unknown protocol"),
            ("999.1.1.1:8080:80", "not an IPv4 address"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }

    #[test]
    fn one_host_port_cannot_be_published_twice() {
        let specs = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(parse_all(&specs(&["8080:80", "8081:80"])).is_ok());
        assert!(parse_all(&specs(&["8080:80", "8080:80/udp"])).is_ok());
        assert!(parse_all(&specs(&["8080:80", "127.0.0.1:8080:81"])).is_err());
        assert!(parse_all(&specs(&["127.0.0.1:8080:80", "127.0.0.2:8080:81"])).is_ok());
    }
}
