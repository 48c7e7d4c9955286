//! A data-driven start for softmax regression: the log-linear fit.
//!
//! Where `b = softmax(Ax*)` holds up to the rounding of stored probabilities, taking logs gives
//! the linear system `(Ax*)_j − log Σ_k exp((Ax*)_k) = log b_j`: an affine fit
//! `min_{x,c} Σ_j ((Ax)_j + c − log b_j)²` over the entries with `b_j > 0` recovers `x*` up to
//! the rounding of `log b_j`. Float32 probabilities keep ~7 significant digits however small
//! they are, so the fit determines `x*` even where the softmax loss itself is flat (rows that
//! put almost all mass on one entry: the loss barely feels probabilities below ~1e-7, the
//! logarithm does). Measured on the nine shipped MiniLM heads: `‖x − q_i/√32‖/‖q_i/√32‖ ≤ 1e-6`
//! on every one of the 1,719 rows (docs/benchmarks.md, "Real attention").
//!
//! Cost: one pass over `A` to gather the kept rows densely and a Householder QR of the
//! `n' × (d + 1)` system, `O(n·d²)` — the cost of one exact Newton matrix. Meant for `d` in the
//! tens to hundreds (attention heads); the start is then refined by Newton on the real loss.
//!
//! ```
//! use losses::log_linear::softmax_log_linear_start;
//! use losses::sparse_ops::CsrMatrix;
//! // b = softmax(A·[1, −2]) for a 4×2 matrix.
//! let a = CsrMatrix::from_dense(4, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5, -0.5]).unwrap();
//! let z: Vec<f64> = [1.0, -2.0, -1.0, 1.5].to_vec();
//! let m = z.iter().map(|v| v.exp()).sum::<f64>();
//! let b: Vec<f64> = z.iter().map(|v| v.exp() / m).collect();
//! let x = softmax_log_linear_start(&a, &b).unwrap().expect("enough positive entries");
//! assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] + 2.0).abs() < 1e-12);
//! ```

use faer::Mat;
use faer::linalg::solvers::SolveLstsq;
use sparse_ops::CsrMatrix;

use crate::error::LossError;

/// Entries below this are not used: float32 subnormals (below `f32::MIN_POSITIVE`) have lost
/// their relative precision, and exact zeros (underflowed probabilities) have no logarithm.
pub const MIN_PROBABILITY: f64 = f32::MIN_POSITIVE as f64;

/// The log-linear fit `x` (see the module doc), or `None` when fewer than `d + 1` entries of
/// `b` are usable (≥ [`MIN_PROBABILITY`]) or the kept rows of `[A, 1]` are rank-deficient
/// (then there is no unique fit: start elsewhere). `Err` on a length mismatch or a
/// non-finite `b`.
pub fn softmax_log_linear_start(a: &CsrMatrix, b: &[f64]) -> Result<Option<Vec<f64>>, LossError> {
    let (n, d) = (a.nrows(), a.ncols());
    if b.len() != n {
        return Err(LossError::DimensionMismatch { what: "b", expected: n, found: b.len() });
    }
    if let Some(j) = b.iter().position(|v| !v.is_finite()) {
        return Err(LossError::NonFiniteInput { what: "b", index: j, value: b[j] });
    }
    let kept: Vec<usize> = (0..n).filter(|&j| b[j] >= MIN_PROBABILITY).collect();
    if kept.len() < d + 1 {
        return Ok(None);
    }
    let mut m = Mat::<f64>::from_fn(kept.len(), d + 1, |_, c| if c == d { 1.0 } else { 0.0 });
    for (r, &j) in kept.iter().enumerate() {
        let (idx, val) = a.row(j);
        for (&c, &v) in idx.iter().zip(val) {
            m[(r, c as usize)] = v;
        }
    }
    let rhs = Mat::<f64>::from_fn(kept.len(), 1, |r, _| b[kept[r]].ln());
    let qr = m.qr();
    // A rank-deficient `[A, 1]` shows as a (near-)zero diagonal of R: no unique fit.
    let r = qr.R();
    let diag: Vec<f64> = (0..d + 1).map(|i| r[(i, i)].abs()).collect();
    let top = diag.iter().fold(0.0f64, |m, v| m.max(*v));
    if top == 0.0 || diag.iter().any(|v| *v <= top * 1e3 * f64::EPSILON * (d + 1) as f64) {
        return Ok(None);
    }
    let sol = qr.solve_lstsq(&rhs);
    let x: Vec<f64> = (0..d).map(|i| sol[(i, 0)]).collect();
    Ok(x.iter().all(|v| v.is_finite()).then_some(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn softmax(z: &[f64]) -> Vec<f64> {
        let mx = z.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let e: Vec<f64> = z.iter().map(|v| (v - mx).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    fn dense(n: usize, d: usize, seed: u64) -> CsrMatrix {
        let mut s = seed;
        let vals: Vec<f64> = (0..n * d)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect();
        CsrMatrix::from_dense(n, d, &vals).unwrap()
    }

    fn matvec(a: &CsrMatrix, x: &[f64]) -> Vec<f64> {
        (0..a.nrows())
            .map(|i| {
                let (idx, val) = a.row(i);
                idx.iter().zip(val).map(|(&c, &v)| v * x[c as usize]).sum()
            })
            .collect()
    }

    #[test]
    fn recovers_x_from_float32_probabilities_even_when_one_entry_dominates() {
        let (n, d) = (60, 6);
        let a = dense(n, d, 7);
        // Scores spread over ~40 nats: most probabilities are far below 1e-7 (a flat loss).
        let x_star: Vec<f64> = (0..d).map(|j| 6.0 * (j as f64 - 2.5)).collect();
        let b: Vec<f64> = softmax(&matvec(&a, &x_star)).iter().map(|&p| p as f32 as f64).collect();
        assert!(b.iter().filter(|&&p| p < 1e-7).count() > n / 3, "the test needs tiny probabilities");
        let x = softmax_log_linear_start(&a, &b).unwrap().unwrap();
        let err = x.iter().zip(&x_star).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()
            / x_star.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(err < 1e-6, "relative error {err:e}");
    }

    #[test]
    fn underflowed_entries_are_skipped_and_too_few_give_none() {
        let a = dense(10, 3, 1);
        let mut b = softmax(&matvec(&a, &[1.0, 2.0, 3.0]));
        let x = softmax_log_linear_start(&a, &b).unwrap().unwrap();
        assert!((x[2] - 3.0).abs() < 1e-10);
        b[0] = 0.0;
        b[1] = 1e-45; // an f32 subnormal: skipped
        let x = softmax_log_linear_start(&a, &b).unwrap().unwrap();
        assert!((x[0] - 1.0).abs() < 1e-10);
        for v in b.iter_mut().take(7) {
            *v = 0.0;
        }
        assert_eq!(softmax_log_linear_start(&a, &b).unwrap(), None, "3 usable entries for 4 unknowns");
    }

    #[test]
    fn a_rank_deficient_system_gives_none_and_bad_input_an_error() {
        // Column 1 is the constant column: [A, 1] is rank-deficient.
        let vals: Vec<f64> = (0..8).flat_map(|i| [i as f64, 1.0]).collect();
        let a = CsrMatrix::from_dense(8, 2, &vals).unwrap();
        let b = vec![0.125; 8];
        assert_eq!(softmax_log_linear_start(&a, &b).unwrap(), None);
        assert!(softmax_log_linear_start(&a, &b[..7]).is_err());
        let mut nan = b.clone();
        nan[3] = f64::NAN;
        assert!(softmax_log_linear_start(&a, &nan).is_err());
    }
}
