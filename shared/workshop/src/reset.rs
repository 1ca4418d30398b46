//! `workshop reset N`: put chapter N's exercise back as it was, derived again from the solution.

use std::path::Path;

use crate::exercises;
use crate::ui;

pub fn run(top: &Path, number: u32, yes: bool) -> bool {
    let Some((_, name)) = exercises::chapters(top)
        .into_iter()
        .find(|(n, _)| *n == number)
    else {
        ui::error(&format!(
            "there is no solution for chapter {number} to reset from"
        ));
        return false;
    };
    if !yes {
        if !ui::stdin_is_tty() {
            ui::error("reset throws away your work: pass --yes to confirm when not on a terminal");
            return false;
        }
        if !ui::confirm(&format!(
            "Replace exercises/{name} with a fresh copy? Your changes there are lost."
        )) {
            println!("Nothing changed.");
            return true;
        }
    }
    match exercises::write(top, &name) {
        Ok(()) => {
            ui::ok(&format!("exercises/{name}"), "is as new");
            true
        }
        Err(e) => {
            ui::error(&e);
            false
        }
    }
}
