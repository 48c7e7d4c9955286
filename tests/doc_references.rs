//! Every citation in the repository resolves in docs/reference.md.
//!
//! Code comments and docs cite the mathematical reference as "§4", "errata E7", "Lemma 5.6",
//! "Definition 3.8", "seed 004 §3.3" (a section of a paper). This test collects those
//! citations from every `.rs` and `.md` file and fails, naming file and line, for any that has
//! no anchor (`<a id="…">`) in docs/reference.md — so a reader can look up every one of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Keywords followed by a numbered statement `X.Y` (`X` may be an appendix letter).
const NUMBERED: [(&str, &str); 10] = [
    ("Lemmas ", "lemma"),
    ("Lemma ", "lemma"),
    ("Definitions ", "definition"),
    ("Definition ", "definition"),
    ("Theorems ", "theorem"),
    ("Theorem ", "theorem"),
    ("Corollaries ", "corollary"),
    ("Corollary ", "corollary"),
    ("Assumptions ", "assumption"),
    ("Assumption ", "assumption"),
];

/// A number like `4`, `3.3` or `H.1` at the start of `s`; returns it and the bytes consumed.
/// A trailing `.` not followed by a digit (end of sentence, "§1. Title") is not part of it.
fn number(s: &str, allow_letter: bool) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if allow_letter && b.first().is_some_and(|c| c.is_ascii_uppercase()) && b.get(1) == Some(&b'.') {
        i = 1;
    } else {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == 0 {
            return None;
        }
    }
    while i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    // A letter alone ("H") is an appendix, not a numbered statement.
    if allow_letter && i == 1 && !b[0].is_ascii_digit() {
        return None;
    }
    Some((s[..i].to_string(), i))
}

/// The numbers of a citation starting at `s`: `3.3–3.4`, `1.5/11.1`, `§3–§4`.
fn number_list(s: &str, allow_letter: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((n, used)) = number(rest, allow_letter) {
        out.push(n);
        rest = &rest[used..];
        let mut next = None;
        for sep in ["–§", "-§", "–", "-", "/", " / "] {
            if let Some(r) = rest.strip_prefix(sep) {
                next = Some(r);
                break;
            }
        }
        match next {
            Some(r) => rest = r,
            None => break,
        }
    }
    out
}

/// The anchors the citations on one line need (`s4`, `seed-004-s3.3`, `e7`, `lemma-5.6`).
fn citations(line: &str, errata_context: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in line.match_indices('§') {
        let before = line[..at].trim_end_matches([' ', ',']);
        let seed = ["000", "004"].into_iter().find(|s| before.ends_with(&format!("seed {s}")));
        for n in number_list(&line[at + '§'.len_utf8()..], false) {
            out.push(match seed {
                Some(s) => format!("seed-{s}-s{n}"),
                None => format!("s{n}"),
            });
        }
    }
    for (word, anchor) in NUMBERED {
        for (at, _) in line.match_indices(word) {
            let start = at + word.len();
            // "Lemma" must be a word of its own, not the end of another.
            if line[..at].chars().next_back().is_some_and(char::is_alphanumeric) {
                continue;
            }
            for n in number_list(&line[start..], true) {
                if n.contains('.') {
                    out.push(format!("{anchor}-{}", n.to_lowercase()));
                }
            }
        }
    }
    if errata_context {
        let b = line.as_bytes();
        for (at, _) in line.match_indices('E') {
            let prev_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
            let digits = line[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let end = at + 1 + digits;
            let next_ok = end >= b.len() || !(b[end].is_ascii_alphanumeric() || b[end] == b'_');
            if prev_ok && digits > 0 && next_ok {
                out.push(format!("e{}", &line[at + 1..end]));
            }
        }
    }
    out
}

fn anchors(reference: &str) -> BTreeSet<String> {
    reference.split("id=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("readable directory").flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out);
        } else if name.ends_with(".rs") || name.ends_with(".md") {
            out.push(path);
        }
    }
}

#[test]
fn the_citation_parser_finds_what_it_should() {
    let c = |s: &str| citations(s, true);
    assert_eq!(c("see SPEC §4 and §1–2."), ["s4", "s1", "s2"]);
    assert_eq!(c("## §1. Title"), ["s1"]);
    assert_eq!(c("(SPEC §3–4, errata E2)"), ["s3", "s4", "e2"]);
    assert_eq!(c("seed 004, §3.3–3.4 and seed 000 §10"), ["seed-004-s3.3", "seed-004-s3.4", "seed-000-s10"]);
    assert_eq!(c("Lemma 5.6 (induction), Definitions 3.1–3.3."), ["lemma-5.6", "definition-3.1", "definition-3.3"]);
    assert_eq!(c("Lemma H.1, Theorem 1.5/11.1"), ["lemma-h.1", "theorem-1.5", "theorem-11.1"]);
    assert_eq!(c("Appendix H; a Definition of terms; Dilemma 2.1"), Vec::<String>::new());
    assert_eq!(c("errata E1 and E2; E4's term; HE3; E7x"), ["e1", "e2", "e4"]);
    assert!(citations("let E1 = 2;", false).is_empty());
    let a = anchors(r#"<a id="s1"></a> text <a id="lemma-5.6"></a>"#);
    assert_eq!(a.into_iter().collect::<Vec<_>>(), ["lemma-5.6", "s1"]);
}

#[test]
fn every_citation_resolves_in_the_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("docs/reference.md")).expect("docs/reference.md exists");
    let known = anchors(&reference);
    // The reference itself has the sections, errata and statements it promises.
    for needed in ["s1", "s2", "s3", "s4", "s5", "s6", "e1", "e8", "lemma-5.6", "definition-3.8"] {
        assert!(known.contains(needed), "docs/reference.md lacks the anchor {needed}");
    }
    // Its own links point at anchors it has.
    for link in reference.split("](#").skip(1) {
        let target = link.split(')').next().unwrap_or_default();
        assert!(known.contains(target), "docs/reference.md links to #{target}, which it does not define");
    }

    let mut files = Vec::new();
    collect_files(root, &mut files);
    assert!(files.len() > 50, "the scan found only {} files: wrong root?", files.len());
    let mut missing = Vec::new();
    let mut cited = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable text file");
        let markdown = file.extension().is_some_and(|e| e == "md");
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            // Bare `E<k>` tokens count in prose: Markdown, comments and lines that say "errata".
            let prose = markdown || t.starts_with("//") || line.to_lowercase().contains("errata");
            for anchor in citations(line, prose) {
                cited += 1;
                if !known.contains(&anchor) {
                    let rel = file.strip_prefix(root).unwrap_or(file).display().to_string();
                    missing.push(format!("{rel}:{}: #{anchor} in {line:?}", i + 1));
                }
            }
        }
    }
    assert!(cited > 100, "only {cited} citations found: is the scan broken?");
    assert!(missing.is_empty(), "citations without an anchor in docs/reference.md:\n{}", missing.join("\n"));
}
