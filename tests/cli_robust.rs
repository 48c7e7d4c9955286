//! Issue #15 at the command line: a solve that stops without converging exits 3 with one line
//! saying why; `--max-memory` refuses an impossible job up front (exit 2); overflowing
//! attention values are an error, never a `null` in a success JSON.

mod common;
use attention::write_matrix;
use common::*;
use faer::Mat;

#[test]
fn a_solve_that_does_not_converge_exits_3_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 2000 --d 8 --row-nnz 3 --seed 1 --w-const 0.01");
    let ps = p.to_str().unwrap();
    let out = dir.path().join("r.json");
    let o = spnewton(&["solve", "--problem", ps, "--max-iter", "1", "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e:?}");
    assert!(e.contains("status max_iterations") && e.contains("tolerance"), "{e}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["status"], "max_iterations");
    // Converged: exit 0 and nothing on stderr.
    let o = spnewton(&["solve", "--problem", ps, "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty());
}

#[test]
fn max_memory_refuses_an_impossible_job_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 600 --d 300 --row-nnz 3 --seed 2");
    let ps = p.to_str().unwrap();
    // 8 copies of a 300×300 matrix need 5.5 MiB.
    let o = spnewton(&["--max-memory", "1M", "solve", "--problem", ps, "--hessian", "exact", "--quiet"]);
    assert_input_error(&o, "--max-memory");
    let o = spnewton(&["solve", "--problem", ps, "--quiet", "--max-memory", "64M", "--max-iter", "0"]);
    assert_ne!(o.status.code(), Some(2), "within the budget: {}", stderr(&o));
    let out = dir.path().join("e.json");
    let o = spnewton(&["eval", "--problem", ps, "--hessian", "--max-memory", "100K", "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "dense 300×300 Hessian");
    let o = spnewton(&["--max-memory", "lots", "solve", "--problem", ps]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn attention_overflow_and_oversized_hessians_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("att");
    let ds = data.to_str().unwrap();
    let o = spnewton(&["attention", "plant", "--m", "3", "--n", "6", "--d", "3", "--seed", "1", "--out", ds]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Y of 1e300: the loss overflows; it used to be written as "loss": null with exit 0.
    let y = dir.path().join("Ybig.mtx");
    let big: Mat<f64> = Mat::from_fn(3, 3, |i, j| if i == j { 1e300 } else { 0.0 });
    write_matrix(&y, big.as_ref()).unwrap();
    let out = dir.path().join("e.json");
    let os = out.to_str().unwrap();
    for extra in [&[][..], &["--hessian"][..]] {
        let mut args = vec!["attention", "eval", "--data", ds, "--y", y.to_str().unwrap(), "--out", os];
        args.extend_from_slice(extra);
        let o = spnewton(&args);
        assert_input_error(&o, "not finite");
    }
    assert!(!out.exists(), "no success JSON");
    // The d²×d² Hessian checked against the budget before allocation.
    let o = spnewton(&["attention", "eval", "--data", ds, "--hessian", "--max-memory", "1K", "--out", os]);
    assert_input_error(&o, "attention Hessian");
}
