//! /etc/hosts, /etc/hostname and /etc/resolv.conf for the container.
//!
//! Like Docker, the runtime writes them into the container's own directory and bind-mounts each
//! onto the file of the same name in the root filesystem: the image's files stay untouched, and
//! every container gets its own.
// Your exercise: derived from solutions/05-networking/src/files.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::net::Ipv4Addr;
use std::path::Path;

use engine::{Container, Context, Result, narrate};
use nix::mount::{MsFlags, mount};

/// The resolvers a container gets when the host's own only exist on the host: a loopback stub
/// such as systemd-resolved's 127.0.0.53 is unreachable from another network namespace. These
/// are Docker's defaults (Google's public resolvers).
pub const DEFAULT_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The text of /etc/hosts: localhost, and the container's own name on its address.
pub fn hosts(hostname: &str, address: Option<Ipv4Addr>) -> String {
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if let Some(address) = address {
        text.push_str(&format!("{address}\t{hostname}\n"));
    }
    text
}

/// The text of /etc/resolv.conf from the host's: its nameservers when they can be reached
/// from the container, else the defaults. `search` and `options` lines are kept.
pub fn resolv_conf(host: &str) -> String {
    let mut nameservers = Vec::new();
    let mut others = Vec::new();
    for line in host.lines().map(str::trim) {
        if let Some(server) = line.strip_prefix("nameserver") {
            let server = server.trim();
            let loopback = server
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
            if !loopback && !server.is_empty() {
                nameservers.push(server.to_string());
            }
        } else if line.starts_with("search") || line.starts_with("options") {
            others.push(line.to_string());
        }
    }
    let mut text = String::new();
    if nameservers.is_empty() {
        text.push_str("# the host's resolvers are loopback-only: carton's defaults\n");
        nameservers = DEFAULT_NAMESERVERS.iter().map(|s| s.to_string()).collect();
    }
    for server in nameservers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    for line in others {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Child side, before the root switch: write the three files into the container's directory
/// and bind-mount each onto the root filesystem's file (made, empty, when it does not exist).
pub fn provide(c: &Container, address: Option<Ipv4Addr>) -> Result<()> {
    // The namespaces layer set the hostname just before: it is the container's name.
    let hostname = nix::unistd::gethostname()
        .ctx("gethostname", "")?
        .to_string_lossy()
        .into_owned();
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let files = [
        ("hosts", hosts(&hostname, address)),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", resolv_conf(&host_resolv)),
    ];
    for (name, content) in files {
        let source = c.dir().join(name);
        std::fs::write(&source, content).ctx("write", source.display())?;
        bind(&source, &c.rootfs.join("etc").join(name))?;
    }
    Ok(())
}

fn bind(source: &Path, target: &Path) -> Result<()> {
    // mount(2) follows symbolic links, and we still stand in the host's root: a root filesystem
    // whose /etc/hosts pointed at /etc/passwd would make us mount over the HOST's file.
    for path in [target.parent().unwrap_or(target), target] {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(engine::Error::other(format!(
                "{} is a symbolic link: refusing to mount the container's file over whatever \
                 it points to",
                path.display()
            )));
        }
    }
    if let Some(etc) = target.parent() {
        std::fs::create_dir_all(etc).ctx("mkdir", etc.display())?;
    }
    if std::fs::symlink_metadata(target).is_err() {
        std::fs::write(target, "").ctx("create", target.display())?;
    }
    narrate::step(
        "network",
        "provide the container's file",
        format!("mount({source:?}, {target:?}, MS_BIND)"),
    );
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx("mount", target.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_names_the_container() {
        let text = hosts("web", Some(Ipv4Addr::new(10, 100, 0, 2)));
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.ends_with("10.100.0.2\tweb\n"));
        assert!(!hosts("web", None).contains("web"));
    }

    #[test]
    fn a_loopback_stub_resolver_is_replaced_by_the_defaults() {
        let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
        assert_eq!(
            resolv_conf(stub),
            "# the host's resolvers are loopback-only: carton's defaults\n\
             nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0 trust-ad\nsearch lan\n"
        );
        assert_eq!(
            resolv_conf("# hi\nnameserver 10.255.255.53\n"),
            "nameserver 10.255.255.53\n"
        );
    }
}
