//! Network helpers for the behaviour tests (chapter 5 on): a fake "outside" host, a port
//! picker, and bounded HTTP requests.
//!
//! The network rule: tests send traffic only to loopback and to addresses of interfaces and
//! namespaces they made themselves. The outside host is such a namespace: egress and published
//! ports are checked against it, never against the real network.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

/// A TCP port that nothing on the host listens on right now (the kernel's pick). Another
/// process could take it before the test uses it, which is unlikely in the ephemeral range.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a TCP socket to port 0 to get a free port")
}

/// Run `ip ARGS...` and panic with its error output when it fails.
pub fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fake host "outside": a network namespace with a veth pair to the host and a TEST-NET-3
/// address (203.0.113.0/24, RFC 5737, never routed on the internet), a /30 per outside host so
/// several tests can have one at once. The host end has the first address of the /30, the
/// outside end the second; the outside host's default route points back at the host.
/// Dropping it deletes the namespace and the pair.
pub struct OutsideHost {
    pub netns: String,
    pub host_link: String,
    /// The host's address on the link to the outside host.
    pub host_address: Ipv4Addr,
    /// The outside host's own address.
    pub address: Ipv4Addr,
}

impl OutsideHost {
    pub fn new() -> OutsideHost {
        crate::require_root();
        let tag = &engine::container::new_id()[..6];
        let netns = format!("carton-out-{tag}");
        let host_link = format!("cto{tag}");
        let peer = format!("cto{tag}p");
        let used = String::from_utf8_lossy(
            &Command::new("ip")
                .args(["-4", "-o", "addr"])
                .output()
                .expect("run ip")
                .stdout,
        )
        .into_owned();
        let start = u8::from_str_radix(&tag[..2], 16).unwrap_or(0) % 64;
        let slot = (0..64)
            .map(|i| (start + i) % 64)
            .find(|s| !used.contains(&format!("203.0.113.{} ", 4 * s + 1)))
            .expect("a free /30 in 203.0.113.0/24");
        let host_address = Ipv4Addr::new(203, 0, 113, 4 * slot + 1);
        let address = Ipv4Addr::new(203, 0, 113, 4 * slot + 2);
        let outside = OutsideHost {
            netns: netns.clone(),
            host_link: host_link.clone(),
            host_address,
            address,
        };
        // From here on, Drop cleans up even if a step fails.
        ip(&["netns", "add", &netns]);
        ip(&[
            "link", "add", &host_link, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &netns]);
        ip(&[
            "addr",
            "add",
            &format!("{host_address}/30"),
            "dev",
            &host_link,
        ]);
        ip(&["link", "set", &host_link, "up"]);
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{address}/30"),
            "dev",
            &peer,
        ]);
        ip(&["-n", &netns, "link", "set", &peer, "up"]);
        ip(&["-n", &netns, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &netns,
            "route",
            "add",
            "default",
            "via",
            &host_address.to_string(),
        ]);
        outside
    }

    /// Run `job` on a thread inside the outside host's network namespace: sockets it opens
    /// belong to that namespace, also after the thread ends.
    pub fn within<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.netns);
        std::thread::spawn(move || {
            let netns = std::fs::File::open(&path).expect("open the outside host's netns");
            nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("setns into the outside host's netns");
            job()
        })
        .join()
        .expect("the thread in the outside host's netns panicked")
    }

    /// A TCP listener on the outside host's own address.
    pub fn listen(&self, port: u16) -> TcpListener {
        let address = self.address;
        self.within(move || TcpListener::bind((address, port)))
            .expect("listen on the outside host")
    }

    /// `GET path` from the outside host (see [`http_get`]).
    pub fn http_get(&self, to: SocketAddr, path: &str) -> std::io::Result<String> {
        let path = path.to_string();
        self.within(move || http_get(to, &path))
    }
}

impl Default for OutsideHost {
    fn default() -> Self {
        OutsideHost::new()
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.netns])
            .status();
        if std::path::Path::new("/sys/class/net")
            .join(&self.host_link)
            .exists()
        {
            let _ = Command::new("ip")
                .args(["link", "delete", &self.host_link])
                .status();
        }
    }
}

/// Wait up to `timeout` for one connection on `listener`; returns the peer's address.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> Option<SocketAddr> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((_, peer)) => return Some(peer),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => return None,
        }
    }
    None
}

/// One HTTP/1.0 `GET path` to `to`, with 2-second timeouts; the whole answer (headers and body).
/// A std TcpStream rather than busybox wget, which crashes inside network namespaces.
pub fn http_get(to: SocketAddr, path: &str) -> std::io::Result<String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&to, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {to}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// [`http_get`] until it answers, at most `tries` times, 100 ms apart (a server that is still
/// starting); the last error otherwise.
pub fn http_get_retrying(to: SocketAddr, path: &str, tries: u32) -> std::io::Result<String> {
    let mut last = Err(std::io::Error::other("no try"));
    for _ in 0..tries {
        last = http_get(to, path);
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}
