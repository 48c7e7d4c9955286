//! The distributed loss as an engine [`Problem`]: every sum over rows is a per-chunk partial
//! (the scalars summed compensated within the chunk), and the partials are combined by the
//! fixed tree over chunk indices on every rank ([`Net`]).
//!
//! Per evaluation (value, gradient and the Hessian's diagonal and low-rank factor), with
//! `k ≤ 2` the low-rank width: two scalar reductions (`4` then `3` values per chunk) and one
//! reduction of `d(1 + k)` values per chunk. Per Hessian-vector product: one of `d` per chunk.
//! Compute: one pass over the rank's rows for `Ax`, one for `Aᵀy`.

use std::ops::Range;

use losses::rows::{self, RowWeights};
use losses::{Activation, LN_MAX, LossKind, Regulariser};
use newton::engine::{Evaluated, Need, Problem};
use runtime::reduce::Neumaier;

use crate::chunks::Chunking;
use crate::comm::{Comm, Fold, Net};
use crate::error::DistError;
use crate::read::LocalRows;

/// A rank's share of a regression problem (SPEC §1–2) and the communicator.
pub struct DistProblem<'n, C: Comm> {
    net: &'n Net<C>,
    rows: LocalRows,
    chunking: Chunking,
    chunks: Range<usize>,
    loss: LossKind,
    func: Activation,
    w2: RowWeights,
    b_sq_norm: f64,
    n: usize,
}

/// An evaluated point: the loss and gradient (identical on every rank) and, with the Hessian,
/// this rank's rows of `D`, `D_GN` and `U` and the replicated `AᵀU` (`d×k`) and `C` (`k×k`).
#[derive(Debug, Clone)]
pub struct DistEval {
    /// The loss `L(x)` over all `n` rows (the same bits on every rank).
    pub value: f64,
    /// `∇L(x)`, `d` entries (the same bits on every rank).
    pub gradient: Vec<f64>,
    /// The rounding floor of `value`: `½(64ε)²·Σ_i(|u_i| + |b_i|)²` (`|α b_i|` for the rescaled
    /// loss, `z_i` in place of `u_i` for the linear one); a loss decrease below it is not
    /// resolved.
    pub value_floor: f64,
    /// The Hessian's diagonal `D_i` (may be negative) on this rank's rows, `n_p` entries by
    /// local row; empty unless the Hessian was asked for.
    pub dd: Vec<f64>,
    /// The Gauss–Newton diagonal `D_GN,i = v_i² + w_i² ≥ 0` (`v_i = 1` for the linear loss) on
    /// this rank's rows, `n_p` entries; empty unless the Hessian was asked for.
    pub dgn: Vec<f64>,
    /// This rank's rows of `U` (`n_p×k`, row-major: `u[i·k + l]`); empty without the Hessian
    /// or when `k = 0`.
    pub u: Vec<f64>,
    /// The low-rank width: 2 for the rescaled loss with the Hessian, else 0.
    pub k: usize,
    /// `AᵀU` over all rows, `d×k` row-major (`atu[j·k + l]`), the same on every rank.
    pub atu: Vec<f64>,
    /// `C` (`k×k` row-major: `[‖b‖², −1; −1, 0]` for the rescaled loss, else empty), the same
    /// on every rank.
    pub c: Vec<f64>,
}

impl Evaluated for DistEval {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        &self.gradient
    }
    fn value_floor(&self) -> Option<f64> {
        Some(self.value_floor)
    }
}

impl<'n, C: Comm> DistProblem<'n, C> {
    /// `rows` must be exactly this rank's rows under `chunking` (see [`Chunking::owned_rows`]).
    /// `w_const` is the constant regulariser weight when `rows.w` is `None`. Collective.
    pub fn new(
        net: &'n Net<C>,
        rows: LocalRows,
        n: usize,
        chunking: Chunking,
        loss: LossKind,
        func: Activation,
        w_const: Option<f64>,
    ) -> Result<Self, DistError> {
        let chunks = chunking.owned(net.rank(), net.size());
        let want = chunking.owned_rows(net.rank(), net.size());
        let local: Result<(), String> = if rows.rows != want {
            Err(format!("rank holds rows {:?}, its chunks are rows {:?}", rows.rows, want))
        } else if matches!(loss, LossKind::Softmax) {
            Err(DistError::Unsupported { loss: loss.to_string() }.to_string())
        } else {
            Ok(())
        };
        net.agree(local).map_err(DistError::Remote)?;
        let w = match (&rows.w, w_const) {
            (Some(w), _) => Regulariser::PerRow(w.clone()),
            (None, Some(c)) => Regulariser::Const(c),
            (None, None) => Regulariser::None,
        };
        let w2 =
            net.agree(RowWeights::squares(&w, rows.b.len()).map_err(|e| e.to_string())).map_err(DistError::Remote)?;
        let mut p = Self { net, rows, chunking, chunks, loss, func, w2, b_sq_norm: 0.0, n };
        p.b_sq_norm = p.sum_chunks(1, |r, out| out[0] = p.sum_rows(r, |i| p.rows.b[i] * p.rows.b[i]))[0];
        Ok(p)
    }

    /// `d`, the dimension of `x`.
    pub fn dim(&self) -> usize {
        self.rows.d
    }
    /// `n`, the rows of `A` over all ranks.
    pub fn n(&self) -> usize {
        self.n
    }
    /// The communicator every reduction goes through.
    pub fn net(&self) -> &'n Net<C> {
        self.net
    }
    /// This rank's rows of `A`, `b` and `w`.
    pub fn rows(&self) -> &LocalRows {
        &self.rows
    }
    /// The row partition (the same on every rank).
    pub fn chunking(&self) -> Chunking {
        self.chunking
    }

    /// Chunk `c` (one of this rank's) as a range of local rows.
    pub fn local_rows(&self, c: usize) -> Range<usize> {
        debug_assert!(self.chunks.contains(&c), "chunk {c} is not this rank's");
        let (off, r) = (self.rows.rows.start, self.chunking.rows(c));
        r.start - off..r.end - off
    }

    /// `Σ` over every chunk of `partial(its local rows, buf)` (`len` values, `buf` zeroed), by
    /// the fixed tree of [`crate::comm`], on every rank. Collective.
    pub fn sum_chunks(&self, len: usize, mut partial: impl FnMut(Range<usize>, &mut [f64])) -> Vec<f64> {
        self.net.sum_chunks(self.chunking.chunks, len, |c, buf| partial(self.local_rows(c), buf))
    }

    /// As [`DistProblem::sum_chunks`], value `q` combined by `fold(q)`. Collective.
    pub fn fold_chunks(
        &self,
        len: usize,
        fold: impl Fn(usize) -> Fold,
        mut partial: impl FnMut(Range<usize>, &mut [f64]),
    ) -> Vec<f64> {
        self.net.fold_chunks(self.chunking.chunks, len, fold, |c, buf| partial(self.local_rows(c), buf))
    }

    /// As [`DistProblem::sum_chunks`], the total on rank 0 only (`None` elsewhere). Collective.
    pub fn reduce_to_root(&self, len: usize, mut partial: impl FnMut(Range<usize>, &mut [f64])) -> Option<Vec<f64>> {
        self.net.reduce_to_root(self.chunking.chunks, len, |c, buf| partial(self.local_rows(c), buf))
    }

    fn sum_rows(&self, r: Range<usize>, f: impl Fn(usize) -> f64) -> f64 {
        let mut acc = Neumaier::default();
        for i in r {
            acc.add(f(i));
        }
        acc.value()
    }

    /// Local row `i`: `(column indices, values)`.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (s, e) = (self.rows.indptr[i], self.rows.indptr[i + 1]);
        (&self.rows.indices[s..e], &self.rows.data[s..e])
    }

    /// The global row index of local row `i`.
    pub fn global_row(&self, i: usize) -> usize {
        self.rows.rows.start + i
    }

    fn ax(&self, x: &[f64]) -> Vec<f64> {
        (0..self.rows.b.len())
            .map(|i| {
                let (idx, val) = self.row(i);
                sparse_ops::dot_row(idx, val, x)
            })
            .collect()
    }

    /// `part += Σ_{i∈rows} y_i a_i`, `width` vectors at once (`y(i, l)`; `d·width` values,
    /// column `j` of vector `l` at `j·width + l`).
    pub fn tr_mul_into(&self, rows: Range<usize>, width: usize, y: impl Fn(usize, usize) -> f64, part: &mut [f64]) {
        for i in rows {
            let (idx, val) = self.row(i);
            for l in 0..width {
                let yi = y(i, l);
                if yi == 0.0 {
                    continue;
                }
                for (&j, &v) in idx.iter().zip(val) {
                    part[j as usize * width + l] += yi * v;
                }
            }
        }
    }

    /// `part += Σ_i s_i a_i a_iᵀ` over the local `rows` that `keep` selects (`None`: all), and
    /// `part[d²] +=` the count of those rows with `s_i ≠ 0` (`d² + 1` values).
    pub fn gram_into(&self, rows: Range<usize>, s: impl Fn(usize) -> f64, keep: Option<&[bool]>, part: &mut [f64]) {
        let d = self.rows.d;
        for i in rows {
            if keep.is_some_and(|k| !k[i]) {
                continue;
            }
            let si = s(i);
            if si == 0.0 {
                continue;
            }
            part[d * d] += 1.0;
            let (idx, val) = self.row(i);
            for (&j, &vj) in idx.iter().zip(val) {
                let t = si * vj;
                let rowj = &mut part[j as usize * d..j as usize * d + d];
                for (&l, &vl) in idx.iter().zip(val) {
                    rowj[l as usize] += t * vl;
                }
            }
        }
    }

    /// `H v = Aᵀ(D∘(Av)) + (AᵀU)C(AᵀU)ᵀv`. Collective: one reduction of `d` per chunk.
    pub fn hessian_apply(&self, e: &DistEval, v: &[f64]) -> Vec<f64> {
        let av = self.ax(v);
        let mut out = self.sum_chunks(self.rows.d, |r, part| self.tr_mul_into(r, 1, |i, _| e.dd[i] * av[i], part));
        add_low_rank_apply(&e.atu, e.k, &e.c, v, &mut out);
        out
    }

    fn eval(&self, x: &[f64], what: Need, value_only: bool) -> Result<DistEval, DistError> {
        let d = self.rows.d;
        if x.len() != d {
            return Err(DistError::Invalid(format!("x has {} entries, the problem has d = {d}", x.len())));
        }
        let (loss, f, b, w2) = (self.loss, self.func, &self.rows.b, &self.w2);
        let z = self.ax(x);
        // u(z) and u'(z) by the single-machine objective's vectorised kernels
        // (`runtime::vmath`, as `losses::Objective` computes them), not `std`'s.
        let uv: Vec<(f64, f64)> = if loss == LossKind::Linear { Vec::new() } else { activation(f, &z) };
        // Stage 1, per chunk: s0, Σw²z², max|z| (NaN as +∞), and the floor's Σ(|u| + |b|)².
        let tot = self.fold_chunks(
            4,
            |j| if j == 2 { Fold::Max } else { Fold::Sum },
            |r, out| {
                let s0 = match loss {
                    LossKind::Rescaled => self.sum_rows(r.clone(), |i| uv[i].0),
                    LossKind::Hyperbolic => self.sum_rows(r.clone(), |i| (uv[i].0 - b[i]).powi(2)),
                    _ => self.sum_rows(r.clone(), |i| (z[i] - b[i]).powi(2)),
                };
                let reg = self.sum_rows(r.clone(), |i| w2.at(i) * z[i] * z[i]);
                let m =
                    z[r.clone()].iter().fold(0.0f64, |m, t| if t.is_nan() { f64::INFINITY } else { m.max(t.abs()) });
                let fl = match loss {
                    LossKind::Hyperbolic => self.sum_rows(r, |i| (uv[i].0.abs() + b[i].abs()).powi(2)),
                    LossKind::Linear => self.sum_rows(r, |i| (z[i].abs() + b[i].abs()).powi(2)),
                    _ => 0.0,
                };
                out.copy_from_slice(&[s0, reg, m, fl]);
            },
        );
        let (s0, reg, max_abs_z, mut fl) = (tot[0], tot[1], tot[2], tot[3]);
        let overflow = |detail| DistError::Overflow { max_abs_z, detail };
        if !max_abs_z.is_finite() {
            return Err(overflow("A·x is not finite"));
        }
        if loss != LossKind::Linear && max_abs_z > LN_MAX {
            return Err(overflow("u(Ax) overflows"));
        }
        let (mut alpha, mut beta) = (0.0, 0.0);
        let value = match loss {
            LossKind::Rescaled => {
                alpha = s0;
                let s = self.sum_chunks(3, |r, out| {
                    let c = |i: usize| uv[i].0 - alpha * b[i];
                    out.copy_from_slice(&[
                        self.sum_rows(r.clone(), |i| b[i] * c(i)),
                        self.sum_rows(r.clone(), |i| c(i) * c(i)),
                        self.sum_rows(r, |i| (uv[i].0.abs() + alpha.abs() * b[i].abs()).powi(2)),
                    ]);
                });
                beta = s[0];
                fl = s[2];
                0.5 * s[1] + 0.5 * reg
            }
            _ => 0.5 * s0 + 0.5 * reg,
        };
        if !value.is_finite() {
            return Err(overflow("the loss value overflows"));
        }
        let value_floor = 0.5 * (64.0 * f64::EPSILON).powi(2) * fl;
        let mut e = DistEval {
            value,
            gradient: Vec::new(),
            value_floor,
            dd: Vec::new(),
            dgn: Vec::new(),
            u: Vec::new(),
            k: 0,
            atu: Vec::new(),
            c: Vec::new(),
        };
        if value_only {
            return Ok(e);
        }
        // Per row: y_i, D_i, D_GN_i and U's row (SPEC §1–2, as in `losses`).
        let nl = b.len();
        let k = if loss == LossKind::Rescaled { 2 } else { 0 };
        let mut y = vec![0.0; nl];
        let curv = what == Need::Curvature;
        if curv {
            e.dd = vec![0.0; nl];
            e.dgn = vec![0.0; nl];
            e.u = vec![0.0; nl * k];
        }
        for i in 0..nl {
            let w = w2.at(i);
            let t = match loss {
                LossKind::Rescaled => {
                    let (ui, vi) = uv[i];
                    if curv {
                        e.u[2 * i] = vi;
                        e.u[2 * i + 1] = vi * b[i];
                    }
                    rows::rescaled(ui, vi, b[i], z[i], w, alpha, beta)
                }
                LossKind::Hyperbolic => rows::hyperbolic(uv[i].0, uv[i].1, b[i], z[i], w),
                _ => rows::linear(z[i], b[i], w),
            };
            let (yi, di, gi) = (t.y, t.d, t.d_gn);
            y[i] = yi;
            if curv {
                e.dd[i] = di;
                e.dgn[i] = gi;
            }
        }
        let width = if curv { 1 + k } else { 1 };
        let u = &e.u;
        let tot = self.sum_chunks(d * width, |r, part| {
            self.tr_mul_into(r, width, |i, l| if l == 0 { y[i] } else { u[i * k + l - 1] }, part)
        });
        e.gradient = (0..d).map(|j| tot[j * width]).collect();
        if !e.gradient.iter().all(|v| v.is_finite()) {
            return Err(overflow("the gradient overflows"));
        }
        if curv {
            e.k = k;
            e.atu = (0..d * k).map(|q| tot[(q / k) * width + 1 + q % k]).collect();
            if k == 2 {
                e.c = vec![self.b_sq_norm, -1.0, -1.0, 0.0];
            }
            // D and D_GN per chunk; AᵀU is replicated, so every rank sees the same.
            let bad = self.sum_chunks(1, |r, out| {
                out[0] = f64::from(u8::from(r.clone().any(|i| !(e.dd[i].is_finite() && e.dgn[i].is_finite()))))
            });
            if bad[0] > 0.0 || !e.atu.iter().all(|v| v.is_finite()) {
                return Err(overflow("the Hessian overflows"));
            }
        }
        Ok(e)
    }

    /// Bytes this rank has stored at most so far, for `mode`: its block of `A`, `b`, `w`, the
    /// `n_p`-vectors of an evaluation (`z`, `u`, `u'`, `y`, `D`, `D_GN`, `U`, `Av`, the leverage
    /// scores and probabilities: at most 12 per row), the reduction buffers as counted by
    /// [`crate::Net`] (`CommStats::peak_values`: at most `⌈log₂C⌉ + 1` partials of the largest
    /// reduction, never one per chunk) and the replicated dense state: the `d×d` matrix, its
    /// factor and copy, `O(d)` vectors and, for the leverage modes, the `m×d` sketch total on
    /// rank 0. This is the rank's share of `A` plus `O(d² + m·d)` (times `log C` for the tree).
    pub fn stored_bytes(&self, mode: crate::Mode) -> usize {
        let d = self.rows.d;
        let sketch = match mode {
            crate::Mode::Leverage | crate::Mode::LeveragePcg => 4 * d * d + 1,
            crate::Mode::Exact | crate::Mode::NewtonCg => 0,
        };
        let dense = 8 * self.net.stats().peak_values as usize + 8 * (3 * d * d + 20 * d + sketch);
        self.rows.matrix_bytes() + self.rows.vector_bytes() + 8 * 12 * self.rows.b.len() + dense
    }
}

/// `(u(z_i), u'(z_i))` per row, by `runtime::vmath` (the kernels of `losses::Objective`).
fn activation(f: Activation, z: &[f64]) -> Vec<(f64, f64)> {
    let (mut u, mut du) = (vec![0.0; z.len()], vec![0.0; z.len()]);
    match f {
        Activation::Exp => {
            runtime::vmath::exp_into(z, &mut u);
            du.copy_from_slice(&u);
        }
        Activation::Cosh => runtime::vmath::cosh_sinh_into(z, &mut u, &mut du),
        Activation::Sinh => runtime::vmath::cosh_sinh_into(z, &mut du, &mut u),
    }
    u.into_iter().zip(du).collect()
}

/// `out += (AᵀU) C (AᵀU)ᵀ v`.
pub fn add_low_rank_apply(atu: &[f64], k: usize, c: &[f64], v: &[f64], out: &mut [f64]) {
    if k == 0 {
        return;
    }
    let d = v.len();
    let mut t = vec![0.0; k];
    for j in 0..d {
        for l in 0..k {
            t[l] += atu[j * k + l] * v[j];
        }
    }
    let ct: Vec<f64> = (0..k).map(|p| (0..k).map(|q| c[p * k + q] * t[q]).sum()).collect();
    for j in 0..d {
        for l in 0..k {
            out[j] += atu[j * k + l] * ct[l];
        }
    }
}

/// `m += (AᵀU) C (AᵀU)ᵀ` (`m` is `d×d` row-major).
pub fn add_low_rank(atu: &[f64], k: usize, c: &[f64], m: &mut [f64], d: usize) {
    if k == 0 {
        return;
    }
    for j in 0..d {
        for l in 0..d {
            let mut s = 0.0;
            for p in 0..k {
                for q in 0..k {
                    s += atu[j * k + p] * c[p * k + q] * atu[l * k + q];
                }
            }
            m[j * d + l] += s;
        }
    }
}

impl<C: Comm> Problem for DistProblem<'_, C> {
    type Eval = DistEval;
    type Error = DistError;
    fn dim(&self) -> usize {
        self.rows.d
    }
    fn evaluate(&self, x: &[f64], need: Need) -> Result<DistEval, DistError> {
        self.eval(x, need, false)
    }
    fn value(&self, x: &[f64]) -> Result<f64, DistError> {
        self.eval(x, Need::Gradient, true).map(|e| e.value)
    }
}
