//! The two kernel settings this layer needs, written under /proc/sys.

use engine::{Context, Result, narrate};

// ANCHOR: sysctls
/// `net.ipv4.ip_forward=1`: let the host route packets between its interfaces (the bridge and
/// the way out). Without it, containers reach the host and each other, and nothing beyond.
pub fn enable_ip_forward() -> Result<()> {
    write(
        "/proc/sys/net/ipv4/ip_forward",
        "forward packets between interfaces",
    )
}

/// `route_localnet=1` on the bridge: packets with a 127.0.0.0/8 address may be routed out of
/// it. A connection to 127.0.0.1:HOSTPORT is DNAT-ed towards the container but keeps its source
/// 127.0.0.1 until the masquerade in postrouting; without this the kernel drops it as a martian.
pub fn enable_route_localnet(bridge: &str) -> Result<()> {
    write(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "let 127.0.0.1 be routed to the bridge",
    )
}
// ANCHOR_END: sysctls

fn write(path: &str, what: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    narrate::step("network", what, format!("write({path:?}, \"1\")"));
    std::fs::write(path, "1").ctx("write", path)
}
