//! `workshop test`: the whole suite, as CI runs it. Each step has a heading; the first failing
//! step stops the run.

use std::path::Path;

use crate::book;
use crate::cargo;
use crate::chapters;
use crate::clean;
use crate::exercises_cmd;
use crate::testrun::{self, Runner};
use crate::ui;

type Step<'a> = (&'static str, Box<dyn Fn() -> bool + 'a>);

pub fn run(top: &Path) -> bool {
    let runner = Runner::detect(top);
    let steps: Vec<Step> = vec![
        (
            "formatting: cargo fmt --all --check",
            Box::new(|| cargo_step(top, &["fmt", "--all", "--check"])),
        ),
        (
            "lints: cargo clippy --workspace --all-targets -- -D warnings",
            Box::new(|| {
                cargo_step(
                    top,
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ],
                )
            }),
        ),
        (
            "the exercises match their solutions",
            Box::new(|| exercises_cmd::run(top, true)),
        ),
        (
            "every test, on the reference solutions (--all-features)",
            Box::new(move || {
                let mut args = runner.args(None, &["all"]);
                // The exercise crates are the learner's unfinished copies: their unit tests reach
                // a todo!() by design. The next step runs the chapters' tests against them.
                for (_, name) in crate::exercises::chapters(top) {
                    args.extend(["--exclude".to_string(), format!("exercise-{name}")]);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cargo_step(top, &args)
            }),
        ),
        (
            "each chapter's tests fail on its unsolved exercise",
            Box::new(move || exercises_fail(top, runner)),
        ),
        (
            "the book builds, with no broken include or link",
            Box::new(|| book_step(top)),
        ),
        (
            "nothing left behind (clean --check)",
            Box::new(|| clean::check(None)),
        ),
    ];

    let total = steps.len();
    for (index, (name, step)) in steps.iter().enumerate() {
        ui::heading(&format!("test {}/{total}: {name}", index + 1));
        if !step() {
            println!();
            ui::fail(&format!("step {}/{total} failed:", index + 1), name);
            return false;
        }
    }
    println!();
    ui::ok(&format!("all {total} steps passed"), "");
    true
}

fn cargo_step(top: &Path, args: &[&str]) -> bool {
    ui::command_line(&format!("cargo {}", args.join(" ")));
    match cargo::status(top, cargo::command(top, args)) {
        Ok(status) => status.success(),
        Err(e) => {
            ui::error(&format!("could not run cargo: {e}"));
            false
        }
    }
}

/// A test that cannot fail proves nothing: with the exercise left as `todo!()`, each chapter
/// must have failing tests. Tests that pass anyway are listed (they check what the engine or
/// an earlier chapter already does, which is fine as long as some fail).
fn exercises_fail(top: &Path, runner: Runner) -> bool {
    let mut good = true;
    for chapter in chapters::discover(top) {
        let label = format!("chapter {} ({})", chapter.number, chapter.topic());
        ui::note(&format!(
            "running {label}'s tests against the unsolved exercise..."
        ));
        let report = match testrun::run_chapter(top, runner, &chapter, false, |_| {}) {
            Ok(report) => report,
            Err(e) => {
                ui::fail(&label, &format!("could not run cargo: {e}"));
                good = false;
                continue;
            }
        };
        if let Some(errors) = &report.build_errors {
            ui::fail(&label, "the unsolved exercise does not compile:");
            for line in errors {
                println!("    {line}");
            }
            good = false;
            continue;
        }
        let total = report.tests.len();
        let passed: Vec<&str> = report
            .tests
            .iter()
            .filter(|t| t.passed)
            .map(|t| t.name.as_str())
            .collect();
        if total == 0 {
            ui::fail(&label, "no tests ran");
            good = false;
        } else if passed.len() == total {
            ui::fail(
                &label,
                &format!("all {total} tests pass on the unsolved exercise: they cannot catch it"),
            );
            good = false;
        } else {
            ui::ok(
                &label,
                &format!(
                    "{} of {total} tests fail on the exercise",
                    total - passed.len()
                ),
            );
        }
        for name in passed {
            ui::note(&format!("    passes on the exercise too: {name}"));
        }
    }
    good
}

fn book_step(top: &Path) -> bool {
    let result = book::build_and_check(top);
    cargo::give_back(top);
    match result {
        Ok(()) => {
            ui::ok(
                "book",
                "built in book/build, every include and link resolves",
            );
            true
        }
        Err(problems) => {
            for problem in &problems {
                ui::fail("book:", problem);
            }
            false
        }
    }
}
