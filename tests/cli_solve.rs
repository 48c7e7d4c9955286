//! `spnewton solve`: the default problem converges, result.json has the documented fields,
//! exit codes 0 / 3 / 2.

mod common;
use common::*;

use std::process::Command;

#[test]
fn default_solve_converges_on_the_bundled_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.json");
    let o = spnewton(&["solve", "--quiet", "--no-checks", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["status"], "converged");
    assert_eq!(r["problem"]["n"], 31064);
    assert_eq!(r["problem"]["d"], 1000);
    assert!(r["grad_norm"].as_f64().unwrap() <= 1e-8 * r["grad_norm0"].as_f64().unwrap());
    assert_eq!(r["x"].as_array().unwrap().len(), 1000);
}

#[test]
fn result_json_fields_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 20000 --d 15 --row-nnz 5 --loss rescaled --fn exp --seed 3");
    let ps = p.to_str().unwrap();
    let out = dir.path().join("r.json");
    let os = out.to_str().unwrap();
    let o = spnewton(&["solve", "--problem", ps, "--hessian", "leverage", "--seed", "1", "--out", os]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("status converged"), "{stdout}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for key in
        ["status", "x", "loss", "grad_norm", "iterations", "history", "timing", "total_s", "problem", "check_counts"]
    {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    for key in ["eval_s", "sketch_s", "hessian_s", "solve_s", "checks_s"] {
        assert!(r["timing"][key].as_f64().unwrap() >= 0.0, "{key}");
    }
    let h = &r["history"][0];
    for key in
        ["loss", "grad_norm", "step_norm", "step_length", "newton_decrement", "rows_kept", "passes_over_a", "checks"]
    {
        assert!(h.get(key).is_some(), "history record lacks {key}");
    }
    for key in ["contraction", "contraction_ok", "lipschitz_ok", "l_est", "m_est", "r"] {
        assert!(h["checks"].get(key).is_some(), "history record's checks lack {key}");
    }
    assert!(r.get("regime_from_iteration").is_some());
    assert!(r["check_counts"]["iterations_checked"].as_u64().unwrap() >= 1);
    // No w: x_true is the minimiser, so r_t is measured against it.
    assert_eq!(r["r_against_x_star"], true);
    // Stopped early: exit 3, the status says why.
    let o = spnewton(&["solve", "--problem", ps, "--max-iter", "1", "--out", os]);
    assert_eq!(o.status.code(), Some(3));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["status"], "max_iterations");
    // Bad input: exit 2, one line.
    let o = spnewton(&["solve", "--problem", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end().lines().count(), 1);
    let o = spnewton(&["solve", "--problem", ps, "--x0", "/nonexistent/x0.txt"]);
    assert_eq!(o.status.code(), Some(2));
    // Nothing is written into the working directory unless asked.
    let o = Command::new(env!("CARGO_BIN_EXE_spnewton"))
        .args(["solve", "--problem", ps, "--quiet"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("p"), std::ffi::OsString::from("r.json")]);
}

/// `--chunks C` (issue 21): the MPI solver's chunked reductions in one process. Its `x` is
/// bitwise the distributed solver's reading the same directory (what every MPI rank runs; the
/// rank counts themselves are `crates/distributed/tests/threads.rs` and scripts/test-mpi.sh).
#[test]
fn chunks_give_the_distributed_solvers_x_bitwise() {
    use distributed::read::Source;
    use distributed::{Chunking, DistProblem, LocalComm, Mode, Net};
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 3000 --d 8 --row-nnz 3 --loss hyperbolic --w-const 0.05 --seed 5");
    let out = dir.path().join("r.json");
    let (ps, os) = (p.to_str().unwrap(), out.to_str().unwrap());
    for (hessian, mode) in [("exact", Mode::Exact), ("leverage", Mode::Leverage)] {
        let o = spnewton(&["solve", "--problem", ps, "--hessian", hessian, "--chunks", "7", "--quiet", "--out", os]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(r["chunks"], 7);
        let x: Vec<u64> = r["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap().to_bits()).collect();
        let src = Source::open(&p).unwrap();
        let net = Net::new(LocalComm);
        let rows = src.read_rows(0..src.n).unwrap();
        let f = DistProblem::new(&net, rows, src.n, Chunking::new(src.n, 7), src.loss, src.func, src.w_const).unwrap();
        let strategy = if mode == Mode::Exact { newton::Strategy::Exact } else { newton::Strategy::Leverage };
        let params = newton::SolverParams {
            strategy,
            refresh_every: strategy.default_refresh(),
            checks: false,
            ..Default::default()
        };
        let want =
            distributed::solve(&f, mode, &[0.0; 8], &params, &mut |_, _| std::ops::ControlFlow::Continue(())).unwrap();
        assert_eq!(x, want.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{hessian}");
    }
    // Strategies the chunked solver does not have, and options it cannot honour, are refused.
    for extra in [&["--hessian", "gauss-newton"][..], &["--hessian", "exact", "--max-time", "5"]] {
        let mut args = vec!["solve", "--problem", ps, "--chunks", "7", "--quiet"];
        args.extend(extra);
        assert_input_error(&spnewton(&args), "--chunks");
    }
}
