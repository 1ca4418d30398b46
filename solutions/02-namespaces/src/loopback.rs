//! A new network namespace has one interface, `lo`, and it is down: even 127.0.0.1 does not
//! answer until it is brought up. (Chapter 5 adds a real interface.)

use std::os::fd::AsRawFd;

use engine::{Context, Error, Result, narrate};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

/// Bring `lo` up the way `ifconfig lo up` does, with two ioctls: read the interface flags, add
/// IFF_UP, write them back. (`ip link set lo up` sends the same request over netlink.)
pub fn bring_up() -> Result<()> {
    narrate::step(
        "namespaces",
        "bring the loopback interface up",
        "ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)",
    );
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx("socket", "AF_INET")?;
    // SAFETY: ifreq is a plain C struct; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: both ioctls read and write the ifreq we own; the socket is open.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(Error::sys(
                "ioctl(SIOCGIFFLAGS)",
                "lo",
                nix::errno::Errno::last(),
            ));
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(Error::sys(
                "ioctl(SIOCSIFFLAGS)",
                "lo",
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}
