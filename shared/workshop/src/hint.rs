//! `workshop hint N`: the hints of chapter N, one more each time you ask.
//!
//! Hints live in `chapters/NN-topic/hints.md` as sections `## Hint 1`, `## Hint 2`, ...; how many
//! you have seen is remembered in `.workshop/hints/NN` (not committed).

use std::fs;
use std::path::{Path, PathBuf};

use colored::Colorize;

use crate::chapters;
use crate::ui;

/// One hint: its heading (`Hint 2: where the new root comes from`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub title: String,
    pub body: String,
}

/// The `## Hint ...` sections of a hints file, in order. Text before the first is an intro.
pub fn parse(markdown: &str) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    for line in markdown.lines() {
        if let Some(title) = line.strip_prefix("## ")
            && title.trim_start().starts_with("Hint")
        {
            hints.push(Hint {
                title: title.trim().to_string(),
                body: String::new(),
            });
        } else if let Some(hint) = hints.last_mut() {
            hint.body.push_str(line);
            hint.body.push('\n');
        }
    }
    for hint in &mut hints {
        hint.body = hint.body.trim().to_string();
    }
    hints
}

/// Which hints to show (1-based, inclusive range) and how many count as seen afterwards.
pub fn choose(seen: usize, total: usize, all: bool, again: bool) -> (usize, usize, usize) {
    if total == 0 {
        return (1, 0, seen);
    }
    if all {
        return (1, total, total);
    }
    if again {
        let upto = seen.clamp(1, total);
        return (1, upto, upto.max(seen));
    }
    let next = (seen + 1).min(total);
    (next, next, next)
}

fn state_file(top: &Path, number: u32) -> PathBuf {
    top.join(".workshop/hints").join(format!("{number:02}"))
}

pub fn run(top: &Path, number: u32, all: bool, again: bool) -> bool {
    let chapter = match chapters::find(top, number) {
        Ok(chapter) => chapter,
        Err(e) => {
            ui::error(&e);
            return false;
        }
    };
    let path = top.join("chapters").join(&chapter.name).join("hints.md");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            ui::error(&format!(
                "chapter {number} has no hints yet ({}: {e})",
                path.display()
            ));
            return false;
        }
    };
    let hints = parse(&text);
    if hints.is_empty() {
        ui::error(&format!("{} has no `## Hint N` sections", path.display()));
        return false;
    }
    let state = state_file(top, number);
    let seen: usize = fs::read_to_string(&state)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let was_last_seen = seen >= hints.len();
    let (first, last, now_seen) = choose(seen, hints.len(), all, again);

    for (index, hint) in hints.iter().enumerate().take(last).skip(first - 1) {
        println!(
            "\n{} {}",
            hint.title.bold().yellow(),
            format!("({} of {})", index + 1, hints.len()).dimmed()
        );
        println!("{}", hint.body);
    }
    println!();
    if last >= hints.len() {
        if was_last_seen && !all && !again {
            ui::note("That was already the last hint.");
        }
        ui::note(&format!(
            "No more hints for chapter {number}. The reference is in solutions/{}/src; \
             `./workshop verify {number} --solution` runs the tests on it.",
            chapter.name
        ));
    } else {
        ui::note(&format!(
            "`./workshop hint {number}` again for the next one; `--again` shows these again."
        ));
    }
    if let Some(dir) = state.parent()
        && let Err(e) =
            fs::create_dir_all(dir).and_then(|()| fs::write(&state, format!("{now_seen}\n")))
    {
        ui::warn("could not remember the hints seen", &e.to_string());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const HINTS: &str = "\
# Hints for chapter 1

Try on your own first.

## Hint 1

Look at `nix::unistd::chroot`.

## Hint 2: the working directory

After chroot, the working directory is still outside.
Call chdir(\"/\").
";

    #[test]
    fn hints_are_the_hint_sections() {
        let hints = parse(HINTS);
        assert_eq!(hints.len(), 2);
        assert_eq!(hints[0].title, "Hint 1");
        assert_eq!(hints[0].body, "Look at `nix::unistd::chroot`.");
        assert_eq!(hints[1].title, "Hint 2: the working directory");
        assert!(hints[1].body.ends_with("Call chdir(\"/\")."));
    }

    #[test]
    fn one_more_hint_each_time_then_the_last_again() {
        assert_eq!(choose(0, 3, false, false), (1, 1, 1));
        assert_eq!(choose(1, 3, false, false), (2, 2, 2));
        assert_eq!(choose(3, 3, false, false), (3, 3, 3));
        assert_eq!(choose(7, 3, false, false), (3, 3, 3));
    }

    #[test]
    fn again_repeats_what_was_seen_and_all_shows_everything() {
        assert_eq!(choose(2, 3, false, true), (1, 2, 2));
        assert_eq!(choose(0, 3, false, true), (1, 1, 1));
        assert_eq!(choose(1, 3, true, false), (1, 3, 3));
    }
}
