//! The attention objective: forward pass, value, gradients in `X`, `Y`, `Q`, `K`.
//!
//! For sequence `l`, with `Z = A₁XA₂ᵀ` (`n×n`), `S` its row normalisation, `V = A₃Y` and
//! `Att = SV`, let `R = ∂φ/∂γ` entrywise (`n×d`). Then, never forming `A₁ ⊗ A₂`:
//!
//! ```text
//! ∂L/∂S = R Vᵀ = Q,   c_j = ⟨R_j, Att_j⟩ = ⟨Q_j, S_j⟩
//! softmax: ∂L/∂Z = S ∘ (Q − c 1ᵀ)        linear: ∂L/∂Z = diag(1/α)(Q − c 1ᵀ),  α = Z1
//! ∂L/∂X = Σ_l A₁ᵀ (∂L/∂Z) A₂,   ∂L/∂Y = Σ_l A₃ᵀ Sᵀ R
//! ∂L/∂Q = (∂L/∂X) K,   ∂L/∂K = (∂L/∂X)ᵀ Q   for X = QKᵀ
//! ```
//!
//! which is the paper's `A_{l,j₀}ᵀ`-form gradient (seed 004, Lemma 3.11 / Appendix B) read
//! block by block. Cost per sequence `O(n·d² + n²·d)`.

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::data::{AttentionData, check_finite};
use crate::dense::{mm, row_dots};
use crate::error::AttentionError;
use crate::hessian::AttentionHessian;
use crate::kind::{AttentionLoss, EntryLoss, Normalisation};

/// Relative size below which a linear-attention normaliser counts as zero: `|⟨z,1⟩|` within
/// `1e-8·Σ|z_k|` has lost more than half its digits to cancellation.
pub const LINEAR_NORMALISER_RTOL: f64 = 1e-8;

/// What [`AttentionObjective::evaluate`] computes beyond the value and gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Value and gradients only.
    Gradient,
    /// Also keep what the Hessian in `vec(X)` needs ([`AttentionHessian`]).
    Hessian,
}

/// The value, the gradients, and on request the Hessian at one `(X, Y)`.
#[derive(Debug, Clone)]
pub struct AttentionEval<'a> {
    /// `L(X, Y)`.
    pub value: f64,
    /// `∂L/∂X`, `d×d`.
    pub grad_x: Mat<f64>,
    /// `∂L/∂Y`, `d×d`.
    pub grad_y: Mat<f64>,
    /// The Hessian in `vec(X)` (with [`Want::Hessian`]).
    pub hessian: Option<AttentionHessian<'a>>,
}

/// The value and gradients at `X = QKᵀ`.
#[derive(Debug, Clone)]
pub struct FactorEval {
    /// `L(QKᵀ, Y)`.
    pub value: f64,
    /// `∂L/∂Q = (∂L/∂X)K`, `d×k`.
    pub grad_q: Mat<f64>,
    /// `∂L/∂K = (∂L/∂X)ᵀQ`, `d×k`.
    pub grad_k: Mat<f64>,
    /// `∂L/∂Y`, `d×d`.
    pub grad_y: Mat<f64>,
}

/// One sequence's forward pass.
struct Forward {
    s: Mat<f64>,
    v: Mat<f64>,
    att: Mat<f64>,
    alpha: Vec<f64>,
}

/// `L(X, Y) = Σ_l Σ φ(Att_l, B_l)` over a data set, for a fixed value matrix `Y`.
#[derive(Debug, Clone)]
pub struct AttentionObjective<'a> {
    data: &'a AttentionData,
    y: Mat<f64>,
    loss: AttentionLoss,
}

/// One sequence's forward pass, and (with [`Pass::Gradient`]) what the gradient and Hessian
/// need.
#[derive(Debug, Clone)]
pub(crate) struct SeqState {
    pub s: Mat<f64>,
    pub v: Mat<f64>,
    pub att: Mat<f64>,
    /// Linear attention's row normalisers `α = Z1` (empty for softmax).
    pub alpha: Vec<f64>,
    /// `∂φ/∂γ`, `n×d`.
    pub r: Mat<f64>,
    /// `∂²φ/∂γ²`, `n×d`.
    pub e: Mat<f64>,
    /// `Q = R Vᵀ = ∂L/∂S`, `n×n`.
    pub q: Mat<f64>,
    /// `c_j = ⟨R_j, Att_j⟩`.
    pub c: Vec<f64>,
    pub value: f64,
}

impl<'a> AttentionObjective<'a> {
    /// Checks `Y` is `d×d` and finite, and that the logistic loss has labels `±1`.
    pub fn new(data: &'a AttentionData, y: Mat<f64>, loss: AttentionLoss) -> Result<Self, AttentionError> {
        let d = data.meta().d;
        check_square("Y", y.as_ref(), d)?;
        check_finite("Y", y.as_ref())?;
        if loss.entry == EntryLoss::Logistic {
            let b = data.targets();
            for i in 0..b.nrows() {
                for j in 0..b.ncols() {
                    if b[(i, j)].abs() != 1.0 {
                        return Err(AttentionError::NotALabel { row: i, col: j, value: b[(i, j)] });
                    }
                }
            }
        }
        Ok(Self { data, y, loss })
    }

    /// The data the objective is over.
    pub fn data(&self) -> &'a AttentionData {
        self.data
    }
    /// The value matrix `Y` (`d×d`).
    pub fn y(&self) -> MatRef<'_, f64> {
        self.y.as_ref()
    }
    /// The attention loss.
    pub fn loss(&self) -> AttentionLoss {
        self.loss
    }
    /// `d`.
    pub fn dim(&self) -> usize {
        self.data.meta().d
    }

    /// The attention outputs `Att_l = S_l(X)·A_{l,3}Y`, stacked `(m·n)×d`.
    pub fn forward(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, AttentionError> {
        self.check_x(x)?;
        let parts = self.per_sequence(|l| self.forward_seq(l, x).map(|f| f.att))?;
        let n = self.data.meta().n;
        Ok(Mat::from_fn(parts.len() * n, self.dim(), |i, j| parts[i / n][(i % n, j)]))
    }

    /// The loss at `X`.
    pub fn value(&self, x: MatRef<'_, f64>) -> Result<f64, AttentionError> {
        self.check_x(x)?;
        let parts = self.per_sequence(|l| Ok(self.entry_sum(l, self.forward_seq(l, x)?.att.as_ref())))?;
        let value: f64 = parts.iter().sum();
        if !value.is_finite() {
            return Err(AttentionError::NonFiniteResult { what: "loss" });
        }
        Ok(value)
    }

    /// Value, `∂L/∂X`, `∂L/∂Y` and, with [`Want::Hessian`], the Hessian in `vec(X)`.
    pub fn evaluate(&self, x: MatRef<'_, f64>, want: Want) -> Result<AttentionEval<'a>, AttentionError> {
        self.check_x(x)?;
        let d = self.dim();
        let parts = self.per_sequence(|l| {
            let st = self.state(l, x)?;
            let gz = self.logit_gradient(&st);
            let gx = mm(self.data.a1(l).transpose(), mm(gz.as_ref(), self.data.a2(l)).as_ref());
            let gy = mm(self.data.a3(l).transpose(), mm(st.s.transpose(), st.r.as_ref()).as_ref());
            Ok((st, gx, gy))
        })?;
        let mut value = 0.0;
        let mut grad_x = Mat::zeros(d, d);
        let mut grad_y = Mat::zeros(d, d);
        let mut states = Vec::with_capacity(parts.len());
        // Partials added in sequence order: the same bits for any thread count.
        for (st, gx, gy) in parts {
            value += st.value;
            grad_x += gx;
            grad_y += gy;
            if want == Want::Hessian {
                states.push(st);
            }
        }
        // Never a NaN or inf handed on (it became `null` in JSON and passed `inf ≤ tol·inf`).
        let all_finite = |m: &Mat<f64>| m.col_iter().all(|c| c.iter().all(|v| v.is_finite()));
        if !value.is_finite() {
            return Err(AttentionError::NonFiniteResult { what: "loss" });
        }
        if !all_finite(&grad_x) {
            return Err(AttentionError::NonFiniteResult { what: "gradient in X" });
        }
        if !all_finite(&grad_y) {
            return Err(AttentionError::NonFiniteResult { what: "gradient in Y" });
        }
        let hessian = (want == Want::Hessian).then(|| AttentionHessian::new(self.data, self.loss, states));
        Ok(AttentionEval { value, grad_x, grad_y, hessian })
    }

    /// The loss and its gradients in the factors of `X = QKᵀ` (`Q, K ∈ R^{d×k}`).
    pub fn evaluate_factors(&self, q: MatRef<'_, f64>, k: MatRef<'_, f64>) -> Result<FactorEval, AttentionError> {
        let d = self.dim();
        for (what, m) in [("Q", q), ("K", k)] {
            if m.nrows() != d || m.ncols() != q.ncols() {
                return Err(AttentionError::dims(
                    format!("{what} (d × k)"),
                    format!("{d}×{}", q.ncols()),
                    format!("{}×{}", m.nrows(), m.ncols()),
                ));
            }
        }
        let x = mm(q, k.transpose());
        let e = self.evaluate(x.as_ref(), Want::Gradient)?;
        Ok(FactorEval {
            value: e.value,
            grad_q: mm(e.grad_x.as_ref(), k),
            grad_k: mm(e.grad_x.transpose(), q),
            grad_y: e.grad_y,
        })
    }

    /// `f(l)` for every sequence, in parallel; results in sequence order, and the error of the
    /// first failing sequence (not whichever thread failed first).
    fn per_sequence<T: Send>(
        &self,
        f: impl Fn(usize) -> Result<T, AttentionError> + Sync + Send,
    ) -> Result<Vec<T>, AttentionError> {
        let out: Vec<Result<T, AttentionError>> = (0..self.data.meta().m).into_par_iter().map(&f).collect();
        out.into_iter().collect()
    }

    fn check_x(&self, x: MatRef<'_, f64>) -> Result<(), AttentionError> {
        check_square("X", x, self.dim())?;
        check_finite("X", x)
    }

    /// `S`, `V`, `Att` and `α` of sequence `l`.
    fn forward_seq(&self, l: usize, x: MatRef<'_, f64>) -> Result<Forward, AttentionError> {
        let (a1, a2) = (self.data.a1(l), self.data.a2(l));
        let mut s = mm(mm(a1, x).as_ref(), a2.transpose());
        let n = s.nrows();
        let mut alpha = Vec::new();
        match self.loss.normalisation {
            Normalisation::Softmax => {
                for j in 0..n {
                    let zmax = (0..n).map(|k| s[(j, k)]).fold(f64::NEG_INFINITY, f64::max);
                    if !zmax.is_finite() || (0..n).any(|k| !s[(j, k)].is_finite()) {
                        let max_abs = (0..n).map(|k| s[(j, k)].abs()).fold(0.0, f64::max);
                        return Err(AttentionError::Overflow { sequence: l, row: j, max_abs });
                    }
                    let mut sum = 0.0;
                    for k in 0..n {
                        let e = (s[(j, k)] - zmax).exp();
                        s[(j, k)] = e;
                        sum += e;
                    }
                    for k in 0..n {
                        s[(j, k)] /= sum;
                    }
                }
            }
            Normalisation::Linear => {
                alpha.reserve(n);
                for j in 0..n {
                    let sum: f64 = (0..n).map(|k| s[(j, k)]).sum();
                    let scale: f64 = (0..n).map(|k| s[(j, k)].abs()).sum();
                    if !scale.is_finite() {
                        return Err(AttentionError::Overflow { sequence: l, row: j, max_abs: scale });
                    }
                    if sum.abs() <= LINEAR_NORMALISER_RTOL * scale || sum == 0.0 {
                        return Err(AttentionError::NormaliserNearZero { sequence: l, row: j, value: sum, scale });
                    }
                    for k in 0..n {
                        s[(j, k)] /= sum;
                    }
                    alpha.push(sum);
                }
            }
        }
        let v = mm(self.data.a3(l), self.y.as_ref());
        let att = mm(s.as_ref(), v.as_ref());
        Ok(Forward { s, v, att, alpha })
    }

    fn entry_sum(&self, l: usize, att: MatRef<'_, f64>) -> f64 {
        let b = self.data.b(l);
        let mut sum = 0.0;
        for j in 0..att.nrows() {
            for i in 0..att.ncols() {
                sum += self.loss.entry.derivatives(att[(j, i)], b[(j, i)]).0;
            }
        }
        sum
    }

    /// The forward pass plus `R`, `∂²φ`, `Q = RVᵀ` and `c`.
    pub(crate) fn state(&self, l: usize, x: MatRef<'_, f64>) -> Result<SeqState, AttentionError> {
        let Forward { s, v, att, alpha } = self.forward_seq(l, x)?;
        let b = self.data.b(l);
        let (n, d) = (att.nrows(), att.ncols());
        let mut r = Mat::zeros(n, d);
        let mut e = Mat::zeros(n, d);
        let mut value = 0.0;
        for j in 0..n {
            for i in 0..d {
                let (f, g, h) = self.loss.entry.derivatives(att[(j, i)], b[(j, i)]);
                value += f;
                r[(j, i)] = g;
                e[(j, i)] = h;
            }
        }
        let q = mm(r.as_ref(), v.transpose());
        let c = row_dots(r.as_ref(), att.as_ref());
        Ok(SeqState { s, v, att, alpha, r, e, q, c, value })
    }

    /// `∂L/∂Z` of one sequence.
    fn logit_gradient(&self, st: &SeqState) -> Mat<f64> {
        let n = st.s.nrows();
        match self.loss.normalisation {
            Normalisation::Softmax => Mat::from_fn(n, n, |j, k| st.s[(j, k)] * (st.q[(j, k)] - st.c[j])),
            Normalisation::Linear => Mat::from_fn(n, n, |j, k| (st.q[(j, k)] - st.c[j]) / st.alpha[j]),
        }
    }
}

fn check_square(what: &str, m: MatRef<'_, f64>, d: usize) -> Result<(), AttentionError> {
    if m.nrows() != d || m.ncols() != d {
        return Err(AttentionError::dims(what, format!("{d}×{d}"), format!("{}×{}", m.nrows(), m.ncols())));
    }
    Ok(())
}
