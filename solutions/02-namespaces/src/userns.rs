//! User namespaces: root inside, an ordinary user outside.
//!
//! A new user namespace maps no ids at all until its parent writes `/proc/PID/uid_map` and
//! `gid_map`. Each line says "ids from INSIDE, starting at OUTSIDE, COUNT of them":
//! `0 1000000 65536` makes container uid 0 the host's uid 1000000, uid 1 the host's 1000001...
//! A file the container's root creates belongs to uid 1000000 on the host: an escape would land
//! as a nobody.

use std::fs;

use engine::{Context, Error, Pid, Result, narrate};
use nix::unistd::{Gid, Uid};

/// A contiguous range of host ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

/// The host ranges that container uids and gids 0..COUNT map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub uids: IdRange,
    pub gids: IdRange,
}

/// Used when /etc/subuid has no line for root: far above the ids of real users, and above the
/// 100000 where Debian and Ubuntu start handing out subordinate ranges to users.
pub const DEFAULT_RANGE: IdRange = IdRange {
    start: 1_000_000,
    count: 65536,
};

/// `--userns=START:COUNT`.
pub fn parse_map(spec: &str) -> Result<IdMap> {
    let bad = |why: String| Error::usage(format!("--userns={spec}: {why}"));
    let (start, count) = spec
        .split_once(':')
        .ok_or_else(|| bad("expected START:COUNT, e.g. --userns=1000000:65536".into()))?;
    let start: u32 = start
        .parse()
        .map_err(|_| bad(format!("{start:?} is not a host uid")))?;
    let count: u32 = count
        .parse()
        .map_err(|_| bad(format!("{count:?} is not a number of ids")))?;
    let range = check_range(IdRange { start, count }).map_err(bad)?;
    Ok(IdMap {
        uids: range,
        gids: range,
    })
}

/// Root's ranges from /etc/subuid and /etc/subgid, or the default range.
pub fn default_map() -> Result<IdMap> {
    let pick = |file: &str| -> Result<IdRange> {
        let text = fs::read_to_string(file).unwrap_or_default();
        let range = subordinate_range(&text, "root").unwrap_or(DEFAULT_RANGE);
        check_range(range)
            .map_err(|why| Error::usage(format!("--userns: the range in {file}: {why}")))
    };
    Ok(IdMap {
        uids: pick("/etc/subuid")?,
        gids: pick("/etc/subgid")?,
    })
}

/// The `user:start:count` line of `user` in a /etc/subuid-style file.
pub fn subordinate_range(text: &str, user: &str) -> Option<IdRange> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        if fields.next()? != user {
            return None;
        }
        let start = fields.next()?.parse().ok()?;
        let count = fields.next()?.parse().ok()?;
        Some(IdRange { start, count })
    })
}

fn check_range(range: IdRange) -> std::result::Result<IdRange, String> {
    if range.start == 0 {
        return Err(
            "host id 0 is root: mapping the container's root onto it defeats the purpose".into(),
        );
    }
    if range.count == 0 {
        return Err("a range needs at least one id (root's)".into());
    }
    if range.start.checked_add(range.count).is_none() || range.start + range.count == u32::MAX {
        return Err("the range runs past the largest id (4294967294)".into());
    }
    Ok(range)
}

// ANCHOR: write_maps
// ANCHOR: write_maps_exercise
/// Host side, while the child waits: write its uid and gid maps.
pub fn write_maps(child: Pid, map: &IdMap) -> Result<()> {
    let uid_map = format!("/proc/{child}/uid_map");
    let gid_map = format!("/proc/{child}/gid_map");
    // EXERCISE: write one line "0 START COUNT" to uid_map (from map.uids) and to gid_map (from
    // map.gids): container ids 0..COUNT become host ids START..START+COUNT.
    // ANCHOR_END: write_maps_exercise
    // BEGIN SOLUTION
    let line = format!("0 {} {}\n", map.uids.start, map.uids.count);
    narrate::step(
        "userns",
        "map container uids to host uids",
        format!("write({uid_map:?}, {line:?})"),
    );
    fs::write(&uid_map, &line).ctx("write", &uid_map)?;

    let line = format!("0 {} {}\n", map.gids.start, map.gids.count);
    narrate::step(
        "userns",
        "map container gids to host gids",
        format!("write({gid_map:?}, {line:?})"),
    );
    fs::write(&gid_map, &line).ctx("write", &gid_map)?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: write_maps

// ANCHOR: become_root
/// Child side: the child was created by host root (uid 0), which the map does not cover, so it
/// is "nobody" inside until it switches to the ids that are root in its namespace.
pub fn become_root() -> Result<()> {
    narrate::step(
        "userns",
        "become root of the user namespace",
        "setgroups([]); setresgid(0,0,0); setresuid(0,0,0)",
    );
    nix::unistd::setgroups(&[]).ctx("setgroups", "[]")?;
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .ctx("setresgid", 0)?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .ctx("setresuid", 0)?;
    Ok(())
}
// ANCHOR_END: become_root

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_and_unusable_ones_refused() {
        let map = parse_map("100000:65536").unwrap();
        assert_eq!(
            map.uids,
            IdRange {
                start: 100000,
                count: 65536
            }
        );
        assert_eq!(map.gids, map.uids);
        for bad in [
            "0:65536",
            "100000:0",
            "abc",
            "1:2:3",
            "-5:10",
            "4294967290:100",
            "",
        ] {
            assert!(parse_map(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roots_line_is_found_in_subuid() {
        let text = "alice:100000:65536\nroot:231072:65536\n";
        assert_eq!(
            subordinate_range(text, "root"),
            Some(IdRange {
                start: 231072,
                count: 65536
            })
        );
        assert_eq!(subordinate_range(text, "bob"), None);
    }
}
