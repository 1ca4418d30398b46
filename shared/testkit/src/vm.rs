//! Run a shell script as root inside a small throwaway virtual machine with pure cgroup v2.
//!
//! Why a VM: the project's own machines are cgroup v1 "hybrid", while most learners have pure
//! cgroup v2. The cgroup chapter must work on both, and the only honest way to test v2 on a v1
//! host is to boot a kernel that mounts nothing but cgroup2 at /sys/fs/cgroup.
//!
//! The VM is as small as it can be: Debian's cloud kernel (no modules needed for cgroups), and
//! an initramfs that this module writes itself, holding busybox-static, the binaries under test
//! with their shared libraries, two init scripts and the test's script. QEMU runs it with TCG
//! (software emulation: hardware virtualisation does not work on the project's machines) and
//! without any network device.
//!
//! ```ignore
//! let run = testkit::vm::run_in_vm(&[Path::new(env!("CARGO_BIN_EXE_ch03"))],
//!     "ch03 run --memory 32m -- sh -c 'echo hi'", Duration::from_secs(120)).unwrap();
//! assert_eq!(run.exit_code, 0, "{}", run.console);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The Debian package that provides the kernel this module boots.
pub const KERNEL_PACKAGE: &str = "linux-image-cloud-amd64";
/// The Debian package that provides `qemu-system-x86_64`.
pub const QEMU_PACKAGE: &str = "qemu-system-x86";
/// Set this to a kernel image to boot it instead of the newest Debian cloud kernel in /boot.
pub const KERNEL_ENV: &str = "CARTON_VM_KERNEL";

/// What happened in the VM.
#[derive(Debug)]
pub struct VmRun {
    /// Everything the VM wrote on its serial console (kernel messages, init, the script),
    /// with the serial line's `\r\n` turned into `\n`.
    pub console: String,
    /// Only what was printed between the start of the script and its end marker.
    pub output: String,
    /// The script's exit code, from the end marker.
    pub exit_code: i32,
    /// The controllers that the VM's init enabled in the root cgroup's subtree_control.
    pub controllers: Vec<String>,
    /// From starting QEMU to the moment the script started (kernel boot and init).
    pub boot_time: Duration,
    /// From starting QEMU to QEMU's exit.
    pub total_time: Duration,
}

impl fmt::Display for VmRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "VM script exit code {} (boot {:.1?}, total {:.1?})",
            self.exit_code, self.boot_time, self.total_time
        )?;
        writeln!(f, "--- VM console ---")?;
        write!(f, "{}", self.console)
    }
}

/// Lines init prints so the host can find the script's part of the console. A per-run nonce
/// keeps a script from faking them by accident.
struct Markers {
    start: String,
    exit: String,
    controllers: String,
}

impl Markers {
    fn new() -> Markers {
        let nonce = engine::container::new_id();
        Markers {
            start: format!("CARTON-VM-START-{nonce}"),
            exit: format!("CARTON-VM-EXIT-{nonce}="),
            controllers: format!("CARTON-VM-CONTROLLERS-{nonce}="),
        }
    }
}

/// One VM at a time per test process: each TCG VM keeps a core busy, and the machines have two
/// cores shared with other developers. Two VMs racing would each risk their timeout.
static ONE_VM_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Boot a throwaway VM with pure cgroup v2 and run `script` (busybox sh) as root inside it,
/// with `binaries` (host paths) installed in /usr/local/bin together with their shared
/// libraries.
///
/// Inside the VM: / is a tmpfs (so pivot_root works), /tmp, /var and /run are empty tmpfs,
/// /sys/fs/cgroup is cgroup2 with cpu, cpuset, memory, pids and io enabled for children (as far
/// as the kernel has them), /bin/busybox is the host's static busybox with all its applets, and
/// there is no network device. The script's stdin is /dev/null.
///
/// Fails with the reason (and the console's tail when the VM ran) if QEMU, the kernel or
/// busybox-static is missing, if the VM does not boot, if the script does not reach its end
/// marker, or after `timeout` (QEMU is killed then). It never skips.
pub fn run_in_vm(binaries: &[&Path], script: &str, timeout: Duration) -> Result<VmRun, String> {
    let kernel = find_kernel()?;
    let markers = Markers::new();
    let dir = TempDir::new()?;
    let initrd = dir.path.join("initrd.cpio");
    let archive = build_initramfs(binaries, script, &markers)?;
    fs::write(&initrd, archive).map_err(|e| format!("write {}: {e}", initrd.display()))?;

    // A test that panicked while holding the lock poisons it; the lock still does its job.
    let _turn = ONE_VM_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let qemu = run_qemu(&kernel, &initrd, &markers, timeout)?;
    let console = strip_terminal_codes(&qemu.console.replace("\r\n", "\n"));

    let tail = || console_tail(&console, &qemu.stderr);
    if qemu.timed_out {
        return Err(format!(
            "the VM did not finish within {timeout:?} (kernel {}); QEMU was killed.\n{}",
            kernel.display(),
            tail()
        ));
    }
    let Some(after_start) = find_line_after(&console, &markers.start) else {
        return Err(format!(
            "the VM did not boot as far as the script (kernel {}).\n{}",
            kernel.display(),
            tail()
        ));
    };
    let Some(exit_at) = after_start.find(&markers.exit) else {
        return Err(format!(
            "the script started but its end marker never came: the VM stopped early \
             (did something kill init or panic the kernel?).\n{}",
            tail()
        ));
    };
    let output = after_start[..exit_at].to_string();
    let code_text: String = after_start[exit_at + markers.exit.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let exit_code = code_text
        .parse()
        .map_err(|_| format!("unreadable exit code {code_text:?} in the VM's end marker"))?;
    let controllers = find_line_after(&console, &markers.controllers)
        .and_then(|rest| rest.lines().next())
        .map(|line| line.split_whitespace().map(String::from).collect())
        .unwrap_or_default();

    Ok(VmRun {
        console,
        output,
        exit_code,
        controllers,
        boot_time: qemu.boot_time.unwrap_or(qemu.total_time),
        total_time: qemu.total_time,
    })
}

/// The text after the first occurrence of `marker` (starting at the next character).
fn find_line_after<'a>(console: &'a str, marker: &str) -> Option<&'a str> {
    let at = console.find(marker)?;
    let rest = &console[at + marker.len()..];
    // The start marker is a whole line: skip its newline so the output begins cleanly.
    Some(rest.strip_prefix('\n').unwrap_or(rest))
}

/// SeaBIOS clears the screen with escape sequences (`ESC c`, `ESC [2J`...): drop them, so the
/// console reads as plain text in a test's failure message.
fn strip_terminal_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // A CSI sequence (ESC [) runs to one final character in '@'..='~'; any other escape is
        // two characters long, like ESC c (reset), and is dropped with the next() above.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// The last lines of the console and QEMU's own complaints, to put in an error message.
fn console_tail(console: &str, stderr: &str) -> String {
    let lines: Vec<&str> = console.lines().collect();
    let from = lines.len().saturating_sub(40);
    let mut tail = format!(
        "--- last {} console lines ---\n{}",
        lines.len() - from,
        lines[from..].join("\n")
    );
    if !stderr.trim().is_empty() {
        tail.push_str("\n--- QEMU stderr ---\n");
        tail.push_str(stderr.trim_end());
    }
    tail
}

/// The kernel to boot: `$CARTON_VM_KERNEL`, or the newest /boot/vmlinuz-*-cloud-amd64, or the
/// running kernel's image in /boot.
pub fn find_kernel() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(KERNEL_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{KERNEL_ENV}={} is not a file", path.display()))
        };
    }
    let missing = || {
        format!(
            "no Debian cloud kernel in /boot: install it with \
             `apt-get install --no-install-recommends {KERNEL_PACKAGE}` \
             (or point {KERNEL_ENV} at a kernel image with cgroup2 built in)"
        )
    };
    let entries = fs::read_dir("/boot").map_err(|e| format!("{}: read /boot: {e}", missing()))?;
    let mut kernels: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .strip_prefix("vmlinuz-")?
                .strip_suffix("-cloud-amd64")?;
            Some((version_key(version), entry.path()))
        })
        .collect();
    // "6.1.0-10" must sort after "6.1.0-9": compare the numbers, not the text.
    kernels.sort();
    if let Some((_, path)) = kernels.pop() {
        return Ok(path);
    }
    // No cloud kernel (Ubuntu has no such package): the machine's own kernel image, which
    // distributions build with cgroup2, virtio and the serial console built in.
    let release = nix::sys::utsname::uname().map_err(|e| format!("{}: uname: {e}", missing()))?;
    let own = Path::new("/boot").join(format!("vmlinuz-{}", release.release().to_string_lossy()));
    if own.is_file() {
        Ok(own)
    } else {
        Err(missing())
    }
}

/// The numbers in a version string, in order: "6.1.0-56" -> [6, 1, 0, 56].
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// What QEMU left behind, before anyone looked for markers in it.
struct QemuRun {
    console: String,
    stderr: String,
    /// When the start marker went by, if it did.
    boot_time: Option<Duration>,
    total_time: Duration,
    timed_out: bool,
}

/// Start QEMU, collect its console, stop it at the deadline.
fn run_qemu(
    kernel: &Path,
    initrd: &Path,
    markers: &Markers,
    timeout: Duration,
) -> Result<QemuRun, String> {
    let started = Instant::now();
    let mut command = Command::new("qemu-system-x86_64");
    command
        // Software emulation: /dev/kvm exists on the project's machines but does not work.
        .args(["-accel", "tcg", "-m", "512", "-smp", "1"])
        // The serial console goes to our stdout; no window, no monitor to wait on.
        .args(["-nographic", "-no-reboot"])
        // The network rule: the VM gets no network device at all.
        .args(["-nic", "none"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        // panic=-1: a kernel panic reboots at once, and -no-reboot turns that into QEMU's exit,
        // so a broken VM ends quickly instead of hanging until the timeout.
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "qemu-system-x86_64 is not installed: \
                 `apt-get install --no-install-recommends {QEMU_PACKAGE}`"
            )
        } else {
            format!("start qemu-system-x86_64: {e}")
        }
    })?;
    // From here on, QEMU dies with this guard whatever happens (a panic included).
    let mut qemu = KillOnDrop(child);

    // Read the console on a thread, so the pipe never fills up while we wait, and note when
    // the script starts to measure the boot.
    let stdout = qemu.0.stdout.take();
    let start_marker = markers.start.clone().into_bytes();
    let console_reader = thread::spawn(move || {
        let mut console = Vec::new();
        let mut boot_time = None;
        if let Some(mut stdout) = stdout {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                console.extend_from_slice(&chunk[..n]);
                if boot_time.is_none()
                    && console
                        .windows(start_marker.len())
                        .any(|w| w == start_marker.as_slice())
                {
                    boot_time = Some(started.elapsed());
                }
            }
        }
        (console, boot_time)
    });
    let stderr = qemu.0.stderr.take();
    let stderr_reader = thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_end(&mut text);
        }
        text
    });

    let mut timed_out = false;
    loop {
        match qemu.0.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() >= timeout => {
                timed_out = true;
                let _ = qemu.0.kill();
                let _ = qemu.0.wait();
                break;
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("wait for qemu-system-x86_64: {e}")),
        }
    }
    let total_time = started.elapsed();
    // QEMU has exited, so both pipes are closed and the readers finish.
    let (console, boot_time) = console_reader
        .join()
        .map_err(|_| "the console reader thread panicked".to_string())?;
    let stderr = stderr_reader.join().unwrap_or_default();
    Ok(QemuRun {
        console: String::from_utf8_lossy(&console).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        boot_time,
        total_time,
        timed_out,
    })
}

/// Kills and reaps the child when dropped, so no QEMU outlives a failed test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A private directory under the system's temp dir, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let path = std::env::temp_dir().join(format!("carton-vm-{}", engine::container::new_id()));
        fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// First stage, run by the kernel from the initramfs. pivot_root(2) refuses to move away from
/// the initramfs (rootfs is not a mount that can be unmounted), and the container engine needs
/// pivot_root, so this stage copies everything to a tmpfs and switches to it for good.
const INIT_STAGE1: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 newroot /newroot
for entry in /*; do
    case "$entry" in
        /proc|/sys|/dev|/newroot) ;;
        *) cp -a "$entry" /newroot/ ;;
    esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev
# The second stage mounts these again in the new root; switch_root wants them gone here.
umount /dev /sys /proc
exec switch_root /newroot /init2
echo "carton-vm: switch_root failed"
poweroff -f
"#;

/// Second stage, on the tmpfs root: the machine the script sees. `@@...@@` are replaced with
/// this run's markers.
const INIT_STAGE2: &str = r#"#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# Pure cgroup v2: one hierarchy, nothing from v1.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# One controller per write: a single write with an unknown controller would enable none.
for controller in cpu cpuset memory pids io; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done
echo "@@CONTROLLERS@@$(cat /sys/fs/cgroup/cgroup.subtree_control)"
mkdir -p /tmp /var /run /root
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /var
mount -t tmpfs tmpfs /run
cd /root
echo "@@START@@"
sh /carton-script.sh < /dev/null > /dev/console 2>&1
code=$?
echo "@@EXIT@@$code"
poweroff -f
"#;

/// The whole initramfs as a newc cpio archive.
fn build_initramfs(binaries: &[&Path], script: &str, markers: &Markers) -> Result<Vec<u8>, String> {
    let mut cpio = Cpio::default();

    // The kernel opens /dev/console for init's stdin/stdout/stderr before /init runs, so the
    // node must be in the archive: without it init runs with no output at all.
    cpio.char_device("dev/console", 0o600, 5, 1);
    cpio.char_device("dev/null", 0o666, 1, 3);

    let busybox = engine::rootfs::find_static_busybox().map_err(|e| e.to_string())?;
    cpio.file("bin/busybox", 0o755, read(&busybox)?);
    cpio.symlink("bin/sh", "busybox");
    // `busybox --install -s` puts each applet's link in one of these, and creates none of them.
    for dir in ["sbin", "usr/bin", "usr/sbin", "usr/local/bin"] {
        cpio.directory(dir);
    }

    cpio.file("init", 0o755, INIT_STAGE1.as_bytes().to_vec());
    let stage2 = INIT_STAGE2
        .replace("@@CONTROLLERS@@", &markers.controllers)
        .replace("@@START@@", &markers.start)
        .replace("@@EXIT@@", &markers.exit);
    cpio.file("init2", 0o755, stage2.into_bytes());
    cpio.file("carton-script.sh", 0o644, script.as_bytes().to_vec());

    for binary in binaries {
        let name = binary
            .file_name()
            .ok_or_else(|| format!("{} has no file name", binary.display()))?;
        let inside = Path::new("usr/local/bin").join(name);
        cpio.file(&inside.to_string_lossy(), 0o755, read(binary)?);
        // The libraries go where the host has them, so the dynamic loader (itself one of them)
        // finds them by the same absolute paths as on the host.
        for library in shared_libraries(binary)? {
            let inside = library.to_string_lossy();
            cpio.file(inside.trim_start_matches('/'), 0o755, read(&library)?);
        }
    }
    Ok(cpio.finish())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))
}

/// The absolute paths of the shared libraries (and dynamic loader) that `ldd` lists for
/// `binary`. A static binary has none.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("run ldd {}: {e}", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    if !output.status.success() {
        return Err(format!("ldd {} failed:\n{text}", binary.display()));
    }
    parse_ldd(&text).map_err(|e| format!("ldd {}: {e}", binary.display()))
}

/// Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`, or
/// `/lib64/ld-linux-x86-64.so.2 (0x...)` for the loader, or `linux-vdso.so.1 (0x...)` for the
/// kernel's own vDSO, which is no file.
fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libraries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("=> not found") {
            return Err(format!("a library is missing on the host: {line}"));
        }
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// A newc ("070701") cpio archive, the format the kernel unpacks as an initramfs.
///
/// Each entry is a 110-byte ASCII header (the magic and 13 numbers as 8 hex digits), the name
/// with a NUL, padding to a multiple of 4, then the data, padded again. A last entry named
/// `TRAILER!!!` ends the archive. Parent directories are added automatically, because the
/// kernel does not create missing ones.
#[derive(Default)]
pub struct Cpio {
    entries: BTreeMap<String, Entry>,
}

enum Entry {
    Directory,
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
    CharDevice { mode: u32, major: u32, minor: u32 },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Cpio {
    pub fn directory(&mut self, path: &str) {
        self.add(path, Entry::Directory);
    }

    /// A regular file; `path` is relative to the archive's root (no leading slash).
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        self.add(path, Entry::File { mode, data });
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        let target = target.to_string();
        self.add(path, Entry::Symlink { target });
    }

    pub fn char_device(&mut self, path: &str, mode: u32, major: u32, minor: u32) {
        let entry = Entry::CharDevice { mode, major, minor };
        self.add(path, entry);
    }

    fn add(&mut self, path: &str, entry: Entry) {
        let path = path.trim_start_matches('/');
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            self.entries
                .entry(dir.to_string_lossy().into_owned())
                .or_insert(Entry::Directory);
            parent = dir.parent();
        }
        self.entries.insert(path.to_string(), entry);
    }

    /// The archive's bytes. Entries come out in path order, so every directory comes before
    /// what it contains.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        // Inode numbers only need to differ (equal ones with nlink > 1 mean hard links).
        for (ino, (path, entry)) in (1u32..).zip(self.entries.iter()) {
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match entry {
                Entry::Directory => (S_IFDIR | 0o755, &[], (0, 0)),
                Entry::File { mode, data } => (S_IFREG | mode, data, (0, 0)),
                Entry::Symlink { target } => (S_IFLNK | 0o777, target.as_bytes(), (0, 0)),
                Entry::CharDevice { mode, major, minor } => (S_IFCHR | mode, &[], (*major, *minor)),
            };
            let nlink = if matches!(entry, Entry::Directory) {
                2
            } else {
                1
            };
            write_entry(&mut out, ino, mode, nlink, path, data, rdev);
        }
        write_entry(&mut out, 0, 0, 1, "TRAILER!!!", &[], (0, 0));
        out
    }
}

fn write_entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    name: &str,
    data: &[u8],
    rdev: (u32, u32),
) {
    // uid, gid and mtime are 0: root owns everything, and equal inputs make equal archives.
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor (of the file system the file was on: meaningless here)
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1, // the name's size counts its NUL
        0,                     // check: only used by the "070702" variant
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

/// newc aligns the name and the data on 4 bytes from the start of the archive.
fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Parsed {
        name: String,
        mode: u32,
        rdev: (u32, u32),
        data: Vec<u8>,
    }

    /// An independent reader for the archive, the way the kernel walks it.
    fn parse(archive: &[u8]) -> Vec<Parsed> {
        let mut entries = Vec::new();
        let mut at = 0;
        loop {
            let header = &archive[at..at + 110];
            assert_eq!(&header[..6], b"070701", "magic at offset {at}");
            let field = |i: usize| {
                let text = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(text, 16).unwrap()
            };
            let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let rdev = (field(9), field(10));
            let name_start = at + 110;
            let name = std::str::from_utf8(&archive[name_start..name_start + namesize - 1])
                .unwrap()
                .to_string();
            assert_eq!(archive[name_start + namesize - 1], 0, "name ends in NUL");
            let data_start = (name_start + namesize).next_multiple_of(4);
            let data = archive[data_start..data_start + size].to_vec();
            at = (data_start + size).next_multiple_of(4);
            if name == "TRAILER!!!" {
                assert_eq!(at, archive.len(), "nothing after the trailer");
                return entries;
            }
            entries.push(Parsed {
                name,
                mode,
                rdev,
                data,
            });
        }
    }

    #[test]
    fn cpio_round_trip() {
        let mut cpio = Cpio::default();
        cpio.file("usr/local/bin/tool", 0o755, b"odd-sized data".to_vec());
        cpio.symlink("bin/sh", "busybox");
        cpio.directory("sbin");
        cpio.char_device("dev/console", 0o600, 5, 1);
        cpio.file("/init", 0o755, b"#!/bin/sh\n".to_vec());
        let entries = parse(&cpio.finish());
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/sh",
                "dev",
                "dev/console",
                "init",
                "sbin",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/tool"
            ]
        );
        let find = |name: &str| entries.iter().find(|e| e.name == name).unwrap();
        assert_eq!(find("usr").mode, 0o040755);
        assert_eq!(find("bin/sh").mode, 0o120777);
        assert_eq!(find("bin/sh").data, b"busybox");
        assert_eq!(find("dev/console").mode, 0o020600);
        assert_eq!(find("dev/console").rdev, (5, 1));
        assert_eq!(find("usr/local/bin/tool").mode, 0o100755);
        assert_eq!(find("usr/local/bin/tool").data, b"odd-sized data");
    }

    #[test]
    fn ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f07)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f07)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tlibfoo.so => not found\n").is_err());
    }

    #[test]
    fn terminal_codes_are_dropped() {
        let console = "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS\nBooting\x1b[2Jdone\n";
        assert_eq!(strip_terminal_codes(console), "SeaBIOS\nBootingdone\n");
    }

    #[test]
    fn newest_kernel_sorts_by_number() {
        assert!(version_key("6.1.0-10") > version_key("6.1.0-9"));
        assert!(version_key("6.10.0-1") > version_key("6.9.0-30"));
    }
}
