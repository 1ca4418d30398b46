//! Chapter 5's promises, checked with real containers: the network modes, a bridge network
//! with its gateway, reachability within a network and isolation between networks, egress
//! masqueraded (seen from a fake outside host), published ports from 127.0.0.1 and from a
//! test-made interface, safe address allocation under concurrency, and nothing left behind.
//!
//! Traffic goes only to addresses these tests made: bridges, veths and namespaces of their own
//! state roots, the fake outside host (203.0.113.0/24 in its own namespace), and loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use testkit::net::{OutsideHost, free_port, http_get, http_get_retrying};
use testkit::{Outcome, TestRoot};

const CH05: &str = env!("CARGO_BIN_EXE_ch05");

fn run_sh(root: &TestRoot, flags: &[&str], script: &str) -> Outcome {
    let mut args: Vec<&str> = vec!["run"];
    args.extend(flags);
    args.extend(["--", "/bin/sh", "-c", script]);
    root.run(CH05, &args)
}

/// `ch05 ARGS` (network subcommands).
fn ch05(root: &TestRoot, args: &[&str]) -> Outcome {
    root.run(CH05, args)
}

/// One string field of `network inspect`'s JSON.
fn field(json: &str, name: &str) -> String {
    let key = format!("\"{name}\": \"");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        + key.len();
    json[start..].split('"').next().unwrap_or("").to_string()
}

struct NetworkInfo {
    subnet: String,
    gateway: String,
    bridge: String,
}

fn inspect(root: &TestRoot, name: &str) -> NetworkInfo {
    let out = ch05(root, &["network", "inspect", name]);
    assert_eq!(out.code, 0, "{out}");
    NetworkInfo {
        subnet: field(&out.stdout, "Subnet"),
        gateway: field(&out.stdout, "Gateway"),
        bridge: field(&out.stdout, "Bridge"),
    }
}

fn in_subnet(address: &str, subnet: &str) -> bool {
    let (network, prefix) = subnet.split_once('/').unwrap();
    let (network, prefix): (Ipv4Addr, u32) = (network.parse().unwrap(), prefix.parse().unwrap());
    let Ok(address) = address.parse::<Ipv4Addr>() else {
        return false;
    };
    let mask = u32::MAX << (32 - prefix);
    u32::from(address) & mask == u32::from(network)
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

fn nft_table(root: &TestRoot) -> Option<String> {
    let table = engine::names::nft_table(root.path());
    let out = Outcome::of({
        let mut c = std::process::Command::new("nft");
        c.args(["list", "table", "ip", &table]);
        c
    });
    (out.code == 0).then_some(out.stdout)
}

/// Prints the container's id (its hostname) and eth0's address, one per line.
const WHO_AM_I: &str =
    "hostname; ip -4 -o addr show eth0 | awk '{split($4, a, \"/\"); print a[1]}'";

/// A container running in the background until its standard input closes. The lines it
/// prints before `ready` are kept.
struct Background {
    runtime: Child,
    stdin: Option<ChildStdin>,
    lines: Vec<String>,
}

impl Background {
    fn start(root: &TestRoot, flags: &[&str], script: &str) -> Background {
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(flags.iter().map(|f| f.to_string()));
        args.extend(["--", "/bin/sh", "-c"].map(String::from));
        args.push(format!("{script}; echo ready; read _"));
        let mut runtime = root
            .command(CH05)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ch05");
        let stdin = runtime.stdin.take();
        let mut reader = BufReader::new(runtime.stdout.take().expect("stdout"));
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let out = runtime.wait_with_output().expect("wait for ch05");
                panic!(
                    "the background container ended before `ready`: {:?}\n{}",
                    lines,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if line.trim() == "ready" {
                break;
            }
            lines.push(line.trim().to_string());
        }
        Background {
            runtime,
            stdin,
            lines,
        }
    }

    /// Close its standard input: `read` returns, the container exits, the runtime cleans up.
    fn stop(mut self) -> i32 {
        self.finish()
    }

    fn finish(&mut self) -> i32 {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        for _ in 0..100 {
            if let Ok(Some(status)) = self.runtime.try_wait() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.runtime.kill();
        self.runtime
            .wait()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.finish();
        }
    }
}

#[test]
fn none_has_only_lo_and_still_gets_its_files() {
    let root = TestRoot::new("ch05_none");
    let out = run_sh(
        &root,
        &["--network", "none"],
        "ip -o link | cut -d: -f2; cat /etc/hosts /etc/hostname",
    );
    assert_eq!(out.code, 0, "{out}");
    let links: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(' '))
        .map(str::trim)
        .collect();
    assert_eq!(links, ["lo"], "{out}");
    assert!(out.stdout.contains("127.0.0.1\tlocalhost"), "{out}");
    assert!(
        !root.path().join("networks").exists(),
        "no network was made"
    );
    root.assert_no_leftovers();
}

#[test]
fn host_shares_the_hosts_network() {
    let root = TestRoot::new("ch05_host");
    let host_netns = testkit::namespace_of("self", "net");
    let route = std::fs::read_to_string("/proc/net/route").unwrap();
    let default_link = route
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("00000000"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("lo")
        .to_string();
    let out = run_sh(
        &root,
        &["--network", "host"],
        "readlink /proc/self/ns/net; ip -o link | cut -d: -f2",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout.lines().next(),
        Some(host_netns.as_str()),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim().split('@').next() == Some(default_link.as_str())),
        "the host's {default_link} is visible: {out}"
    );
    root.assert_no_leftovers();
}

#[test]
fn bridge_gives_eth0_an_address_a_route_the_gateway_and_the_files() {
    let root = TestRoot::new("ch05_bridge");
    let out = run_sh(
        &root,
        &["--hostname", "web1"],
        &format!(
            "{WHO_AM_I}; ip route | awk '/default/ {{print $3}}'; \
             ping -c 1 -W 2 $(ip route | awk '/default/ {{print $3}}') >/dev/null && echo gateway-answers; \
             cat /etc/hosts /etc/hostname /etc/resolv.conf"
        ),
    );
    assert_eq!(out.code, 0, "{out}");
    let net = inspect(&root, "bridge");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (address, gateway) = (lines[1], lines[2]);
    assert!(
        in_subnet(address, &net.subnet),
        "{address} in {}: {out}",
        net.subnet
    );
    assert_eq!(gateway, net.gateway, "{out}");
    assert!(out.stdout.contains("gateway-answers"), "{out}");
    assert!(out.stdout.contains(&format!("{address}\tweb1")), "{out}");
    assert!(out.stdout.contains("\nweb1\n"), "/etc/hostname: {out}");
    assert!(
        out.stdout.contains("nameserver "),
        "/etc/resolv.conf: {out}"
    );
    for taken in ["172.17.", "10.88."] {
        assert!(!net.subnet.starts_with(taken), "{}", net.subnet);
    }
    assert!(link_exists(&net.bridge), "the bridge stays");
    // Only `network rm` removes it, and then nothing of the network is left.
    let out = ch05(&root, &["network", "rm", "bridge"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!link_exists(&net.bridge));
    assert_eq!(nft_table(&root), None, "no network, no table");
    root.assert_no_leftovers();
}

#[test]
fn containers_of_one_network_reach_each_other_and_not_another_network() {
    let root = TestRoot::new("ch05_isolation");
    for name in ["front", "back"] {
        let out = ch05(&root, &["network", "create", name]);
        assert_eq!(out.code, 0, "{out}");
    }
    let front = inspect(&root, "front");
    let back = inspect(&root, "back");
    assert_ne!(front.subnet, back.subnet);

    let server = Background::start(&root, &["--network", "front"], WHO_AM_I);
    let server_address = server.lines[1].clone();
    assert!(
        in_subnet(&server_address, &front.subnet),
        "{:?}",
        server.lines
    );

    let out = run_sh(
        &root,
        &["--network", "front"],
        &format!("ping -c 1 -W 2 {server_address} >/dev/null && echo reached"),
    );
    assert_eq!(out.out(), "reached", "same network: {out}");

    let out = run_sh(
        &root,
        &["--network", "back"],
        &format!(
            "ping -c 1 -W 2 {gw} >/dev/null && echo own-gateway; \
             ping -c 1 -W 2 {server_address} >/dev/null && echo reached || echo blocked",
            gw = back.gateway
        ),
    );
    assert_eq!(out.out(), "own-gateway\nblocked", "another network: {out}");

    // In use: refused. Stopped: removed with its bridge.
    let out = ch05(&root, &["network", "rm", "front"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("in use"), "{out}");
    assert_eq!(server.stop(), 0);
    let out = ch05(&root, &["network", "rm", "front", "back"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!link_exists(&front.bridge) && !link_exists(&back.bridge));
    root.assert_no_leftovers();
}

#[test]
fn egress_is_masqueraded_behind_the_hosts_address() {
    let root = TestRoot::new("ch05_egress");
    let outside = OutsideHost::new();
    let listener = outside.listen(8080);
    // Accept (and close) while the container connects: nc waits for the server to hang up.
    let accepting =
        std::thread::spawn(move || testkit::net::accept_within(&listener, Duration::from_secs(10)));
    let out = run_sh(
        &root,
        &[],
        &format!(
            "{WHO_AM_I}; echo hello | timeout 5 nc -w 2 {} 8080; echo sent",
            outside.address
        ),
    );
    assert_eq!(out.code, 0, "{out}");
    let container_address: Ipv4Addr = out.stdout.lines().nth(1).unwrap().parse().unwrap();
    let peer = accepting
        .join()
        .unwrap()
        .unwrap_or_else(|| panic!("the outside host saw no connection: {out}"));
    assert_eq!(
        peer.ip(),
        std::net::IpAddr::V4(outside.host_address),
        "the outside host sees the host's address, not {container_address}"
    );
}

#[test]
fn a_published_port_serves_from_localhost_and_from_a_hosts_address() {
    let root = TestRoot::new("ch05_publish");
    let outside = OutsideHost::new();
    let (local_port, any_port) = (free_port(), free_port());
    let server = Background::start(
        &root,
        &[
            "-p",
            &format!("127.0.0.1:{local_port}:80"),
            "-p",
            &format!("{any_port}:80"),
        ],
        "mkdir -p /dev/shm/www && echo hello-from-carton > /dev/shm/www/index.html && \
         httpd -p 80 -h /dev/shm/www && hostname",
    );
    let id = server.lines[0].clone();

    let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, local_port));
    let page = http_get_retrying(localhost, "/index.html", 30).expect("GET via 127.0.0.1");
    assert!(page.contains("hello-from-carton"), "{page}");

    // The same container through the host's own address of an interface the test made: from
    // the host itself (nft output chain) and from the outside host (prerouting).
    let via_host_address = SocketAddr::from((outside.host_address, any_port));
    let page = http_get_retrying(via_host_address, "/index.html", 30).expect("GET from the host");
    assert!(page.contains("hello-from-carton"), "{page}");
    let page = outside
        .http_get(via_host_address, "/index.html")
        .expect("GET from outside");
    assert!(page.contains("hello-from-carton"), "{page}");
    // 127.0.0.1:PORT was published on 127.0.0.1 only.
    assert!(http_get(SocketAddr::from((outside.host_address, local_port)), "/").is_err());

    let rules = nft_table(&root).expect("the table exists");
    assert!(rules.contains(&format!("container {id}")), "{rules}");
    assert_eq!(server.stop(), 0);
    let rules = nft_table(&root).expect("the network's rules stay");
    assert!(
        !rules.contains(&id),
        "the container's rules are gone: {rules}"
    );
    assert!(
        http_get(localhost, "/").is_err(),
        "nothing answers any more"
    );
}

#[test]
fn ten_concurrent_containers_get_ten_addresses_and_leave_nothing() {
    let root = std::sync::Arc::new(TestRoot::new("ch05_ten"));
    // Ten started at once, and all ten running at the same time when their addresses are read.
    let starting: Vec<std::thread::JoinHandle<Background>> = (0..10)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || Background::start(&root, &[], WHO_AM_I))
        })
        .collect();
    // Join every thread before looking at any result: a failed start must not leave the other
    // threads (and their handles on the test root) running while this one unwinds, or the root
    // would never be dropped and cleaned up.
    let joined: Vec<std::thread::Result<Background>> =
        starting.into_iter().map(|s| s.join()).collect();
    let running: Vec<Background> = joined.into_iter().map(|r| r.unwrap()).collect();
    let ids: Vec<(String, String)> = running
        .iter()
        .map(|b| (b.lines[0].clone(), b.lines[1].clone()))
        .collect();
    for container in running {
        assert_eq!(container.stop(), 0);
    }
    let net = inspect(&root, "bridge");
    let mut addresses = Vec::new();
    for (id, address) in &ids {
        assert!(
            in_subnet(address, &net.subnet),
            "{address} in {}",
            net.subnet
        );
        assert!(
            !link_exists(&engine::names::veth_host(id)),
            "veth of {id} left"
        );
        addresses.push(address.to_string());
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 10, "ten distinct addresses: {addresses:?}");

    let allocations: Vec<String> = std::fs::read_dir(root.path().join("networks/bridge"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<Ipv4Addr>().is_ok())
        .collect();
    assert!(
        allocations.is_empty(),
        "allocation files left: {allocations:?}"
    );
    let rules = nft_table(&root).expect("the network's table stays");
    for (id, address) in &ids {
        assert!(!rules.contains(id.as_str()), "{id} in {rules}");
        assert!(
            !rules.contains(&format!("{address} ")),
            "{address} in {rules}"
        );
    }
    assert!(
        link_exists(&net.bridge),
        "the bridge stays until network rm"
    );
    root.assert_no_leftovers();
    let out = ch05(&root, &["network", "rm", "bridge"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!link_exists(&net.bridge));
    assert_eq!(nft_table(&root), None);
}

#[test]
fn bad_ports_networks_and_subnets_are_refused_and_nothing_is_made() {
    let root = TestRoot::new("ch05_bad");
    for (flags, says) in [
        (vec!["-p", "0:80"], "out of range"),
        (vec!["-p", "70000:80"], "out of range"),
        (vec!["-p", "8080"], "expected [IP:]HOSTPORT:CONTAINERPORT"),
        (vec!["-p", "8080:80/sctp"], "unknown protocol"),
        (vec!["-p", "8080:80", "-p", "8080:81"], "already published"),
        (vec!["--network", "nosuch"], "no network named \"nosuch\""),
        (
            vec!["--network", "host", "-p", "8080:80"],
            "-p needs a bridge network",
        ),
    ] {
        let out = run_sh(&root, &flags, "true");
        assert_eq!(out.code, 125, "{flags:?}: {out}");
        assert!(out.stderr.contains(says), "{flags:?}: {out}");
    }
    assert!(
        !root.path().join("networks").exists(),
        "nothing was defined or allocated"
    );
    assert_eq!(nft_table(&root), None);

    // A port that a running container publishes already.
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:80");
    let server = Background::start(&root, &["-p", &spec], "hostname");
    let out = run_sh(&root, &["-p", &format!("{port}:80")], "true");
    assert_eq!(out.code, 125, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "already published by container {}",
            server.lines[0]
        )),
        "{out}"
    );
    assert_eq!(server.stop(), 0);
    let net = inspect(&root, "bridge");

    // Subnets: overlapping an existing network, malformed; an unknown network to remove.
    for (args, says) in [
        (
            vec!["--subnet", net.subnet.as_str()],
            "overlaps network bridge",
        ),
        (vec!["--subnet", "10.1.2.3/24"], "did you mean 10.1.2.0/24"),
        (vec!["--subnet", "10.1.2.0/33"], "prefix length"),
        (
            vec!["--subnet", "10.199.250.0/24", "--gateway", "10.1.1.1"],
            "inside the subnet",
        ),
    ] {
        let mut full = vec!["network", "create", "other"];
        full.extend(args.iter().copied());
        let out = ch05(&root, &full);
        assert_eq!(out.code, 125, "{args:?}: {out}");
        assert!(out.stderr.contains(says), "{args:?}: {out}");
    }
    let out = ch05(&root, &["network", "inspect", "other"]);
    assert_eq!(out.code, 125, "no network 'other' was made: {out}");
    let out = ch05(&root, &["network", "rm", "nosuch"]);
    assert_eq!(out.code, 125, "{out}");
    assert_eq!(ch05(&root, &["network", "rm", "bridge"]).code, 0);
    root.assert_no_leftovers();
}

#[test]
fn a_crashed_runs_veth_and_address_are_found_and_cleaned() {
    let root = TestRoot::new("ch05_crash");
    let mut runtime = root
        .command(CH05)
        .args(["run", "--", "/bin/sh", "-c", "sleep 30"])
        .env("CARTON_TEST_PAUSE_AT", "attach")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(runtime.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("paused after attach"), "{line}");
    let id = std::fs::read_dir(root.path().join("containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    assert!(link_exists(&engine::names::veth_host(&id)));
    runtime.kill().unwrap();
    runtime.wait().unwrap();

    let left = root.leftovers();
    let shown: Vec<String> = left.iter().map(|l| l.to_string()).collect();
    assert!(
        left.iter()
            .any(|l| matches!(l, testkit::Leftover::Allocation(_))),
        "{shown:?}"
    );
    let (_, failed) = engine::cleanup::clean(root.path());
    assert!(failed.is_empty(), "{failed:?}");
    assert!(!link_exists(&engine::names::veth_host(&id)));
    root.assert_no_leftovers();
    let net = inspect(&root, "bridge");
    assert!(!link_exists(&net.bridge), "clean removes the bridges too");
    // The network is still defined: the next run makes its bridge again.
    let out = run_sh(&root, &[], "ip -4 -o addr show eth0 >/dev/null && echo ok");
    assert_eq!(out.out(), "ok", "{out}");
}
