//! The attention SVM (SPEC §5, Definition 3.8, query-left convention of errata E6) by dual
//! coordinate descent on rank-one features.
//!
//! Constraint `k = (q, t)` for query `q = (l, i)` and visible token `t ≠ opt_q` has the feature
//! `F_k = a_i (a_opt − a_t)ᵀ`, so `⟨X, F_k⟩ = a_iᵀ X (a_opt − a_t)` is its margin. Both problems
//! are written as `min ½‖X‖² + Σ_k U_k·max(0, 1 − ⟨X, F_k⟩)`:
//!
//! - hard margin: `U_k = ∞` (every constraint `⟨X, F_k⟩ ≥ 1`);
//! - soft margin (SPEC §5): `(1/(mn)) Σ_q (1/|visible_q|) Σ_t hinge_k + C‖X‖²`, which is `2C`
//!   times the form above with `U_k = 1/(2C·mn·|visible_q|)`.
//!
//! Its dual is `max Σλ_k − ½‖Σλ_k F_k‖²` over `0 ≤ λ_k ≤ U_k`, with `X = Σλ_k F_k`. Coordinate
//! descent (as LIBLINEAR's dual solver for linear SVMs) updates one `λ_k` in closed form:
//! `λ_k ← clip(λ_k − (⟨X, F_k⟩ − 1)/‖F_k‖², 0, U_k)`, `X += Δλ·F_k`. Constraints of one query
//! share `a_i`, so the solver keeps `u = Xᵀa_i` per query: a margin is `uᵀ(a_opt − a_t)`
//! (`O(d)`), an update moves `u` by `Δλ‖a_i‖²(a_opt − a_t)` (`O(d)`), and `X` takes one rank-one
//! update per query (`O(d²)`). An epoch costs `O(Σ_q (d² + |visible_q|·d))`; memory is
//! `O(#constraints + d²)`: no `d²`-long feature is ever formed.
//!
//! Stopping: the largest projected-gradient violation `≤ tol` (dual optimality) after `X` is
//! recomputed from `λ` (no drift from the rank-one updates). The certificate is the smallest
//! margin and the duality gap `P(X) − D(λ)`.

use std::time::Instant;

use faer::Mat;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::data::TokenData;
use crate::error::SvmError;

/// Hard or soft margin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Margin {
    /// Hard margin: every constraint `a_iᵀ X (a_opt − a_t) ≥ 1`.
    Hard,
    /// The soft-margin objective with constant `C` (the paper's experiment: `C = 25/2`).
    Soft {
        /// The constant `C` weighing the hinge losses against `‖X‖²`.
        c: f64,
    },
}

/// Parameters of [`solve_svm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvmParams {
    /// Hard or soft margin.
    pub margin: Margin,
    /// Projected-gradient tolerance: at the end every margin is `≥ 1 − tol` (hard margin).
    pub tol: f64,
    /// Most passes over the constraints.
    pub max_epochs: usize,
    /// Seed of the order in which queries are visited.
    pub seed: u64,
}

impl Default for SvmParams {
    fn default() -> Self {
        Self { margin: Margin::Hard, tol: 1e-9, max_epochs: 100_000, seed: 0 }
    }
}

/// How the solver ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SvmStatus {
    /// Every projected-gradient violation is within `tol`.
    Converged,
    /// The epoch limit was reached first.
    MaxEpochs,
    /// Hard margin: no `X` of reasonable norm satisfies every constraint. For any feasible
    /// `X*` and any `λ ≥ 0`, `Σλ_k ≤ ‖Σλ_k F_k‖·‖X*‖` (each `⟨F_k, X*⟩ ≥ 1`), so
    /// `‖X*‖ ≥ Σλ/‖X(λ)‖`; the solver stops when that bound exceeds `10³·‖X(λ)‖` (at the
    /// optimum of a feasible problem the two are equal). Use a soft margin.
    Infeasible,
}

runtime::named_enum!(SvmStatus { Converged => "converged", MaxEpochs => "max_epochs", Infeasible => "infeasible" });

/// One constraint: query `q = l·n + i` and a visible non-optimal token `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Constraint {
    /// The sequence `l`.
    pub sequence: usize,
    /// The query `i` within the sequence.
    pub query: usize,
    /// The non-optimal visible token `t`.
    pub token: usize,
}

/// The solution and its certificate.
#[derive(Debug, Clone)]
pub struct SvmSolution {
    /// How the solver ended.
    pub status: SvmStatus,
    /// The separator `X` (`d×d`).
    pub x: Mat<f64>,
    /// Hard: `‖X‖_F`. Soft: `(1/(mn)) Σ (1/|visible|) hinge + C‖X‖²`.
    pub objective: f64,
    /// Smallest margin `a_iᵀ X (a_opt − a_t)` over the constraints.
    pub min_margin: f64,
    /// Duality gap `P − D` of `min ½‖X‖² + Σ U_k hinge_k` (relative: divided by `P`).
    pub gap: f64,
    /// `gap / P`.
    pub relative_gap: f64,
    /// The largest projected-gradient violation at the end.
    pub violation: f64,
    /// Every constraint with its dual variable and margin, in data order.
    pub constraints: Vec<Constraint>,
    /// Dual variable `λ_k ≥ 0` of each constraint.
    pub lambda: Vec<f64>,
    /// Margin of each constraint at the final `X`.
    pub margins: Vec<f64>,
    /// Epochs (passes over the constraints) made.
    pub epochs: usize,
    /// Wall-clock seconds.
    pub time_s: f64,
}

impl SvmSolution {
    /// The support tokens: constraints with `λ > 0`.
    pub fn support(&self) -> impl Iterator<Item = (Constraint, f64)> + '_ {
        self.constraints.iter().zip(&self.lambda).filter(|(_, l)| **l > 0.0).map(|(c, l)| (*c, *l))
    }
}

/// Per query: the index of its first constraint and the shared vectors.
struct Query {
    q: usize,
    first: usize,
    count: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The constraints of `data`, grouped by query, in data order.
fn layout(data: &TokenData) -> (Vec<Query>, Vec<Constraint>) {
    let meta = data.meta();
    let mut queries = Vec::new();
    let mut cons = Vec::new();
    for l in 0..meta.m {
        for i in 0..meta.n {
            let q = l * meta.n + i;
            let first = cons.len();
            let opt = data.opt(q);
            cons.extend((0..data.visible(i)).filter(|&t| t != opt).map(|t| Constraint {
                sequence: l,
                query: i,
                token: t,
            }));
            if cons.len() > first {
                queries.push(Query { q, first, count: cons.len() - first });
            }
        }
    }
    (queries, cons)
}

/// `X` (`d×d`) stored column by column, so that both kernels of the solver, `u = Xᵀa` and
/// `X += a wᵀ`, stream contiguous columns.
struct ColMajor {
    d: usize,
    v: Vec<f64>,
}

impl ColMajor {
    fn zeros(d: usize) -> Self {
        Self { d, v: vec![0.0; d * d] }
    }
    /// `u = Xᵀa`.
    fn t_times(&self, a: &[f64], u: &mut [f64]) {
        for (ub, col) in u.iter_mut().zip(self.v.chunks_exact(self.d)) {
            *ub = dot(col, a);
        }
    }
    /// `X += a wᵀ`.
    fn add_outer(&mut self, a: &[f64], w: &[f64]) {
        for (wb, col) in w.iter().zip(self.v.chunks_exact_mut(self.d)) {
            if *wb != 0.0 {
                col.iter_mut().zip(a).for_each(|(x, ai)| *x += wb * ai);
            }
        }
    }
    fn squared_norm(&self) -> f64 {
        dot(&self.v, &self.v)
    }
    fn to_mat(&self) -> Mat<f64> {
        Mat::from_fn(self.d, self.d, |a, b| self.v[b * self.d + a])
    }
}

/// `X = Σ_q a_i (Σ_t λ_k (a_opt − a_t))ᵀ` from the dual variables.
fn primal(data: &TokenData, queries: &[Query], cons: &[Constraint], lambda: &[f64]) -> ColMajor {
    let d = data.meta().d;
    let mut x = ColMajor::zeros(d);
    let mut w = vec![0.0; d];
    for qu in queries {
        let l = qu.q / data.meta().n;
        let ai = data.token(l, qu.q % data.meta().n);
        let ao = data.token(l, data.opt(qu.q));
        w.iter_mut().for_each(|v| *v = 0.0);
        for k in qu.first..qu.first + qu.count {
            if lambda[k] != 0.0 {
                let at = data.token(l, cons[k].token);
                for b in 0..d {
                    w[b] += lambda[k] * (ao[b] - at[b]);
                }
            }
        }
        x.add_outer(ai, &w);
    }
    x
}

/// Solve the Att-SVM on `data`.
///
/// ```
/// use att_svm::{generate, solve_svm, GenSpec, SvmParams, SvmStatus};
/// let data = generate(&GenSpec::default())?;
/// let s = solve_svm(&data, &SvmParams::default())?;
/// assert_eq!(s.status, SvmStatus::Converged);
/// assert!(s.min_margin >= 1.0 - 1e-6);
/// # Ok::<(), att_svm::SvmError>(())
/// ```
pub fn solve_svm(data: &TokenData, params: &SvmParams) -> Result<SvmSolution, SvmError> {
    let start = Instant::now();
    if !(params.tol > 0.0 && params.tol.is_finite()) || params.max_epochs == 0 {
        return Err(SvmError::InvalidParameter("tol must be positive and finite, max_epochs ≥ 1".into()));
    }
    let meta = data.meta();
    let (mn, d) = ((meta.m * meta.n) as f64, meta.d);
    let (queries, cons) = layout(data);
    let upper: Vec<f64> = match params.margin {
        Margin::Hard => vec![f64::INFINITY; cons.len()],
        Margin::Soft { c } if c > 0.0 && c.is_finite() => {
            cons.iter().map(|k| 1.0 / (2.0 * c * mn * data.visible(k.query) as f64)).collect()
        }
        Margin::Soft { c } => return Err(SvmError::InvalidParameter(format!("C must be positive, got {c}"))),
    };
    // ‖F_k‖² = ‖a_i‖²·‖a_opt − a_t‖².
    let qdiag: Vec<f64> = cons
        .iter()
        .map(|k| {
            let (ai, ao, at) = (
                data.token(k.sequence, k.query),
                data.token(k.sequence, data.opt(k.sequence * meta.n + k.query)),
                data.token(k.sequence, k.token),
            );
            dot(ai, ai) * ao.iter().zip(at).map(|(p, r)| (p - r) * (p - r)).sum::<f64>()
        })
        .collect();
    let mut lambda = vec![0.0; cons.len()];
    let mut x = ColMajor::zeros(d);
    let mut order: Vec<usize> = (0..queries.len()).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let (mut u, mut w, mut delta) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let mut status = SvmStatus::MaxEpochs;
    let mut epochs = 0;
    while epochs < params.max_epochs {
        epochs += 1;
        order.shuffle(&mut rng);
        let mut violation = 0.0f64;
        for &qi in &order {
            let qu = &queries[qi];
            let l = qu.q / meta.n;
            let ai = data.token(l, qu.q % meta.n);
            let ao = data.token(l, data.opt(qu.q));
            let ai2 = dot(ai, ai);
            x.t_times(ai, &mut u);
            w.iter_mut().for_each(|v| *v = 0.0);
            for k in qu.first..qu.first + qu.count {
                let at = data.token(l, cons[k].token);
                for b in 0..d {
                    delta[b] = ao[b] - at[b];
                }
                let g = dot(&u, &delta) - 1.0;
                let pg = projected_gradient(g, lambda[k], upper[k]);
                violation = violation.max(pg.abs());
                if pg != 0.0 && qdiag[k] > 0.0 {
                    let new = (lambda[k] - g / qdiag[k]).clamp(0.0, upper[k]);
                    let step = new - lambda[k];
                    lambda[k] = new;
                    for b in 0..d {
                        w[b] += step * delta[b];
                        u[b] += step * ai2 * delta[b];
                    }
                }
            }
            x.add_outer(ai, &w);
        }
        if violation <= params.tol {
            // Confirm on an X recomputed from λ (no accumulated rounding).
            x = primal(data, &queries, &cons, &lambda);
            if max_violation(data, &queries, &cons, &lambda, &upper, &x) <= params.tol {
                status = SvmStatus::Converged;
                break;
            }
        }
        if params.margin == Margin::Hard && epochs % 100 == 0 {
            // Farkas-type certificate (see `SvmStatus::Infeasible`): Σλ > 10³‖X‖².
            x = primal(data, &queries, &cons, &lambda);
            if lambda.iter().sum::<f64>() > 1e3 * x.squared_norm() {
                status = SvmStatus::Infeasible;
                break;
            }
        }
    }
    let x = primal(data, &queries, &cons, &lambda);
    let margins = margins(data, &queries, &cons, &x);
    let violation = max_violation(data, &queries, &cons, &lambda, &upper, &x);
    let min_margin = margins.iter().copied().fold(f64::INFINITY, f64::min);
    let x2 = x.squared_norm();
    let hinge: f64 =
        margins.iter().zip(&upper).map(|(m, u)| if u.is_finite() { u * (1.0 - m).max(0.0) } else { 0.0 }).sum();
    let primal_value = 0.5 * x2 + hinge;
    let dual_value = lambda.iter().sum::<f64>() - 0.5 * x2;
    let gap = primal_value - dual_value;
    let objective = match params.margin {
        Margin::Hard => x2.sqrt(),
        Margin::Soft { c } => 2.0 * c * primal_value,
    };
    Ok(SvmSolution {
        status,
        x: x.to_mat(),
        objective,
        min_margin,
        gap,
        relative_gap: gap / primal_value.max(f64::MIN_POSITIVE),
        violation,
        constraints: cons,
        lambda,
        margins,
        epochs,
        time_s: start.elapsed().as_secs_f64(),
    })
}

/// The dual gradient `g = margin − 1` projected on the box `0 ≤ λ ≤ U`: zero exactly when the
/// coordinate is optimal (LIBLINEAR's stopping quantity).
#[inline]
pub(crate) fn projected_gradient(g: f64, lambda: f64, upper: f64) -> f64 {
    if lambda == 0.0 {
        g.min(0.0)
    } else if lambda >= upper {
        g.max(0.0)
    } else {
        g
    }
}

/// Every constraint's margin `a_iᵀX(a_opt − a_t)` at `x`.
fn margins(data: &TokenData, queries: &[Query], cons: &[Constraint], x: &ColMajor) -> Vec<f64> {
    let d = data.meta().d;
    let mut out = vec![0.0; cons.len()];
    let mut u = vec![0.0; d];
    for qu in queries {
        let l = qu.q / data.meta().n;
        x.t_times(data.token(l, qu.q % data.meta().n), &mut u);
        let uo = dot(&u, data.token(l, data.opt(qu.q)));
        for k in qu.first..qu.first + qu.count {
            out[k] = uo - dot(&u, data.token(l, cons[k].token));
        }
    }
    out
}

fn max_violation(
    data: &TokenData,
    queries: &[Query],
    cons: &[Constraint],
    lambda: &[f64],
    upper: &[f64],
    x: &ColMajor,
) -> f64 {
    margins(data, queries, cons, x)
        .iter()
        .zip(lambda.iter().zip(upper))
        .map(|(m, (l, u))| projected_gradient(m - 1.0, *l, *u).abs())
        .fold(0.0, f64::max)
}
