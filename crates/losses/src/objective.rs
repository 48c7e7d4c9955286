//! One evaluation pass: `z = Ax` once, then the value, the gradient `Aᵀy` and, on request, the
//! structured Hessian, all from `z`.

use std::sync::Arc;

use rayon::prelude::*;
use runtime::reduce::{self, CHUNK, Neumaier, chunked_sums, sum_range};
use runtime::vmath;
use sparse_ops::CsrMatrix;

use crate::error::LossError;
use crate::hessian::{HessianParts, StructuredHessian};
use crate::kind::{Activation, LossKind, Regulariser};
use crate::problem::Problem;
use crate::rows::{self, RowWeights, check_vec};
use runtime::pool::BufferPool;

/// `ln(f64::MAX)`: `exp`, `cosh` and `sinh` overflow above it.
pub const LN_MAX: f64 = 709.782712893384;

/// What an evaluation computes; each level includes the previous ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// The value only: one `A·x`.
    Value,
    /// Value and gradient: one `A·x` and one `Aᵀ·y`.
    Gradient,
    /// Value, gradient and the structured Hessian (no further pass over `A`).
    Hessian,
}

/// The result of [`Objective::evaluate`].
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    /// `L(x)`.
    pub value: f64,
    /// `∇L(x)` (with [`What::Gradient`] or more).
    pub gradient: Option<Vec<f64>>,
    /// `∇²L(x)` as `Aᵀ(D + UCUᵀ)A` (with [`What::Hessian`]).
    pub hessian: Option<StructuredHessian<'a>>,
    /// `max_i |(Ax)_i|` and the first row attaining it.
    pub max_abs_z: f64,
    /// First row `i` attaining `max_abs_z`.
    pub max_abs_z_row: usize,
    /// The rounding floor of `value` (with [`What::Hessian`]; 0 otherwise): `½Σ(64ε·m_i)²`
    /// with `m_i` the size of the terms whose difference is the residual `r_i` (`|u_i| + |αb_i|`
    /// for the rescaled loss). Each `r_i` carries a rounding error of a few `ε·m_i`, so below
    /// this level `value` is noise: a zero-residual minimum evaluates to about here, and a
    /// solver's stopping test needs it as its absolute floor.
    pub value_floor: f64,
}

/// A regression loss of SPEC §1–2 on data `(A, b, w)`.
///
/// ```
/// use losses::{Activation, LossKind, Objective, Regulariser, What};
/// use sparse_ops::CsrMatrix;
/// let a = CsrMatrix::from_dense(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0])?;
/// let b = [0.2, 0.3, 0.5];
/// let f = Objective::new(&a, &b, Regulariser::Const(0.1), LossKind::Rescaled, Activation::Exp)?;
/// let e = f.evaluate(&[0.1, -0.2], What::Hessian)?;
/// let h = e.hessian.unwrap();
/// let mut hv = [0.0; 2];
/// h.apply(losses::Part::Exact, &[1.0, 0.0], &mut hv);
/// assert!(e.value > 0.0 && hv.iter().all(|v| v.is_finite()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Objective<'a> {
    a: &'a CsrMatrix,
    b: &'a [f64],
    w2: RowWeights,
    loss: LossKind,
    func: Activation,
    b_sq_norm: f64,
    /// Spare `n`-vectors shared by clones (see [`Objective::recycle`]). An iteration at
    /// `n = 10⁷` needs about six of them (80 MB each); from fresh memory each 4 KiB page is a
    /// page fault: `spnewton bench losses --n 3000000 --d 64` measured value + gradient +
    /// Hessian at 3.93 units from fresh buffers against 2.17 from recycled ones.
    pool: Arc<BufferPool>,
}

impl<'a> Objective<'a> {
    /// Validate the data: `b` (and a per-row `w`) of length `n`, everything finite.
    pub fn new(
        a: &'a CsrMatrix,
        b: &'a [f64],
        w: Regulariser,
        loss: LossKind,
        func: Activation,
    ) -> Result<Self, LossError> {
        let n = a.nrows();
        check_vec("b", b, n)?;
        let w2 = RowWeights::squares(&w, n)?;
        let b_sq_norm = reduce::sum(n, |i| b[i] * b[i]);
        // Softmax is always exp (SPEC §2); linear ignores u.
        let func = if loss == LossKind::Softmax { Activation::Exp } else { func };
        Ok(Self { a, b, w2, loss, func, b_sq_norm, pool: Arc::default() })
    }

    /// The objective of a problem directory.
    pub fn from_problem(p: &'a Problem) -> Result<Self, LossError> {
        Self::new(&p.a, &p.b, p.w.clone(), p.loss, p.func)
    }

    /// The same loss, targets and regulariser on another matrix of the same shape (`O(1)`: the
    /// targets are shared). With an all-zero `A` of the shape it gives the loss at `x = 0` in
    /// `O(n)` instead of a pass over `A` (as `newton::resolve`'s warm-start test uses it).
    pub fn with_matrix<'c>(&self, a: &'c CsrMatrix) -> Result<Objective<'c>, LossError>
    where
        'a: 'c,
    {
        let (n, d) = self.a.shape();
        if a.nrows() != n {
            return Err(LossError::DimensionMismatch { what: "A (rows)", expected: n, found: a.nrows() });
        }
        if a.ncols() != d {
            return Err(LossError::DimensionMismatch { what: "A (columns)", expected: d, found: a.ncols() });
        }
        Ok(Objective {
            a,
            b: self.b,
            w2: self.w2.clone(),
            loss: self.loss,
            func: self.func,
            b_sq_norm: self.b_sq_norm,
            pool: Arc::default(),
        })
    }

    /// The data matrix `A`.
    pub fn matrix(&self) -> &'a CsrMatrix {
        self.a
    }
    /// The loss.
    pub fn loss(&self) -> LossKind {
        self.loss
    }
    /// The entrywise function `u` in use (always `exp` for softmax).
    pub fn func(&self) -> Activation {
        self.func
    }
    /// `n`, `d`.
    pub fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }

    /// Evaluate at `x`: one pass over `A` computing `z = Ax` fused, block by block, with the
    /// vectorised `u(z)` ([`runtime::vmath`]) and the sums that need it; one `O(n)` pass for
    /// the residual sums; and (for the gradient) one `Aᵀ·Y` pass that computes `y_i` on the
    /// fly and, for the Hessian, also writes `D`, `D_GN` and `U` and accumulates `AᵀU` in the
    /// same pass. Deterministic for any thread count.
    pub fn evaluate(&self, x: &[f64], what: What) -> Result<Evaluation<'a>, LossError> {
        let (n, d) = self.a.shape();
        check_vec("x", x, d)?;
        let pool = &*self.pool;
        let separate_v = self.has_separate_derivative();
        let mut z = pool.take(n);
        let mut u = pool.take(if self.loss == LossKind::Linear { 0 } else { n });
        let mut v = pool.take(if separate_v { n } else { 0 });
        let result = self.evaluate_with(x, what, &mut z, &mut u, &mut v);
        pool.give(z);
        pool.give(u);
        pool.give(v);
        result
    }

    /// `L(x)` alone (one `A·x`): what a line search needs.
    pub fn value(&self, x: &[f64]) -> Result<f64, LossError> {
        self.evaluate(x, What::Value).map(|e| e.value)
    }

    /// Hand an evaluation's `n`-vectors back for reuse by later evaluations (of this objective
    /// or its clones). Optional: without it every evaluation allocates fresh memory, whose
    /// page faults cost about as much as a pass over `A` at `n ≥ 10⁶`.
    pub fn recycle(&self, e: Evaluation<'_>) {
        if let Some(h) = e.hessian {
            let (p, scratch) = h.into_buffers();
            for v in [p.d, p.d_gn, p.u, scratch] {
                self.pool.give(v);
            }
        }
    }

    /// [`Evaluation::value_floor`] from pass 1's `z`, the activation (or softmax) `u` and, for
    /// the rescaled loss, `α = Σu` (pass 1's first sum). One `O(n)` pass, only with the Hessian.
    fn value_floor(&self, z: &[f64], u: &[f64], alpha: f64) -> f64 {
        let b = self.b;
        let sq = |t: f64| t * t;
        let total = match self.loss {
            LossKind::Rescaled => {
                let alpha = alpha.abs();
                reduce::sum(u.len(), |i| sq(u[i].abs() + alpha * b[i].abs()))
            }
            LossKind::Hyperbolic | LossKind::Softmax => reduce::sum(u.len(), |i| sq(u[i].abs() + b[i].abs())),
            LossKind::Linear => reduce::sum(z.len(), |i| sq(z[i].abs() + b[i].abs())),
        };
        0.5 * sq(64.0 * f64::EPSILON) * total
    }

    /// Whether `u' ≠ u` (cosh, sinh) must be stored beside `u`.
    fn has_separate_derivative(&self) -> bool {
        matches!(self.loss, LossKind::Rescaled | LossKind::Hyperbolic) && self.func != Activation::Exp
    }

    fn evaluate_with(
        &self,
        x: &[f64],
        what: What,
        z: &mut [f64],
        u: &mut [f64],
        v: &mut [f64],
    ) -> Result<Evaluation<'a>, LossError> {
        let n = self.a.nrows();
        let (f, b, w2, loss) = (self.func, self.b, &self.w2, self.loss);
        // Pass 1, fused into A·x block by block: u = u(z) and u'(z) (rescaled, hyperbolic), and
        // the block sums s0 = Σu (rescaled) | Σ(u−b)² (hyperbolic) | Σ(z−b)² (linear),
        // s1 = Σw²z², the largest |z| and, for softmax, the block's log-sum-exp.
        let vw = usize::from(!v.is_empty());
        let blocks: Vec<Fold> = match loss {
            LossKind::Rescaled | LossKind::Hyperbolic => {
                self.a.mul_vec_then(x, z, [(&mut *u, 1), (&mut *v, vw)], |rows, zb, [ub, vb]| {
                    activation_into(f, zb, ub, vb);
                    let i0 = rows.start;
                    let mut acc = Fold::of_block(i0, zb, w2);
                    // Compensated (sum_range): the residual u − ⟨u,1⟩b cancels to the noise
                    // level near x*, so Σu needs every bit (plain sums stalled a test at 1e-10).
                    let s0 = if loss == LossKind::Rescaled {
                        sum_range(0..ub.len(), |k| ub[k])
                    } else {
                        sum_range(0..ub.len(), |k| (ub[k] - b[i0 + k]) * (ub[k] - b[i0 + k]))
                    };
                    acc.s[0].add(s0);
                    acc
                })
            }
            LossKind::Softmax => self.a.mul_vec_then(x, z, [], |rows, zb, []| {
                let mut acc = Fold::of_block(rows.start, zb, w2);
                acc.block_logsumexp(zb);
                acc
            }),
            LossKind::Linear => self.a.mul_vec_then(x, z, [], |rows, zb, []| {
                let i0 = rows.start;
                let mut acc = Fold::of_block(i0, zb, w2);
                acc.s[0].add(sum_range(0..zb.len(), |k| (zb[k] - b[i0 + k]) * (zb[k] - b[i0 + k])));
                acc
            }),
        };
        let p1 = blocks.into_iter().reduce(Fold::combine).unwrap_or_default();
        let (max_abs_z, row) = (p1.max_abs, p1.max_row);
        let overflow = |detail| LossError::Overflow { max_abs_z, row, detail };
        if !max_abs_z.is_finite() {
            return Err(overflow("A·x is not finite"));
        }
        if matches!(loss, LossKind::Rescaled | LossKind::Hyperbolic) && max_abs_z > LN_MAX {
            return Err(overflow("u(Ax) overflows"));
        }
        let reg = p1.s[1].value();
        let (z, u) = (&*z, &mut *u);
        // u' = u for exp; u'' = u for exp, cosh and sinh.
        let vv: &[f64] = if vw == 1 { v } else { u };
        // Pass 2 (O(n)): the sums that need pass 1's totals. Then each loss gives, per row, the
        // gradient integrand y_i and U's row (as [y, U_i, 0…]), D_i and D_GN_i.
        let result = match loss {
            LossKind::Rescaled => {
                // SPEC §1: c = u − αb, β = ⟨b,c⟩, y = (c − β)∘v, D = v∘v + u∘(c − β),
                // U = [v, v∘b], C = [[‖b‖², −1], [−1, 0]].
                let alpha = p1.s[0].value();
                let [beta, cc] = chunked_sums(n, |q| {
                    let c = |i: usize| u[i] - alpha * b[i];
                    [sum_range(q.clone(), |i| b[i] * c(i)), sum_range(q, |i| c(i) * c(i))]
                });
                let cm = vec![self.b_sq_norm, -1.0, -1.0, 0.0];
                let u = &*u;
                self.finish(what, 0.5 * cc + 0.5 * reg, 2, (cm.clone(), cm), &overflow, |i, yu| {
                    let vi = vv[i];
                    let t = rows::rescaled(u[i], vi, b[i], z[i], w2.at(i), alpha, beta);
                    *yu = [t.y, vi, vi * b[i], 0.0];
                    (t.d, t.d_gn)
                })
            }
            LossKind::Hyperbolic => {
                // r = u − b, y = v∘r, D = v∘v + u∘r.
                let u = &*u;
                self.finish(what, 0.5 * p1.s[0].value() + 0.5 * reg, 0, (Vec::new(), Vec::new()), &overflow, |i, yu| {
                    let t = rows::hyperbolic(u[i], vv[i], b[i], z[i], w2.at(i));
                    yu[0] = t.y;
                    (t.d, t.d_gn)
                })
            }
            LossKind::Softmax => {
                // s = exp(z − m)/S, r = s − b, γ = ⟨s,r⟩, q = s∘(r − γ) = y, D = s∘s + q,
                // U = [s, s∘s, q], C = [[‖s‖², −1, −1], [−1, 0, 0], [−1, 0, 0]];
                // Gauss–Newton keeps JᵀJ: D_GN = s∘s, C_GN = [[‖s‖², −1, 0], [−1, 0, 0], [0, 0, 0]].
                let [gamma, rr, ss] = softmax_fill(z, u, b, p1.m, p1.lse.value());
                let c = vec![ss, -1.0, -1.0, -1.0, 0.0, 0.0, -1.0, 0.0, 0.0];
                let c_gn = vec![ss, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                let s = &*u;
                self.finish(what, 0.5 * rr + 0.5 * reg, 3, (c, c_gn), &overflow, |i, yu| {
                    let (si, w) = (s[i], w2.at(i));
                    let q = si * (si - b[i] - gamma);
                    *yu = [q + w * z[i], si, si * si, q];
                    (si * si + q + w, si * si + w)
                })
            }
            LossKind::Linear => {
                self.finish(what, 0.5 * p1.s[0].value() + 0.5 * reg, 0, (Vec::new(), Vec::new()), &overflow, |i, yu| {
                    let t = rows::linear(z[i], b[i], w2.at(i));
                    yu[0] = t.y;
                    (t.d, t.d_gn)
                })
            }
        };
        let (value, gradient, hessian) = result?;
        let value_floor = if what == What::Hessian { self.value_floor(z, u, p1.s[0].value()) } else { 0.0 };
        Ok(Evaluation { value, gradient, hessian, max_abs_z, max_abs_z_row: row, value_floor })
    }

    /// The gradient pass (and the Hessian's parts) from a per-row function that writes
    /// `[y_i, U_i…, 0…]` (`k` columns of `U`) into its buffer and returns `(D_i, D_GN_i)`.
    /// (Written in place: a returned array is built on the stack and read back with a wider
    /// load than its stores, which stalls store forwarding.)
    #[allow(clippy::type_complexity)]
    fn finish(
        &self,
        what: What,
        value: f64,
        k: usize,
        (c, c_gn): (Vec<f64>, Vec<f64>),
        overflow: &dyn Fn(&'static str) -> LossError,
        row: impl Fn(usize, &mut [f64; 4]) -> (f64, f64) + Sync,
    ) -> Result<(f64, Option<Vec<f64>>, Option<StructuredHessian<'a>>), LossError> {
        if !value.is_finite() {
            return Err(overflow("the loss value overflows"));
        }
        let (n, d) = self.a.shape();
        if what == What::Value {
            return Ok((value, None, None));
        }
        let mut g = vec![0.0; d];
        if what == What::Gradient {
            // Same partition and per-column operations as the Hessian pass: g is bitwise the
            // same whatever `what` asks.
            self.a.tr_mul_then::<1, 0>(
                [],
                |rows, yb, []| {
                    let mut yu = [0.0; 4];
                    for (y, i) in yb.iter_mut().zip(rows) {
                        row(i, &mut yu);
                        *y = [yu[0]];
                    }
                    true
                },
                &mut g,
            );
            if !g.iter().all(|v| v.is_finite()) {
                return Err(overflow("the gradient overflows"));
            }
            return Ok((value, Some(g), None));
        }
        let pool = &*self.pool;
        let (mut dv, mut dgn, mut uu) = (pool.take(n), pool.take(n), pool.take(n * k));
        let outs = [(&mut dv[..], 1), (&mut dgn[..], 1), (&mut uu[..], k)];
        let (ok, atu) = if k > 0 {
            let mut out = vec![0.0; d * 4];
            let ok = self.a.tr_mul_then::<4, 3>(
                outs,
                |rows, yb, [db, gb, ub]| {
                    let mut ok = true;
                    for (j, i) in rows.enumerate() {
                        let (di, gi) = row(i, &mut yb[j]);
                        let yu = &yb[j];
                        db[j] = di;
                        gb[j] = gi;
                        // An explicit loop: copy_from_slice of a runtime length is a memmove call.
                        for l in 0..k {
                            ub[j * k + l] = yu[1 + l];
                        }
                        ok &= di.is_finite() & gi.is_finite() & yu.iter().all(|t| t.is_finite());
                    }
                    ok
                },
                &mut out,
            );
            g.iter_mut().enumerate().for_each(|(j, gj)| *gj = out[4 * j]);
            (ok, Some((0..d * k).map(|q| out[4 * (q / k) + 1 + q % k]).collect::<Vec<f64>>()))
        } else {
            let [o0, o1, _] = outs;
            let ok = self.a.tr_mul_then::<1, 2>(
                [o0, o1],
                |rows, yb, [db, gb]| {
                    let mut ok = true;
                    let mut yu = [0.0; 4];
                    for (j, i) in rows.enumerate() {
                        let (di, gi) = row(i, &mut yu);
                        yb[j] = [yu[0]];
                        db[j] = di;
                        gb[j] = gi;
                        ok &= di.is_finite() & gi.is_finite();
                    }
                    ok
                },
                &mut g,
            );
            (ok, None)
        };
        if !g.iter().all(|v| v.is_finite()) {
            return Err(overflow("the gradient overflows"));
        }
        if !ok || !c.iter().chain(&c_gn).all(|v| v.is_finite()) {
            return Err(overflow("the Hessian overflows"));
        }
        let parts = HessianParts { d: dv, d_gn: dgn, u: uu, k, c, c_gn };
        Ok((value, Some(g), Some(StructuredHessian::new(self.a, parts).with_atu(atu))))
    }
}

/// `u(z)` into `u` and, when `du` is not empty, `u'(z)` into `du` (exp: `u' = u`, not stored).
fn activation_into(f: Activation, z: &[f64], u: &mut [f64], du: &mut [f64]) {
    match f {
        Activation::Exp => vmath::exp_into(z, u),
        Activation::Cosh => vmath::cosh_sinh_into(z, u, du),
        Activation::Sinh => vmath::cosh_sinh_into(z, du, u),
    }
}

/// Softmax's second pass: `s = exp(z − m)/S` into `s`, and `[⟨s, s−b⟩, ‖s−b‖², ‖s‖²]`,
/// compensated (the first can cancel), over fixed chunks combined in order.
fn softmax_fill(z: &[f64], s: &mut [f64], b: &[f64], m: f64, total: f64) -> [f64; 3] {
    let partials: Vec<[f64; 3]> = s
        .par_chunks_mut(CHUNK)
        .zip(z.par_chunks(CHUNK))
        .enumerate()
        .map(|(c, (sc, zc))| {
            for (o, &t) in sc.iter_mut().zip(zc) {
                *o = t - m;
            }
            vmath::exp_in_place(sc);
            let mut acc = [Neumaier::default(); 3];
            for (k, o) in sc.iter_mut().enumerate() {
                *o /= total;
                let res = *o - b[c * CHUNK + k];
                for (a, t) in acc.iter_mut().zip([*o * res, res * res, *o * *o]) {
                    a.add(t);
                }
            }
            acc.map(|a| a.value())
        })
        .collect();
    reduce::combine(&partials)
}

/// Block accumulator of pass 1: two compensated sums, the largest `|z|` (first row on ties,
/// NaN counting as `+∞`) and a log-sum-exp `(m, Σ e^{z−m})`.
#[derive(Debug, Clone, Copy)]
struct Fold {
    s: [Neumaier; 2],
    max_abs: f64,
    max_row: usize,
    m: f64,
    lse: Neumaier,
}

impl Default for Fold {
    fn default() -> Self {
        Self { s: [Neumaier::default(); 2], max_abs: 0.0, max_row: 0, m: f64::NEG_INFINITY, lse: Neumaier::default() }
    }
}

impl Fold {
    /// A block starting at row `i0`: its largest `|z|` and `Σ w²z²`.
    fn of_block(i0: usize, zb: &[f64], w2: &RowWeights) -> Self {
        let mut acc = Self::default();
        let (mut m, mut nan) = (0.0f64, false);
        for &t in zb {
            m = m.max(t.abs());
            nan |= t.is_nan();
        }
        if nan {
            m = f64::INFINITY;
        }
        if m > 0.0 {
            let k = zb.iter().position(|t| t.is_nan() || t.abs() == m).expect("attained");
            (acc.max_abs, acc.max_row) = (m, i0 + k);
        }
        let reg = match w2 {
            RowWeights::Zero => 0.0,
            RowWeights::Const(c) => c * sum_range(0..zb.len(), |k| zb[k] * zb[k]),
            RowWeights::PerRow(w) => sum_range(0..zb.len(), |k| w[i0 + k] * zb[k] * zb[k]),
        };
        acc.s[1].add(reg);
        acc
    }

    /// The block's `(m, Σ e^{z−m})` with `m` its largest `z` (vectorised `exp`).
    fn block_logsumexp(&mut self, zb: &[f64]) {
        let m = zb.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return;
        }
        let (mut buf, mut exps) = ([0.0f64; 256], [0.0f64; 256]);
        let mut total = 0.0;
        for c in zb.chunks(256) {
            let t = &mut buf[..c.len()];
            for (o, &v) in t.iter_mut().zip(c) {
                *o = v - m;
            }
            let e = &mut exps[..c.len()];
            vmath::exp_into(t, e);
            total += sum_range(0..e.len(), |k| e[k]);
        }
        self.m = m;
        self.lse = Neumaier::default().with(total);
    }

    fn combine(mut self, o: Fold) -> Fold {
        for (a, b) in self.s.iter_mut().zip(&o.s) {
            a.add(b.value());
        }
        if o.max_abs > self.max_abs {
            self.max_abs = o.max_abs;
            self.max_row = o.max_row;
        }
        if o.m > self.m {
            let v = self.lse.value() * (self.m - o.m).exp();
            self.lse = o.lse;
            self.lse.add(v);
            self.m = o.m;
        } else if o.m > f64::NEG_INFINITY {
            self.lse.add(o.lse.value() * (o.m - self.m).exp());
        }
        self
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[test]
    fn an_overflow_message_names_its_real_cause() {
        let a = CsrMatrix::from_dense(2, 1, &[1.0, 1.0]).unwrap();
        // x = 0, so (Ax)_i = 0: the loss overflows because b is huge, not because of exp.
        let b = [1e300, -1e300];
        let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
        let msg = f.value(&[0.0]).unwrap_err().to_string();
        assert!(msg.contains("rescale the data") && !msg.contains("exp overflows"), "{msg}");
        // Past exp's range the message says so.
        let b = [0.5, 0.5];
        let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
        let msg = f.value(&[800.0]).unwrap_err().to_string();
        assert!(msg.contains("exp overflows above 709.78") && msg.contains("8.000000e2"), "{msg}");
    }

    #[test]
    fn the_rounding_floor_is_tiny_against_the_terms_and_zero_without_a_hessian() {
        let a = CsrMatrix::from_dense(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let b = [0.2, 0.3, 0.5];
        let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Exp).unwrap();
        let x = [0.1, -0.2];
        assert_eq!(f.evaluate(&x, What::Gradient).unwrap().value_floor, 0.0);
        let e = f.evaluate(&x, What::Hessian).unwrap();
        // ½(64ε)²Σ(|u_i| + α|b_i|)², computed directly.
        let z = [0.1f64, -0.2, -0.1];
        let u: Vec<f64> = z.iter().map(|t| t.exp()).collect();
        let alpha: f64 = u.iter().sum();
        let total: f64 = u.iter().zip(&b).map(|(ui, bi)| (ui + alpha * bi).powi(2)).sum();
        let want = 0.5 * (64.0 * f64::EPSILON).powi(2) * total;
        assert!((e.value_floor - want).abs() <= 1e-12 * want, "{} vs {want}", e.value_floor);
    }
}
