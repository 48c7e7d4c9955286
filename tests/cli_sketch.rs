//! `spnewton sketch`: JSON fields, saved weights that reproduce ε independently, bad input.

mod common;
use common::*;

#[test]
fn sketch_reports_and_saves_a_checkable_diagonal() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 20000 --d 30 --row-nnz 6 --variant coherent --seed 2 --w-const 0.5");
    let ps = p.to_str().unwrap();
    let out = dir.path().join("s.json");
    let wts = dir.path().join("w.txt");
    let o = spnewton(&[
        "sketch",
        "--problem",
        ps,
        "--eps0",
        "0.5",
        "--delta",
        "0.1",
        "--seed",
        "4",
        "--measure",
        "--save-weights",
        wts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let kept = v["rows_kept"].as_u64().unwrap() as usize;
    assert!(kept > 0 && kept < 20000);
    assert!(v["time_s"].as_f64().unwrap() > 0.0 && v["spmv_equivalents"].as_f64().unwrap() > 0.0);
    let eps = v["eps_measured"].as_f64().unwrap();
    // Independent check from the saved diagonal: D is the sketch diagonal D₊ at x = 0.
    let problem = losses::Problem::read_dir(&p).unwrap();
    let f = losses::Objective::from_problem(&problem).unwrap();
    let e = f.evaluate(&vec![0.0; 30], losses::What::Hessian).unwrap();
    let dgn = e.hessian.unwrap().sketch_diagonal().0.into_owned();
    let text = std::fs::read_to_string(&wts).unwrap();
    let (rows, weights): (Vec<usize>, Vec<f64>) = text
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            (it.next().unwrap().parse::<usize>().unwrap(), it.next().unwrap().parse::<f64>().unwrap())
        })
        .unzip();
    assert_eq!(rows.len(), kept);
    let approx = problem.a.sampled_gram(&rows, &weights);
    let again = sketch::measure_eps(&problem.a.weighted_gram(&dgn), &approx).unwrap();
    assert!((again - eps).abs() <= 1e-9, "{again} vs {eps}");
    // --a with a weights file of the wrong length: exit 2.
    let a = p.join("A.mtx");
    std::fs::write(dir.path().join("short.txt"), "1\n2\n").unwrap();
    let o = spnewton(&[
        "sketch",
        "--a",
        a.to_str().unwrap(),
        "--weights",
        dir.path().join("short.txt").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Negative weights are refused.
    std::fs::write(dir.path().join("neg.txt"), "-1\n".repeat(20000)).unwrap();
    let o = spnewton(&[
        "sketch",
        "--a",
        a.to_str().unwrap(),
        "--weights",
        dir.path().join("neg.txt").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nonnegative"));
}

/// Regression (#14): `spnewton sketch --problem` sampled the Gauss–Newton diagonal `D_GN` while
/// the solver samples `D₊` (the exact `D` where it is ≥ 0): the command did not measure what the
/// solver uses. Both now take `losses`' one rule; for the same seed they keep the same rows.
#[test]
fn the_command_and_the_solver_sample_the_same_diagonal() {
    use newton::{SolverParams, Strategy, solve};
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 30000 --d 20 --row-nnz 5 --seed 7 --scale 1.5");
    let problem = losses::Problem::read_dir(&p).unwrap();
    let f = losses::Objective::from_problem(&problem).unwrap();
    let x0 = vec![0.0; 20];
    let e = f.evaluate(&x0, losses::What::Hessian).unwrap();
    let h = e.hessian.as_ref().unwrap();
    let (dplus, _) = h.sketch_diagonal();
    let dgn = h.diagonal(losses::Part::GaussNewton);
    // The test needs the two diagonals to differ (they do away from the minimum).
    assert!(dplus.iter().zip(dgn).filter(|(a, b)| a != b).count() > 1000);

    let wts = dir.path().join("w.txt");
    let out = dir.path().join("s.json");
    let o = spnewton(&[
        "sketch",
        "--problem",
        p.to_str().unwrap(),
        "--seed",
        "11",
        "--save-weights",
        wts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved: Vec<(usize, u64)> = std::fs::read_to_string(&wts)
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse::<f64>().unwrap().to_bits())
        })
        .collect();
    let sample = |d: &[f64]| -> Vec<(usize, u64)> {
        let params = sketch::SparsifyParams::default();
        let sketch::Sparsifier::Diagonal(s) =
            sketch::sparsify(&problem.a, d, sketch::Method::Leverage, &params, 11).unwrap()
        else {
            panic!("leverage sampling gives a diagonal")
        };
        s.rows.iter().zip(&s.weights).map(|(&i, w)| (i, w.to_bits())).collect()
    };
    assert_eq!(saved, sample(&dplus), "the command samples D₊");
    assert_ne!(saved, sample(dgn), "and not D_GN");

    // The solver's first leverage step, same seed: the same number of rows kept.
    let params =
        SolverParams { strategy: Strategy::Leverage, seed: 11, max_iter: 1, checks: false, ..Default::default() };
    let r = solve(&f, &x0, &params, None, &mut |_, _| std::ops::ControlFlow::Continue(())).unwrap();
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r.history[0].rows_kept, Some(kept["rows_kept"].as_u64().unwrap() as usize));
}
