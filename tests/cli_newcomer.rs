//! The command as a new user meets it: the bundled problem from any directory, negative
//! numbers reaching validation, the solve table's plain-words summary, and a result.json that
//! reads back as the library's report.

mod common;
use common::*;

use std::process::Command;

#[test]
fn the_bundled_problem_solves_from_a_directory_without_the_repository() {
    let cwd = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_spnewton"))
        .args(["solve", "--no-checks", "--max-iter", "1", "--out", "r.json"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    // One iteration does not converge: exit 3, not a missing-file error.
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.path().join("r.json")).unwrap()).unwrap();
    assert_eq!((r["problem"]["n"].as_u64(), r["problem"]["d"].as_u64()), (Some(31064), Some(1000)));
    assert_eq!(r["status"], "max_iterations");
    // Nothing but the asked-for file is left behind, there or in the temporary directory.
    let names: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("r.json")]);
}

#[test]
fn negative_values_reach_validation() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 2000 --d 5 --row-nnz 3 --loss linear --seed 1");
    let ps = p.to_str().unwrap();
    for (flag, value) in [("--eps0", "-1"), ("--w-const", "-0.5")] {
        let o = spnewton(&["solve", "--problem", ps, "--hessian", "leverage", flag, value]);
        let e = stderr(&o);
        assert!(!e.contains("unexpected argument"), "{flag} {value}: {e}");
        assert_input_error(&o, &flag[2..]);
    }
}

#[test]
fn the_table_counts_the_whole_iteration_and_summarises_the_checks_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 20000 --d 15 --row-nnz 5 --loss rescaled --fn exp --seed 3");
    let ps = p.to_str().unwrap();
    let out = dir.path().join("r.json");
    let o = spnewton(&["solve", "--problem", ps, "--hessian", "exact", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("checks included"), "{text}");
    assert!(text.contains("theory check") && text.contains("meaning: the convergence theorem"), "{text}");
    assert!(!text.contains("M·r ≤ 0.1·l"), "jargon without --verbose: {text}");
    // The file reads back as the library's report, each check value once.
    let json = std::fs::read_to_string(&out).unwrap();
    let report: spnewton::newton::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(report.status, spnewton::newton::Status::Converged);
    assert_eq!(report.history.len(), report.iterations);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["history"][0].get("contraction_ok").is_none() && v["history"][0]["checks"].get("contraction_ok").is_some()
    );
    // The per-iteration time is at least the checks' time of that iteration.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            let mut t = l.split_whitespace();
            t.next().is_some_and(|v| v.parse::<usize>().is_ok()) && t.next().is_some_and(|v| v.parse::<f64>().is_ok())
        })
        .collect();
    assert_eq!(rows.len(), report.iterations, "{text}");
    for (row, h) in rows.iter().zip(&report.history) {
        let time: f64 = row.split_whitespace().nth(7).unwrap().parse().unwrap();
        assert!(time + 1e-3 >= h.timing.checks_s + h.timing.solver_s(), "{row}: {:?}", h.timing);
    }
    // --verbose shows the checks per iteration.
    let o = spnewton(&["solve", "--problem", ps, "--hessian", "exact", "--verbose"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("contracts") && text.contains("0.4·r_t"), "{text}");
}
