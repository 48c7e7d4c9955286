//! Issue #15's "lies" and crashes of the solver, each a regression test: `converged` only for a
//! certified minimum, every other stop named, degenerate shapes without a panic, parameter
//! errors that name the field. The real-scale cases (KJV) are in `real_scale.rs`.

use std::ops::ControlFlow;

use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, plant};
use newton::{Fallback, SolveError, SolverParams, Status, Strategy, solve};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
use sparse_ops::{CsrMatrix, Duplicates};

/// Every strategy the solver has: a new one is tested here without listing it.
const STRATEGIES: &[Strategy] = Strategy::ALL;

#[test]
fn an_overflowing_gradient_norm_is_overflow_not_converged() {
    // g_i = 1e308 is finite but ‖g‖ = 2e308 is not: `inf ≤ tol·inf` used to pass as converged.
    let a = CsrMatrix::from_dense(
        4,
        4,
        &[1e160, 0.0, 0.0, 0.0, 0.0, 1e160, 0.0, 0.0, 0.0, 0.0, 1e160, 0.0, 0.0, 0.0, 0.0, 1e160],
    )
    .unwrap();
    let b = [1e148; 4];
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Linear, Activation::Exp).unwrap();
    for &s in STRATEGIES {
        let r = solve(&f, &[0.0; 4], &SolverParams { strategy: s, ..Default::default() }, None, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(r.status, Status::Overflow, "{}: {:?}", s.name(), r.message);
        assert!(r.message.as_deref().unwrap().contains("overflows"), "{:?}", r.message);
        assert_eq!(r.x, vec![0.0; 4]);
    }
}

#[test]
fn underflowing_entries_are_not_a_stationary_point() {
    // A ~ 1e-300: ‖g‖ = sqrt(Σ gᵢ²) underflowed to 0 at x = 0 and the solver called a loss far
    // above the minimum converged. Now ‖g‖ > 0, and the Newton matrix (entries ~1e-600) is zero:
    // a numerical error that says why.
    let a = random_sparse(&GenSpec {
        nrows: 500,
        ncols: 6,
        sparsity: Sparsity::RowNnz(3),
        variant: Variant::Plain,
        seed: 5,
    })
    .unwrap();
    let (_, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 1 })
            .unwrap();
    let (n, d) = a.shape();
    let mut trip = Vec::new();
    for i in 0..n {
        let (cols, vals) = a.row(i);
        trip.extend(cols.iter().zip(vals).map(|(&j, &v)| (i, j as usize, v * 1e-300)));
    }
    let tiny = CsrMatrix::from_triplets(n, d, &trip, Duplicates::Reject).unwrap();
    let f = Objective::new(&tiny, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
    let f0 = f.value(&[0.0; 6]).unwrap();
    for &s in STRATEGIES {
        let r = solve(&f, &[0.0; 6], &SolverParams { strategy: s, ..Default::default() }, None, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_ne!(r.status, Status::Converged, "{}", s.name());
        assert!(r.grad_norm0 > 0.0 && r.grad_norm0 < 1e-290, "{}: ‖g₀‖ = {:e}", s.name(), r.grad_norm0);
        assert_eq!(r.loss, f0);
        assert!(r.message.as_deref().is_some_and(|m| m.contains("underflow")), "{}: {:?}", s.name(), r.message);
    }
}

#[test]
fn no_columns_or_no_rows_end_without_a_panic() {
    // d = 0: nothing to optimise (a faer bounds check used to panic in every strategy).
    let a = CsrMatrix::from_dense(3, 0, &[]).unwrap();
    let b = [0.2, 0.3, 0.5];
    for loss in [LossKind::Rescaled, LossKind::Linear, LossKind::Softmax] {
        let f = Objective::new(&a, &b, Regulariser::Const(0.1), loss, Activation::Exp).unwrap();
        for &s in STRATEGIES {
            let r = solve(&f, &[], &SolverParams { strategy: s, ..Default::default() }, None, &mut |_, _| {
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(r.status, Status::Converged, "{loss} {}", s.name());
            assert!(r.x.is_empty() && r.loss.is_finite());
        }
    }
    // n = 0: the loss is identically 0, x0 is a minimiser.
    let a = CsrMatrix::from_dense(0, 3, &[]).unwrap();
    let f = Objective::new(&a, &[], Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
    for &s in STRATEGIES {
        let r = solve(&f, &[0.5; 3], &SolverParams { strategy: s, ..Default::default() }, None, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(r.status, Status::Converged, "{}", s.name());
        assert_eq!((r.loss, r.x), (0.0, vec![0.5; 3]));
    }
}

#[test]
fn invalid_parameters_name_the_field_and_its_range() {
    let a = CsrMatrix::from_dense(2, 2, &[1.0, 0.0, 0.0, 1.0]).unwrap();
    let b = [0.4, 0.6];
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
    let base = SolverParams { strategy: Strategy::Leverage, ..Default::default() };
    for (p, name) in [
        (SolverParams { eps0: 2.0, ..base }, "eps0"),
        (SolverParams { delta: 0.0, ..base }, "delta"),
        (SolverParams { tol: f64::NAN, ..base }, "tol"),
        (SolverParams { atol: -1.0, ..base }, "atol"),
        (SolverParams { armijo: 0.7, ..base }, "armijo"),
        (SolverParams { refresh_every: 0, ..base }, "refresh_every"),
        (SolverParams { max_time: 0.0, ..base }, "max_time"),
    ] {
        let e = solve(&f, &[0.0; 2], &p, None, &mut |_, _| ControlFlow::Continue(())).unwrap_err();
        assert!(matches!(e, SolveError::InvalidParameter { name: n, .. } if n == name), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(name) && msg.contains("must be") && !msg.contains("SolverParams"), "{msg}");
    }
    // eps0 only matters to sketched strategies.
    assert!(
        solve(&f, &[0.0; 2], &SolverParams { eps0: 2.0, strategy: Strategy::Exact, ..base }, None, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .is_ok()
    );
    let e = solve(&f, &[f64::INFINITY, 0.0], &base, None, &mut |_, _| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(e, SolveError::NonFiniteStart { index: 0, .. }), "{e:?}");
}

/// A deterministic stand-in for the NYC-flights design of issue #15 (that data is not in the
/// repository): one-hot carrier columns (three, summing to 1 in every row), two dense-ish flags,
/// and heavy-tailed counts (`⌊u^{-1.2}⌋`, up to 1000) in three of 25 further columns a row; the
/// response is delay-like, mostly 0–20 with a Pareto tail up to 1500, so that
/// `‖g(x₀)‖ ≈ 1e17` for the rescaled loss.
fn flights_standin(n: usize) -> (CsrMatrix, Vec<f64>) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (d, mut trip, mut b) = (30, Vec::new(), Vec::with_capacity(n));
    for i in 0..n {
        trip.push((i, (3.0 * next()) as usize, 1.0));
        if next() < 0.3 {
            trip.push((i, 3, 1.0));
        }
        if next() < 0.15 {
            trip.push((i, 4, 1.0));
        }
        let mut cols: Vec<usize> = Vec::new();
        while cols.len() < 3 {
            let j = 5 + (25.0 * next()) as usize;
            if !cols.contains(&j) {
                cols.push(j);
            }
        }
        for j in cols {
            let u = next().max(1e-12);
            trip.push((i, j, u.powf(-1.2).floor().min(1000.0)));
        }
        let delay = if next() < 0.7 { 20.0 * next() } else { 5.0 * (1.0 - next()).max(1e-9).powf(-1.0 / 1.1) };
        b.push(delay.min(1500.0));
    }
    (CsrMatrix::from_triplets(n, d, &trip, Duplicates::Reject).unwrap(), b)
}

#[test]
fn coherent_design_with_a_huge_gradient_every_strategy_reaches_the_minimum() {
    let (a, b) = flights_standin(5000);
    let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp).unwrap();
    let x0 = vec![0.0; 30];
    // The reference: exact Newton run to the floating-point floor (no tolerance).
    let long = SolverParams { tol: 0.0, max_iter: 150, checks: false, ..Default::default() };
    let reference = solve(&f, &x0, &long, None, &mut |_, _| ControlFlow::Continue(())).unwrap();
    let f_star = reference.loss;
    for &s in STRATEGIES {
        let params = SolverParams { strategy: s, max_iter: 200, checks: false, ..Default::default() };
        let r = solve(&f, &x0, &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert!(r.grad_norm0 > 1e12, "the pathology: ‖g(x₀)‖ = {:e}", r.grad_norm0);
        assert_eq!(r.status, Status::Converged, "{}: {:?}", s.name(), r.message);
        let gap = (r.loss - f_star) / f_star;
        assert!((0.0..=1e-7).contains(&gap), "{}: loss {} against the minimum {f_star} ({gap:e})", s.name(), r.loss);
        // The damping lets go: no damped step in the last iterations.
        let tail = &r.history[r.history.len().saturating_sub(3)..];
        assert!(
            tail.iter().all(|h| !h.fallbacks.iter().any(|f| matches!(f, Fallback::Damped { .. }))),
            "{}: {:?}",
            s.name(),
            tail.iter().map(|h| &h.fallbacks).collect::<Vec<_>>()
        );
    }
}

#[test]
fn without_a_minimiser_the_solver_never_says_converged() {
    // The one-hot columns sum to 1, so A·t1 = t·1 and the rescaled loss (invariant in the
    // scale of u up to a factor) goes to 0 as every u_i → 0: no minimiser. The relative
    // gradient test passed at once (‖g₀‖ ≈ 1e17); the decrement test never does.
    let (a, b) = flights_standin(2000);
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
    for &s in STRATEGIES {
        let params = SolverParams { strategy: s, max_iter: 60, checks: false, ..Default::default() };
        let r = solve(&f, &[0.0; 30], &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_ne!(r.status, Status::Converged, "{}: loss {}", s.name(), r.loss);
        assert!(r.message.is_some(), "{}", s.name());
    }
}
