//! `workshop progress`: for each chapter, are its tests green on your exercise yet?

use std::path::Path;

use crate::chapters;
use crate::testrun::{self, Runner};
use crate::ui;

pub fn run(top: &Path) -> bool {
    ui::heading("progress: each chapter's tests against your code");
    let chapters = chapters::discover(top);
    if chapters.is_empty() {
        ui::error("no chapters found under chapters/");
        return false;
    }
    let runner = Runner::detect(top);
    let mut solved = 0;
    for chapter in &chapters {
        let label = format!("chapter {} ({})", chapter.number, chapter.topic());
        ui::note(&format!("checking {label}..."));
        match testrun::run_chapter(top, runner, chapter, false, |_| {}) {
            Ok(report) if report.build_errors.is_some() => ui::fail(
                &label,
                "does not compile: `./workshop verify` shows the errors",
            ),
            Ok(report) if report.solved() && report.success => {
                solved += 1;
                ui::ok(
                    &label,
                    &format!(
                        "solved ({} of {} tests)",
                        report.passed(),
                        report.tests.len()
                    ),
                );
            }
            Ok(report) => ui::fail(
                &label,
                &format!(
                    "not yet ({} of {} tests pass): `./workshop verify {}`",
                    report.passed(),
                    report.tests.len(),
                    chapter.number
                ),
            ),
            Err(e) => ui::fail(&label, &format!("could not run cargo: {e}")),
        }
    }
    println!("\n{solved} of {} chapters solved.", chapters.len());
    true
}
