//! Running a chapter's behaviour tests and reading their results, for `verify`, `progress` and
//! the exercise-fails step of `test`.
//!
//! `cargo nextest` is used when it is installed (it runs each test in its own process, which
//! suits tests that make containers), `cargo test` otherwise. Both print one line per test;
//! [`Parser`] reads either, line by line, so results can be shown while the tests run.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;

use crate::cargo;
use crate::chapters::Chapter;

/// How many lines of a failed test's message are worth showing.
const MESSAGE_LINES: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub passed: bool,
    /// For a failure: the panic message (the first lines of it).
    pub message: Vec<String>,
}

/// What one run of a chapter's tests did.
#[derive(Debug, Default)]
pub struct Report {
    pub tests: Vec<TestResult>,
    /// The run failed before any test ran (the code does not compile): the first error lines.
    pub build_errors: Option<Vec<String>>,
    pub success: bool,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.passed).count()
    }

    pub fn failed(&self) -> impl Iterator<Item = &TestResult> {
        self.tests.iter().filter(|t| !t.passed)
    }

    /// Every test ran and passed (and there was at least one).
    pub fn solved(&self) -> bool {
        self.build_errors.is_none() && !self.tests.is_empty() && self.passed() == self.tests.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Nextest,
    CargoTest,
}

impl Runner {
    pub fn detect(top: &Path) -> Runner {
        if cargo::has_nextest(top) {
            Runner::Nextest
        } else {
            Runner::CargoTest
        }
    }

    /// The cargo arguments that run `packages`' tests (`None`: the whole workspace).
    pub fn args(self, package: Option<&str>, features: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Runner::Nextest => vec!["nextest".into(), "run".into()],
            Runner::CargoTest => vec!["test".into()],
        };
        match package {
            Some(package) => args.extend(["-p".into(), package.into()]),
            None => args.push("--workspace".into()),
        }
        for feature in features {
            if *feature == "all" {
                args.push("--all-features".into());
            } else {
                args.extend(["--features".into(), (*feature).into()]);
            }
        }
        args.push("--no-fail-fast".into());
        if self == Runner::Nextest {
            // One PASS/FAIL line per test, a failure's output right under its line.
            args.extend(
                [
                    "--status-level",
                    "pass",
                    "--failure-output",
                    "immediate",
                    "--success-output",
                    "never",
                ]
                .map(String::from),
            );
        }
        args
    }

    pub fn describe(self) -> &'static str {
        match self {
            Runner::Nextest => "cargo nextest",
            Runner::CargoTest => "cargo test",
        }
    }
}

/// Run `chapter`'s tests against the learner's exercise, or the reference with `solution`.
/// `on_result` sees each test as it finishes.
pub fn run_chapter(
    top: &Path,
    runner: Runner,
    chapter: &Chapter,
    solution: bool,
    mut on_result: impl FnMut(&TestResult),
) -> std::io::Result<Report> {
    let features: &[&str] = if solution { &["solution"] } else { &[] };
    let mut command = cargo::command(top, runner.args(Some(&chapter.package), features));
    command
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;

    // Both streams are read at once (a full pipe would stall the run), line by line.
    let (sender, lines) = mpsc::channel::<(Stream, String)>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(forward(out, Stream::Out, sender.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(forward(err, Stream::Err, sender.clone()));
    }
    drop(sender);

    let mut parser = Parser::new(runner);
    for (stream, line) in lines {
        if let Some(result) = parser.feed(stream, &line) {
            on_result(&result);
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait()?;
    cargo::give_back(top);
    Ok(parser.finish(status.success()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

fn forward(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    sender: mpsc::Sender<(Stream, String)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send((stream, line)).is_err() {
                break;
            }
        }
    })
}

/// Reads the output of `cargo nextest run` or `cargo test`, one line at a time.
pub struct Parser {
    runner: Runner,
    tests: Vec<TestResult>,
    /// Lines of the failed test whose output is being read (nextest: under its FAIL line;
    /// cargo test: in its `---- name stdout ----` block).
    block: Option<(String, Vec<String>)>,
    /// nextest repeats the failures after its summary line; those are not new results.
    after_summary: bool,
    stderr: Vec<String>,
}

impl Parser {
    pub fn new(runner: Runner) -> Parser {
        Parser {
            runner,
            tests: Vec::new(),
            block: None,
            after_summary: false,
            stderr: Vec::new(),
        }
    }

    /// Read one line; returns the result of a test when this line reports one.
    pub fn feed(&mut self, stream: Stream, line: &str) -> Option<TestResult> {
        if stream == Stream::Err {
            self.stderr.push(line.to_string());
        }
        match self.runner {
            Runner::Nextest if stream == Stream::Err => self.feed_nextest(line),
            Runner::CargoTest if stream == Stream::Out => self.feed_libtest(line),
            _ => None,
        }
    }

    fn feed_nextest(&mut self, line: &str) -> Option<TestResult> {
        if self.after_summary {
            return None;
        }
        if line.trim_start().starts_with("Summary [") || line.starts_with("────") {
            self.close_block();
            if line.trim_start().starts_with("Summary [") {
                self.after_summary = true;
            }
            return None;
        }
        if let Some((passed, name)) = nextest_status(line) {
            self.close_block();
            let result = TestResult {
                name: name.clone(),
                passed,
                message: Vec::new(),
            };
            self.tests.push(result.clone());
            if !passed {
                self.block = Some((name, Vec::new()));
            }
            return Some(result);
        }
        if let Some((_, block)) = &mut self.block {
            block.push(line.to_string());
        }
        None
    }

    fn feed_libtest(&mut self, line: &str) -> Option<TestResult> {
        if let Some((passed, name)) = libtest_status(line) {
            let result = TestResult {
                name,
                passed,
                message: Vec::new(),
            };
            self.tests.push(result.clone());
            return Some(result);
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            self.close_block();
            self.block = Some((name.to_string(), Vec::new()));
            return None;
        }
        if line == "failures:" || line.starts_with("test result:") {
            self.close_block();
            return None;
        }
        if let Some((_, block)) = &mut self.block {
            block.push(line.to_string());
        }
        None
    }

    fn close_block(&mut self) {
        if let Some((name, lines)) = self.block.take() {
            let message = panic_message(&lines);
            if let Some(test) = self
                .tests
                .iter_mut()
                .rev()
                .find(|t| !t.passed && t.name == name && t.message.is_empty())
            {
                test.message = message;
            }
        }
    }

    pub fn finish(mut self, success: bool) -> Report {
        self.close_block();
        let build_errors = if !success && self.tests.is_empty() {
            Some(build_errors(&self.stderr))
        } else {
            None
        };
        Report {
            tests: self.tests,
            build_errors,
            success,
        }
    }
}

/// `        PASS [   0.007s] (3/3) ch01::behaviour exit_codes` -> (true, "behaviour exit_codes").
/// Anything but PASS in the status column (FAIL, SIGSEGV, TIMEOUT, ABORT...) is a failure;
/// LEAK means it passed but left a handle open, which is still a pass.
pub fn nextest_status(line: &str) -> Option<(bool, String)> {
    let trimmed = line.trim_start();
    let (status, rest) = trimmed.split_once(" [")?;
    let status = status.trim();
    let known_fail = ["FAIL", "TIMEOUT", "ABORT", "LEAK-FAIL"];
    let passed = match status {
        "PASS" | "LEAK" => true,
        s if known_fail.contains(&s) || s.starts_with("SIG") => false,
        _ => return None,
    };
    let (time, rest) = rest.split_once("] ")?;
    if !time.trim().ends_with('s') {
        return None;
    }
    let rest = rest.trim();
    // Newer nextest shows a counter: `(3/12) `.
    let rest = match rest.strip_prefix('(') {
        Some(counted) => counted.split_once(") ")?.1,
        None => rest,
    };
    // `crate::binary test_name`: the crate part is the same for every test of a chapter.
    let name = match rest.split_once(' ') {
        Some((binary, test)) => {
            let binary = binary.rsplit("::").next().unwrap_or(binary);
            format!("{binary}::{test}")
        }
        None => rest.to_string(),
    };
    Some((passed, name))
}

/// `test escape_reaches_the_host ... ok` -> (true, "escape_reaches_the_host").
pub fn libtest_status(line: &str) -> Option<(bool, String)> {
    let rest = line.strip_prefix("test ")?;
    let (name, verdict) = rest.rsplit_once(" ... ")?;
    match verdict.trim() {
        "ok" => Some((true, name.to_string())),
        "FAILED" => Some((false, name.to_string())),
        _ => None, // "ignored", or a doc-test line
    }
}

/// The interesting lines of a failed test's output: what follows "panicked at".
pub fn panic_message(lines: &[String]) -> Vec<String> {
    let trimmed: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    match trimmed.iter().position(|l| l.contains("panicked at")) {
        Some(at) => {
            let message: Vec<&str> = trimmed[at + 1..]
                .iter()
                .copied()
                .take_while(|l| {
                    !l.is_empty() && !l.starts_with("note: ") && !l.starts_with("stack backtrace:")
                })
                .collect();
            without_empty_sections(&message)
                .into_iter()
                .take(MESSAGE_LINES)
                .map(String::from)
                .collect()
        }
        None => {
            let useful: Vec<&str> = trimmed
                .iter()
                .copied()
                .filter(|l| !l.is_empty() && !l.ends_with("───"))
                .collect();
            let start = useful.len().saturating_sub(MESSAGE_LINES);
            useful[start..].iter().map(|l| l.to_string()).collect()
        }
    }
}

/// The tests print a command's output in sections (`--- stdout ---`); an empty one says nothing.
fn without_empty_sections<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let is_marker = |l: &str| l.starts_with("--- ") && l.ends_with(" ---");
    lines
        .iter()
        .enumerate()
        .filter(|&(i, l)| !is_marker(l) || lines.get(i + 1).is_some_and(|next| !is_marker(next)))
        .map(|(_, l)| *l)
        .collect()
}

/// The compiler's errors, from the first `error` line on.
pub fn build_errors(stderr: &[String]) -> Vec<String> {
    let start = stderr
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(stderr.len().saturating_sub(20));
    stderr[start..].iter().take(30).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXTEST: &str = "\
    Starting 3 tests across 2 binaries
        FAIL [   0.092s] (1/3) ch01::behaviour hostname_is_the_hosts
  stdout ───

    running 1 test
    test hostname_is_the_hosts ... FAILED

  stderr ───

    thread 'hostname_is_the_hosts' (10722) panicked at tests/behaviour.rs:4:14:
    assertion `left == right` failed: the hostname should be the host's
      left: \"a\"
     right: \"b\"
    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

        PASS [   0.007s] (2/3) ch01::behaviour exit_codes_propagate
        SIGSEGV [   0.010s] (3/3) ch01::behaviour crashes
────────────
     Summary [   0.104s] 3 tests run: 1 passed, 2 failed, 0 skipped
        FAIL [   0.092s] (1/3) ch01::behaviour hostname_is_the_hosts
error: test run failed
";

    const LIBTEST: &str = "\
running 3 tests
test fails ... FAILED
test todo_left ... FAILED
test passes ... ok
test ignored_one ... ignored

failures:

---- fails stdout ----

thread 'fails' (10733) panicked at tests/behaviour.rs:4:14:
the hostname should differ
second line
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- todo_left stdout ----

thread 'todo_left' (10734) panicked at tests/behaviour.rs:6:20:
not yet implemented: call chroot

failures:
    fails
    todo_left

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out
";

    fn parse(runner: Runner, stream: Stream, text: &str) -> Report {
        let mut parser = Parser::new(runner);
        for line in text.lines() {
            parser.feed(stream, line);
        }
        parser.finish(false)
    }

    #[test]
    fn nextest_results_and_messages_are_read() {
        let report = parse(Runner::Nextest, Stream::Err, NEXTEST);
        let names: Vec<(&str, bool)> = report
            .tests
            .iter()
            .map(|t| (t.name.as_str(), t.passed))
            .collect();
        assert_eq!(
            names,
            [
                ("behaviour::hostname_is_the_hosts", false),
                ("behaviour::exit_codes_propagate", true),
                ("behaviour::crashes", false),
            ]
        );
        assert_eq!(
            report.tests[0].message,
            [
                "assertion `left == right` failed: the hostname should be the host's",
                "left: \"a\"",
                "right: \"b\"",
            ]
        );
        assert_eq!(report.passed(), 1);
        assert!(report.build_errors.is_none());
        assert!(!report.solved());
    }

    #[test]
    fn cargo_test_results_and_messages_are_read() {
        let report = parse(Runner::CargoTest, Stream::Out, LIBTEST);
        assert_eq!(report.tests.len(), 3);
        assert_eq!(report.passed(), 1);
        assert_eq!(
            report.tests[0].message,
            ["the hostname should differ", "second line"]
        );
        assert_eq!(
            report.tests[1].message,
            ["not yet implemented: call chroot"]
        );
    }

    #[test]
    fn empty_output_sections_are_left_out() {
        let lines: Vec<String> = [
            "thread 't' panicked at tests/a.rs:1:1:",
            "exit code 125",
            "--- stdout ---",
            "--- stderr ---",
            "error: not written yet",
            "--- end ---",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            panic_message(&lines),
            ["exit code 125", "--- stderr ---", "error: not written yet"]
        );
    }

    #[test]
    fn status_lines_with_and_without_a_counter() {
        assert_eq!(
            nextest_status("        PASS [   0.004s] ch01::behaviour a_test"),
            Some((true, "behaviour::a_test".to_string()))
        );
        assert_eq!(
            nextest_status("     TIMEOUT [  60.000s] (4/9) ch01 tests::slow"),
            Some((false, "ch01::tests::slow".to_string()))
        );
        assert_eq!(
            nextest_status("    Starting 3 tests across 2 binaries"),
            None
        );
        assert_eq!(nextest_status("  stdout ───"), None);
        assert_eq!(
            libtest_status("test a::b ... ok"),
            Some((true, "a::b".into()))
        );
        assert_eq!(libtest_status("test x ... ignored"), None);
    }

    #[test]
    fn a_run_that_never_got_to_its_tests_is_a_build_failure() {
        let mut parser = Parser::new(Runner::Nextest);
        for line in [
            "   Compiling exercise-01-chroot v0.1.0",
            "error[E0425]: cannot find value `x` in this scope",
            " --> exercises/01-chroot/src/lib.rs:3:5",
        ] {
            parser.feed(Stream::Err, line);
        }
        let report = parser.finish(false);
        let errors = report.build_errors.clone().expect("a build failure");
        assert_eq!(
            errors[0],
            "error[E0425]: cannot find value `x` in this scope"
        );
        assert!(!report.solved());
    }

    #[test]
    fn every_test_passing_is_solved_but_no_tests_is_not() {
        let passing = Report {
            tests: vec![TestResult {
                name: "t".into(),
                passed: true,
                message: vec![],
            }],
            build_errors: None,
            success: true,
        };
        assert!(passing.solved());
        assert!(!Report::default().solved());
    }
}
