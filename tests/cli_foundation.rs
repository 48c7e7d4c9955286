//! The `spnewton` program end to end: gen → info, the bundled data, and the exit-code policy.

mod common;
use common::*;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn gen_then_info_roundtrip() {
    const ARGS: &str =
        "--n 3000 --d 20 --row-nnz 4 --loss hyperbolic --fn cosh --seed 9 --w-const 0.5 --variant coherent --spikes 2";
    let dir = tempfile::tempdir().unwrap();
    let out = gen_problem(dir.path(), "p", ARGS);
    let o = spnewton(&["info", "--problem", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["n"], 3000);
    assert_eq!(v["d"], 20);
    assert_eq!(v["nnz"], 3000 * 4 + 2);
    assert_eq!(v["loss"], "hyperbolic");
    assert_eq!(v["fn"], "cosh");
    assert_eq!(v["col_nnz"]["min"], 1.0, "coherent spikes");
    // Same seed, same files, with one worker thread.
    let out2 = dir.path().join("q");
    let args: Vec<&str> = ["--threads", "1", "gen"]
        .into_iter()
        .chain(ARGS.split_whitespace())
        .chain(["--out", out2.to_str().unwrap()])
        .collect();
    assert!(spnewton(&args).status.success());
    for f in ["A.mtx", "b.txt", "x_true.txt", "meta.json"] {
        assert_eq!(std::fs::read(out.join(f)).unwrap(), std::fs::read(out2.join(f)).unwrap(), "{f}");
    }
}

#[test]
fn bundled_kjv_problem_reads_and_matches_its_stats() {
    let dir = root().join("datasets/kjv");
    let p = losses::Problem::read_dir(&dir).unwrap();
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stats.json")).unwrap()).unwrap();
    assert_eq!(p.a.shape(), (31064, 1000));
    assert_eq!(p.a.nnz() as u64, stats["nnz"].as_u64().unwrap());
    let s = p.a.stats();
    let want = stats["frobenius_norm"].as_f64().unwrap();
    assert!((s.frobenius_norm - want).abs() <= 1e-12 * want, "{} vs {want}", s.frobenius_norm);
    assert_eq!(s.empty_rows, 0);
    assert!(dir.join("COPYRIGHT.bible-kjv-text").exists(), "the legend travels with the data");
    let x = p.x_true.as_ref().unwrap();
    let mut z = vec![0.0; p.a.nrows()];
    p.a.mul_vec(x, &mut z);
    let zmax = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!((zmax - 0.5).abs() < 1e-12, "planted with ‖A x_true‖∞ = 0.5, got {zmax}");
}

#[test]
fn input_errors_exit_2_with_one_line() {
    let bad = root().join("crates/sparse-ops/tests/data/malformed/nan_value.mtx");
    assert_input_error(&spnewton(&["info", "--a", bad.to_str().unwrap()]), "nan_value.mtx:4");
    assert_input_error(&spnewton(&["info", "--problem", "/nonexistent/dir"]), "/nonexistent/dir");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    assert_input_error(
        &spnewton(&["gen", "--n", "10", "--d", "5", "--row-nnz", "6", "--out", out.to_str().unwrap()]),
        "6 nonzeros per row exceed",
    );
    assert!(!out.exists(), "nothing written on error");
    let o = spnewton(&["gen", "--n", "10", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "clap usage error");
    // A problem directory with a b of the wrong length.
    let p = dir.path().join("short_b");
    let o =
        spnewton(&["gen", "--n", "50", "--d", "5", "--density", "0.5", "--seed", "1", "--out", p.to_str().unwrap()]);
    assert!(o.status.success());
    std::fs::write(p.join("b.txt"), "1\n2\n").unwrap();
    assert_input_error(&spnewton(&["info", "--problem", p.to_str().unwrap()]), "expected length 50, found 2");
    std::fs::write(p.join("w.txt"), "1\n").unwrap();
    write_meta(&p, r#"{"loss": "linear", "fn": "exp", "w_const": 1}"#);
    std::fs::write(p.join("b.txt"), "1\n".repeat(50)).unwrap();
    assert_input_error(&spnewton(&["info", "--problem", p.to_str().unwrap()]), "w.txt");
    std::fs::remove_file(p.join("w.txt")).unwrap();
    write_meta(&p, r#"{"loss": "quadratic"}"#);
    assert_input_error(&spnewton(&["info", "--problem", p.to_str().unwrap()]), "meta.json");
}

fn write_meta(dir: &Path, text: &str) {
    std::fs::write(dir.join("meta.json"), text).unwrap();
}

#[test]
fn closed_stdout_is_not_a_panic() {
    // `spnewton info … | head` closes the pipe early: the command must end quietly, not panic.
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_spnewton"))
        .args(["info", "--problem", "datasets/kjv"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // closed before the matrix is read, so before the first write
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
