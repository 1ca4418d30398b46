//! The default root filesystem: a busybox tree the workshop makes from the host's own
//! busybox-static binary, so no chapter needs a download.
//!
//! A statically linked busybox is one file that contains `sh`, `ls`, `ps`, `ip`, `httpd` and
//! some 270 other programs ("applets"); it picks the applet by the name it was called with, so
//! the rootfs is that one file plus a symlink per applet.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Context, Error, Result, shown};
use crate::narrate;

/// Where busybox-static puts its binary on Debian and Ubuntu.
pub const BUSYBOX_CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// The busybox rootfs under `state_root`, made on first use. Safe when several runs race: the
/// tree is built in a private temporary directory and renamed into place in one step.
pub fn busybox_rootfs(state_root: &Path) -> Result<PathBuf> {
    let rootfs = state_root.join("rootfs").join("busybox");
    if rootfs.join("bin/busybox").is_file() {
        return Ok(rootfs);
    }
    let busybox = find_static_busybox()?;
    let parent = state_root.join("rootfs");
    fs::create_dir_all(&parent).ctx("mkdir", shown(&parent))?;
    let building = parent.join(format!(".busybox-building-{}", std::process::id()));
    narrate::step(
        "rootfs",
        "build the default busybox rootfs",
        format!("{}", building.display()),
    );
    let _ = fs::remove_dir_all(&building);
    if let Err(e) = build_tree(&busybox, &building) {
        let _ = fs::remove_dir_all(&building);
        return Err(e);
    }
    match fs::rename(&building, &rootfs) {
        Ok(()) => Ok(rootfs),
        // Another run finished first: use its tree, drop ours.
        Err(_) if rootfs.join("bin/busybox").is_file() => {
            let _ = fs::remove_dir_all(&building);
            Ok(rootfs)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&building);
            Err(Error::other(format!(
                "rename {} -> {}: {e}",
                building.display(),
                rootfs.display()
            )))
        }
    }
}

/// The host's busybox, if it is statically linked (a dynamic one would need the host's
/// libraries inside the container, which is exactly what a root filesystem should not need).
pub fn find_static_busybox() -> Result<PathBuf> {
    let path = BUSYBOX_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::usage(
                "no busybox on this machine: install the busybox-static package \
                 (`./workshop setup` does it, or `apt-get install busybox-static`)",
            )
        })?;
    if !is_static_elf(&path)? {
        return Err(Error::usage(format!(
            "{} is dynamically linked: install the busybox-static package, whose binary needs \
             no libraries inside the container",
            path.display()
        )));
    }
    Ok(path)
}

fn build_tree(busybox: &Path, root: &Path) -> Result<()> {
    for dir in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home",
        "var/tmp", "run", "mnt",
    ] {
        let path = root.join(dir);
        fs::create_dir_all(&path).ctx("mkdir", shown(&path))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))
        .ctx("chmod", "tmp")?;
    fs::set_permissions(root.join("var/tmp"), fs::Permissions::from_mode(0o1777))
        .ctx("chmod", "var/tmp")?;
    fs::set_permissions(root.join("root"), fs::Permissions::from_mode(0o700))
        .ctx("chmod", "root")?;

    let target = root.join("bin/busybox");
    fs::copy(busybox, &target).ctx("copy", shown(busybox))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).ctx("chmod", shown(&target))?;

    // ANCHOR: applets
    // Ask busybox itself where each applet belongs ("bin/sh", "usr/bin/awk", ...).
    let listing = Command::new(busybox)
        .arg("--list-full")
        .output()
        .ctx("run", format!("{} --list-full", busybox.display()))?;
    for applet in String::from_utf8_lossy(&listing.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "bin/busybox" || applet.contains("..") {
            continue;
        }
        let link = root.join(applet);
        if link.symlink_metadata().is_err() {
            symlink("/bin/busybox", &link).ctx("symlink", shown(&link))?;
        }
    }
    // ANCHOR_END: applets

    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        (
            "etc/os-release",
            "NAME=\"carton busybox\"\nID=carton-busybox\nPRETTY_NAME=\"the carton workshop's busybox rootfs\"\n",
        ),
    ];
    for (name, content) in files {
        let path = root.join(name);
        fs::write(&path, content).ctx("write", shown(&path))?;
    }
    Ok(())
}

/// An ELF binary is static when it has no PT_INTERP program header (no dynamic loader).
fn is_static_elf(path: &Path) -> Result<bool> {
    let bytes = fs::read(path).ctx("read", shown(path))?;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    // Only 64-bit little-endian ELF is handled: the machines this workshop targets.
    if bytes.get(..5) != Some(b"\x7fELF\x02") {
        return Err(Error::usage(format!(
            "{} is not a 64-bit ELF program",
            path.display()
        )));
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return Err(Error::usage(format!(
            "{} has a truncated ELF header",
            path.display()
        )));
    };
    const PT_INTERP: u32 = 3;
    for i in 0..phnum as usize {
        let at = phoff as usize + i * phentsize as usize;
        if u32_at(at) == Some(PT_INTERP) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_is_not_static() {
        // Every Rust test binary is dynamically linked against the C library.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
    }

    #[test]
    fn a_text_file_is_not_a_program() {
        let me = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(is_static_elf(&me).is_err());
    }
}
