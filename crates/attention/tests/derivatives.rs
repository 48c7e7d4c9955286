//! Every gradient (X, Y, Q, K) and the Hessian in vec(X) against finite differences, for the
//! three losses; the Hessian-vector product against the dense Hessian.
//!
//! Tolerance: relative 1e-6 in the Frobenius norm. Twice-extrapolated central differences with
//! h = 1e-3 have truncation error O(h⁶)·|f⁽⁷⁾| ≤ 1e-10 on these O(1)-scaled cases (linear
//! attention's 1/α terms make the high derivatives the largest) and rounding error about
//! ε·|f|/h ≈ 1e-13, so 1e-6 leaves a wide margin while any missing term (E4's −γ⟨f∘a_i, a_j⟩,
//! a sign) shows up at O(1). The Hessian-vector product and the dense Hessian are two orders of
//! the same arithmetic: they agree to rounding, amplified by 1/α² for linear attention (1e-9).

mod common;

use attention::{AttentionObjective, Want, vec_row_major};
use common::{LOSSES, case, derivative, derivative_mat, rel, unit};
use faer::Mat;
use proptest::prelude::*;

const H: f64 = 1e-3;
const TOL: f64 = 1e-6;
/// Below this norm, compare absolutely (to 1e-10): the differences' rounding error, about
/// 10·ε·|L|/h ≈ 1e-11 for |L| ≤ 10, is all they can resolve of a vanishing gradient (linear
/// attention is invariant to scaling X, so some gradients here are exactly zero).
const FLOOR: f64 = 1e-4;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gradients_in_x_and_y_match_finite_differences(c in (0usize..3).prop_flat_map(|k| (Just(k), case(LOSSES[k])))) {
        let (k, c) = c;
        let f = AttentionObjective::new(&c.data, c.y.clone(), LOSSES[k]).unwrap();
        let e = f.evaluate(c.x.as_ref(), Want::Gradient).unwrap();
        let d = f.dim();
        let gx = Mat::from_fn(d, d, |i, j| derivative(|t| f.value((&c.x + unit(d, d, i, j) * faer::Scale(t)).as_ref()).unwrap(), H));
        prop_assert!(rel(&e.grad_x, &gx, FLOOR) <= TOL, "{:?} grad X: {:e}", LOSSES[k], rel(&e.grad_x, &gx, FLOOR));
        let gy = Mat::from_fn(d, d, |i, j| derivative(|t| {
            let fy = AttentionObjective::new(&c.data, &c.y + unit(d, d, i, j) * faer::Scale(t), LOSSES[k]).unwrap();
            fy.value(c.x.as_ref()).unwrap()
        }, H));
        prop_assert!(rel(&e.grad_y, &gy, FLOOR) <= TOL, "{:?} grad Y: {:e}", LOSSES[k], rel(&e.grad_y, &gy, FLOOR));
        // The value from `evaluate` is the value from `value`.
        prop_assert_eq!(e.value, f.value(c.x.as_ref()).unwrap());
    }

    #[test]
    fn gradients_in_the_factors_match_finite_differences(
        c in (0usize..3).prop_flat_map(|k| (Just(k), case(LOSSES[k]))),
        rank in 1usize..3,
    ) {
        let (k, c) = c;
        let f = AttentionObjective::new(&c.data, c.y.clone(), LOSSES[k]).unwrap();
        let d = f.dim();
        // Q, K from the case's X so that X = QKᵀ stays in the well-scaled (for linear: positive) range.
        let q = Mat::from_fn(d, rank, |i, j| c.x[(i, (j + i) % d)].abs().sqrt());
        let kk = Mat::from_fn(d, rank, |i, j| c.x[((i + j) % d, i)].abs().sqrt() * 0.5 + 0.1);
        let fe = f.evaluate_factors(q.as_ref(), kk.as_ref()).unwrap();
        let (gq, gk) = (fe.grad_q, fe.grad_k);
        let val = |q: &Mat<f64>, k: &Mat<f64>| f.value((q * k.transpose()).as_ref()).unwrap();
        let fq = Mat::from_fn(d, rank, |i, j| derivative(|t| val(&(&q + unit(d, rank, i, j) * faer::Scale(t)), &kk), H));
        let fk = Mat::from_fn(d, rank, |i, j| derivative(|t| val(&q, &(&kk + unit(d, rank, i, j) * faer::Scale(t))), H));
        prop_assert!(rel(&gq, &fq, FLOOR) <= TOL, "{:?} grad Q: {:e}", LOSSES[k], rel(&gq, &fq, FLOOR));
        prop_assert!(rel(&gk, &fk, FLOOR) <= TOL, "{:?} grad K: {:e}", LOSSES[k], rel(&gk, &fk, FLOOR));
    }

    #[test]
    fn hessian_matches_finite_differences_of_the_gradient(c in (0usize..3).prop_flat_map(|k| (Just(k), case(LOSSES[k])))) {
        let (k, c) = c;
        let f = AttentionObjective::new(&c.data, c.y.clone(), LOSSES[k]).unwrap();
        let d = f.dim();
        let e = f.evaluate(c.x.as_ref(), Want::Hessian).unwrap();
        let h = e.hessian.unwrap();
        let dense = h.dense();
        let mut fd = Mat::zeros(d * d, d * d);
        for a in 0..d {
            for b in 0..d {
                let col = derivative_mat(|t| f.evaluate((&c.x + unit(d, d, a, b) * faer::Scale(t)).as_ref(), Want::Gradient).unwrap().grad_x, H);
                for (r, v) in vec_row_major(col.as_ref()).into_iter().enumerate() {
                    fd[(r, a * d + b)] = v;
                }
            }
        }
        prop_assert!(rel(&dense, &fd, FLOOR) <= TOL, "{:?} Hessian: {:e}", LOSSES[k], rel(&dense, &fd, FLOOR));
        prop_assert!(rel(&dense.transpose().to_owned(), &dense, FLOOR) <= 1e-12, "symmetric");
        // The Kronecker-free product agrees with the dense matrix on a random direction.
        let dir = Mat::from_fn(d, d, |i, j| c.x[(j, i)] - 0.3 * c.y[(i, j)]);
        let hv = h.hvp(dir.as_ref());
        let v = vec_row_major(dir.as_ref());
        let want = Mat::from_fn(d, d, |i, j| (0..d * d).map(|s| dense[(i * d + j, s)] * v[s]).sum::<f64>());
        prop_assert!(rel(&hv, &want, FLOOR) <= 1e-9, "{:?} hvp: {:e}", LOSSES[k], rel(&hv, &want, FLOOR));
    }
}
