//! One evaluation pass: `z = Ax` once, then the value, the gradient `Aᵀy` and, on request, the
//! structured Hessian, all from `z`.

use rayon::prelude::*;
use sparse_ops::CsrMatrix;
use sparse_ops::reduce::{self, CHUNK, Neumaier, chunked_sums, sum_range};

use crate::error::LossError;
use crate::hessian::{HessianParts, StructuredHessian};
use crate::kind::{Activation, LossKind, Regulariser};
use crate::problem::Problem;

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
    pub value: f64,
    /// `∇L(x)` (with [`What::Gradient`] or more).
    pub gradient: Option<Vec<f64>>,
    /// `∇²L(x)` as `Aᵀ(D + UCUᵀ)A` (with [`What::Hessian`]).
    pub hessian: Option<StructuredHessian<'a>>,
    /// `max_i |(Ax)_i|` and the first row attaining it.
    pub max_abs_z: f64,
    pub max_abs_z_row: usize,
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
    w2: W2,
    loss: LossKind,
    func: Activation,
    b_sq_norm: f64,
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
        let w2 = match w {
            Regulariser::None => W2::Zero,
            Regulariser::Const(c) => {
                check_vec("w", &[c], 1)?;
                if !(c * c).is_finite() {
                    return Err(LossError::Overflow { max_abs_z: 0.0, row: 0, detail: "w² overflows" });
                }
                W2::Const(c * c)
            }
            Regulariser::PerRow(w) => {
                check_vec("w", &w, n)?;
                if let Some(i) = w.iter().position(|v| !(v * v).is_finite()) {
                    return Err(LossError::Overflow { max_abs_z: 0.0, row: i, detail: "w_i² overflows" });
                }
                W2::PerRow(w.iter().map(|v| v * v).collect())
            }
        };
        let b_sq_norm = reduce::sum(n, |i| b[i] * b[i]);
        // Softmax is always exp (SPEC §2); linear ignores u.
        let func = if loss == LossKind::Softmax { Activation::Exp } else { func };
        Ok(Self { a, b, w2, loss, func, b_sq_norm })
    }

    /// The objective of a problem directory.
    pub fn from_problem(p: &'a Problem) -> Result<Self, LossError> {
        Self::new(&p.a, &p.b, p.w.clone(), p.loss, p.func)
    }

    pub fn matrix(&self) -> &'a CsrMatrix {
        self.a
    }
    pub fn loss(&self) -> LossKind {
        self.loss
    }
    pub fn func(&self) -> Activation {
        self.func
    }
    /// `n`, `d`.
    pub fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }

    /// Evaluate at `x`: one pass over `A` computing `z = Ax` fused with `u(z)`, `u'(z)` and
    /// the sums that need them, one `O(n)` pass for the residual sums, and (for the gradient)
    /// one `Aᵀ·y` pass computing `y_i` on the fly. Deterministic for any thread count.
    pub fn evaluate(&self, x: &[f64], what: What) -> Result<Evaluation<'a>, LossError> {
        let (n, d) = self.a.shape();
        check_vec("x", x, d)?;
        let (f, b, w2) = (self.func, self.b, &self.w2);
        let width = match self.loss {
            LossKind::Rescaled | LossKind::Hyperbolic => 3,
            LossKind::Softmax => 2,
            LossKind::Linear => 1,
        };
        let mut rec = vec![0.0; n * width];
        let loss = self.loss;
        // Pass 1, fused into A·x: record [z, u, u'] (softmax: [z, ·]; linear: [z]) and fold
        // s0 = Σu (rescaled) | Σ(u−b)² (hyperbolic) | Σ(z−b)² (linear), s1 = Σw²z², the largest
        // |z| and, for softmax, the running log-sum-exp.
        let p1 = self.a.mul_vec_fold(
            x,
            width,
            &mut rec,
            Fold::default,
            |acc, i, z, r| {
                r[0] = z;
                acc.see(i, z);
                acc.s[1].add(w2.at(i) * z * z);
                match loss {
                    LossKind::Rescaled | LossKind::Hyperbolic => {
                        let (u, v) = (f.u(z), f.du(z));
                        r[1] = u;
                        r[2] = v;
                        acc.s[0].add(if loss == LossKind::Rescaled { u } else { (u - b[i]) * (u - b[i]) });
                    }
                    LossKind::Softmax => acc.logsumexp(z),
                    LossKind::Linear => acc.s[0].add((z - b[i]) * (z - b[i])),
                }
            },
            Fold::combine,
        );
        let (max_abs_z, row) = (p1.max_abs, p1.max_row);
        let overflow = |detail| LossError::Overflow { max_abs_z, row, detail };
        if !max_abs_z.is_finite() {
            return Err(overflow("A·x is not finite"));
        }
        if width == 3 && max_abs_z > LN_MAX {
            return Err(overflow("u(Ax) overflows"));
        }
        let reg = p1.s[1].value();
        let (data_value, y): (f64, Option<RowFn<'_>>);
        let mut hess = None;
        let want_g = what >= What::Gradient;
        let want_h = what >= What::Hessian;
        let r = &rec;
        match self.loss {
            LossKind::Rescaled => {
                // SPEC §1: c = u − αb, β = ⟨b,c⟩, y = (c − β)∘v, D = v∘v + u∘(c − β),
                // U = [v, v∘b], C = [[‖b‖², −1], [−1, 0]].
                let alpha = p1.s[0].value();
                let [beta, cc] = chunked_sums(n, |q| {
                    let c = |i: usize| r[3 * i + 1] - alpha * b[i];
                    [sum_range(q.clone(), |i| b[i] * c(i)), sum_range(q, |i| c(i) * c(i))]
                });
                data_value = 0.5 * cc;
                y = want_g.then(|| -> RowFn<'_> {
                    Box::new(move |i| (r[3 * i + 1] - alpha * b[i] - beta) * r[3 * i + 2] + w2.at(i) * r[3 * i])
                });
                if want_h {
                    let cmat = vec![self.b_sq_norm, -1.0, -1.0, 0.0];
                    hess =
                        Some(HessianParts {
                            // u'' = u for exp, cosh and sinh.
                            d: par_map(n, |i| {
                                let (u, v) = (r[3 * i + 1], r[3 * i + 2]);
                                v * v + u * (u - alpha * b[i] - beta) + w2.at(i)
                            }),
                            d_gn: par_map(n, |i| r[3 * i + 2] * r[3 * i + 2] + w2.at(i)),
                            u: par_map(2 * n, |q| {
                                if q % 2 == 0 { r[3 * (q / 2) + 2] } else { r[3 * (q / 2) + 2] * b[q / 2] }
                            }),
                            k: 2,
                            c_gn: cmat.clone(),
                            c: cmat,
                        });
                }
            }
            LossKind::Hyperbolic => {
                // r = u − b, y = v∘r, D = v∘v + u∘r.
                data_value = 0.5 * p1.s[0].value();
                y = want_g.then(|| -> RowFn<'_> {
                    Box::new(move |i| r[3 * i + 2] * (r[3 * i + 1] - b[i]) + w2.at(i) * r[3 * i])
                });
                if want_h {
                    hess = Some(HessianParts {
                        d: par_map(n, |i| {
                            let (u, v) = (r[3 * i + 1], r[3 * i + 2]);
                            v * v + u * (u - b[i]) + w2.at(i)
                        }),
                        d_gn: par_map(n, |i| r[3 * i + 2] * r[3 * i + 2] + w2.at(i)),
                        u: Vec::new(),
                        k: 0,
                        c: Vec::new(),
                        c_gn: Vec::new(),
                    });
                }
            }
            LossKind::Softmax => {
                // s = exp(z − m)/S, r = s − b, γ = ⟨s,r⟩, q = s∘(r − γ) = y, D = s∘s + q,
                // U = [s, s∘s, q], C = [[‖s‖², −1, −1], [−1, 0, 0], [−1, 0, 0]];
                // Gauss–Newton keeps JᵀJ: D_GN = s∘s, C_GN = [[‖s‖², −1, 0], [−1, 0, 0], [0, 0, 0]].
                let (m, total) = (p1.m, p1.lse.value());
                let [gamma, rr, ss] = fill_and_sum(&mut rec, 2, |i, rc| {
                    let s = (rc[0] - m).exp() / total;
                    rc[1] = s;
                    let res = s - b[i];
                    [s * res, res * res, s * s]
                });
                let r = &rec;
                data_value = 0.5 * rr;
                y = want_g.then(|| -> RowFn<'_> {
                    Box::new(move |i| {
                        let s = r[2 * i + 1];
                        s * (s - b[i] - gamma) + w2.at(i) * r[2 * i]
                    })
                });
                if want_h {
                    let q = |i: usize| r[2 * i + 1] * (r[2 * i + 1] - b[i] - gamma);
                    hess = Some(HessianParts {
                        d: par_map(n, |i| r[2 * i + 1] * r[2 * i + 1] + q(i) + w2.at(i)),
                        d_gn: par_map(n, |i| r[2 * i + 1] * r[2 * i + 1] + w2.at(i)),
                        u: par_map(3 * n, |p| {
                            let (i, s) = (p / 3, r[2 * (p / 3) + 1]);
                            [s, s * s, q(i)][p % 3]
                        }),
                        k: 3,
                        c: vec![ss, -1.0, -1.0, -1.0, 0.0, 0.0, -1.0, 0.0, 0.0],
                        c_gn: vec![ss, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                    });
                }
            }
            LossKind::Linear => {
                data_value = 0.5 * p1.s[0].value();
                y = want_g.then(|| -> RowFn<'_> { Box::new(move |i| r[i] - b[i] + w2.at(i) * r[i]) });
                if want_h {
                    hess = Some(HessianParts {
                        d: par_map(n, |i| 1.0 + w2.at(i)),
                        d_gn: par_map(n, |i| 1.0 + w2.at(i)),
                        u: Vec::new(),
                        k: 0,
                        c: Vec::new(),
                        c_gn: Vec::new(),
                    });
                }
            }
        }
        let value = data_value + 0.5 * reg;
        if !value.is_finite() {
            return Err(overflow("the loss value overflows"));
        }
        // The gradient's Aᵀ pass also computes AᵀU for the Hessian's low-rank part (same row
        // partition as the gradient alone, so g is bitwise the same whatever `what` asks).
        let k = hess.as_ref().map_or(0, |h: &HessianParts| h.k);
        let (gradient, atu) = match y {
            None => (None, None),
            Some(y) => {
                let mut g = vec![0.0; d];
                let atu = if k > 0 {
                    let u = &hess.as_ref().expect("k > 0").u;
                    let w = k + 1;
                    let mut out = vec![0.0; d * w];
                    self.a.tr_mul_rows_map(
                        w,
                        |i, row| {
                            row[0] = y(i);
                            row[1..].copy_from_slice(&u[i * k..(i + 1) * k]);
                        },
                        &mut out,
                    );
                    g.iter_mut().enumerate().for_each(|(j, gj)| *gj = out[j * w]);
                    Some((0..d * k).map(|q| out[(q / k) * w + 1 + q % k]).collect::<Vec<f64>>())
                } else {
                    self.a.tr_mul_vec_map(y, &mut g);
                    None
                };
                if !g.iter().all(|v| v.is_finite()) {
                    return Err(overflow("the gradient overflows"));
                }
                (Some(g), atu)
            }
        };
        let hessian = match hess {
            None => None,
            Some(p) => {
                let h = StructuredHessian::new(self.a, p).with_atu(atu);
                if !h.is_finite() {
                    return Err(overflow("the Hessian overflows"));
                }
                Some(h)
            }
        };
        Ok(Evaluation { value, gradient, hessian, max_abs_z, max_abs_z_row: row })
    }

    /// `L(x)` alone (one `A·x`): what a line search needs.
    pub fn value(&self, x: &[f64]) -> Result<f64, LossError> {
        self.evaluate(x, What::Value).map(|e| e.value)
    }
}

/// The gradient integrand `y_i`, evaluated inside the `Aᵀ·y` pass.
type RowFn<'r> = Box<dyn Fn(usize) -> f64 + Sync + 'r>;

/// `w∘w`, without materialising a constant.
#[derive(Debug, Clone)]
enum W2 {
    Zero,
    Const(f64),
    PerRow(Vec<f64>),
}

impl W2 {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        match self {
            W2::Zero => 0.0,
            W2::Const(c) => *c,
            W2::PerRow(w) => w[i],
        }
    }
}

/// Block accumulator of pass 1: two compensated sums, the largest `|z|` (first row on ties)
/// and a running log-sum-exp `(m, Σ e^{z−m})`.
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
    #[inline]
    fn see(&mut self, i: usize, z: f64) {
        let a = if z.is_nan() { f64::INFINITY } else { z.abs() };
        if a > self.max_abs {
            self.max_abs = a;
            self.max_row = i;
        }
    }
    #[inline]
    fn logsumexp(&mut self, z: f64) {
        if z > self.m {
            let scale = (self.m - z).exp();
            self.lse = Neumaier::default().with(self.lse.value() * scale);
            self.m = z;
        }
        self.lse.add((z - self.m).exp());
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

/// Over fixed chunks of rows of `rec` (`width` per row): `f(i, rec_i)` may update the record
/// and returns three terms, summed compensated and combined in chunk order.
fn fill_and_sum(rec: &mut [f64], width: usize, f: impl Fn(usize, &mut [f64]) -> [f64; 3] + Sync) -> [f64; 3] {
    let partials: Vec<[f64; 3]> = rec
        .par_chunks_mut(CHUNK * width)
        .enumerate()
        .map(|(c, block)| {
            // `f` calls exp/cosh/sinh: no AVX→SSE penalty after dense work (sparse_ops::simd_state).
            sparse_ops::simd_state::clear_upper_state();
            let mut acc = [Neumaier::default(); 3];
            for (k, r) in block.chunks_exact_mut(width).enumerate() {
                let t = f(c * CHUNK + k, r);
                for (a, v) in acc.iter_mut().zip(t) {
                    a.add(v);
                }
            }
            acc.map(|a| a.value())
        })
        .collect();
    reduce::combine(&partials)
}

/// `out[i] = f(i)` in parallel over fixed chunks (elementwise, so deterministic).
pub(crate) fn par_map(len: usize, f: impl Fn(usize) -> f64 + Sync) -> Vec<f64> {
    let mut out = vec![0.0; len];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
        sparse_ops::simd_state::clear_upper_state();
        for (k, v) in o.iter_mut().enumerate() {
            *v = f(c * CHUNK + k);
        }
    });
    out
}

fn check_vec(what: &'static str, v: &[f64], len: usize) -> Result<(), LossError> {
    if v.len() != len {
        return Err(LossError::DimensionMismatch { what, expected: len, found: v.len() });
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(LossError::NonFiniteInput { what, index, value: v[index] }),
        None => Ok(()),
    }
}
