//! `workshop verify N [--solution]`: run chapter N's behaviour tests against your exercise (or
//! the reference), and say plainly what passes, what fails and why.

use std::path::Path;

use colored::Colorize;

use crate::chapters;
use crate::testrun::{self, Runner, TestResult};
use crate::ui;

pub fn run(top: &Path, number: u32, solution: bool) -> bool {
    let chapter = match chapters::find(top, number) {
        Ok(chapter) => chapter,
        Err(e) => {
            ui::error(&e);
            return false;
        }
    };
    let against = if solution {
        "the reference solution"
    } else {
        "your exercise"
    };
    ui::heading(&format!(
        "verify: chapter {number} ({}) against {against}",
        chapter.topic()
    ));
    let runner = Runner::detect(top);
    ui::note(&format!(
        "running {}'s tests with {} (the first run compiles first: give it a minute)",
        chapter.package,
        runner.describe()
    ));
    let report = match testrun::run_chapter(top, runner, &chapter, solution, show_result) {
        Ok(report) => report,
        Err(e) => {
            ui::error(&format!("could not run cargo: {e}"));
            return false;
        }
    };

    println!();
    if let Some(errors) = &report.build_errors {
        ui::fail("the code does not compile yet", "");
        for line in errors {
            println!("    {line}");
        }
        println!("\nFix the compiler's first error, then run `./workshop verify {number}` again.");
        return false;
    }
    let total = report.tests.len();
    let passed = report.passed();
    if total == 0 {
        ui::fail(
            "no tests ran",
            &format!("chapters/{}/tests has none?", chapter.name),
        );
        return false;
    }
    if report.solved() && report.success {
        ui::ok(
            &format!("all {total} tests pass").green().bold().to_string(),
            "",
        );
        if !solution {
            println!(
                "Chapter {number} is solved: your {} layer does what the chapter promises.",
                chapter.topic()
            );
        }
        return true;
    }
    ui::fail(&format!("{passed} of {total} tests pass"), "");
    let mut previous: Option<&Vec<String>> = None;
    for failure in report.failed() {
        println!("\n{} {}", "✗".red().bold(), failure.name.bold());
        if previous == Some(&failure.message) && !failure.message.is_empty() {
            println!("    {}", "(the same message as above)".dimmed());
            continue;
        }
        for line in &failure.message {
            println!("    {line}");
        }
        previous = Some(&failure.message);
    }
    if !solution {
        println!(
            "\nStuck? `./workshop hint {number}` shows a hint (one more each time). The reference \
             is in solutions/{}/.",
            chapter.name
        );
    }
    false
}

fn show_result(result: &TestResult) {
    if result.passed {
        ui::ok(&result.name, "");
    } else {
        ui::fail(&result.name, "");
    }
}
