//! Exercises are derived from the solutions, mechanically, so the two can never drift apart.
//!
//! In a solution's source, the code a learner writes is fenced:
//!
//! ```text
//!     // EXERCISE: call chroot(2) on c.rootfs, then chdir(2) to "/".
//!     // BEGIN SOLUTION
//!     nix::unistd::chroot(&c.rootfs).ctx("chroot", c.rootfs.display())?;
//!     nix::unistd::chdir("/").ctx("chdir", "/")?;
//!     // END SOLUTION
//! ```
//!
//! In the exercise the fenced lines become `todo!("call chroot(2) on c.rootfs, ...")`, the
//! `EXERCISE:` comment stays as the instruction, mdBook's `ANCHOR` lines go, and the crate is
//! renamed from `solution-NN-topic` to `exercise-NN-topic`.

use std::fs;
use std::path::{Path, PathBuf};

pub const BEGIN: &str = "// BEGIN SOLUTION";
pub const END: &str = "// END SOLUTION";
pub const EXERCISE: &str = "// EXERCISE:";

/// The exercise version of one Rust source file.
pub fn derive_source(solution: &str, origin: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut instruction = String::new();
    let mut in_solution = false;
    let mut header_done = false;

    for (number, line) in solution.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];

        // The header goes after the module's leading `//!` lines, before any code.
        if !header_done && !trimmed.starts_with("//!") {
            out.push_str(&format!(
                "// Your exercise: derived from {origin} by `workshop exercises`.\n\
                 // Replace each todo!() with your code; `workshop reset` brings this file back.\n\
                 #![allow(unused, unreachable_code, clippy::diverging_sub_expression)]\n"
            ));
            header_done = true;
        }

        if trimmed.starts_with("// ANCHOR") {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(EXERCISE) {
            instruction = rest.trim().to_string();
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !instruction.is_empty()
            && !in_solution
            && trimmed.starts_with("// ")
            && !trimmed.starts_with(BEGIN)
        {
            // The instruction continues on the next comment lines.
            instruction.push(' ');
            instruction.push_str(trimmed.trim_start_matches("// ").trim());
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if trimmed.starts_with(BEGIN) {
            if in_solution {
                return Err(format!(
                    "{origin}:{}: BEGIN SOLUTION inside another",
                    number + 1
                ));
            }
            if instruction.is_empty() {
                return Err(format!(
                    "{origin}:{}: BEGIN SOLUTION without an `// EXERCISE:` comment above it",
                    number + 1
                ));
            }
            in_solution = true;
            out.push_str(&format!("{indent}todo!({:?});\n", summary(&instruction)));
            continue;
        }
        if trimmed.starts_with(END) {
            if !in_solution {
                return Err(format!(
                    "{origin}:{}: END SOLUTION without BEGIN",
                    number + 1
                ));
            }
            in_solution = false;
            instruction.clear();
            continue;
        }
        if in_solution {
            continue;
        }
        if !trimmed.starts_with("//") {
            instruction.clear();
        }
        out.push_str(line);
        out.push('\n');
    }
    if in_solution {
        return Err(format!("{origin}: BEGIN SOLUTION is never closed"));
    }
    Ok(out)
}

/// The first sentence of an instruction, as the message of its `todo!()`.
fn summary(instruction: &str) -> String {
    // Up to the first sentence or clause break: the comment above the todo!() has the rest.
    let end = [". ", ": ", "; "]
        .iter()
        .filter_map(|stop| instruction.find(stop))
        .min()
        .unwrap_or(instruction.len());
    format!("exercise: {}", instruction[..end].trim_end_matches('.'))
}

/// The exercise's Cargo.toml: the same crate under the exercise's name.
pub fn derive_manifest(solution: &str) -> String {
    let mut out =
        String::from("# Derived from the solution's Cargo.toml by `workshop exercises`.\n");
    for line in solution.lines() {
        if line.starts_with("name = \"solution-") {
            out.push_str(&line.replacen("solution-", "exercise-", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Every file of the exercise derived from `solution_dir`, as (relative path, content).
pub fn derive_crate(solution_dir: &Path, origin: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files = Vec::new();
    for path in walk(solution_dir)? {
        let relative = path
            .strip_prefix(solution_dir)
            .map_err(|e| e.to_string())?
            .to_path_buf();
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let derived = if relative == Path::new("Cargo.toml") {
            derive_manifest(&text)
        } else if path.extension().is_some_and(|e| e == "rs") {
            rustfmt(&derive_source(
                &text,
                &format!("{origin}/{}", relative.display()),
            )?)?
        } else {
            text
        };
        files.push((relative, derived));
    }
    Ok(files)
}

/// Format derived code as `cargo fmt` would, so a formatted tree never looks out of date.
fn rustfmt(source: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt: no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| format!("rustfmt: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            found.extend(walk(&path)?);
        } else {
            found.push(path);
        }
    }
    Ok(found)
}

/// The chapters that have a solution: (number, directory name), e.g. (1, "01-chroot").
pub fn chapters(workspace: &Path) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = fs::read_dir(workspace.join("solutions"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let number = name.split('-').next()?.parse().ok()?;
                    Some((number, name))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Write chapter `name`'s exercise from its solution (what `reset` does).
pub fn write(workspace: &Path, name: &str) -> Result<(), String> {
    let solution_dir = workspace.join("solutions").join(name);
    let exercise_dir = workspace.join("exercises").join(name);
    let files = derive_crate(&solution_dir, &format!("solutions/{name}"))?;
    let _ = fs::remove_dir_all(&exercise_dir);
    for (relative, content) in files {
        let path = exercise_dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The files of chapter `name`'s exercise that differ from what its solution derives.
pub fn stale(workspace: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    let solution_dir = workspace.join("solutions").join(name);
    let exercise_dir = workspace.join("exercises").join(name);
    let expected = derive_crate(&solution_dir, &format!("solutions/{name}"))?;
    let mut differ = Vec::new();
    for (relative, content) in &expected {
        if fs::read_to_string(exercise_dir.join(relative))
            .ok()
            .as_deref()
            != Some(content.as_str())
        {
            differ.push(Path::new("exercises").join(name).join(relative));
        }
    }
    if exercise_dir.is_dir() {
        for path in walk(&exercise_dir)? {
            let relative = path
                .strip_prefix(&exercise_dir)
                .map_err(|e| e.to_string())?;
            if !expected.iter().any(|(r, _)| r == relative) {
                differ.push(Path::new("exercises").join(name).join(relative));
            }
        }
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "\
//! A layer.

use x::y;

fn f() -> Result<()> {
    // ANCHOR: body
    // EXERCISE: do the thing. Then more.
    // It spans two lines.
    // BEGIN SOLUTION
    do_the_thing()?;
    // END SOLUTION
    Ok(())
    // ANCHOR_END: body
}
";

    #[test]
    fn the_fenced_code_becomes_a_todo_with_the_instruction() {
        let exercise = derive_source(SOLUTION, "solutions/x/src/lib.rs").unwrap();
        assert!(
            exercise
                .starts_with("//! A layer.\n// Your exercise: derived from solutions/x/src/lib.rs")
        );
        assert!(exercise.contains("#![allow(unused"));
        assert!(
            exercise.contains(
                "    // EXERCISE: do the thing. Then more.\n    // It spans two lines.\n"
            )
        );
        assert!(exercise.contains("    todo!(\"exercise: do the thing\");\n    Ok(())\n"));
        assert!(!exercise.contains("do_the_thing"));
        assert!(!exercise.contains("ANCHOR"));
        assert!(!exercise.contains("SOLUTION"));
    }

    #[test]
    fn unbalanced_fences_are_refused() {
        let open = "// EXERCISE: x\n// BEGIN SOLUTION\nfoo();\n";
        assert!(derive_source(open, "f").is_err());
        let stray = "// END SOLUTION\n";
        assert!(derive_source(stray, "f").is_err());
        let no_instruction = "fn f() {\n// BEGIN SOLUTION\n// END SOLUTION\n}\n";
        assert!(derive_source(no_instruction, "f").is_err());
    }

    #[test]
    fn the_manifest_is_renamed() {
        let manifest = "[package]\nname = \"solution-01-chroot\"\n";
        assert!(derive_manifest(manifest).contains("name = \"exercise-01-chroot\"\n"));
    }
}
