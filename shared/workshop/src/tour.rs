//! `workshop tour`: the runtime, shown running, as far as the chapters go.
//!
//! Each chapter adds a [`Section`]: a few steps, each a short explanation and a real run of that
//! chapter's binary (built with the reference solution). The tour never reads standard input
//! unless `--pause` is given on a terminal, so CI can run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use colored::Colorize;

use crate::cargo;
use crate::chapters::{self, Chapter};
use crate::ui;

/// One thing to see: what to look for, then the command that shows it.
pub struct Step {
    pub say: &'static str,
    /// Arguments of the chapter's binary.
    pub args: &'static [&'static str],
    /// Something to print from the host first, to compare with the container's answer.
    pub host: Option<fn() -> String>,
}

/// What one chapter adds to the tour.
pub struct Section {
    pub chapter: u32,
    pub title: &'static str,
    pub intro: &'static str,
    pub steps: Vec<Step>,
}

/// The tour, chapter by chapter. A new chapter adds its section here.
pub fn sections() -> Vec<Section> {
    vec![
        Section {
            chapter: 1,
            title: "chroot: a container is a process with another root directory",
            intro: "Chapter 1's runtime starts your command in a child process whose root directory \
                is a small busybox tree. That is all: no isolation yet.",
            steps: vec![
                Step {
                    say: "Run a shell in the container, with --explain: every step of the engine is \
                      printed with the system call it makes (clone, chroot, chdir, execve). \
                      `ls /` lists the busybox tree, not your machine's root.",
                    args: &["run", "--explain", "--", "/bin/sh", "-c", "ls /; echo $$"],
                    host: None,
                },
                Step {
                    say: "The files are the rootfs's: this os-release was written by the workshop \
                      when it built the busybox tree from your host's busybox-static.",
                    args: &["run", "--", "cat", "/etc/os-release"],
                    host: None,
                },
                Step {
                    say: "But it is not isolated: the hostname is the host's (chapter 2's UTS \
                      namespace changes that).",
                    args: &["run", "--", "hostname"],
                    host: Some(host_hostname),
                },
                Step {
                    say: "The container's exit code is the runtime's exit code.",
                    args: &[
                        "run",
                        "--",
                        "/bin/sh",
                        "-c",
                        "echo leaving with 42; exit 42",
                    ],
                    host: None,
                },
                Step {
                    say: "A command that is not in the rootfs: the child reports it through the \
                      error pipe before exec, and the runtime exits with 127 like a shell.",
                    args: &["run", "--", "no-such-command"],
                    host: None,
                },
            ],
        },
        Section {
            chapter: 2,
            title: "namespaces: the container gets its own view of the system",
            intro: "Chapter 2 clones the child into new namespaces (UTS, PID, mount, IPC, network, \
                cgroup) and switches the root with pivot_root instead of chroot.",
            steps: vec![
                Step {
                    say: "The same run with --explain: see the clone flags, the private mount tree, \
                      /proc and /dev being mounted, and pivot_root.",
                    args: &["run", "--explain", "--hostname", "box", "--", "hostname"],
                    host: Some(host_hostname),
                },
                Step {
                    say: "In its own PID namespace the shell is PID 1, and `ps` shows only the \
                      container's processes.",
                    args: &["run", "--", "/bin/sh", "-c", "echo my pid is $$; ps"],
                    host: None,
                },
                Step {
                    say: "A new network namespace has nothing but the loopback interface.",
                    args: &["run", "--", "ip", "link"],
                    host: None,
                },
            ],
        },
        Section {
            chapter: 3,
            title: "cgroups: limits the kernel enforces",
            intro: "Chapter 3 puts the container in its own cgroup (v2, or v1 on hybrid hosts) and \
                writes its limits into the controllers' files before the command starts.",
            steps: vec![
                Step {
                    say: "A memory limit of 32 MiB, and a pipeline that holds 200 MiB: the kernel's \
                      OOM killer ends it, and the runtime reports it (exit 137, like Docker's \
                      OOMKilled).",
                    args: &[
                        "run",
                        "--memory",
                        "32m",
                        "--",
                        "/bin/sh",
                        "-c",
                        "head -c 200m /dev/zero | tail",
                    ],
                    host: None,
                },
                Step {
                    say: "At most 10 processes: the twelfth `sleep` cannot be forked. This is what \
                      stops a fork bomb.",
                    args: &[
                        "run",
                        "--pids-limit",
                        "10",
                        "--",
                        "/bin/sh",
                        "-c",
                        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait",
                    ],
                    host: None,
                },
                Step {
                    say: "With its own cgroup namespace, the container sees its cgroup as the root, `/`.",
                    args: &["run", "--memory", "64m", "--", "cat", "/proc/self/cgroup"],
                    host: None,
                },
            ],
        },
        Section {
            chapter: 4,
            title: "images: a copy-on-write root",
            intro: "Chapter 4 runs containers from images: read-only layers, stored once, under a \
                writable layer per container, joined by overlayfs.",
            steps: vec![
                Step {
                    say: "The image store: the built-in busybox image is one layer, made from your \
                      host's busybox-static.",
                    args: &["images"],
                    host: None,
                },
                Step {
                    say: "This container deletes /bin/ls and writes a file. The deletion is a \
                      whiteout in its own upper layer...",
                    args: &[
                        "run",
                        "--rm",
                        "--",
                        "/bin/sh",
                        "-c",
                        "rm /bin/ls; echo mine > /note; cat /note; ls /",
                    ],
                    host: None,
                },
                Step {
                    say: "...so the next container, from the same image, still has /bin/ls and no /note.",
                    args: &["run", "--rm", "--", "/bin/sh", "-c", "ls /bin/ls /note"],
                    host: None,
                },
                Step {
                    say: "Inside, / is the overlay: lowerdir holds the image's layers, upperdir the \
                      container's changes.",
                    args: &[
                        "run",
                        "--rm",
                        "--",
                        "/bin/sh",
                        "-c",
                        "grep ' / / ' /proc/self/mountinfo | tr ',' '\\n' | grep dir=",
                    ],
                    host: None,
                },
            ],
        },
        Section {
            chapter: 5,
            title: "networking: a veth pair, a bridge, NAT",
            intro: "Chapter 5 gives each container a network of its own: one end of a veth pair, \
                named eth0 inside, the other end on a bridge on the host, with the gateway's \
                address, and nftables rules for NAT.",
            steps: vec![
                Step {
                    say: "eth0 has an address of the default network's subnet, and the default \
                      route goes through the bridge.",
                    args: &[
                        "run",
                        "--rm",
                        "--",
                        "/bin/sh",
                        "-c",
                        "ip -o -4 addr show eth0 | cut -d' ' -f2,7; ip route",
                    ],
                    host: None,
                },
                Step {
                    say: "The gateway is the bridge's address on the host: the container reaches it.",
                    args: &[
                        "run",
                        "--rm",
                        "--",
                        "/bin/sh",
                        "-c",
                        "ping -c 1 -W 2 $(ip route | awk '/default/ {print $3}') | head -2",
                    ],
                    host: None,
                },
                Step {
                    say: "The runtime wrote the container's own /etc/hosts.",
                    args: &[
                        "run",
                        "--rm",
                        "--hostname",
                        "web",
                        "--",
                        "cat",
                        "/etc/hosts",
                    ],
                    host: None,
                },
                Step {
                    say: "With --network none, only the loopback interface is left.",
                    args: &["run", "--rm", "--network", "none", "--", "ip", "-o", "link"],
                    host: None,
                },
                Step {
                    say: "The network, as the runtime keeps it.",
                    args: &["network", "ls"],
                    host: None,
                },
            ],
        },
        Section {
            chapter: 6,
            title: "volumes: data that outlives the container",
            intro: "Chapter 6 mounts things into the container from outside its union filesystem: \
                host directories, named volumes under the state root, and tmpfs in memory.",
            steps: vec![
                Step {
                    say: "A named volume is made on first use and filled with what the image has \
                      at that path; this container adds a file to it...",
                    args: &[
                        "run",
                        "--rm",
                        "-v",
                        "tour-etc:/etc",
                        "--",
                        "/bin/sh",
                        "-c",
                        "ls /etc; date > /etc/written-by-the-tour",
                    ],
                    host: None,
                },
                Step {
                    say: "...which the next container, removed or not, still finds.",
                    args: &[
                        "run",
                        "--rm",
                        "-v",
                        "tour-etc:/etc",
                        "--",
                        "cat",
                        "/etc/written-by-the-tour",
                    ],
                    host: None,
                },
                Step {
                    say: "The volume is a directory under the state root, outside every image and \
                      container.",
                    args: &["volume", "inspect", "tour-etc"],
                    host: None,
                },
                Step {
                    say: "A tmpfs lives in memory, with the size you give it.",
                    args: &[
                        "run",
                        "--rm",
                        "--tmpfs",
                        "/scratch:size=8m",
                        "--",
                        "/bin/sh",
                        "-c",
                        "grep /scratch /proc/mounts",
                    ],
                    host: None,
                },
                Step {
                    say: "Every layer of the workshop in one run: its own hostname and PID 1 \
                      (chapter 2), a memory limit (3), an image's layers under overlayfs (4), \
                      eth0 on the bridge (5), a volume and a tmpfs (6).",
                    args: &[
                        "run",
                        "--rm",
                        "--hostname",
                        "every-layer",
                        "--memory",
                        "64m",
                        "-v",
                        "tour-etc:/data",
                        "--tmpfs",
                        "/scratch:size=8m",
                        "--",
                        "/bin/sh",
                        "-c",
                        "echo \"hostname $(hostname), pid $$\"; \
                         echo \"memory limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null)\"; \
                         grep ' / / ' /proc/self/mountinfo | grep -o 'lowerdir=[^,]*'; \
                         ip -o -4 addr show eth0 | cut -d' ' -f2,7; \
                         grep -E ' /data | /scratch ' /proc/mounts | cut -d' ' -f1-3",
                    ],
                    host: None,
                },
                Step {
                    say: "And the tour tidies up after itself: the volume, and the default network \
                      with its bridge.",
                    args: &["volume", "rm", "tour-etc"],
                    host: None,
                },
                Step {
                    say: "",
                    args: &["network", "rm", "bridge"],
                    host: None,
                },
            ],
        },
    ]
}

fn host_hostname() -> String {
    let name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    format!("the host's hostname: {name}")
}

/// Run the tour; false when a chapter's binary could not be built or run.
pub fn run(top: &Path, pause: bool) -> bool {
    let pause = pause && ui::stdin_is_tty();
    let present = chapters::discover(top);
    ui::heading("tour: the carton runtime, as far as the chapters go");
    let mut shown = 0;
    for section in sections() {
        let Some(chapter) = present.iter().find(|c| c.number == section.chapter) else {
            continue;
        };
        let Some(binary) = build(top, chapter) else {
            return false;
        };
        println!(
            "\n{} {}",
            format!("Chapter {}:", section.chapter).bold(),
            section.title.bold()
        );
        println!("{}", wrap(section.intro, 96));
        for step in &section.steps {
            if !show(&binary, &chapter.package, step) {
                return false;
            }
            if pause {
                ui::wait_for_enter();
            }
        }
        shown += 1;
    }
    if shown == 0 {
        ui::warn(
            "no chapters to show",
            "chapters/ has none of the tour's chapters",
        );
    }
    println!(
        "\n{}",
        "That is the runtime so far. Next: read the book (mdbook serve book) and start chapter 1's \
         exercise; `./workshop verify 1` tells you how far you are."
            .bold()
    );
    true
}

/// Build the chapter's binary with the reference solution; its path.
fn build(top: &Path, chapter: &Chapter) -> Option<PathBuf> {
    ui::note(&format!(
        "building {} with the reference solution...",
        chapter.package
    ));
    let command = cargo::command(
        top,
        [
            "build",
            "-q",
            "-p",
            &chapter.package,
            "--features",
            "solution",
        ],
    );
    match cargo::status(top, command) {
        Ok(status) if status.success() => {
            Some(cargo::target_dir(top).join("debug").join(&chapter.package))
        }
        Ok(status) => {
            ui::error(&format!("building {} failed ({status})", chapter.package));
            None
        }
        Err(e) => {
            ui::error(&format!("could not run cargo: {e}"));
            None
        }
    }
}

fn show(binary: &Path, program: &str, step: &Step) -> bool {
    // A step with nothing to say continues the one before it.
    if !step.say.is_empty() {
        println!();
        println!("{}", wrap(step.say, 96));
    }
    if let Some(host) = step.host {
        ui::note(&host());
    }
    ui::command_line(&format!("{program} {}", shell_words(step.args)));
    match Command::new(binary).args(step.args).status() {
        Ok(status) => {
            let code = status
                .code()
                .map_or_else(|| "a signal".into(), |c| c.to_string());
            ui::note(&format!("  → exit code {code}"));
            true
        }
        Err(e) => {
            ui::error(&format!("could not run {}: {e}", binary.display()));
            false
        }
    }
}

/// Arguments as they would be typed in a shell (quoted when they hold spaces or `$`).
pub fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|arg| {
            if arg.is_empty() || arg.contains([' ', '$', ';', '"', '\'']) {
                format!("'{}'", arg.replace('\'', r"'\''"))
            } else {
                arg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Break a paragraph into lines of at most `width` characters.
pub fn wrap(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_as_you_would_type_them() {
        assert_eq!(
            shell_words(&["run", "--", "/bin/sh", "-c", "ls /; echo $$"]),
            "run -- /bin/sh -c 'ls /; echo $$'"
        );
        assert_eq!(shell_words(&["it's"]), r"'it'\''s'");
    }

    #[test]
    fn paragraphs_are_wrapped() {
        assert_eq!(wrap("aa bb cc", 5), "aa bb\ncc");
        assert_eq!(wrap("  ", 5), "");
    }

    #[test]
    fn every_section_has_steps_and_chapters_come_in_order() {
        let sections = sections();
        assert!(sections.iter().all(|s| !s.steps.is_empty()));
        assert!(sections.windows(2).all(|w| w[0].chapter < w[1].chapter));
    }
}
