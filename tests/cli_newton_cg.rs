//! `spnewton solve --hessian newton-cg`: the bundled KJV problem agrees with exact Newton, every
//! preconditioner converges and records its CG counts in result.json, the default picks
//! Newton–CG where the dense matrix would dominate, and a wide problem is not refused for a
//! `d×d` matrix it never forms.

mod common;
use common::*;

fn solve_json(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut all = vec!["solve", "--quiet", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = spnewton(&all);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn x_of(r: &serde_json::Value) -> Vec<f64> {
    r["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn newton_cg_on_the_bundled_problem_agrees_with_exact_newton() {
    let exact = solve_json(&["--no-checks", "--hessian", "exact"]);
    let xe = x_of(&exact);
    let norm = xe.iter().map(|v| v * v).sum::<f64>().sqrt();
    for pc in ["jacobi", "nystrom", "none"] {
        let r = solve_json(&["--no-checks", "--hessian", "newton-cg", "--precond", pc, "--max-cg", "1000"]);
        assert_eq!(r["status"], "converged", "{pc}: {}", r["message"]);
        assert_eq!(r["strategy"], "newton-cg");
        assert!(r["grad_norm"].as_f64().unwrap() <= 1e-8 * r["grad_norm0"].as_f64().unwrap(), "{pc}");
        let x = x_of(&r);
        let diff = x.iter().zip(&xe).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        assert!(diff <= 1e-6 * norm, "{pc}: ‖x − x_exact‖/‖x_exact‖ = {:e}", diff / norm);
        for h in r["history"].as_array().unwrap() {
            let cg = h["cg_iterations"].as_u64().expect("cg_iterations recorded");
            assert!(cg >= 1 && h["passes_over_a"].as_u64().unwrap() > cg, "{pc}: {h}");
        }
    }
}

#[test]
fn the_default_picks_newton_cg_for_wide_problems_and_exact_for_narrow_ones() {
    let dir = tempfile::tempdir().unwrap();
    // d = 3,000: a 72 MB dense matrix and a 9·10⁹-flop Cholesky a step against 10⁶ nonzeros.
    let wide = gen_problem(dir.path(), "wide", "--n 30000 --d 3000 --row-nnz 10 --seed 4");
    let r = solve_json(&["--problem", wide.to_str().unwrap(), "--no-checks"]);
    assert_eq!(r["strategy"], "newton-cg");
    assert_eq!(r["status"], "converged", "{}", r["message"]);
    // The choice and the estimates it came from are in result.json.
    let (e, c) = (r["choice"]["exact_flops"].as_f64().unwrap(), r["choice"]["newton_cg_flops"].as_f64().unwrap());
    assert!(e > c, "{e} vs {c}");
    assert!(r["choice"]["rule"].as_str().unwrap().contains("newton-cg"));
    // Nothing timed where timings cannot change the choice.
    assert!(r["choice"]["calibration"].is_null());
    // Matrix-free: a budget far below one dense 3000² matrix (72 MB) is enough.
    let o =
        spnewton(&["--max-memory", "16M", "solve", "--problem", wide.to_str().unwrap(), "--quiet", "--max-iter", "0"]);
    assert_ne!(o.status.code(), Some(2), "newton-cg refused for a d×d matrix it never forms: {}", stderr(&o));
    let narrow = gen_problem(dir.path(), "narrow", "--n 20000 --d 20 --row-nnz 5 --seed 4");
    let r = solve_json(&["--problem", narrow.to_str().unwrap(), "--no-checks"]);
    assert_eq!(r["strategy"], "exact");
    assert!(r["choice"]["exact_flops"].as_f64().unwrap() <= r["choice"]["newton_cg_flops"].as_f64().unwrap());
    // Near the crossover (d³/3 ≥ 2·nnz, exact by flops) this machine's rates are timed and the
    // step times predicted from them recorded.
    let mid = gen_problem(dir.path(), "mid", "--n 20000 --d 150 --row-nnz 10 --seed 4");
    let r = solve_json(&["--problem", mid.to_str().unwrap(), "--no-checks"]);
    assert_eq!(r["status"], "converged", "{}", r["message"]);
    let cal = &r["choice"]["calibration"];
    assert!(cal["pass_pair_s_per_nnz"].as_f64().unwrap() > 0.0 && cal["cholesky_s_per_flop"].as_f64().unwrap() > 0.0);
    assert!(r["choice"]["exact_s"].as_f64().unwrap() > 0.0 && r["choice"]["newton_cg_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["strategy"], r["choice"]["strategy"]);
    // A named strategy records no choice.
    let r = solve_json(&["--problem", narrow.to_str().unwrap(), "--no-checks", "--hessian", "newton-cg"]);
    assert!(r.get("choice").is_none());
}

#[test]
fn negative_curvature_and_the_checks_work_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "cosh", "--n 5000 --d 10 --row-nnz 5 --fn cosh --scale 1 --seed 5");
    // From 0 (a stationary point of rescaled cosh): the saddle is detected and left, or reported.
    let o = spnewton(&["solve", "--problem", p.to_str().unwrap(), "--hessian", "newton-cg", "--quiet"]);
    assert!(matches!(o.status.code(), Some(0) | Some(3)), "{}", stderr(&o));
    // With checks on, the records carry λ_min estimates like every other strategy's.
    let r = solve_json(&["--problem", p.to_str().unwrap(), "--hessian", "newton-cg", "--x0", &{
        let x0 = dir.path().join("x0.txt");
        std::fs::write(&x0, "0.1\n".repeat(10)).unwrap();
        x0.to_str().unwrap().to_string()
    }]);
    assert!(r["history"].as_array().unwrap().iter().any(|h| h["checks"]["l_est"].is_number()), "no λ_min estimate");
    // The default checks are derived from CG's own quantities; `--checks exact` always runs the
    // separate eigenvalue computations; each record names the kind, and the iterates agree.
    let x0 = dir.path().join("x0.txt");
    let args = |extra: &'static [&'static str]| {
        let mut a = vec!["--problem", p.to_str().unwrap(), "--hessian", "newton-cg", "--x0", x0.to_str().unwrap()];
        a.extend_from_slice(extra);
        solve_json(&a)
    };
    let (derived, exact) = (args(&[]), args(&["--checks", "exact"]));
    let kinds = |r: &serde_json::Value| -> Vec<String> {
        r["history"].as_array().unwrap().iter().filter_map(|h| h["checks"]["kind"].as_str().map(String::from)).collect()
    };
    // Derived where CG measured curvature; exact where it fell back to steepest descent (here
    // negative curvature at CG's first iteration, near the cosh saddle).
    let dk = kinds(&derived);
    assert!(dk.iter().any(|k| k == "derived") && dk.iter().all(|k| k == "derived" || k == "exact"), "{dk:?}");
    assert!(!kinds(&exact).is_empty() && kinds(&exact).iter().all(|k| k == "exact"), "{:?}", kinds(&exact));
    assert_eq!(derived["x"], exact["x"]);
}
