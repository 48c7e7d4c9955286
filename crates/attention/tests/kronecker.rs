//! The Kronecker-free forward pass, gradient, Hessian-vector product and dense Hessian against
//! the paper's formulas evaluated with the explicit `A_{l,1} ⊗ A_{l,2}` (seed 004, Definitions
//! 3.1–3.4, Lemma 3.11; Appendix H with errata E4; Appendix I for linear attention).
//!
//! Tolerance 1e-10 relative for the forward pass and the gradient, 1e-9 for second
//! derivatives: both sides are exact formulas in double precision on O(1) data and differ only
//! in the order of summation, which linear attention's 1/α² amplifies in the Hessian. Below a norm of `FLOOR` the comparison is
//! absolute (1e-14): linear attention is invariant to scaling `X`, so with `d = 1` its
//! gradient is exactly zero and only rounding is left on either side.

mod common;

use attention::{AttentionObjective, EntryLoss, Normalisation, Want, unvec_row_major, vec_row_major};
use common::{LOSSES, case, rel};
use faer::Mat;
use proptest::prelude::*;

const FLOOR: f64 = 1e-4;

/// Everything the explicit formulas give for one data set.
struct Explicit {
    att: Mat<f64>,
    value: f64,
    grad: Vec<f64>,
    hess: Mat<f64>,
}

fn kron(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    let (p, q) = (b.nrows(), b.ncols());
    Mat::from_fn(a.nrows() * p, a.ncols() * q, |i, j| a[(i / p, j / q)] * b[(i % p, j % q)])
}

fn explicit(c: &common::Case, loss: attention::AttentionLoss) -> Explicit {
    let meta = c.data.meta();
    let (m, n, d) = (meta.m, meta.n, meta.d);
    let x = vec_row_major(c.x.as_ref());
    let dd = d * d;
    let mut att = Mat::zeros(m * n, d);
    let mut value = 0.0;
    let mut grad = vec![0.0; dd];
    let mut hess = Mat::zeros(dd, dd);
    for l in 0..m {
        let a1 = c.data.a1(l).to_owned();
        let a2 = c.data.a2(l).to_owned();
        let big = kron(&a1, &a2); // n² × d²
        let hmat = c.data.a3(l) * &c.y; // column i0 is h(y)_{l,i0}
        for j0 in 0..n {
            // Block j0 of A_l: rows j0·n … j0·n+n−1.
            let col = |i: usize| -> Vec<f64> { (0..n).map(|k| big[(j0 * n + k, i)]).collect() };
            let kx: Vec<f64> = (0..n).map(|k| (0..dd).map(|i| big[(j0 * n + k, i)] * x[i]).sum()).collect();
            let u: Vec<f64> = match loss.normalisation {
                Normalisation::Softmax => kx.iter().map(|v| v.exp()).collect(),
                Normalisation::Linear => kx.clone(),
            };
            let alpha: f64 = u.iter().sum();
            let f: Vec<f64> = u.iter().map(|v| v / alpha).collect();
            let cols: Vec<Vec<f64>> = (0..dd).map(col).collect();
            let one_dot: Vec<f64> = cols.iter().map(|a| a.iter().sum()).collect();
            let f_dot: Vec<f64> = cols.iter().map(|a| a.iter().zip(&f).map(|(p, q)| p * q).sum()).collect();
            for i0 in 0..d {
                let h: Vec<f64> = (0..n).map(|k| hmat[(k, i0)]).collect();
                let gamma: f64 = f.iter().zip(&h).map(|(p, q)| p * q).sum();
                att[(l * n + j0, i0)] = gamma;
                let b = c.data.b(l)[(j0, i0)];
                let (phi, d1, d2) = loss.entry.derivatives(gamma, b);
                value += phi;
                // ∂γ/∂x_i and ∂²γ/∂x_i∂x_j.
                let fh: Vec<f64> = cols.iter().map(|a| (0..n).map(|k| f[k] * a[k] * h[k]).sum()).collect();
                let p: Vec<f64> = match loss.normalisation {
                    Normalisation::Softmax => (0..dd).map(|i| fh[i] - gamma * f_dot[i]).collect(),
                    Normalisation::Linear => (0..dd)
                        .map(|i| ((0..n).map(|k| cols[i][k] * h[k]).sum::<f64>() - gamma * one_dot[i]) / alpha)
                        .collect(),
                };
                for i in 0..dd {
                    grad[i] += d1 * p[i];
                    for j in 0..dd {
                        let second = match loss.normalisation {
                            // Errata E4.
                            Normalisation::Softmax => {
                                let fhij: f64 = (0..n).map(|k| f[k] * cols[i][k] * cols[j][k] * h[k]).sum();
                                let faij: f64 = (0..n).map(|k| f[k] * cols[i][k] * cols[j][k]).sum();
                                fhij - f_dot[j] * fh[i] - f_dot[i] * fh[j] + 2.0 * gamma * f_dot[i] * f_dot[j]
                                    - gamma * faij
                            }
                            Normalisation::Linear => -(p[i] * one_dot[j] + p[j] * one_dot[i]) / alpha,
                        };
                        hess[(i, j)] += d2 * p[i] * p[j] + d1 * second;
                    }
                }
            }
        }
    }
    Explicit { att, value, grad, hess }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn kronecker_free_routines_equal_the_explicit_formulas(c in (0usize..3).prop_flat_map(|k| (Just(k), case(LOSSES[k])))) {
        let (k, c) = c;
        let loss = LOSSES[k];
        let d = c.data.meta().d;
        let want = explicit(&c, loss);
        let f = AttentionObjective::new(&c.data, c.y.clone(), loss).unwrap();
        let att = f.forward(c.x.as_ref()).unwrap();
        prop_assert!(rel(&att, &want.att, FLOOR) <= 1e-10, "forward {:e}", rel(&att, &want.att, FLOOR));
        let e = f.evaluate(c.x.as_ref(), Want::Hessian).unwrap();
        prop_assert!((e.value - want.value).abs() <= 1e-10 * want.value.abs().max(1e-12));
        let g = unvec_row_major(&want.grad, d, d);
        prop_assert!(rel(&e.grad_x, &g, FLOOR) <= 1e-10, "{:?} gradient {:e} norm {:e}", loss, rel(&e.grad_x, &g, FLOOR), g.norm_l2());
        let h = e.hessian.unwrap();
        let dense = h.dense();
        prop_assert!(rel(&dense, &want.hess, FLOOR) <= 1e-9, "dense Hessian {:e}", rel(&dense, &want.hess, FLOOR));
        let dir: Vec<f64> = (0..d * d).map(|i| ((i * 7 + 3) % 5) as f64 - 2.0).collect();
        let hv = h.hvp(unvec_row_major(&dir, d, d).as_ref());
        let want_hv = Mat::from_fn(d, d, |a, b| (0..d * d).map(|j| want.hess[(a * d + b, j)] * dir[j]).sum::<f64>());
        prop_assert!(rel(&hv, &want_hv, FLOOR) <= 1e-9, "hvp {:e}", rel(&hv, &want_hv, FLOOR));
    }
}

#[test]
fn the_paper_sigmoid_loss_is_not_what_is_minimised() {
    // Errata E3: the logistic entry loss decreases in the margin b·γ.
    let (l_small, _, _) = EntryLoss::Logistic.derivatives(0.1, 1.0);
    let (l_big, _, _) = EntryLoss::Logistic.derivatives(2.0, 1.0);
    assert!(l_big < l_small);
}
