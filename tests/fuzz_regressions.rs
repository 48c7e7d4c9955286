//! Replays every committed fuzz input (fuzz/regressions/TARGET/*) through the same checks the
//! fuzz targets run (fuzz/checks.rs), on the stable toolchain: each input a fuzzer ever
//! flagged, and the seeds, stay handled (a value or a typed error, no panic).

include!("../fuzz/checks.rs");

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {}", dir.display());
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} is not handled", f.display());
    }
}

#[test]
fn matrix_market_inputs() {
    replay("matrix_market", matrix_market);
}

#[test]
fn matrix_market_gzip_inputs() {
    replay("matrix_market_gzip", matrix_market_gzip);
}

#[test]
fn svmlight_inputs() {
    replay("svmlight", svmlight);
}

#[test]
fn vector_inputs() {
    replay("vector", vector);
}

#[test]
fn problem_meta_inputs() {
    replay("problem_meta", problem_meta);
}

#[test]
fn attention_dir_inputs() {
    replay("attention_dir", attention_dir);
}

#[test]
fn npz_inputs() {
    replay("npz", npz);
}
