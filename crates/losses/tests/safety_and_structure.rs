//! Why the low-rank part is kept (errata E2), every overflow / non-finite case as a typed
//! error, thread-count determinism, and the spectral quantities of the Newton checks.

mod common;
use common::*;
use faer::linalg::solvers::Llt;
use faer::{Mat, Side};
use losses::*;
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn positive_matrix(n: usize, d: usize, seed: u64) -> CsrMatrix {
    let a =
        random_sparse(&GenSpec { nrows: n, ncols: d, sparsity: Sparsity::Density(0.5), variant: Variant::Plain, seed })
            .unwrap();
    let t: Vec<_> = (0..n)
        .flat_map(|i| {
            let (c, v) = a.row(i);
            c.iter().zip(v).map(move |(&j, &x)| (i, j as usize, x.abs() + 0.1)).collect::<Vec<_>>()
        })
        .collect();
    CsrMatrix::from_triplets(n, d, &t, sparse_ops::Duplicates::Reject).unwrap()
}

/// Generalised eigenvalues of `B` against `H ≻ 0`: eigenvalues of `L⁻¹ B L⁻ᵀ`.
fn relative_spectrum(h: &Mat<f64>, b: &Mat<f64>) -> Vec<f64> {
    let llt = Llt::new(h.as_ref(), Side::Lower).expect("H positive definite");
    let d = h.nrows();
    let mut linv = Mat::<f64>::identity(d, d);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(llt.L(), linv.as_mut(), faer::Par::Seq);
    let m = &linv * b * linv.transpose();
    m.self_adjoint_eigenvalues(Side::Lower).unwrap()
}

#[test]
fn e2_diagonal_only_hessian_is_not_an_approximation_but_the_structured_one_is_exact() {
    // Rescaled exp near a planted point on a positive matrix: J ≈ I − b·1ᵀ nearly removes the
    // mean of every column, so the rank-two part is as large as AᵀDA itself along Aᵀ1.
    let (n, d) = (200, 8);
    let a = positive_matrix(n, d, 4);
    let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 1 };
    let (x_true, b) = plant(&a, &spec).unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.05), LossKind::Rescaled, Activation::Exp).unwrap();
    let x: Vec<f64> = x_true.iter().map(|v| v * 0.9).collect();
    let h = f.evaluate(&x, What::Hessian).unwrap().hessian.unwrap();
    let exact = h.dense(Part::Exact);
    // The exact Hessian, independently: finite differences of the gradient, column by column.
    let mut fd = Mat::<f64>::zeros(d, d);
    for j in 0..d {
        let e: Vec<f64> = (0..d).map(|k| (k == j) as u8 as f64).collect();
        let col = directional_fd(|x| gradient(&f, x), &x, &e, 1e-4);
        for i in 0..d {
            fd[(i, j)] = col[i];
        }
    }
    let err = (&exact - &fd).norm_l2() / exact.norm_l2();
    assert!(err < 1e-6, "structured Hessian vs finite differences: relative error {err:e}");
    let diag_only = a.weighted_gram(h.diagonal(Part::Exact));
    let spec = relative_spectrum(&exact, &diag_only);
    let worst = spec.iter().map(|l| (l - 1.0).abs()).fold(0.0, f64::max);
    assert!(worst > 0.1, "diagonal-only Hessian unexpectedly within (1 ± 0.1): {spec:?}");
    // On this data it is far outside: the dropped rank-two part dominates one direction.
    assert!(spec.last().unwrap() > &2.0, "{spec:?}");
    let same = relative_spectrum(&exact, &h.dense(Part::Exact));
    assert!(same.iter().all(|l| (l - 1.0).abs() < 1e-10));
}

fn tiny() -> (CsrMatrix, Vec<f64>) {
    (CsrMatrix::from_dense(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap(), vec![0.2, 0.3, 0.5])
}

#[test]
fn overflow_and_non_finite_inputs_are_typed_errors() {
    let (a, b) = tiny();
    let f = |loss, func| Objective::new(&a, &b, Regulariser::None, loss, func).unwrap();
    // exp / cosh / sinh beyond 709.78: the error names the largest |z| and its row.
    for (loss, func) in [
        (LossKind::Rescaled, Activation::Exp),
        (LossKind::Hyperbolic, Activation::Cosh),
        (LossKind::Rescaled, Activation::Sinh),
    ] {
        match f(loss, func).evaluate(&[400.0, -800.0], What::Gradient) {
            Err(LossError::Overflow { max_abs_z, row, .. }) => {
                assert_eq!((max_abs_z, row), (800.0, 1))
            }
            other => panic!("{loss} {func}: {other:?}"),
        }
    }
    // u itself is finite at z = 400, but its square is not: still an overflow, never a NaN.
    match f(LossKind::Hyperbolic, Activation::Exp).evaluate(&[400.0, 0.0], What::Value) {
        Err(LossError::Overflow { row: 0, detail, .. }) => assert!(detail.contains("value")),
        other => panic!("{other:?}"),
    }
    match f(LossKind::Linear, Activation::Exp).evaluate(&[1e200, 0.0], What::Value) {
        Err(LossError::Overflow { .. }) => {}
        other => panic!("{other:?}"),
    }
    // Softmax shifts by max z: huge logits are fine.
    let e = f(LossKind::Softmax, Activation::Exp).evaluate(&[1e5, -1e5], What::Hessian).unwrap();
    assert!(e.value.is_finite() && e.gradient.unwrap().iter().all(|v| v.is_finite()));
    // Non-finite or mis-sized inputs.
    assert!(matches!(f(LossKind::Linear, Activation::Exp).evaluate(&[f64::NAN, 0.0], What::Value),
        Err(LossError::NonFiniteInput { what: "x", index: 0, value }) if value.is_nan()));
    assert!(matches!(
        f(LossKind::Linear, Activation::Exp).evaluate(&[0.0], What::Value),
        Err(LossError::DimensionMismatch { what: "x", .. })
    ));
    let bad_b = vec![0.2, f64::INFINITY, 0.5];
    assert!(matches!(
        Objective::new(&a, &bad_b, Regulariser::None, LossKind::Linear, Activation::Exp),
        Err(LossError::NonFiniteInput { what: "b", index: 1, .. })
    ));
    assert!(matches!(
        Objective::new(&a, &b[..2], Regulariser::None, LossKind::Linear, Activation::Exp),
        Err(LossError::DimensionMismatch { what: "b", .. })
    ));
    assert!(matches!(
        Objective::new(&a, &b, Regulariser::Const(f64::NAN), LossKind::Linear, Activation::Exp),
        Err(LossError::NonFiniteInput { what: "w", .. })
    ));
    assert!(matches!(
        Objective::new(&a, &b, Regulariser::PerRow(vec![1.0]), LossKind::Linear, Activation::Exp),
        Err(LossError::DimensionMismatch { what: "w", .. })
    ));
    assert!(matches!(
        Objective::new(&a, &b, Regulariser::Const(1e200), LossKind::Linear, Activation::Exp),
        Err(LossError::Overflow { .. })
    ));
}

#[test]
fn one_thread_equals_two_threads() {
    let a = random_sparse(&GenSpec {
        nrows: 40_000,
        ncols: 30,
        sparsity: Sparsity::RowNnz(6),
        variant: Variant::Plain,
        seed: 3,
    })
    .unwrap();
    let (x, b) =
        plant(&a, &PlantSpec { loss: LossKind::Softmax, func: Activation::Exp, scale: 0.5, noise: 0.1, seed: 2 })
            .unwrap();
    let run = |threads: usize, loss: LossKind| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let f = Objective::new(&a, &b, Regulariser::Const(0.1), loss, Activation::Cosh).unwrap();
            let e = f.evaluate(&x, What::Hessian).unwrap();
            let mut hv = vec![0.0; 30];
            e.hessian.as_ref().unwrap().apply(Part::Exact, &x, &mut hv);
            let mut bits: Vec<u64> = vec![e.value.to_bits()];
            bits.extend(e.gradient.unwrap().iter().map(|v| v.to_bits()));
            bits.extend(hv.iter().map(|v| v.to_bits()));
            bits
        })
    };
    for loss in LOSSES {
        assert_eq!(run(1, loss), run(2, loss), "{loss}");
    }
}

#[test]
fn lanczos_matches_dense_eigenvalues() {
    let a = random_sparse(&GenSpec {
        nrows: 500,
        ncols: 40,
        sparsity: Sparsity::RowNnz(6),
        variant: Variant::IllConditioned { orders: 2.0 },
        seed: 8,
    })
    .unwrap();
    let (x, b) =
        plant(&a, &PlantSpec { loss: LossKind::Softmax, func: Activation::Exp, scale: 0.5, noise: 0.5, seed: 1 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Softmax, Activation::Exp).unwrap();
    let h = f.evaluate(&x, What::Hessian).unwrap().hessian.unwrap();
    let dense = h.dense(Part::Exact);
    let ev = dense.self_adjoint_eigenvalues(Side::Lower).unwrap();
    let (lo, hi) = lanczos_extremes(40, 40, 5, |v, out| h.apply(Part::Exact, v, out)).unwrap();
    let scale = ev[39].abs().max(ev[0].abs());
    assert!((lo - ev[0]).abs() <= 1e-8 * scale, "λ_min {lo} vs {}", ev[0]);
    assert!((hi - ev[39]).abs() <= 1e-8 * scale, "λ_max {hi} vs {}", ev[39]);
    assert_eq!(lambda_min(&h, Part::Exact, 40, 5).unwrap(), losses::spectral::dense_lambda_min(&dense).unwrap());
}

#[test]
fn hessian_lipschitz_ratio_against_dense_difference() {
    let a = positive_matrix(150, 6, 2);
    let (x, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Cosh, scale: 0.5, noise: 0.0, seed: 3 })
            .unwrap();
    let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| v + 0.05 * (i as f64).sin()).collect();
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Cosh).unwrap();
    let ratio = hessian_lipschitz_ratio(&f, &x, &y, 300, 1).unwrap();
    let hx = f.evaluate(&x, What::Hessian).unwrap().hessian.unwrap().dense(Part::Exact);
    let hy = f.evaluate(&y, What::Hessian).unwrap().hessian.unwrap().dense(Part::Exact);
    let ev = (&hx - &hy).self_adjoint_eigenvalues(Side::Lower).unwrap();
    let spectral = ev[0].abs().max(ev[5].abs());
    let dist = norm(&sub(&x, &y));
    assert!((ratio - spectral / dist).abs() <= 1e-6 * spectral / dist, "{ratio} vs {}", spectral / dist);
    // The linear loss has a constant Hessian.
    let fl = Objective::new(&a, &b, Regulariser::Const(0.3), LossKind::Linear, Activation::Exp).unwrap();
    assert_eq!(hessian_lipschitz_ratio(&fl, &x, &y, 20, 1).unwrap(), 0.0);
    assert!(hessian_lipschitz_ratio(&fl, &x, &x, 20, 1).is_err());
}

#[test]
fn errata_e7_sinh_and_cosh_at_zero() {
    let a = positive_matrix(60, 4, 9);
    let b: Vec<f64> = (0..60).map(|i| 1.0 + (i as f64).cos()).collect();
    let zero = [0.0; 4];
    let sinh = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Sinh).unwrap();
    assert_eq!(sinh.value(&zero).unwrap(), 0.0, "L(0) = 0 for every b");
    let cosh = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Cosh).unwrap();
    let g = gradient(&cosh, &zero);
    assert!(g.iter().all(|&v| v == 0.0), "v = sinh(0) = 0 makes the gradient vanish: {g:?}");
}

#[test]
fn faer_conjugate_gradient_solves_with_the_operator() {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::matrix_free::IdentityPrecond;
    use faer::matrix_free::conjugate_gradient::{CgParams, conjugate_gradient, conjugate_gradient_scratch};
    let a = random_sparse(&GenSpec {
        nrows: 3000,
        ncols: 25,
        sparsity: Sparsity::RowNnz(5),
        variant: Variant::Plain,
        seed: 12,
    })
    .unwrap();
    let (x, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.2, seed: 4 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.3), LossKind::Rescaled, Activation::Exp).unwrap();
    let h = f.evaluate(&x, What::Hessian).unwrap().hessian.unwrap();
    let op = h.op(Part::GaussNewton);
    let rhs = Mat::from_fn(25, 1, |i, _| 1.0 + i as f64 / 25.0);
    let mut sol = Mat::<f64>::zeros(25, 1);
    let pre = IdentityPrecond { dim: 25 };
    let mut mem = MemBuffer::new(conjugate_gradient_scratch(pre, op, 1, faer::Par::Seq));
    let params = CgParams { rel_tolerance: 1e-12, max_iters: 500, ..Default::default() };
    let info = conjugate_gradient(
        sol.as_mut(),
        pre,
        op,
        rhs.as_ref(),
        params,
        |_| {},
        faer::Par::Seq,
        MemStack::new(&mut mem),
    )
    .unwrap();
    assert!(info.iter_count > 0);
    let dense = h.dense(Part::GaussNewton);
    let resid = (&dense * &sol - &rhs).norm_l2() / rhs.norm_l2();
    assert!(resid < 1e-10, "CG residual {resid:e}");
}

#[test]
fn gradient_is_the_same_whatever_is_requested_and_atu_is_cached_correctly() {
    let a = random_sparse(&GenSpec {
        nrows: 30_000,
        ncols: 12,
        sparsity: Sparsity::RowNnz(5),
        variant: Variant::Plain,
        seed: 21,
    })
    .unwrap();
    for loss in [LossKind::Rescaled, LossKind::Softmax, LossKind::Hyperbolic] {
        let (x, b) = plant(&a, &PlantSpec { loss, func: Activation::Exp, scale: 0.4, noise: 0.1, seed: 3 }).unwrap();
        let f = Objective::new(&a, &b, Regulariser::Const(0.2), loss, Activation::Exp).unwrap();
        let g = f.evaluate(&x, What::Gradient).unwrap().gradient.unwrap();
        let e = f.evaluate(&x, What::Hessian).unwrap();
        let gh = e.gradient.unwrap();
        assert_eq!(
            g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            gh.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{loss}"
        );
        let h = e.hessian.unwrap();
        let (u, k, _) = h.low_rank(Part::Exact);
        let mut separate = vec![0.0; 12 * k];
        a.tr_mul_dense(u, k, &mut separate);
        let cached = h.atu();
        let scale = separate.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(cached.iter().zip(&separate).all(|(p, q)| (p - q).abs() <= 1e-12 * scale), "{loss}");
    }
}

#[test]
fn recycled_buffers_never_leak_into_a_later_evaluation() {
    // Evaluations reuse the n-vectors of earlier ones (Objective::recycle) without zeroing
    // them: every entry must be overwritten, so an evaluation after recycling one at another
    // point is bitwise the evaluation from fresh memory.
    let a = positive_matrix(300, 6, 11);
    let b: Vec<f64> = (0..300).map(|i| 1.0 / 300.0 + 1e-4 * (i as f64).sin()).collect();
    let x: Vec<f64> = (0..6).map(|j| 0.1 * (j as f64).cos()).collect();
    let other: Vec<f64> = x.iter().map(|v| -3.0 * v + 0.5).collect();
    for loss in [LossKind::Rescaled, LossKind::Hyperbolic, LossKind::Softmax, LossKind::Linear] {
        for func in [Activation::Exp, Activation::Cosh] {
            let fresh = Objective::new(&a, &b, Regulariser::Const(0.3), loss, func).unwrap();
            let want = fresh.evaluate(&x, What::Hessian).unwrap();
            let f = Objective::new(&a, &b, Regulariser::Const(0.3), loss, func).unwrap();
            for _ in 0..3 {
                f.recycle(f.evaluate(&other, What::Hessian).unwrap());
                let _ = f.evaluate(&other, What::Value).unwrap();
            }
            let got = f.evaluate(&x, What::Hessian).unwrap();
            assert_eq!(got.value.to_bits(), want.value.to_bits(), "{loss} {func}");
            assert_eq!(bits(got.gradient.as_ref().unwrap()), bits(want.gradient.as_ref().unwrap()));
            let (hg, hw) = (got.hessian.as_ref().unwrap(), want.hessian.as_ref().unwrap());
            for part in [Part::Exact, Part::GaussNewton] {
                assert_eq!(bits(hg.diagonal(part)), bits(hw.diagonal(part)), "{loss} {func}");
                assert_eq!(bits(hg.low_rank(part).0), bits(hw.low_rank(part).0));
                assert_eq!(bits(hg.atu()), bits(hw.atu()));
            }
            // The Hessian-vector product's scratch is reused too.
            let (mut p, mut q) = (vec![0.0; 6], vec![0.0; 6]);
            hg.apply(Part::Exact, &x, &mut p);
            hg.apply(Part::Exact, &other, &mut q);
            hg.apply(Part::Exact, &x, &mut q);
            assert_eq!(bits(&p), bits(&q));
        }
    }
}

/// The one-pass Hessian-vector product and the Hessian diagonal against the dense Hessian, on
/// every loss and activation (both parts), and bitwise the same with 1 and 2 threads.
#[test]
fn fused_product_and_diagonal_match_the_dense_hessian() {
    let a = random_sparse(&GenSpec {
        nrows: 3000,
        ncols: 17,
        sparsity: Sparsity::RowNnz(5),
        variant: Variant::Plain,
        seed: 9,
    })
    .unwrap();
    let (x, b) =
        plant(&a, &PlantSpec { loss: LossKind::Softmax, func: Activation::Exp, scale: 0.5, noise: 0.1, seed: 4 })
            .unwrap();
    let v: Vec<f64> = (0..17).map(|j| ((j * 7 % 11) as f64 - 5.0) / 3.0).collect();
    for loss in LOSSES {
        for func in FUNCS {
            let f = Objective::new(&a, &b, Regulariser::Const(0.1), loss, func).unwrap();
            let e = f.evaluate(&x, What::Hessian).unwrap();
            let h = e.hessian.as_ref().unwrap();
            for part in [Part::Exact, Part::GaussNewton] {
                let m = h.dense(part);
                let scale = (0..17).map(|i| m[(i, i)].abs()).fold(0.0, f64::max);
                let mut hv = vec![0.0; 17];
                h.apply_fused(part, &v, &mut hv);
                let diag = h.hessian_diagonal(part);
                for i in 0..17 {
                    let want: f64 = (0..17).map(|j| m[(i, j)] * v[j]).sum();
                    assert!(
                        (hv[i] - want).abs() <= 1e-10 * scale * 20.0,
                        "{loss} {func} {part:?} Hv[{i}]: {} vs {want}",
                        hv[i]
                    );
                    assert!(
                        (diag[i] - m[(i, i)]).abs() <= 1e-12 * scale,
                        "{loss} {func} {part:?} diag[{i}]: {} vs {}",
                        diag[i],
                        m[(i, i)]
                    );
                }
            }
        }
    }
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let f = Objective::new(&a, &b, Regulariser::Const(0.1), LossKind::Softmax, Activation::Exp).unwrap();
            let e = f.evaluate(&x, What::Hessian).unwrap();
            let h = e.hessian.as_ref().unwrap();
            let mut hv = vec![0.0; 17];
            h.apply_fused(Part::Exact, &v, &mut hv);
            hv.extend(h.hessian_diagonal(Part::Exact));
            hv.iter().map(|t| t.to_bits()).collect::<Vec<_>>()
        })
    };
    assert_eq!(run(1), run(2));
}
