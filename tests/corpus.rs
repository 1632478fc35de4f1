//! The real world through `tributary parse`: every document of the shared corpus (about a
//! hundred feeds gathered from the test suites of mature feed parsers, see
//! `../shared/fixtures/SOURCES.md`) and the outlet captures, and a table of what the first item
//! of each of 59 of them must be, written from reading the files.

mod common;

use std::path::{Path, PathBuf};

use common::binary;
use serde::Deserialize;
use serde_json::Value;

fn fixtures() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(
        path.join("corpus").is_dir(),
        "the shared fixtures belong at {} (beside the repository)",
        path.display()
    );
    path
}

/// Lists every file below `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e != "md") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// What `tributary parse` made of a document.
struct Parsed {
    exit: Option<i32>,
    items: Vec<Value>,
    stderr: String,
}

fn parse(path: &Path) -> Parsed {
    let output = binary().arg("parse").arg(path).output().unwrap();
    let stdout = String::from_utf8(output.stdout)
        .unwrap_or_else(|e| panic!("{}: output is not UTF-8: {e}", path.display()));
    Parsed {
        exit: output.status.code(),
        items: stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", path.display()))
            })
            .collect(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Tells whether a document has an item or entry element, or a non-empty JSON Feed `items`. NUL
/// bytes are dropped first, so that UTF-16 and UTF-32 text reads as ASCII.
fn has_items(bytes: &[u8]) -> bool {
    let ascii: String = bytes
        .iter()
        .filter(|b| **b != 0)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    let compact: String = ascii.split_whitespace().collect();
    ["<item>", "<item ", "<entry>", "<entry ", "<rss:item"]
        .iter()
        .any(|tag| ascii.contains(tag))
        || compact.contains("\"items\":[{")
}

/// Documents with item elements that rightly yield none, and why.
const NOTHING_TO_RECOVER: &[(&str, &str)] = &[
    (
        "illformed-incomplete-cdata.xml",
        "its only item ends inside an unclosed CDATA section in its title",
    ),
    (
        "cdf-channel.xml",
        "Microsoft's Channel Definition Format (1997) is not a feed format tributary reads",
    ),
];

/// HTML that must never reach a reader (sanitized attributes are written in double quotes, so
/// a dangerous URL would start one; the words alone may well be in the text).
const UNSAFE: &[&str] = &[
    "<script",
    "=\"javascript:",
    "=\"data:",
    "<form",
    "<iframe",
    "<frame",
    "<object",
    "<embed",
    "<style",
    " style=",
    " onclick=",
    " onload=",
    " onerror=",
    " onmouseover=",
];

#[test]
fn every_document_parses_to_safe_utf8_items_or_a_clear_error() {
    let fixtures = fixtures();
    let mut problems = Vec::new();
    let all = [
        files(&fixtures.join("corpus")),
        files(&fixtures.join("outlets")),
    ]
    .concat();
    assert!(all.len() >= 100, "the corpus is there: {} files", all.len());
    for path in &all {
        let name = path.file_name().unwrap().to_string_lossy();
        let parsed = parse(path);
        match parsed.exit {
            Some(0) => {}
            Some(1) if parsed.stderr.contains("cannot parse") => {}
            other => problems.push(format!("{name}: exit {other:?}: {}", parsed.stderr)),
        }
        let expects_items = has_items(&std::fs::read(path).unwrap())
            && !NOTHING_TO_RECOVER.iter().any(|(file, _)| *file == name);
        if expects_items && parsed.items.is_empty() {
            problems.push(format!(
                "{name}: has items but yielded none: {}",
                parsed.stderr
            ));
        }
        for item in &parsed.items {
            for field in ["summary", "content"] {
                let html = item[field]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if let Some(bad) = UNSAFE.iter().find(|bad| html.contains(*bad)) {
                    problems.push(format!("{name}: {field} holds {bad:?}: {html}"));
                }
            }
            let title = item["title"].as_str().unwrap();
            if title.contains('<') && title.contains('>') && title.contains("</") {
                problems.push(format!("{name}: title keeps markup: {title}"));
            }
            for date in ["published", "updated"] {
                if let Some(date) = item[date].as_str() {
                    if !date.ends_with('Z') {
                        problems.push(format!("{name}: {date} is not UTC"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

/// The first item of one document, as a careful reader of the file expects it.
#[derive(Deserialize)]
struct Case {
    file: String,
    covers: String,
    title: String,
    link: Option<String>,
    published: Option<String>,
    image: Option<String>,
    author: Option<String>,
}

#[test]
fn first_items_match_the_table_written_from_reading_the_files() {
    let fixtures = fixtures();
    let table: Table = toml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus-expectations.toml"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(table.case.len() >= 40);
    let mut mismatches = Vec::new();
    for case in &table.case {
        let parsed = parse(&fixtures.join(&case.file));
        let Some(first) = parsed.items.first() else {
            mismatches.push(format!(
                "{} ({}): no items: {}",
                case.file, case.covers, parsed.stderr
            ));
            continue;
        };
        let got = |field: &str| first[field].as_str().map(str::to_owned);
        let checks = [
            ("title", Some(case.title.clone()), got("title")),
            ("link", case.link.clone(), got("url")),
            ("published", case.published.clone(), got("published")),
            ("image", case.image.clone(), got("image")),
            (
                "author",
                case.author.clone(),
                first["authors"][0].as_str().map(str::to_owned),
            ),
        ];
        for (field, expected, actual) in checks {
            if expected != actual {
                mismatches.push(format!(
                    "{} ({}): {field}: expected {expected:?}, got {actual:?}",
                    case.file, case.covers
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
