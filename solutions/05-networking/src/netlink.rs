//! Talking to the kernel's network stack over netlink, with the rtnetlink crate.
//!
//! `ip link add`, `ip addr add` and `ip route add` are netlink messages (RTM_NEWLINK,
//! RTM_NEWADDR, RTM_NEWROUTE) sent on an AF_NETLINK socket. rtnetlink builds them; it is
//! asynchronous, so each batch of work runs in a small tokio runtime made for it.
//!
//! The runtime is a current-thread one and exists only after the clone: the engine refuses to
//! clone a process with more than one thread, and a current-thread runtime starts none.
//!
//! A netlink socket talks to the network namespace it was opened in. To configure the inside
//! of a container, `inside` opens the socket on a thread that first joins the container's
//! network namespace with setns(2).

use std::future::Future;
use std::os::fd::AsFd;

use engine::{Context, Error, Result, narrate};
use futures_util::TryStreamExt;
use nix::errno::Errno;
use nix::sched::CloneFlags;
use rtnetlink::Handle;

/// Run `job` with a netlink handle in a fresh current-thread runtime, in this thread's network
/// namespace.
pub fn run<T, F>(job: impl FnOnce(Handle) -> F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .ctx("create a tokio runtime", "current thread")?;
    runtime.block_on(async {
        let (connection, handle, _) =
            rtnetlink::new_connection().ctx("socket", "AF_NETLINK, NETLINK_ROUTE")?;
        // The connection is the task that sends requests and reads the kernel's answers.
        tokio::spawn(connection);
        job(handle).await
    })
}

// ANCHOR: inside
/// Run `job` inside the network namespace of process `pid`: on a new thread that joins that
/// namespace first (setns affects only the calling thread), so the runtime's own thread stays
/// in the host's namespace.
pub fn inside<T, F>(pid: i32, job: impl FnOnce(Handle) -> F + Send + 'static) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>>,
{
    let path = format!("/proc/{pid}/ns/net");
    let netns = std::fs::File::open(&path).ctx("open", &path)?;
    let thread = std::thread::spawn(move || {
        narrate::step(
            "network",
            "a thread joins the container's netns",
            format!("setns(open({path:?}), CLONE_NEWNET)"),
        );
        nix::sched::setns(netns.as_fd(), CloneFlags::CLONE_NEWNET).ctx("setns", &path)?;
        run(job)
    });
    thread
        .join()
        .map_err(|_| Error::other("the thread in the container's network namespace panicked"))?
}
// ANCHOR_END: inside

/// The index of link `name`, or None when there is no such link.
pub async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno_of(&e) == Some(Errno::ENODEV) => Ok(None),
        Err(e) => Err(error("RTM_GETLINK", name, e, None)),
    }
}

/// The index of link `name`, which must exist.
pub async fn require_link(handle: &Handle, name: &str) -> Result<u32> {
    link_index(handle, name)
        .await?
        .ok_or_else(|| Error::other(format!("link {name} does not exist (it vanished?)")))
}

/// The errno the kernel answered with, if it answered with one.
pub fn errno_of(e: &rtnetlink::Error) -> Option<Errno> {
    match e {
        rtnetlink::Error::NetlinkError(message) if message.raw_code() != 0 => {
            Some(Errno::from_raw(message.raw_code().abs()))
        }
        _ => None,
    }
}

/// A netlink failure as the engine's error: the message, the object, the errno and a hint.
pub fn error(
    message: &'static str,
    object: impl std::fmt::Display,
    e: rtnetlink::Error,
    hint: Option<&'static str>,
) -> Error {
    match errno_of(&e) {
        Some(errno) => Error::Sys {
            op: message,
            target: object.to_string(),
            errno,
            hint: hint.or(match errno {
                Errno::EPERM => Some("netlink changes need CAP_NET_ADMIN: run as root"),
                Errno::EEXIST => {
                    Some("it exists already: a crashed run? `./workshop clean` removes leftovers")
                }
                Errno::EOPNOTSUPP => {
                    Some("the kernel lacks this link type (modprobe veth / bridge?)")
                }
                _ => None,
            }),
        },
        None => Error::other(format!("{message} {object}: {e}")),
    }
}
