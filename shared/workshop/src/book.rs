//! `workshop book`: build the mdBook in `book/` and check that nothing in it is broken.
//!
//! "Broken" means any of:
//! - `mdbook build` fails, or prints an ERROR or WARN line;
//! - an `{{#include file:anchor}}` names a file that does not exist or an anchor the file lacks
//!   (mdBook 0.5 only logs a missing file and silently includes nothing for a missing anchor, so
//!   we check every include ourselves before building);
//! - the generated HTML still contains an unexpanded `{{#include`;
//! - a relative link (`href`/`src`) or its `#fragment` points at nothing in the built book.
//!
//! Only std is used; links are found with plain string scanning, which is enough for the HTML
//! mdBook writes (attributes always in double quotes).

use std::collections::{HashMap, HashSet};
use std::env;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Build the book with mdbook and check it: the build must succeed, mdbook must print no ERROR/WARN
/// (a missing {{#include}} file or anchor must fail), and every relative link and #fragment in the
/// generated HTML must resolve. Returns the problems found (empty = OK).
pub fn build_and_check(workspace: &Path) -> Result<(), Vec<String>> {
    let book_dir = workspace.join("book");
    let src_dir = book_dir.join("src");
    let build_dir = book_dir.join("build");
    let mut problems = Vec::new();

    let Some(mdbook) = find_tool("mdbook") else {
        return Err(vec![
            "mdbook not found on PATH or in ~/.cargo/bin (install it with ./workshop setup)".into(),
        ]);
    };
    // Preprocessors named in book.toml are run by mdbook from PATH: make sure it can find them.
    let mut path_dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(dir) = mdbook.parent() {
        path_dirs.insert(0, dir.to_path_buf());
    }
    let book_toml = fs::read_to_string(book_dir.join("book.toml")).unwrap_or_default();
    if book_toml.contains("[preprocessor.mermaid]") {
        match find_tool("mdbook-mermaid") {
            Some(tool) => {
                if let Some(dir) = tool.parent() {
                    path_dirs.insert(0, dir.to_path_buf());
                }
            }
            None => problems.push(
                "mdbook-mermaid not found on PATH or in ~/.cargo/bin (install it with ./workshop setup)"
                    .into(),
            ),
        }
    }

    problems.extend(check_includes(&src_dir));

    let _ = fs::remove_dir_all(&build_dir);
    let mut cmd = Command::new(&mdbook);
    cmd.arg("build")
        .arg(&book_dir)
        .arg("--dest-dir")
        .arg(&build_dir)
        .env("NO_COLOR", "1")
        .env("MDBOOK_LOG", "info");
    if let Ok(joined) = env::join_paths(&path_dirs) {
        cmd.env("PATH", joined);
    }
    match cmd.output() {
        Err(e) => problems.push(format!("cannot run {}: {e}", mdbook.display())),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            for line in stderr.lines().chain(stdout.lines()) {
                if let Some(message) = log_problem(line) {
                    problems.push(format!("mdbook: {message}"));
                }
            }
            if !out.status.success() {
                problems.push(format!("mdbook build failed ({})", out.status));
                return Err(problems);
            }
        }
    }

    problems.extend(check_html(&build_dir));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Look for an executable named `name` on PATH, then in the usual cargo install directories
/// (also the invoking user's, when run through sudo).
fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    if let Ok(user) = env::var("SUDO_USER") {
        dirs.push(PathBuf::from("/home").join(user).join(".cargo/bin"));
    }
    dirs.push(PathBuf::from("/root/.cargo/bin"));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A log line from mdbook that reports a problem, without its level prefix and colour codes.
fn log_problem(line: &str) -> Option<String> {
    let clean = strip_ansi(line);
    let trimmed = clean.trim_start();
    // env_logger style "[2024-01-01T00:00:00Z ERROR mdbook] ..." and tracing style " ERROR ...".
    let words: Vec<&str> = trimmed.split_whitespace().take(2).collect();
    let is_problem = words
        .iter()
        .any(|w| matches!(w.trim_matches(|c| c == '[' || c == ']'), "ERROR" | "WARN"));
    is_problem.then(|| trimmed.to_string())
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ ... final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One `{{#include ...}}` (or `{{#rustdoc_include ...}}`) found in a markdown file.
#[derive(Debug, PartialEq, Eq)]
struct Include {
    path: String,
    anchor: Option<String>,
}

/// The include directives of a markdown text, skipping escaped ones (`\{{#include ...}}`).
fn include_directives(markdown: &str) -> Vec<Include> {
    let mut found = Vec::new();
    let mut rest = markdown;
    let mut offset = 0;
    while let Some(start) = rest.find("{{#") {
        let absolute = offset + start;
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let escaped = absolute > 0 && markdown.as_bytes()[absolute - 1] == b'\\';
        let body = after[..end].trim();
        let mut parts = body.splitn(2, char::is_whitespace);
        let kind = parts.next().unwrap_or("");
        let arg = parts.next().unwrap_or("").trim();
        if !escaped && (kind == "include" || kind == "rustdoc_include") && !arg.is_empty() {
            let (path, selector) = match arg.split_once(':') {
                Some((path, selector)) => (path, Some(selector)),
                None => (arg, None),
            };
            let anchor = selector
                .filter(|s| !is_line_range(s))
                .map(|s| s.trim().to_string());
            found.push(Include {
                path: path.trim().to_string(),
                anchor,
            });
        }
        let consumed = start + 3 + end + 2;
        rest = &rest[consumed..];
        offset += consumed;
    }
    found
}

/// `10`, `2:10`, `:10`, `2:` are line ranges, not anchor names.
fn is_line_range(selector: &str) -> bool {
    selector
        .split(':')
        .all(|part| part.trim().chars().all(|c| c.is_ascii_digit()))
}

/// Does `source` hold both `ANCHOR: name` and `ANCHOR_END: name`?
fn has_anchor(source: &str, name: &str) -> bool {
    let marks = |marker: &str| {
        source.match_indices(marker).any(|(i, _)| {
            let after = source[i + marker.len()..].trim_start_matches([' ', '\t']);
            let word: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            word == name
        })
    };
    marks("ANCHOR:") && marks("ANCHOR_END:")
}

/// Check every include in every markdown file under `src_dir`.
fn check_includes(src_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for md in files_with_extension(src_dir, "md") {
        let Ok(text) = fs::read_to_string(&md) else {
            problems.push(format!("cannot read {}", md.display()));
            continue;
        };
        let base = md.parent().unwrap_or(src_dir);
        let shown = md
            .strip_prefix(src_dir)
            .unwrap_or(&md)
            .display()
            .to_string();
        for include in include_directives(&text) {
            let target = base.join(&include.path);
            match fs::read_to_string(&target) {
                Err(e) => problems.push(format!("{shown}: include of {} fails: {e}", include.path)),
                Ok(source) => {
                    if let Some(anchor) = &include.anchor
                        && !has_anchor(&source, anchor)
                    {
                        problems.push(format!(
                            "{shown}: {} has no `ANCHOR: {anchor}` / `ANCHOR_END: {anchor}` pair",
                            include.path
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The values of every `href="..."` and `src="..."` attribute in an HTML text.
fn extract_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in [
        " href=\"",
        " src=\"",
        "\thref=\"",
        "\nhref=\"",
        "\tsrc=\"",
        "\nsrc=\"",
    ] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            let value_start = start + attribute.len();
            let Some(len) = rest[value_start..].find('"') else {
                break;
            };
            links.push(rest[value_start..value_start + len].to_string());
            rest = &rest[value_start + len..];
        }
    }
    links
}

/// The `id="..."` and `name="..."` values of an HTML text: the targets a `#fragment` can name.
fn extract_ids(html: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    for attribute in [" id=\"", " name=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            let value_start = start + attribute.len();
            let Some(len) = rest[value_start..].find('"') else {
                break;
            };
            ids.insert(decode_html(&rest[value_start..value_start + len]));
            rest = &rest[value_start + len..];
        }
    }
    ids
}

/// Where a link points: a file and maybe a fragment. `None` for links we do not check
/// (other schemes, absolute URLs, protocol-relative URLs, JavaScript).
#[derive(Debug, PartialEq, Eq)]
struct Target {
    file: PathBuf,
    fragment: Option<String>,
}

/// Resolve `link`, found in the page at `page` (a path relative to the build directory), to a file
/// relative to the build directory. `base_is_root` is true for pages with `<base href="/">`.
fn resolve(page: &Path, link: &str, base_is_root: bool) -> Option<Result<Target, String>> {
    let link = decode_html(link);
    if link.is_empty()
        || link.starts_with("//")
        || link.starts_with('/')
        || has_scheme(&link)
        || link.contains("{{")
    {
        return None;
    }
    let (without_fragment, fragment) = match link.split_once('#') {
        Some((before, frag)) => (before, Some(percent_decode(frag))),
        None => (link.as_str(), None),
    };
    let path_part = without_fragment
        .split(['?'])
        .next()
        .unwrap_or(without_fragment);
    let fragment = fragment.filter(|f| !f.is_empty());
    let file = if path_part.is_empty() {
        page.to_path_buf()
    } else {
        let dir = if base_is_root {
            PathBuf::new()
        } else {
            page.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut joined = PathBuf::new();
        for component in dir.join(percent_decode(path_part)).components() {
            if component == Component::ParentDir && !joined.pop() {
                return Some(Err(format!("{link} leaves the book")));
            }
            if let Component::Normal(part) = component {
                joined.push(part);
            }
        }
        if path_part.ends_with('/') {
            joined.push("index.html");
        }
        joined
    };
    Some(Ok(Target { file, fragment }))
}

fn has_scheme(link: &str) -> bool {
    match link.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && !scheme.contains(['/', '#', '?', '.'])
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-'))
        }
        None => false,
    }
}

fn decode_html(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Check the built HTML: no unexpanded includes, every relative link and fragment resolves.
fn check_html(build_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids_of: HashMap<PathBuf, Option<HashSet<String>>> = HashMap::new();
    let mut pages = files_with_extension(build_dir, "html");
    pages.sort();
    if pages.is_empty() {
        problems.push(format!("no HTML pages in {}", build_dir.display()));
    }
    for page_path in pages {
        let Ok(html) = fs::read_to_string(&page_path) else {
            problems.push(format!("cannot read {}", page_path.display()));
            continue;
        };
        let page = page_path
            .strip_prefix(build_dir)
            .unwrap_or(&page_path)
            .to_path_buf();
        if html.contains("{{#include") || html.contains("{{#rustdoc_include") {
            problems.push(format!("{}: an include was not expanded", page.display()));
        }
        let base_is_root = html.contains("<base href=\"/\">");
        let mut seen = HashSet::new();
        for link in extract_links(&html) {
            if !seen.insert(link.clone()) {
                continue;
            }
            let target = match resolve(&page, &link, base_is_root) {
                None => continue,
                Some(Err(why)) => {
                    problems.push(format!("{}: broken link {why}", page.display()));
                    continue;
                }
                Some(Ok(target)) => target,
            };
            let on_disk = build_dir.join(&target.file);
            if !on_disk.is_file() {
                problems.push(format!(
                    "{}: broken link {link} ({} does not exist)",
                    page.display(),
                    target.file.display()
                ));
                continue;
            }
            let Some(fragment) = target.fragment else {
                continue;
            };
            let ids = ids_of.entry(target.file.clone()).or_insert_with(|| {
                let is_html = on_disk.extension().is_some_and(|e| e == "html");
                is_html
                    .then(|| fs::read_to_string(&on_disk).ok().map(|t| extract_ids(&t)))
                    .flatten()
            });
            if let Some(ids) = ids
                && !ids.contains(&fragment)
            {
                problems.push(format!(
                    "{}: broken link {link} (no #{fragment} in {})",
                    page.display(),
                    target.file.display()
                ));
            }
        }
    }
    problems
}

/// Every file under `dir` (recursively) whose name ends in `.ext`.
fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_includes_with_anchors_and_ranges() {
        let md = "a\n{{#include ../x.rs:run}}\n{{#include ../y.rs}}\n{{#include ../z.rs:2:10}}\n\
                  \\{{#include ../escaped.rs}}\n{{#rustdoc_include ../w.rs:go}}\n{{#title T}}\n";
        let got = include_directives(md);
        assert_eq!(
            got,
            vec![
                Include {
                    path: "../x.rs".into(),
                    anchor: Some("run".into())
                },
                Include {
                    path: "../y.rs".into(),
                    anchor: None
                },
                Include {
                    path: "../z.rs".into(),
                    anchor: None
                },
                Include {
                    path: "../w.rs".into(),
                    anchor: Some("go".into())
                },
            ]
        );
    }

    #[test]
    fn anchors_need_both_ends_and_exact_names() {
        let src = "// ANCHOR: run\nfn run() {}\n// ANCHOR_END: run\n// ANCHOR: runner\n";
        assert!(has_anchor(src, "run"));
        assert!(!has_anchor(src, "runner"), "no ANCHOR_END for runner");
        assert!(!has_anchor(src, "ru"));
        assert!(!has_anchor(src, "missing"));
    }

    #[test]
    fn extracts_links_and_ids() {
        let html = r#"<a href="ch01.html#goal">x</a><img src="img/a.svg"><h2 id="goal">G</h2>
<a name="old"></a><link rel="stylesheet" href="css/a-1234.css">"#;
        let links = extract_links(html);
        assert!(links.contains(&"ch01.html#goal".to_string()));
        assert!(links.contains(&"img/a.svg".to_string()));
        assert!(links.contains(&"css/a-1234.css".to_string()));
        let ids = extract_ids(html);
        assert!(ids.contains("goal") && ids.contains("old"));
    }

    #[test]
    fn resolves_relative_links() {
        let page = Path::new("chapters/ch01.html");
        let t = |link| resolve(page, link, false);
        assert_eq!(
            t("../intro.html#lifecycle"),
            Some(Ok(Target {
                file: "intro.html".into(),
                fragment: Some("lifecycle".into())
            }))
        );
        assert_eq!(
            t("#try-it"),
            Some(Ok(Target {
                file: "chapters/ch01.html".into(),
                fragment: Some("try-it".into())
            }))
        );
        assert_eq!(
            t("sub/"),
            Some(Ok(Target {
                file: "chapters/sub/index.html".into(),
                fragment: None
            }))
        );
        assert_eq!(
            t("a%20b.html"),
            Some(Ok(Target {
                file: "chapters/a b.html".into(),
                fragment: None
            }))
        );
        assert!(matches!(t("../../outside.html"), Some(Err(_))));
        assert_eq!(t("https://example.org/x"), None);
        assert_eq!(t("mailto:someone@example.org"), None);
        assert_eq!(t("javascript:void(0)"), None);
        assert_eq!(
            t("#"),
            Some(Ok(Target {
                file: page.into(),
                fragment: None
            }))
        );
        assert_eq!(
            resolve(page, "css/a.css", true),
            Some(Ok(Target {
                file: "css/a.css".into(),
                fragment: None
            }))
        );
    }

    #[test]
    fn recognises_log_problems() {
        assert!(log_problem(" ERROR Could not read file").is_some());
        assert!(log_problem("\u{1b}[33m WARN\u{1b}[0m Caused By: x").is_some());
        assert!(log_problem("[2024-01-01T00:00:00Z WARN  mdbook::x] bad").is_some());
        assert!(log_problem(" INFO Book building has started").is_none());
        assert!(log_problem(" INFO rendering WARN.md").is_none());
    }
}
