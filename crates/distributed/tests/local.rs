//! The distributed solver in one process ([`LocalComm`]): reading rows by byte ranges and from
//! shards, the loss and its derivatives against `losses` and finite differences, and the four
//! strategies solving planted problems. The rank-count tests (bitwise `x` with 1–4 MPI ranks)
//! are `scripts/test-mpi.sh`.

use std::ops::ControlFlow;

use distributed::read::Source;
use distributed::strategy::Mode;
use distributed::{Chunking, DistProblem, LocalComm, Net};
use losses::{Activation, LossKind, Objective, Part, PlantSpec, Problem, Regulariser, What};
use newton::engine::{Need, Problem as _};
use newton::{SolverParams, Strategy};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn planted(n: usize, d: usize, loss: LossKind, w: Regulariser, seed: u64) -> Problem {
    let a =
        random_sparse(&GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(3), variant: Variant::Plain, seed })
            .unwrap();
    let spec = PlantSpec { loss, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: seed + 1 };
    let (x_true, b) = losses::plant(&a, &spec).unwrap();
    Problem { a, b, w, loss, func: Activation::Exp, x0: None, x_true: Some(x_true) }
}

fn write(p: &Problem) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    p.write_dir(dir.path(), false).unwrap();
    dir
}

#[test]
fn rank_blocks_read_by_byte_range_are_the_matrix_rows() {
    let p = planted(997, 6, LossKind::Rescaled, Regulariser::PerRow(vec![0.1; 997]), 3);
    let dir = write(&p);
    let src = Source::open(dir.path()).unwrap();
    assert_eq!((src.n, src.d, src.nnz), (997, 6, p.a.nnz()));
    let split = tempfile::tempdir().unwrap();
    distributed::split::split_problem(&p, split.path(), 5).unwrap();
    let shards = Source::open(split.path()).unwrap();
    assert_eq!(shards.parts.len(), 5);
    for s in [&src, &shards] {
        for size in 1..=4 {
            let ch = Chunking::new(997, 7);
            for r in 0..size {
                let rows = ch.owned_rows(r, size);
                let l = s.read_rows(rows.clone()).unwrap();
                let (s0, e0) = (p.a.indptr()[rows.start], p.a.indptr()[rows.end]);
                assert_eq!(l.data, p.a.data()[s0..e0]);
                assert_eq!(l.indices, p.a.indices()[s0..e0]);
                let ip: Vec<usize> = p.a.indptr()[rows.clone()].iter().chain([&e0]).map(|v| v - s0).collect();
                assert_eq!(l.indptr, ip);
                assert_eq!(l.b, p.b[rows.clone()]);
                let Regulariser::PerRow(w) = &p.w else { unreachable!() };
                assert_eq!(l.w.as_deref(), Some(&w[rows]));
            }
        }
    }
}

#[test]
fn malformed_and_unsorted_files_are_named_errors() {
    let p = planted(300, 4, LossKind::Linear, Regulariser::None, 5);
    let dir = write(&p);
    let path = dir.path().join("A.mtx");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let k = lines.len() - 10;
    lines[k] = "12 x 0.5";
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let src = Source::open(dir.path()).unwrap();
    let e = src.read_rows(0..300).unwrap_err().to_string();
    assert!(e.contains("malformed entry line `12 x 0.5`") && e.contains("A.mtx"), "{e}");
    // Rows out of order.
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.len() - 1;
    lines.swap(2, last);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let e = Source::open(dir.path()).unwrap().read_rows(0..300).unwrap_err().to_string();
    assert!(e.contains("not sorted") || e.contains("malformed"), "{e}");
    // A compressed matrix is refused with the way out.
    let p2 = planted(50, 3, LossKind::Linear, Regulariser::None, 6);
    let gz = tempfile::tempdir().unwrap();
    p2.write_dir(gz.path(), true).unwrap();
    let e = Source::open(gz.path()).unwrap_err().to_string();
    assert!(e.contains("spnewton split"), "{e}");
}

fn local_problem<'n>(
    net: &'n Net<LocalComm>,
    p: &Problem,
    dir: &std::path::Path,
    chunks: usize,
) -> DistProblem<'n, LocalComm> {
    let src = Source::open(dir).unwrap();
    let ch = Chunking::new(src.n, chunks);
    let rows = src.read_rows(0..src.n).unwrap();
    DistProblem::new(net, rows, p.a.nrows(), ch, p.loss, p.func, src.w_const).unwrap()
}

#[test]
fn value_gradient_and_hessian_match_the_single_machine_loss() {
    for (loss, w) in [
        (LossKind::Rescaled, Regulariser::Const(0.1)),
        (LossKind::Hyperbolic, Regulariser::PerRow((0..800).map(|i| 0.05 + (i % 7) as f64 * 0.01).collect())),
        (LossKind::Linear, Regulariser::None),
    ] {
        let p = planted(800, 5, loss, w, 11);
        let dir = write(&p);
        let net = Net::new(LocalComm);
        let f = local_problem(&net, &p, dir.path(), 9);
        let obj = Objective::from_problem(&p).unwrap();
        let x: Vec<f64> = (0..5).map(|j| 0.1 * (j as f64 - 2.0)).collect();
        let e = f.evaluate(&x, Need::Curvature).unwrap();
        let r = obj.evaluate(&x, What::Hessian).unwrap();
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-300);
        assert!(rel(e.value, r.value) < 1e-12, "{loss:?}: {} vs {}", e.value, r.value);
        let g = r.gradient.as_ref().unwrap();
        let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (j, (a, b)) in e.gradient.iter().zip(g).enumerate() {
            assert!((a - b).abs() <= 1e-12 * gn, "{loss:?} g[{j}]");
        }
        // Finite differences of the value.
        for j in 0..5 {
            let h = 1e-6;
            let mut xp = x.clone();
            xp[j] += h;
            let mut xm = x.clone();
            xm[j] -= h;
            let fd = (f.value(&xp).unwrap() - f.value(&xm).unwrap()) / (2.0 * h);
            assert!((fd - e.gradient[j]).abs() <= 1e-6 * (1.0 + gn), "{loss:?} fd {fd} vs {}", e.gradient[j]);
        }
        // Hessian-vector products against the dense exact Hessian of `losses`.
        let hd = r.hessian.as_ref().unwrap().dense(Part::Exact);
        let v = [0.3, -1.0, 0.5, 0.25, 2.0];
        let hv = f.hessian_apply(&e, &v);
        let scale = (0..5).map(|i| (0..5).map(|k| hd[(i, k)].abs()).sum::<f64>()).fold(0.0, f64::max) * 2.0;
        for i in 0..5 {
            let want: f64 = (0..5).map(|k| hd[(i, k)] * v[k]).sum();
            assert!((hv[i] - want).abs() <= 1e-12 * scale, "{loss:?} Hv[{i}] {} vs {want}", hv[i]);
        }
    }
}

#[test]
fn every_strategy_solves_a_planted_problem_and_agrees_with_newton_solve() {
    let p = planted(4000, 8, LossKind::Rescaled, Regulariser::None, 21);
    let dir = write(&p);
    let x_true = p.x_true.clone().unwrap();
    let obj = Objective::from_problem(&p).unwrap();
    let params = SolverParams { strategy: Strategy::Exact, tol: 1e-10, checks: false, ..Default::default() };
    let reference = newton::solve(&obj, &[0.0; 8], &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap();
    for mode in [Mode::Exact, Mode::Leverage, Mode::LeveragePcg, Mode::NewtonCg] {
        let net = Net::new(LocalComm);
        let f = local_problem(&net, &p, dir.path(), 16);
        let params = SolverParams { refresh_every: 4, max_iter: 60, ..params };
        let r = distributed::solve(&f, mode, &[0.0; 8], &params, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!(r.status, newton::Status::Converged, "{mode:?}: {:?}", r.message);
        let err = r.x.iter().zip(&x_true).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let xn = x_true.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(err <= 1e-6 * xn, "{mode:?}: ‖x − x_true‖ = {err:e}");
        // Not bitwise (newton::solve chunks its sums differently), but within rounding.
        let diff = r.x.iter().zip(&reference.x).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        assert!(diff <= 1e-8 * xn, "{mode:?}: ‖x − x_newton‖ = {diff:e}");
        // A repeated solve is bitwise the same.
        let again = distributed::solve(&f, mode, &[0.0; 8], &params, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!(distributed::result::bits(&again.x), distributed::result::bits(&r.x));
        // LocalComm moves no bytes.
        assert_eq!(net.stats().bytes_sent, 0);
    }
}

/// The distributed solver against `newton::solve` with the same strategy: not bitwise (see
/// docs/distributed.md, "Against newton::solve"), but bounded. Exact Newton runs the same
/// algorithm and differs by the order of its sums only: a few ulps of `x`. The sampled and CG
/// strategies stop at different (each within tolerance) points; both are then within
/// `‖g(x)‖/μ` of the minimiser (`μ` the smallest Hessian eigenvalue near it, halved for the
/// segment between them), so `‖x_dist − x_newton‖ ≤ 2(‖g_dist‖ + ‖g_newton‖)/λ_min(H(x_newton))`.
#[test]
fn every_strategy_is_within_the_a_posteriori_bound_of_newton_solve() {
    let p = planted(6000, 10, LossKind::Rescaled, Regulariser::Const(0.01), 33);
    let dir = write(&p);
    let obj = Objective::from_problem(&p).unwrap();
    let d = 10;
    for (mode, strategy) in [
        (Mode::Exact, Strategy::Exact),
        (Mode::Leverage, Strategy::Leverage),
        (Mode::LeveragePcg, Strategy::LeveragePcg),
        (Mode::NewtonCg, Strategy::NewtonCg),
    ] {
        let params = SolverParams {
            strategy,
            tol: 1e-8,
            max_iter: 60,
            checks: false,
            precond: newton::Precond::None,
            ..Default::default()
        };
        let params = SolverParams { refresh_every: strategy.default_refresh(), ..params };
        let reference = newton::solve(&obj, &[0.0; 10], &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap();
        let net = Net::new(LocalComm);
        let f = local_problem(&net, &p, dir.path(), 24);
        let r = distributed::solve(&f, mode, &[0.0; 10], &params, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!(r.status, newton::Status::Converged, "{mode:?}");
        assert_eq!(reference.status, newton::Status::Converged, "{strategy:?}");
        let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
        let diff = r.x.iter().zip(&reference.x).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let xn = norm(&reference.x);
        if mode == Mode::Exact {
            assert!(diff <= 1e-13 * xn, "exact: ‖Δx‖ = {diff:e} against ‖x‖ = {xn:e}");
            continue;
        }
        let e = obj.evaluate(&reference.x, What::Hessian).unwrap();
        let h = e.hessian.as_ref().unwrap().dense(Part::Exact);
        let lmin = h.self_adjoint_eigen(distributed::newton::faer::Side::Lower).unwrap().S()[0];
        assert!(lmin > 0.0, "{mode:?}: the Hessian at the solution is not positive definite");
        let gd = norm(f.evaluate(&r.x, Need::Gradient).unwrap().gradient.as_slice());
        let gn = norm(e.gradient.as_deref().unwrap());
        let bound = 2.0 * (gd + gn) / lmin + 1e-13 * xn;
        assert!(diff <= bound, "{mode:?}: ‖Δx‖ = {diff:e} > {bound:e}");
        assert!(diff > 0.0 || d == 0, "{mode:?}: unexpectedly bitwise (update the docs)");
    }
}
