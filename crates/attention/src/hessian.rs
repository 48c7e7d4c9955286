//! The Hessian of an attention loss in `x = vec(X)` (row-major), in the structured per-block
//! form of seed 004, Appendix H, with errata E4 applied.
//!
//! Row `j₀` of sequence `l` depends on `x` only through its logits `z = A_{l,j₀}x`, where
//! `A_{l,j₀} = a_{1,j₀}ᵀ ⊗ A_{l,2}` is block `j₀` of `A_{l,1} ⊗ A_{l,2}` (`n×d²`). So
//!
//! ```text
//! H = Σ_{l,j₀} A_{l,j₀}ᵀ M_{l,j₀} A_{l,j₀},   M = ∂²/∂z² Σ_{i₀} φ(γ_{i₀}),   M = diag(δ) + U C Uᵀ
//! ```
//!
//! With `s` the attention row, `V = A₃Y`, `γ = Vᵀs`, `r = φ'(γ)`, `e = φ''(γ)`, `q = Vr`,
//! `c = ⟨r, γ⟩`:
//!
//! - softmax: `δ = s∘(q − c)`, `U = [s, s∘q, P]`, `C = [[2c, −1], [−1, 0]] ⊕ diag(e)`, with
//!   `P = s∘(V − 1γᵀ)`: column `i₀` of `P` is the `p_i` of errata E4, and `diag(δ) − (s∘q)sᵀ −
//!   s(s∘q)ᵀ + 2c·ssᵀ` is `Σ_{i₀} r_{i₀}·∂²γ_{i₀}/∂z²` with E4's corrected second derivative.
//! - linear: `δ = 0`, `U = [1, q − c1, P]`, `C = [[0, −1/α²], [−1/α², 0]] ⊕ diag(e)`,
//!   `P = (V − 1γᵀ)/α`.
//!
//! [`AttentionHessian::hvp`] applies all blocks at once through `A₁ΔA₂ᵀ` and `A₁ᵀ W A₂` in
//! `O(n·d² + n²·d)` per sequence, the cost of a gradient; [`AttentionHessian::dense`] uses
//! `A_{l,j₀}ᵀMA_{l,j₀} = (a₁a₁ᵀ) ⊗ (A₂ᵀMA₂)` and costs `O(m·n·(n·d² + d⁴))`.

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::data::AttentionData;
use crate::dense::{mm, mm_add, row_dots};
use crate::error::AttentionError;
use crate::kind::{AttentionLoss, Normalisation};
use crate::objective::SeqState;

/// `M_{l,j₀} = diag(δ) + U C Uᵀ` for one row of one sequence (`n×n`, never formed by the
/// solvers).
#[derive(Debug, Clone, PartialEq)]
pub struct RowCurvature {
    /// `δ` (`n`), the diagonal part.
    pub diag: Vec<f64>,
    /// `n×(d+2)`.
    pub u: Mat<f64>,
    /// `(d+2)×(d+2)`, symmetric.
    pub c: Mat<f64>,
}

impl RowCurvature {
    /// `diag(δ) + UCUᵀ` as a dense `n×n` matrix.
    pub fn dense(&self) -> Mat<f64> {
        let mut m = mm(mm(self.u.as_ref(), self.c.as_ref()).as_ref(), self.u.transpose());
        for (k, dk) in self.diag.iter().enumerate() {
            m[(k, k)] += dk;
        }
        m
    }
}

/// The Hessian of an attention loss in `vec(X)` at one point, kept as per-sequence state.
#[derive(Debug, Clone)]
pub struct AttentionHessian<'a> {
    data: &'a AttentionData,
    loss: AttentionLoss,
    states: Vec<SeqState>,
}

impl<'a> AttentionHessian<'a> {
    pub(crate) fn new(data: &'a AttentionData, loss: AttentionLoss, states: Vec<SeqState>) -> Self {
        Self { data, loss, states }
    }

    /// `d²`, the number of parameters.
    pub fn dim(&self) -> usize {
        let d = self.data.meta().d;
        d * d
    }

    /// The structured curvature of row `j` of sequence `l`.
    pub fn row_curvature(&self, l: usize, j: usize) -> RowCurvature {
        let st = &self.states[l];
        let (n, d) = (st.v.nrows(), st.v.ncols());
        let gamma = |i: usize| st.att[(j, i)];
        let mut c = Mat::zeros(d + 2, d + 2);
        for i in 0..d {
            c[(i + 2, i + 2)] = st.e[(j, i)];
        }
        let q = |k: usize| (0..d).map(|i| st.v[(k, i)] * st.r[(j, i)]).sum::<f64>();
        match self.loss.normalisation {
            Normalisation::Softmax => {
                let s = |k: usize| st.s[(j, k)];
                let u = Mat::from_fn(n, d + 2, |k, col| match col {
                    0 => s(k),
                    1 => s(k) * q(k),
                    _ => s(k) * (st.v[(k, col - 2)] - gamma(col - 2)),
                });
                c[(0, 0)] = 2.0 * st.c[j];
                c[(0, 1)] = -1.0;
                c[(1, 0)] = -1.0;
                RowCurvature { diag: (0..n).map(|k| s(k) * (q(k) - st.c[j])).collect(), u, c }
            }
            Normalisation::Linear => {
                let a = st.alpha[j];
                let u = Mat::from_fn(n, d + 2, |k, col| match col {
                    0 => 1.0,
                    1 => q(k) - st.c[j],
                    _ => (st.v[(k, col - 2)] - gamma(col - 2)) / a,
                });
                c[(0, 1)] = -1.0 / (a * a);
                c[(1, 0)] = -1.0 / (a * a);
                RowCurvature { diag: vec![0.0; n], u, c }
            }
        }
    }

    /// `H·vec(Δ)` as a `d×d` matrix, for a direction `Δ ∈ R^{d×d}`: per sequence
    /// `T = A₁ΔA₂ᵀ`, `W_j = M_j T_j` row by row through the structured `M_j`, then `A₁ᵀWA₂`.
    pub fn hvp(&self, dir: MatRef<'_, f64>) -> Mat<f64> {
        let d = self.data.meta().d;
        assert!(dir.nrows() == d && dir.ncols() == d, "direction must be {d}×{d}");
        let parts: Vec<Mat<f64>> = (0..self.states.len())
            .into_par_iter()
            .map(|l| {
                let (a1, a2) = (self.data.a1(l), self.data.a2(l));
                let t = mm(mm(a1, dir).as_ref(), a2.transpose());
                let w = self.apply_curvature(&self.states[l], &t);
                mm(a1.transpose(), mm(w.as_ref(), a2).as_ref())
            })
            .collect();
        let mut out = Mat::zeros(d, d);
        for p in parts {
            out += p;
        }
        out
    }

    /// `W_j = M_j T_j` for every row at once (see the module docs for `M`).
    fn apply_curvature(&self, st: &SeqState, t: &Mat<f64>) -> Mat<f64> {
        let n = t.nrows();
        match self.loss.normalisation {
            Normalisation::Softmax => {
                let st_t = Mat::from_fn(n, n, |j, k| st.s[(j, k)] * t[(j, k)]);
                let sigma: Vec<f64> = (0..n).map(|j| (0..n).map(|k| st_t[(j, k)]).sum()).collect();
                let rho = row_dots(st_t.as_ref(), st.q.as_ref());
                // Pᵀt = Vᵀ(s∘t) − γ⟨s, t⟩, then C = e∘Pᵀt, then P·C needs C Vᵀ and ⟨C_j, γ_j⟩.
                let mut pt = mm(st_t.as_ref(), st.v.as_ref());
                for j in 0..n {
                    for i in 0..pt.ncols() {
                        pt[(j, i)] = st.e[(j, i)] * (pt[(j, i)] - sigma[j] * st.att[(j, i)]);
                    }
                }
                let kappa = row_dots(pt.as_ref(), st.att.as_ref());
                let cv = mm(pt.as_ref(), st.v.transpose());
                Mat::from_fn(n, n, |j, k| {
                    let (q, c) = (st.q[(j, k)], st.c[j]);
                    st.s[(j, k)]
                        * ((q - c) * t[(j, k)] - q * sigma[j] - rho[j] + 2.0 * c * sigma[j] + cv[(j, k)] - kappa[j])
                })
            }
            Normalisation::Linear => {
                let tau: Vec<f64> = (0..n).map(|j| (0..n).map(|k| t[(j, k)]).sum()).collect();
                let gt = Mat::from_fn(n, n, |j, k| st.q[(j, k)] - st.c[j]);
                let mu = row_dots(gt.as_ref(), t.as_ref());
                let mut pt = mm(t.as_ref(), st.v.as_ref());
                for j in 0..n {
                    for i in 0..pt.ncols() {
                        pt[(j, i)] = st.e[(j, i)] * (pt[(j, i)] - tau[j] * st.att[(j, i)]) / st.alpha[j];
                    }
                }
                let kappa = row_dots(pt.as_ref(), st.att.as_ref());
                let cv = mm(pt.as_ref(), st.v.transpose());
                Mat::from_fn(n, n, |j, k| {
                    let a = st.alpha[j];
                    -(gt[(j, k)] * tau[j] + mu[j]) / (a * a) + (cv[(j, k)] - kappa[j]) / a
                })
            }
        }
    }

    /// Bytes [`AttentionHessian::dense`] holds at its peak: the `d²×d²` result and one block
    /// per worker thread. `None` when the product overflows `u64`.
    pub fn dense_bytes(d: usize) -> Option<u64> {
        let d4 = (d as u64).checked_pow(4)?;
        d4.checked_mul(8)?.checked_mul(rayon::current_num_threads() as u64 + 1)
    }

    /// [`AttentionHessian::dense`], refusing a `d²` that overflows and a result that is not
    /// finite (an overflowing Hessian was written as all-`null` JSON and called a saddle).
    pub fn try_dense(&self) -> Result<Mat<f64>, AttentionError> {
        let d = self.data.meta().d;
        if d.checked_mul(d).and_then(|d2| d2.checked_mul(d2)).and_then(|d4| d4.checked_mul(8)).is_none() {
            return Err(AttentionError::TooLarge { what: "the dense Hessian", dims: format!("{d}²×{d}²") });
        }
        let h = self.dense();
        if !h.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
            return Err(AttentionError::NonFiniteResult { what: "Hessian" });
        }
        Ok(h)
    }

    /// The dense `d²×d²` Hessian (row-major `vec`), from the structured blocks:
    /// `Σ_{l,j} (a₁a₁ᵀ) ⊗ (A₂ᵀ M_j A₂)`. Memory: [`AttentionHessian::dense_bytes`] (the
    /// sequences are formed one batch of worker-count at a time, not all at once, and added in
    /// sequence order: the same bits for any thread count).
    pub fn dense(&self) -> Mat<f64> {
        let d = self.data.meta().d;
        let m = self.states.len();
        let batch = rayon::current_num_threads().max(1);
        let mut out = Mat::zeros(d * d, d * d);
        for start in (0..m).step_by(batch) {
            let parts: Vec<Mat<f64>> =
                (start..(start + batch).min(m)).into_par_iter().map(|l| self.sequence_block(l)).collect();
            for p in parts {
                out += p;
            }
        }
        out
    }

    /// Sequence `l`'s term of [`AttentionHessian::dense`].
    fn sequence_block(&self, l: usize) -> Mat<f64> {
        let d = self.data.meta().d;
        let (a1, a2) = (self.data.a1(l), self.data.a2(l));
        let mut h = Mat::zeros(d * d, d * d);
        for j in 0..a1.nrows() {
            let rc = self.row_curvature(l, j);
            // N = A₂ᵀ diag(δ) A₂ + (A₂ᵀU) C (A₂ᵀU)ᵀ.
            let scaled = Mat::from_fn(a2.nrows(), d, |k, b| rc.diag[k] * a2[(k, b)]);
            let mut nb = mm(a2.transpose(), scaled.as_ref());
            let w = mm(a2.transpose(), rc.u.as_ref());
            mm_add(&mut nb, mm(w.as_ref(), rc.c.as_ref()).as_ref(), w.transpose());
            for a in 0..d {
                for a_ in 0..d {
                    let f = a1[(j, a)] * a1[(j, a_)];
                    if f == 0.0 {
                        continue;
                    }
                    for b in 0..d {
                        for b_ in 0..d {
                            h[(a * d + b, a_ * d + b_)] += f * nb[(b, b_)];
                        }
                    }
                }
            }
        }
        h
    }
}
