//! `workshop setup`: everything the workshop needs on a fresh Debian or Ubuntu machine with Rust
//! installed: the system packages, the book's tools, a build, the busybox rootfs, a doctor's
//! check, and the tour.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cargo;
use crate::doctor;
use crate::tour;
use crate::ui;

/// The Debian packages the chapters and their tests use.
pub const PACKAGES: &[(&str, &str)] = &[
    ("busybox-static", "the containers' root filesystem"),
    ("nftables", "chapter 5's NAT and published ports"),
    ("iproute2", "`ip`, to look at links and addresses"),
    ("gcc", "builds the chroot-escape program"),
    ("libc6-dev", "lets gcc build static programs"),
    (
        "qemu-system-x86",
        "boots the small VM that tests chapter 3 on cgroup v2",
    ),
    ("runc", "`workshop bench` compares your runtime with it"),
    ("crun", "`workshop bench` compares your runtime with it"),
    ("strace", "shows which system calls a slow layer waits in"),
    (
        "time",
        "GNU time: `workshop bench` reads peak memory with it",
    ),
];

/// Debian's small kernel for the cgroup v2 VM. Ubuntu has no such package: there the VM boots
/// the machine's own kernel image from /boot.
pub const DEBIAN_ONLY: &[(&str, &str)] =
    &[("linux-image-cloud-amd64", "the kernel of the cgroup v2 VM")];

/// Is this Debian (not Ubuntu or another derivative)? From /etc/os-release's ID.
fn is_debian() -> bool {
    std::fs::read_to_string("/etc/os-release")
        .map(|text| text.lines().any(|line| line.trim() == "ID=debian"))
        .unwrap_or(false)
}

/// The book's tools, installed with `cargo install` when missing: (crate, version, extra args).
pub const BOOK_TOOLS: &[(&str, &str, &[&str])] = &[
    (
        "mdbook",
        "0.5.4",
        &["--no-default-features", "--features", "search"],
    ),
    ("mdbook-mermaid", "0.17.1", &[]),
];

pub fn run(top: &Path, tour_after: bool) -> bool {
    ui::heading("setup 1/5: system packages");
    if !packages() {
        return false;
    }
    ui::heading("setup 2/5: the book's tools");
    if !book_tools(top) {
        return false;
    }
    ui::heading("setup 3/5: build the workspace");
    match cargo::status(top, cargo::command(top, ["build", "--workspace"])) {
        Ok(status) if status.success() => ui::ok("built", "cargo build --workspace"),
        Ok(status) => {
            ui::fail("cargo build --workspace failed", &status.to_string());
            return false;
        }
        Err(e) => {
            ui::fail("could not run cargo", &e.to_string());
            return false;
        }
    }
    ui::heading("setup 4/5: the busybox root filesystem");
    let state_root = engine::container::state_root();
    match engine::rootfs::busybox_rootfs(&state_root) {
        Ok(rootfs) => ui::ok("rootfs", &rootfs.display().to_string()),
        Err(e) => {
            ui::fail("could not build the busybox rootfs", &e.to_string());
            return false;
        }
    }
    ui::heading("setup 5/5: checks");
    if !doctor::run() {
        return false;
    }
    if tour_after {
        return tour::run(top, false);
    }
    println!("\nReady. `./workshop tour` shows the runtime; `./workshop test` runs the suite.");
    true
}

/// Is the package installed? From `dpkg -s`'s `Status: install ok installed`.
pub fn dpkg_says_installed(dpkg_status: &str) -> bool {
    dpkg_status
        .lines()
        .any(|line| line.trim() == "Status: install ok installed")
}

fn installed(package: &str) -> bool {
    Command::new("dpkg")
        .args(["-s", package])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| dpkg_says_installed(&String::from_utf8_lossy(&out.stdout)))
        .unwrap_or(false)
}

fn packages() -> bool {
    if cargo::on_path("dpkg").is_none() && !Path::new("/usr/bin/dpkg").exists() {
        let names: Vec<&str> = PACKAGES.iter().map(|(name, _)| *name).collect();
        ui::warn(
            "not a Debian or Ubuntu system",
            &format!("install these yourself: {}", names.join(" ")),
        );
        return true;
    }
    let wanted: Vec<(&str, &str)> = PACKAGES
        .iter()
        .chain(if is_debian() { DEBIAN_ONLY } else { &[] })
        .copied()
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(name, _)| !installed(name))
        .map(|(name, _)| *name)
        .collect();
    for (name, why) in &wanted {
        if !missing.contains(name) {
            ui::ok(name, why);
        }
    }
    if missing.is_empty() {
        return true;
    }
    ui::note(&format!("installing {}", missing.join(" ")));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !apt(&["update", "-q"]) {
        ui::fail("apt-get update failed", "is the package mirror reachable?");
        return false;
    }
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    if !apt(&install) {
        ui::fail("apt-get install failed", &missing.join(" "));
        return false;
    }
    for name in &missing {
        ui::ok(name, "installed");
    }
    true
}

/// The version a tool prints (`mdbook v0.5.4` -> `0.5.4`).
pub fn reported_version(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .last()
        .map(|v| v.trim_start_matches('v').to_string())
}

/// Does an installed version fit the one we want (same major.minor)?
pub fn compatible(installed: &str, wanted: &str) -> bool {
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    major_minor(installed) == major_minor(wanted)
}

fn tool_version(top: &Path, tool: &str) -> Option<String> {
    // Through cargo's directory first: `cargo install` puts tools next to cargo.
    let candidate = cargo::program()
        .parent()
        .map(|dir| dir.join(tool))
        .filter(|p| p.is_file())
        .or_else(|| cargo::on_path(tool))?;
    let output = Command::new(candidate)
        .arg("--version")
        .current_dir(top)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| reported_version(&String::from_utf8_lossy(&output.stdout)))
        .flatten()
}

fn book_tools(top: &Path) -> bool {
    for (tool, version, extra) in BOOK_TOOLS {
        if let Some(have) = tool_version(top, tool)
            && compatible(&have, version)
        {
            ui::ok(tool, &have);
            continue;
        }
        ui::note(&format!(
            "installing {tool} {version} with cargo install (a few minutes on 2 cores)"
        ));
        let mut args = vec!["install", "--locked", "--version", version];
        args.extend(extra.iter());
        args.push(tool);
        match cargo::status(top, cargo::command(top, args)) {
            Ok(status) if status.success() => ui::ok(tool, &format!("{version} installed")),
            Ok(status) => {
                ui::fail(&format!("cargo install {tool} failed"), &status.to_string());
                return false;
            }
            Err(e) => {
                ui::fail("could not run cargo", &e.to_string());
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_is_read() {
        let installed = "Package: nftables\nStatus: install ok installed\nPriority: optional\n";
        assert!(dpkg_says_installed(installed));
        assert!(!dpkg_says_installed(
            "Package: nftables\nStatus: deinstall ok config-files\n"
        ));
        assert!(!dpkg_says_installed(""));
    }

    #[test]
    fn tool_versions_are_compared_by_major_and_minor() {
        assert_eq!(
            reported_version("mdbook v0.5.4\n").as_deref(),
            Some("0.5.4")
        );
        assert_eq!(
            reported_version("mdbook-mermaid 0.17.1").as_deref(),
            Some("0.17.1")
        );
        assert!(compatible("0.5.4", "0.5.4"));
        assert!(compatible("0.5.2", "0.5.4"));
        assert!(!compatible("0.4.40", "0.5.4"));
    }
}
