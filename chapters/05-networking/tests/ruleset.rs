//! The ruleset builder, checked as text: for two networks and two published ports, the exact
//! nft script the layer feeds to `nft -f -`.

#[cfg(not(feature = "solution"))]
use exercise as networking;
#[cfg(feature = "solution")]
use solution as networking;

use networking::nat::{NetworkRules, PortRules, ruleset};
use networking::ports;
use networking::subnet::Subnet;

#[test]
fn the_ruleset_masquerades_publishes_and_isolates() {
    let networks = [
        NetworkRules {
            name: "bridge".into(),
            bridge: "carton0".into(),
            subnet: Subnet::parse("10.100.0.0/24").unwrap(),
        },
        NetworkRules {
            name: "back".into(),
            bridge: "carton1".into(),
            subnet: Subnet::parse("10.100.1.0/24").unwrap(),
        },
    ];
    let port = |spec: &str| PortRules {
        container_id: "0123456789ab".into(),
        bridge: "carton0".into(),
        address: "10.100.0.2".parse().unwrap(),
        publish: ports::parse(spec).unwrap(),
    };
    let ports = [port("127.0.0.1:8080:80"), port("5353:53/udp")];
    let expected = r#"table ip carton
delete table ip carton
table ip carton {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local jump publish
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local jump publish
	}
	chain publish {
		ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.100.0.2:80 comment "container 0123456789ab"
		udp dport 5353 dnat to 10.100.0.2:53 comment "container 0123456789ab"
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.100.0.0/24 oifname != "carton0" masquerade comment "egress of network bridge"
		ip saddr 127.0.0.0/8 oifname "carton0" masquerade comment "localhost to network bridge"
		ip saddr 10.100.1.0/24 oifname != "carton1" masquerade comment "egress of network back"
		ip saddr 127.0.0.0/8 oifname "carton1" masquerade comment "localhost to network back"
		ip saddr 10.100.0.2 ip daddr 10.100.0.2 tcp dport 80 masquerade comment "container 0123456789ab"
		ip saddr 10.100.0.2 ip daddr 10.100.0.2 udp dport 53 masquerade comment "container 0123456789ab"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "carton0" oifname { "carton1" } drop comment "isolate network bridge"
		iifname "carton1" oifname { "carton0" } drop comment "isolate network back"
	}
}
"#;
    assert_eq!(ruleset("carton", &networks, &ports), expected);
}

#[test]
fn the_ruleset_is_accepted_by_nft() {
    // `nft --check` parses and validates the script in the kernel without applying it.
    let networks = [NetworkRules {
        name: "bridge".into(),
        bridge: "carton0".into(),
        subnet: Subnet::parse("10.100.0.0/24").unwrap(),
    }];
    let script = ruleset("carton_check", &networks, &[]);
    let mut child = std::process::Command::new("nft")
        .args(["--check", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run nft (the nftables package)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}
