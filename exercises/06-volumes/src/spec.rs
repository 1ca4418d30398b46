//! The three ways to ask for a mount, parsed into one shape. Pure functions: a string in, a
//! `MountSpec` (or a clear error) out.
//!
//! ```text
//! -v /host/path:/ctr/path[:ro|:rw]       a bind mount of a host directory or file
//! -v NAME:/ctr/path[:ro|:rw]             a named volume (created on first use)
//! -v /ctr/path                           an anonymous volume
//! --tmpfs /ctr/path[:size=64m,mode=1777] a memory-backed filesystem
//! --mount type=bind|volume|tmpfs,source=...,target=...[,readonly]   the same, spelled out
//! ```
// Your exercise: derived from solutions/06-volumes/src/spec.rs by `workshop exercises`.
// Replace each todo!() with your code; `workshop reset` brings this file back.
#![allow(unused, unreachable_code, clippy::diverging_sub_expression)]

use std::path::{Component, Path, PathBuf};

use engine::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path, absolute.
    Bind(PathBuf),
    /// A volume of the runtime; anonymous ones get a generated name.
    Volume { name: String, anonymous: bool },
    /// tmpfs with its mount options ("size=67108864,mode=1777").
    Tmpfs(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Source,
    /// Absolute, normalized, never `/`.
    pub target: String,
    pub read_only: bool,
}

/// `-v SOURCE:TARGET[:OPTIONS]` or `-v TARGET`.
pub fn parse_volume_flag(spec: &str) -> Result<MountSpec> {
    let bad = |why: String| Error::usage(format!("-v {spec:?}: {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, options] => (Some(*source), *target, *options),
        _ => {
            return Err(bad(
                "expected SOURCE:TARGET[:ro|rw], NAME:TARGET or TARGET".into()
            ));
        }
    };
    let target = check_target(target).map_err(bad)?;
    let mut read_only = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" | "readonly" => read_only = true,
            "rw" => read_only = false,
            other => return Err(bad(format!("unknown option {other:?} (use ro or rw)"))),
        }
    }
    let source = match source {
        None => Source::Volume {
            name: anonymous_name(),
            anonymous: true,
        },
        Some(path) if path.starts_with('/') => Source::Bind(PathBuf::from(path)),
        Some(path) if path.contains('/') || path.starts_with('.') => {
            return Err(bad(format!(
                "{path:?} is a relative host path: give an absolute one (e.g. $PWD/{path})"
            )));
        }
        Some(name) => Source::Volume {
            name: check_volume_name(name).map_err(bad)?,
            anonymous: false,
        },
    };
    Ok(MountSpec {
        source,
        target,
        read_only,
    })
}

/// `--tmpfs TARGET[:size=..,mode=..]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountSpec> {
    let bad = |why: String| Error::usage(format!("--tmpfs {spec:?}: {why}"));
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    let target = check_target(target).map_err(bad)?;
    let options = tmpfs_options(options.split(',').filter(|o| !o.is_empty())).map_err(bad)?;
    Ok(MountSpec {
        source: Source::Tmpfs(options),
        target,
        read_only: false,
    })
}

/// `--mount type=...,source=...,target=...[,readonly][,tmpfs-size=..][,tmpfs-mode=..]`.
pub fn parse_mount_flag(spec: &str) -> Result<MountSpec> {
    let bad = |why: String| Error::usage(format!("--mount {spec:?}: {why}"));
    let (mut kind, mut source, mut target, mut read_only) = (None, None, None, false);
    let mut tmpfs = Vec::new();
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => kind = Some(value.to_string()),
            "source" | "src" => source = Some(value.to_string()),
            "target" | "destination" | "dst" => target = Some(value.to_string()),
            "readonly" | "ro" => {
                read_only = match value {
                    "" | "true" | "1" => true,
                    "false" | "0" => false,
                    other => return Err(bad(format!("readonly={other:?}: use true or false"))),
                }
            }
            "tmpfs-size" => tmpfs.push(format!("size={value}")),
            "tmpfs-mode" => tmpfs.push(format!("mode={value}")),
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    let target =
        check_target(&target.ok_or_else(|| bad("target= is missing".into()))?).map_err(bad)?;
    let source = match (kind.as_deref(), source) {
        (Some("bind"), Some(path)) if path.starts_with('/') => Source::Bind(PathBuf::from(path)),
        (Some("bind"), Some(path)) => {
            return Err(bad(format!(
                "{path:?}: a bind source must be an absolute host path"
            )));
        }
        (Some("bind"), None) => return Err(bad("a bind mount needs source=".into())),
        (Some("volume"), Some(name)) if !name.is_empty() => Source::Volume {
            name: check_volume_name(&name).map_err(bad)?,
            anonymous: false,
        },
        (Some("volume"), _) => Source::Volume {
            name: anonymous_name(),
            anonymous: true,
        },
        (Some("tmpfs"), None) => {
            Source::Tmpfs(tmpfs_options(tmpfs.iter().map(String::as_str)).map_err(bad)?)
        }
        (Some("tmpfs"), Some(_)) => return Err(bad("a tmpfs has no source".into())),
        (Some(other), _) => return Err(bad(format!("type={other:?}: use bind, volume or tmpfs"))),
        (None, _) => return Err(bad("type= is missing (bind, volume or tmpfs)".into())),
    };
    Ok(MountSpec {
        source,
        target,
        read_only,
    })
}

/// An absolute path inside the container, normalized; `/` itself is refused (a container's
/// root comes from its image), and so is `..` (it could only be a mistake or an attack).
pub fn check_target(target: &str) -> std::result::Result<String, String> {
    if target.is_empty() {
        return Err("the target (the path inside the container) is empty".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "the target {target:?} must be an absolute path inside the container"
        ));
    }
    let mut clean = PathBuf::from("/");
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::ParentDir => return Err(format!("the target {target:?} holds '..'")),
            _ => {}
        }
    }
    if clean == Path::new("/") {
        return Err("the target cannot be / (the container's root is its image)".into());
    }
    Ok(clean.display().to_string())
}

/// A volume name: letters, digits, `_`, `.`, `-`, starting with a letter or digit.
pub fn check_volume_name(name: &str) -> std::result::Result<String, String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        || name.len() > 64
    {
        return Err(format!(
            "{name:?} is not a volume name: letters, digits, _ . - (starting with a letter or digit)"
        ));
    }
    Ok(name.to_string())
}

fn tmpfs_options<'a>(
    options: impl Iterator<Item = &'a str>,
) -> std::result::Result<String, String> {
    let mut size = None;
    let mut mode = "1777".to_string();
    for option in options {
        match option.split_once('=') {
            Some(("size", value)) => {
                size = Some(
                    parse_size(value).ok_or(format!("size={value:?}: expected a size like 64m"))?,
                )
            }
            Some(("mode", value))
                if !value.is_empty()
                    && value.len() <= 4
                    && value.chars().all(|c| ('0'..='7').contains(&c)) =>
            {
                mode = value.to_string()
            }
            Some(("mode", value)) => {
                return Err(format!("mode={value:?}: expected octal, like 1777"));
            }
            _ => return Err(format!("unknown tmpfs option {option:?} (size= or mode=)")),
        }
    }
    Ok(match size {
        Some(bytes) => format!("size={bytes},mode={mode}"),
        None => format!("mode={mode}"),
    })
}

/// "64m" -> 67108864 (k, m, g; no fractions).
fn parse_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, multiplier) = match lower.chars().last()? {
        'k' => (&lower[..lower.len() - 1], 1u64 << 10),
        'm' => (&lower[..lower.len() - 1], 1 << 20),
        'g' => (&lower[..lower.len() - 1], 1 << 30),
        _ => (lower.as_str(), 1),
    };
    let value: u64 = digits.parse().ok()?;
    (value > 0).then(|| value.saturating_mul(multiplier))
}

fn anonymous_name() -> String {
    format!(
        "{}{}",
        engine::container::new_id(),
        engine::container::new_id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_named_and_anonymous_volumes() {
        let bind = parse_volume_flag("/srv/data:/data:ro").unwrap();
        assert_eq!(
            bind,
            MountSpec {
                source: Source::Bind("/srv/data".into()),
                target: "/data".into(),
                read_only: true
            }
        );
        let named = parse_volume_flag("cache:/var/cache/").unwrap();
        assert_eq!(
            named.source,
            Source::Volume {
                name: "cache".into(),
                anonymous: false
            }
        );
        assert_eq!(named.target, "/var/cache");
        let anonymous = parse_volume_flag("/scratch").unwrap();
        assert!(matches!(
            anonymous.source,
            Source::Volume {
                anonymous: true,
                ..
            }
        ));
    }

    #[test]
    fn bad_volume_flags_are_refused() {
        for bad in [
            "./x:/y",
            "x/y:/z",
            "/a:/b:zz",
            "/a:",
            "/a:relative",
            "/a:/",
            "/a:/x/../y",
            "a:b:c:d",
            "bad name:/x",
            "",
        ] {
            assert!(parse_volume_flag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs_and_mount_flags() {
        let tmp = parse_tmpfs_flag("/run/x:size=64m,mode=1770").unwrap();
        assert_eq!(tmp.source, Source::Tmpfs("size=67108864,mode=1770".into()));
        assert!(parse_tmpfs_flag("/x:size=big").is_err());
        assert!(parse_tmpfs_flag("/x:uid=0").is_err());
        let m = parse_mount_flag("type=bind,source=/a,target=/b,readonly").unwrap();
        assert_eq!(
            m,
            MountSpec {
                source: Source::Bind("/a".into()),
                target: "/b".into(),
                read_only: true
            }
        );
        let v = parse_mount_flag("type=volume,src=data,dst=/d").unwrap();
        assert_eq!(
            v.source,
            Source::Volume {
                name: "data".into(),
                anonymous: false
            }
        );
        let t = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m").unwrap();
        assert_eq!(t.source, Source::Tmpfs("size=1048576,mode=1777".into()));
        for bad in [
            "type=bind,target=/b",
            "type=nfs,target=/b",
            "source=/a,target=/b",
            "type=bind,source=rel,target=/b",
            "type=tmpfs,source=/a,target=/t",
            "type=bind,source=/a,target=/b,colour=red",
            "type=bind,source=/a",
        ] {
            assert!(parse_mount_flag(bad).is_err(), "{bad}");
        }
    }
}
