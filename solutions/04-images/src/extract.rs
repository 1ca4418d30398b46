//! Unpacking a layer archive, which is untrusted input.
//!
//! An image comes from somebody else. Its layers are tar archives, and a tar entry can name any
//! path: `../../etc/cron.d/x`, `/etc/passwd`, or `evil/x` after an earlier entry made `evil` a
//! symlink to `/etc`. Each of those would write on the host. So every entry is checked before
//! anything is written: no absolute path, no `..`, no existing symlink on the way, hard links
//! only to files inside the layer. A bad entry stops the whole extraction with an error, and
//! the half-made layer directory is thrown away by the caller.
//!
//! OCI layers mark deletions with empty files named `.wh.NAME` and "this directory replaces the
//! one below" with `.wh..wh..opq`. overlayfs marks them differently (a 0/0 character device, an
//! xattr), so they are converted here; the marker files themselves are never written.

use std::collections::VecDeque;
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use engine::{Context, Error, Result, narrate};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use nix::sys::time::TimeSpec;

pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What an extraction did, for the narration.
#[derive(Debug, Default)]
pub struct Summary {
    pub entries: usize,
    pub whiteouts: usize,
    pub skipped_devices: usize,
}

/// Unpack `archive` (an uncompressed tar stream) into the empty directory `target`.
pub fn extract_layer(archive: impl Read, target: &Path) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut tar = tar::Archive::new(archive);
    // Directories get their mode and times last: writing into them would change their mtime,
    // and a read-only directory mode would stop us from writing into them at all.
    let mut directories: VecDeque<(PathBuf, tar::Header)> = VecDeque::new();
    let entries = tar
        .entries()
        .map_err(|e| bad_archive(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad_archive(format!("a damaged entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad_archive(format!("an entry's name: {e}")))?
            .into_owned();
        let relative = clean_relative(&path)?;
        let Some(name) = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue; // the archive's own root, "./"
        };
        let parent = relative.parent().unwrap_or(Path::new(""));
        make_parents_inside(target, parent)?;
        summary.entries += 1;

        // ANCHOR: markers
        if name == OPAQUE_MARKER || name.starts_with(WHITEOUT_PREFIX) {
            let hidden = name.strip_prefix(WHITEOUT_PREFIX).unwrap_or_default();
            if name != OPAQUE_MARKER && matches!(hidden, "" | "." | "..") {
                return Err(bad_archive(format!(
                    "the whiteout {} names no file of its directory",
                    path.display()
                )));
            }
            convert_whiteout(&target.join(parent), &name)?;
            summary.whiteouts += 1;
            continue;
        }
        // ANCHOR_END: markers

        let dest = target.join(&relative);
        let header = entry.header().clone();
        let kind = header.entry_type();
        if !kind.is_dir() {
            remove_existing(&dest)?;
        }
        match kind {
            tar::EntryType::Directory => {
                match fs::symlink_metadata(&dest) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        remove_existing(&dest)?;
                        fs::create_dir(&dest).ctx("mkdir", dest.display())?;
                    }
                    Err(_) => fs::create_dir(&dest).ctx("mkdir", dest.display())?,
                }
                directories.push_front((dest.clone(), header.clone()));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&dest)
                    .ctx("create", dest.display())?;
                std::io::copy(&mut entry, &mut file).ctx("write", dest.display())?;
            }
            tar::EntryType::Symlink => {
                // A symlink's target is only text: it is never followed while extracting.
                let link = entry.link_name().ok().flatten().ok_or_else(|| {
                    bad_archive(format!("the symlink {} has no target", path.display()))
                })?;
                std::os::unix::fs::symlink(&link, &dest).ctx("symlink", dest.display())?;
            }
            tar::EntryType::Link => {
                let link = entry.link_name().ok().flatten().ok_or_else(|| {
                    bad_archive(format!("the hard link {} has no target", path.display()))
                })?;
                let source_relative = clean_relative(&link).map_err(|_| {
                    bad_archive(format!(
                        "the hard link {} points outside the layer: {}",
                        path.display(),
                        link.display()
                    ))
                })?;
                make_parents_inside(target, source_relative.parent().unwrap_or(Path::new("")))?;
                let source = target.join(&source_relative);
                match fs::symlink_metadata(&source) {
                    Ok(meta) if !meta.is_dir() => {}
                    _ => {
                        return Err(bad_archive(format!(
                            "the hard link {} points to {}, which is no file of this layer",
                            path.display(),
                            link.display()
                        )));
                    }
                }
                fs::hard_link(&source, &dest).ctx("link", dest.display())?;
                continue; // a hard link shares the inode: its owner and mode are the source's
            }
            tar::EntryType::Fifo => {
                mknod(&dest, SFlag::S_IFIFO, Mode::from_bits_truncate(0o600), 0)
                    .ctx("mknod", dest.display())?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                // Device nodes in an image would let a container open host devices; the
                // container's /dev is made at start (chapter 2), so they are not needed.
                narrate::note(
                    "images",
                    &format!("skipped the device node {}", path.display()),
                );
                summary.skipped_devices += 1;
                continue;
            }
            _ => continue, // PAX and GNU extension headers are handled by the tar crate
        }
        if !kind.is_dir() {
            apply_metadata(&dest, &header, kind == tar::EntryType::Symlink)?;
            apply_xattrs(&dest, &mut entry)?;
        } else {
            apply_xattrs(&dest, &mut entry)?;
        }
    }
    for (dir, header) in directories {
        apply_metadata(&dir, &header, false)?;
    }
    Ok(summary)
}

// ANCHOR: whiteout
// ANCHOR: whiteout_exercise
/// Turn an OCI marker into what overlayfs understands, in the directory `dir`.
pub fn convert_whiteout(dir: &Path, marker: &str) -> Result<()> {
    // EXERCISE: for ".wh..wh..opq", mark `dir` opaque: set_xattr(dir, OPAQUE_XATTR, b"y").
    // For ".wh.NAME", hide NAME: remove_existing(&dir.join(NAME)), then mknod a character device
    // with device number 0/0 (makedev(0, 0)) at dir/NAME.
    // ANCHOR_END: whiteout_exercise
    // BEGIN SOLUTION
    if marker == OPAQUE_MARKER {
        narrate::step(
            "images",
            "an opaque directory",
            format!("setxattr({dir:?}, \"{OPAQUE_XATTR}\", \"y\")"),
        );
        return set_xattr(dir, OPAQUE_XATTR, b"y");
    }
    let hidden = dir.join(&marker[WHITEOUT_PREFIX.len()..]);
    narrate::step(
        "images",
        "a whiteout hides a lower file",
        format!("mknod({hidden:?}, S_IFCHR, 0/0)"),
    );
    remove_existing(&hidden)?;
    mknod(&hidden, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).ctx("mknod", hidden.display())?;
    // END SOLUTION
    Ok(())
}
// ANCHOR_END: whiteout

// ANCHOR: checks
/// A path from an archive, made relative and checked: no absolute path, no `..`.
pub fn clean_relative(path: &Path) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(bad_archive(format!(
                    "the entry {} climbs out with '..'",
                    path.display()
                )));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad_archive(format!(
                    "the entry {} is an absolute path",
                    path.display()
                )));
            }
        }
    }
    Ok(clean)
}

/// Create the directories above an entry, refusing to pass through a symlink (which could lead
/// anywhere on the host) or a file.
fn make_parents_inside(target: &Path, parent: &Path) -> Result<()> {
    let mut current = target.to_path_buf();
    for part in parent.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(bad_archive(format!(
                    "an entry would be written through the symlink {}",
                    current.strip_prefix(target).unwrap_or(&current).display()
                )));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(bad_archive(format!(
                    "{} is a file, yet an entry is inside it",
                    current.strip_prefix(target).unwrap_or(&current).display()
                )));
            }
            Err(_) => fs::create_dir(&current).ctx("mkdir", current.display())?,
        }
    }
    Ok(())
}
// ANCHOR_END: checks

/// A later entry replaces an earlier one of the same name (never following a symlink).
pub fn remove_existing(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).ctx("rm -r", path.display()),
        Ok(_) => fs::remove_file(path).ctx("rm", path.display()),
        Err(_) => Ok(()),
    }
}

/// Owner, mode and modification time, as the archive says.
fn apply_metadata(path: &Path, header: &tar::Header, is_symlink: bool) -> Result<()> {
    let uid = header.uid().unwrap_or(0) as u32;
    let gid = header.gid().unwrap_or(0) as u32;
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx("chown", path.display())?;
    if !is_symlink {
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx("chmod", path.display())?;
    }
    let mtime = TimeSpec::new(header.mtime().unwrap_or(0) as i64, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &mtime,
        &mtime,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .ctx("utimensat", path.display())
}

/// Extended attributes travel in PAX headers as `SCHILY.xattr.NAME`.
fn apply_xattrs<R: Read>(path: &Path, entry: &mut tar::Entry<R>) -> Result<()> {
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return Ok(());
    };
    for extension in extensions.flatten() {
        let Ok(key) = extension.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            // overlayfs's own attributes in an archive would change how the layer is read.
            if name.starts_with("trusted.overlay.") {
                continue;
            }
            set_xattr(path, name, extension.value_bytes())?;
        }
    }
    Ok(())
}

/// lsetxattr(2): set an extended attribute without following a symlink.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::usage("a path with a NUL byte"))?;
    let c_name = CString::new(name).map_err(|_| Error::usage("an xattr name with a NUL byte"))?;
    // SAFETY: both strings are NUL-terminated and live across the call; value is a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc < 0 {
        return Err(Error::sys(
            "setxattr",
            format!("{} {name}", path.display()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// lgetxattr(2): the value of an extended attribute, if the file has it.
pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let c_name = CString::new(name).ok()?;
    let mut buffer = vec![0u8; 256];
    // SAFETY: the buffer is valid for its length; the strings are NUL-terminated.
    let len = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if len < 0 {
        return None;
    }
    buffer.truncate(len as usize);
    Some(buffer)
}

fn bad_archive(why: String) -> Error {
    Error::usage(format!("refused layer archive: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_are_made_relative_or_refused() {
        assert_eq!(
            clean_relative(Path::new("./etc/passwd")).unwrap(),
            Path::new("etc/passwd")
        );
        assert_eq!(clean_relative(Path::new("bin/")).unwrap(), Path::new("bin"));
        assert!(clean_relative(Path::new("../etc/passwd")).is_err());
        assert!(clean_relative(Path::new("a/../../b")).is_err());
        assert!(clean_relative(Path::new("/etc/passwd")).is_err());
    }
}
