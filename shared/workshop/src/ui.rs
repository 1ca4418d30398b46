//! How the workshop talks: coloured on a terminal, plain in CI, in pipes, or with `NO_COLOR`.

use std::io::{BufRead, IsTerminal, Write};

use colored::Colorize;

/// Decide once, at start-up, whether output gets colours.
pub fn init() {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    colored::control::set_override(colour);
}

/// A big step of a command (`workshop test` prints one per stage of the suite).
pub fn heading(text: &str) {
    println!("\n{}", format!("━━ {text}").bold().blue());
}

pub fn ok(what: &str, detail: &str) {
    line("✓".green().bold(), what, detail);
}

pub fn warn(what: &str, detail: &str) {
    line("!".yellow().bold(), what, detail);
}

pub fn fail(what: &str, detail: &str) {
    line("✗".red().bold(), what, detail);
}

fn line(mark: colored::ColoredString, what: &str, detail: &str) {
    if detail.is_empty() {
        println!("{mark} {what}");
    } else {
        println!("{mark} {what} {}", detail.dimmed());
    }
}

/// The one-line fix printed under a failed check.
pub fn fix(text: &str) {
    println!("    {} {text}", "fix:".yellow());
}

pub fn error(text: &str) {
    eprintln!("{} {text}", "error:".red().bold());
}

pub fn note(text: &str) {
    println!("{}", text.dimmed());
}

/// A command line as the learner could type it.
pub fn command_line(text: &str) {
    println!("{} {}", "$".dimmed(), text.bold());
}

pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Ask a yes/no question on the terminal; anything but "y" or "yes" is a no.
pub fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// Wait for Enter (the tour's `--pause`).
pub fn wait_for_enter() {
    print!("{}", "  (press Enter to go on)".dimmed());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}
