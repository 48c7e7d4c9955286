//! Warm re-solves (`newton::resolve`) and the in-context corollary's equivalent target (SPEC §6),
//! checked against dense references.

use faer::Mat;
use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, plant};
use newton::resolve::{Resolver, ReuseParams, SampleUse, shift, spectral_norm};
use newton::{SolverParams, Status, Strategy};
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

/// A deterministic pseudo-random value in [-1, 1) from `(seed, i)` (splitmix64).
fn rnd(seed: u64, i: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn vec_of(len: usize, seed: u64, scale: f64) -> Vec<f64> {
    (0..len).map(|i| scale * rnd(seed, i as u64)).collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|t| t * t).sum::<f64>().sqrt()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    norm(&a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>()) / norm(b).max(1e-300)
}

/// A dense `n×d` matrix with about half its entries zero, as a row-major vector.
fn dense(n: usize, d: usize, seed: u64) -> Vec<f64> {
    (0..n * d).map(|k| if rnd(seed ^ 77, k as u64) > 0.0 { 0.5 * rnd(seed, k as u64) } else { 0.0 }).collect()
}

/// Dense reference: `u(Ax)` and `α` computed naively from the row-major `a`.
fn u_alpha(func: Activation, a: &[f64], n: usize, d: usize, x: &[f64]) -> (Vec<f64>, f64) {
    let u: Vec<f64> = (0..n).map(|i| func.u((0..d).map(|j| a[i * d + j] * x[j]).sum())).collect();
    let alpha = u.iter().sum();
    (u, alpha)
}

#[test]
fn equivalent_target_gives_the_new_residual_at_the_moved_point() {
    let (n, d) = (40, 6);
    for func in [Activation::Exp, Activation::Cosh, Activation::Sinh] {
        let a0 = dense(n, d, 1);
        let b = vec_of(n, 2, 0.05);
        let x = vec_of(d, 3, 0.7);
        // Part 1: x moves, A fixed. Part 2: A moves (entries changed, some pattern changes), x fixed.
        let x1: Vec<f64> = x.iter().zip(vec_of(d, 4, 0.01)).map(|(p, q)| p + q).collect();
        let a1: Vec<f64> =
            a0.iter().enumerate().map(|(k, v)| v + if k % 3 == 0 { 0.003 * rnd(5, k as u64) } else { 0.0 }).collect();
        let csr0 = CsrMatrix::from_dense(n, d, &a0).unwrap();
        let csr1 = CsrMatrix::from_dense(n, d, &a1).unwrap();
        for (a_next, x_next, a_next_dense) in [(None, &x1, &a0), (Some(&csr1), &x, &a1), (Some(&csr1), &x1, &a1)] {
            let (bt, s) = shift(func, &csr0, &x, a_next, x_next, &b).unwrap();
            let (u0, al0) = u_alpha(func, &a0, n, d, &x);
            let (u1, al1) = u_alpha(func, a_next_dense, n, d, x_next);
            let r_old: Vec<f64> = (0..n).map(|i| u0[i] - al0 * bt[i]).collect();
            let r_new: Vec<f64> = (0..n).map(|i| u1[i] - al1 * b[i]).collect();
            assert!(rel(&r_old, &r_new) <= 1e-12, "{func:?}: residuals differ by {:e}", rel(&r_old, &r_new));
            // The seed 000 §10 quantities against the dense reference.
            let db: Vec<f64> = bt.iter().zip(&b).map(|(p, q)| p - q).collect();
            let close = |got: f64, want: f64| (got - want).abs() <= 1e-12 * want.abs().max(1e-300);
            assert!(close(s.b_shift, norm(&db)));
            assert!(close(s.alpha_inv, 1.0 / al0.abs()));
            assert!((s.alpha_diff - (al0 - al1).abs()).abs() <= 1e-13 * al0.abs());
            assert!(close(s.u_diff, norm(&u0.iter().zip(&u1).map(|(p, q)| p - q).collect::<Vec<_>>())));
            let c: Vec<f64> = (0..n).map(|i| (u0[i] - al0 * b[i]) - (u1[i] - al1 * b[i])).collect();
            assert!((s.c_diff - norm(&c)).abs() <= 1e-13 * al0.abs() * norm(&b).max(1.0));
            let dx: Vec<f64> = x_next.iter().zip(&x).map(|(p, q)| p - q).collect();
            assert!(close(s.dx_norm, norm(&dx)) || norm(&dx) == 0.0 && s.dx_norm == 0.0);
            let adx = (0..n).map(|i| (0..d).map(|j| a0[i * d + j] * dx[j]).sum::<f64>().abs()).fold(0.0, f64::max);
            assert!((s.a_dx_inf - adx).abs() <= 1e-14);
            let delta: Vec<f64> = a_next_dense.iter().zip(&a0).map(|(p, q)| p - q).collect();
            let dax = (0..n).map(|i| (0..d).map(|j| delta[i * d + j] * x[j]).sum::<f64>().abs()).fold(0.0, f64::max);
            assert!((s.da_x_inf - dax).abs() <= 1e-14);
            assert_eq!(s.preconditions_hold, adx < 0.01 && dax < 0.01);
            if a_next.is_some() {
                assert!(close(s.da_frobenius, norm(&delta)));
                let sv = Mat::from_fn(n, d, |i, j| delta[i * d + j]).singular_values().unwrap();
                assert!((s.da_spectral - sv[0]).abs() <= 1e-6 * sv[0], "‖ΔA‖₂ {} against {}", s.da_spectral, sv[0]);
                assert_eq!(s.m_measured, Some(s.b_shift / s.da_spectral));
            } else {
                assert_eq!((s.da_frobenius, s.da_spectral, s.da_x_inf), (0.0, 0.0, 0.0));
                assert_eq!(s.m_measured, Some(s.b_shift / s.dx_norm));
            }
        }
        // ‖A‖₂ against the SVD.
        let sv = Mat::from_fn(n, d, |i, j| a0[i * d + j]).singular_values().unwrap();
        assert!((spectral_norm(&csr0) - sv[0]).abs() <= 1e-6 * sv[0]);
    }
}

#[test]
fn shift_rejects_mismatched_shapes_and_non_finite_input() {
    let a = CsrMatrix::from_dense(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
    let other = CsrMatrix::from_dense(3, 3, &[0.0; 9]).unwrap();
    let b = [0.2, 0.3, 0.5];
    assert!(shift(Activation::Exp, &a, &[0.0, 0.0], Some(&other), &[0.0, 0.0], &b).is_err());
    assert!(shift(Activation::Exp, &a, &[0.0, 0.0], None, &[0.0, 0.0], &b[..2]).is_err());
    assert!(shift(Activation::Exp, &a, &[0.0, f64::NAN], None, &[0.0, 0.0], &b).is_err());
    // sinh at x = 0: α = 0, the equivalent target is undefined.
    assert!(shift(Activation::Sinh, &a, &[0.0, 0.0], None, &[0.1, 0.0], &b).is_err());
}

/// Targets `b_k = b_{k−1}∘(1 + ρ·ξ_k)` with `ξ_k ∈ [−1, 1)`.
fn perturbed(b: &[f64], rho: f64, seed: u64) -> Vec<f64> {
    b.iter().enumerate().map(|(i, v)| v * (1.0 + rho * rnd(seed, i as u64))).collect()
}

fn sequence_case(rho: f64, steps: usize) -> (Vec<newton::resolve::Resolved>, Vec<newton::resolve::Resolved>) {
    // The sample path: no kept factor, so every warm step sketches (and may reuse the sample).
    sequence_with(rho, steps, ReuseParams { reuse_factor: false, ..Default::default() })
}

fn sequence_with(
    rho: f64,
    steps: usize,
    reuse: ReuseParams,
) -> (Vec<newton::resolve::Resolved>, Vec<newton::resolve::Resolved>) {
    let a = random_sparse(&GenSpec {
        nrows: 20_000,
        ncols: 12,
        sparsity: Sparsity::RowNnz(5),
        variant: Variant::Plain,
        seed: 3,
    })
    .unwrap();
    let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 4 };
    let (_, b0) = plant(&a, &spec).unwrap();
    let mut bs = vec![b0];
    for k in 1..steps {
        bs.push(perturbed(&bs[k - 1], rho, 100 + k as u64));
    }
    let params = SolverParams {
        strategy: Strategy::LeveragePcg,
        tol: 1e-10,
        checks: false,
        refresh_every: 4,
        ..Default::default()
    };
    let mut warm = Resolver::new(params, reuse);
    let mut cold = Resolver::new(params, ReuseParams::cold());
    let x0 = vec![0.0; 12];
    let (mut w, mut c) = (Vec::new(), Vec::new());
    for b in &bs {
        let f = Objective::new(&a, b, Regulariser::Const(1e-3), LossKind::Rescaled, Activation::Exp).unwrap();
        w.push(warm.solve(&f, &x0, None).unwrap());
        c.push(cold.solve(&f, &x0, None).unwrap());
    }
    (w, c)
}

#[test]
fn small_changes_reuse_the_start_and_the_sample_and_reach_the_cold_answers() {
    let (warm, cold) = sequence_case(0.01, 5);
    for (k, (w, c)) in warm.iter().zip(&cold).enumerate() {
        assert_eq!(w.report.status, Status::Converged, "step {k}");
        assert_eq!(c.report.status, Status::Converged, "step {k}");
        assert!(rel(&w.report.x, &c.report.x) <= 1e-8, "step {k}: {:e}", rel(&w.report.x, &c.report.x));
        assert!(!c.reused.x_warm);
        assert!(matches!(c.reused.sample, SampleUse::Fresh { .. }));
        if k == 0 {
            assert!(!w.reused.x_warm);
            assert!(matches!(w.reused.sample, SampleUse::Fresh { .. }));
        } else {
            assert!(w.reused.x_warm, "step {k}: {}", w.reused.x_reason);
            assert!(matches!(w.reused.sample, SampleUse::Kept { .. }), "step {k}: {:?}", w.reused.sample);
            assert!(w.passes_over_a < c.passes_over_a, "step {k}: warm {} cold {}", w.passes_over_a, c.passes_over_a);
        }
    }
}

#[test]
fn a_large_change_rejects_the_stale_sample_and_still_converges() {
    let (warm, cold) = sequence_case(0.5, 3);
    for (k, (w, c)) in warm.iter().zip(&cold).enumerate().skip(1) {
        assert_eq!(w.report.status, Status::Converged, "step {k}");
        assert!(rel(&w.report.x, &c.report.x) <= 1e-8, "step {k}");
        match &w.reused.sample {
            SampleUse::Rejected { drift, max_drift } => assert!(drift > max_drift),
            other => panic!("step {k}: the stale sample was not rejected: {other:?}"),
        }
    }
}

#[test]
fn small_changes_keep_the_factor_and_take_far_fewer_passes_than_cold() {
    let (warm, cold) = sequence_with(0.01, 5, ReuseParams::default());
    let (mut pw, mut pc) = (0, 0);
    for (k, (w, c)) in warm.iter().zip(&cold).enumerate() {
        assert_eq!(w.report.status, Status::Converged, "step {k}");
        assert!(rel(&w.report.x, &c.report.x) <= 1e-8, "step {k}: {:e}", rel(&w.report.x, &c.report.x));
        assert!(c.reused.factor.is_none(), "a cold solve keeps no factor");
        if k == 0 {
            assert!(w.reused.factor.is_none(), "the first solve is cold");
            continue;
        }
        let f = w.reused.factor.as_ref().expect("a warm leverage-pcg step uses the factor");
        assert!(matches!(w.reused.sample, SampleUse::Unneeded { .. }), "step {k}: {:?}", w.reused.sample);
        if k == 1 {
            assert!(!f.kept);
            assert_eq!(f.built.len(), 1, "{f:?}");
        } else {
            // The factor built at step 1 serves the later steps: CG stays within its limit.
            assert!(f.kept && f.built.is_empty(), "step {k}: {f:?}");
        }
        assert!(f.cg_iterations.iter().all(|&c| c <= f.max_cg), "step {k}: {f:?}");
        // The end is certified by the factor alone: no CG there.
        assert_eq!(f.cg_iterations.last(), Some(&0), "step {k}: {f:?}");
        pw += w.passes_over_a;
        pc += c.passes_over_a;
    }
    assert!(3 * pw <= pc, "warm steps: {pw} passes, cold: {pc}");
}

#[test]
fn a_large_change_with_the_factor_still_converges_and_says_what_it_rejected() {
    let reuse = ReuseParams { max_factor_cg: 2, ..Default::default() };
    let (warm, cold) = sequence_with(0.5, 4, reuse);
    let mut rejected = 0;
    for (k, (w, c)) in warm.iter().zip(&cold).enumerate().skip(1) {
        assert_eq!(w.report.status, Status::Converged, "step {k}");
        assert!(rel(&w.report.x, &c.report.x) <= 1e-8, "step {k}");
        let f = w.reused.factor.as_ref().unwrap();
        // Every step over the limit is followed by a rebuild, and the record says why.
        let over = f.cg_iterations.iter().filter(|&&c| c > f.max_cg).count();
        let said = f.built.iter().filter(|b| b.contains("CG iterations")).count();
        assert_eq!(over, said, "step {k}: {f:?}");
        // Far from the new answer a step sketches (the stale sample's drift test runs there).
        assert!(f.sketched_steps > 0, "step {k}: a 50% change started within the factor's reach: {f:?}");
        rejected += said + usize::from(matches!(w.reused.sample, SampleUse::Rejected { .. }));
    }
    assert!(rejected > 0, "a 50% change rejected neither the stale sample nor the factor");
}

#[test]
fn a_shape_change_starts_cold_and_says_why() {
    let params = SolverParams { strategy: Strategy::Leverage, checks: false, ..Default::default() };
    let mut r = Resolver::new(params, ReuseParams::default());
    for (n, d) in [(3000, 6), (3000, 7)] {
        let a = random_sparse(&GenSpec {
            nrows: n,
            ncols: d,
            sparsity: Sparsity::RowNnz(3),
            variant: Variant::Plain,
            seed: 9,
        })
        .unwrap();
        let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 4 };
        let (_, b) = plant(&a, &spec).unwrap();
        let f = Objective::new(&a, &b, Regulariser::Const(1e-3), LossKind::Rescaled, Activation::Exp).unwrap();
        let out = r.solve(&f, &vec![0.0; d], None).unwrap();
        assert_eq!(out.report.status, Status::Converged);
        if d == 7 {
            assert!(!out.reused.x_warm);
            assert!(out.reused.x_reason.contains("shape changed"), "{}", out.reused.x_reason);
            assert!(matches!(out.reused.sample, SampleUse::Fresh { .. }));
        }
    }
}

/// The warm-start test's loss at `x0 = 0` comes from the same objective on an all-zero matrix
/// (`Objective::with_matrix`): bit for bit the value on `A` at 0, for every loss and per-row `w`;
/// another shape is refused.
#[test]
fn with_matrix_on_zero_gives_the_loss_at_zero() {
    let (n, d) = (300, 6);
    let a = CsrMatrix::from_dense(n, d, &dense(n, d, 5)).unwrap();
    let zero = CsrMatrix::try_from_csr(n, d, vec![0; n + 1], Vec::new(), Vec::new()).unwrap();
    let b: Vec<f64> = vec_of(n, 9, 1.0).iter().map(|v| v.abs() / n as f64).collect();
    let w_rows: Vec<f64> = vec_of(n, 11, 0.5).iter().map(|v| v.abs()).collect();
    for loss in [LossKind::Rescaled, LossKind::Softmax, LossKind::Linear] {
        for func in [Activation::Exp, Activation::Cosh, Activation::Sinh] {
            for w in [Regulariser::Const(0.1), Regulariser::PerRow(w_rows.clone())] {
                let f = Objective::new(&a, &b, w, loss, func).unwrap();
                let at_zero = f.value(&vec![0.0; d]);
                let g = f.with_matrix(&zero).unwrap();
                match at_zero {
                    Ok(v) => assert_eq!(g.value(&vec![0.0; d]).unwrap().to_bits(), v.to_bits(), "{loss:?} {func:?}"),
                    Err(_) => assert!(g.value(&vec![0.0; d]).is_err(), "{loss:?} {func:?}"),
                }
                // Nonzero x: the zero matrix is not A.
                assert_ne!(g.value(&vec![0.3; d]).ok(), f.value(&vec![0.3; d]).ok());
            }
        }
    }
    let other = CsrMatrix::try_from_csr(n, d + 1, vec![0; n + 1], Vec::new(), Vec::new()).unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.1), LossKind::Rescaled, Activation::Exp).unwrap();
    assert!(f.with_matrix(&other).is_err());
}
