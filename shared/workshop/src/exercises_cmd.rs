//! `workshop exercises [--check]`: write every exercise from its solution (maintainers), or
//! check that they are up to date (CI). The derivation itself is in `exercises.rs`.

use std::path::Path;

use crate::exercises;

/// Returns false when an exercise is stale (with `check`) or could not be written.
pub fn run(top: &Path, check: bool) -> bool {
    let mut bad = false;
    for (_, name) in exercises::chapters(top) {
        let result = if check {
            exercises::stale(top, &name).map(|stale| {
                for path in &stale {
                    eprintln!("out of date: {}", path.display());
                }
                bad |= !stale.is_empty();
            })
        } else {
            exercises::write(top, &name).map(|()| println!("wrote exercises/{name}"))
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
            bad = true;
        }
    }
    if check && !bad {
        println!("every exercise matches its solution");
    }
    if check && bad {
        eprintln!("run `cargo run -q -p workshop -- exercises` to derive them again");
    }
    !bad
}
