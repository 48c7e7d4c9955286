//! For every loss and every `u`: gradient against finite differences of the value, Hessian-
//! vector products against finite differences of the gradient, the structured Hessian against
//! its dense assembly, symmetry, the Gauss–Newton part against an explicit Jacobian, `H_GN ⪰ 0`.

mod common;
use common::*;
use losses::{Activation, LossKind, Part, What};
use proptest::prelude::*;

/// `J = ∂r/∂z` of each loss's residual, dense `n×n`, built from its definition.
fn jacobian(loss: LossKind, func: Activation, z: &[f64], b: &[f64]) -> Vec<f64> {
    let n = z.len();
    let mut j = vec![0.0; n * n];
    match loss {
        LossKind::Linear => (0..n).for_each(|i| j[i * n + i] = 1.0),
        LossKind::Hyperbolic => (0..n).for_each(|i| j[i * n + i] = func.du(z[i])),
        LossKind::Rescaled => {
            // r = u − (Σu)·b  ⇒  J = diag(v) − b vᵀ
            for i in 0..n {
                for k in 0..n {
                    j[i * n + k] = if i == k { func.du(z[k]) } else { 0.0 } - b[i] * func.du(z[k]);
                }
            }
        }
        LossKind::Softmax => {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|t| (t - m).exp()).collect();
            let s: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
            for i in 0..n {
                for k in 0..n {
                    j[i * n + k] = if i == k { s[i] } else { 0.0 } - s[i] * s[k];
                }
            }
        }
    }
    j
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gradient_matches_finite_differences(c in case()) {
        for loss in LOSSES { for func in FUNCS {
            let f = objective(&c, loss, func);
            let g = gradient(&f, &c.x);
            let fd = directional_fd(|x| vec![f.value(x).unwrap()], &c.x, &c.v, 1e-3)[0];
            let gv: f64 = g.iter().zip(&c.v).map(|(a, b)| a * b).sum();
            // Relative to ‖g‖·‖v‖ (the size of a directional derivative); the floor covers
            // points where the gradient itself vanishes (x = 0 for cosh, errata E7).
            let tol = 1e-6 * (norm(&g) * norm(&c.v)) + 1e-11;
            prop_assert!((gv - fd).abs() <= tol, "{} {}: ⟨g,v⟩ = {} vs FD {}", loss, func, gv, fd);
            // Full gradient, one coordinate at a time.
            let d = c.x.len();
            for j in 0..d {
                let e: Vec<f64> = (0..d).map(|k| (k == j) as u8 as f64).collect();
                let fdj = directional_fd(|x| vec![f.value(x).unwrap()], &c.x, &e, 1e-3)[0];
                prop_assert!((g[j] - fdj).abs() <= 1e-6 * norm(&g) + 1e-11, "{} {} g[{}]: {} vs {}", loss, func, j, g[j], fdj);
            }
        }}
    }

    #[test]
    fn hessian_vector_products_match_gradient_differences(c in case()) {
        for loss in LOSSES { for func in FUNCS {
            let f = objective(&c, loss, func);
            let h = f.evaluate(&c.x, What::Hessian).unwrap().hessian.unwrap();
            let mut hv = vec![0.0; c.x.len()];
            h.apply(Part::Exact, &c.v, &mut hv);
            let fd = directional_fd(|x| gradient(&f, x), &c.x, &c.v, 1e-3);
            let dense = h.dense(Part::Exact);
            let scale = norm(&rows(&dense)) * norm(&c.v);
            prop_assert!(norm(&sub(&hv, &fd)) <= 1e-6 * scale + 1e-11, "{} {}: Hv {:?} vs FD {:?}", loss, func, hv, fd);
        }}
    }

    #[test]
    fn structured_equals_dense_symmetric_and_gauss_newton_psd(c in case()) {
        let (n, d) = c.a.shape();
        let am = c.a.to_dense();
        for loss in LOSSES { for func in FUNCS {
            let f = objective(&c, loss, func);
            let h = f.evaluate(&c.x, What::Hessian).unwrap().hessian.unwrap();
            for part in [Part::Exact, Part::GaussNewton] {
                let m = h.dense(part);
                let r = rows(&m);
                let fro = norm(&r);
                // Operator and dense assembly agree (different summation orders only).
                let mut hv = vec![0.0; d];
                h.apply(part, &c.v, &mut hv);
                let mv: Vec<f64> = (0..d).map(|i| (0..d).map(|j| m[(i, j)] * c.v[j]).sum()).collect();
                prop_assert!(norm(&sub(&hv, &mv)) <= 1e-12 * fro * norm(&c.v) + 1e-300);
                for i in 0..d { for j in 0..d {
                    prop_assert!((m[(i, j)] - m[(j, i)]).abs() <= 1e-14 * fro, "symmetry");
                }}
                // faer's LinOp view is the same operator.
                let rhs = faer::Mat::from_fn(d, 1, |i, _| c.v[i]);
                let mut out = faer::Mat::zeros(d, 1);
                let mut mem = faer::dyn_stack::MemBuffer::new(faer::dyn_stack::StackReq::EMPTY);
                faer::matrix_free::LinOp::apply(&h.op(part), out.as_mut(), rhs.as_ref(), faer::Par::Seq, faer::dyn_stack::MemStack::new(&mut mem));
                prop_assert!((0..d).all(|i| out[(i, 0)] == hv[i]));
            }
            // Gauss–Newton against Aᵀ(JᵀJ + W²)A from an explicit Jacobian.
            let mut z = vec![0.0; n];
            c.a.mul_vec(&c.x, &mut z);
            let j = jacobian(loss, func, &z, &c.b);
            let w2: Vec<f64> = (0..n).map(|i| c.w_sq(i)).collect();
            let mut jtj = vec![0.0; n * n];
            for p in 0..n { for q in 0..n {
                jtj[p * n + q] = (0..n).map(|i| j[i * n + p] * j[i * n + q]).sum::<f64>() + if p == q { w2[p] } else { 0.0 };
            }}
            let gn = rows(&h.dense(Part::GaussNewton));
            let mut want = vec![0.0; d * d];
            for p in 0..d { for q in 0..d {
                want[p * d + q] = (0..n).map(|i| am[i * d + p] * (0..n).map(|k| jtj[i * n + k] * am[k * d + q]).sum::<f64>()).sum();
            }}
            prop_assert!(norm(&sub(&gn, &want)) <= 1e-12 * norm(&want) + 1e-300, "{} {}: GN vs explicit Jacobian", loss, func);
            let lmin = losses::spectral::dense_lambda_min(&h.dense(Part::GaussNewton)).unwrap();
            prop_assert!(lmin >= -1e-12 * norm(&gn), "{} {}: H_GN has eigenvalue {}", loss, func, lmin);
        }}
    }
}

trait WSq {
    fn w_sq(&self, i: usize) -> f64;
}
impl WSq for Case {
    fn w_sq(&self, i: usize) -> f64 {
        self.w.w2(i)
    }
}
