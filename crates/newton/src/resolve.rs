//! Warm re-solves of a sequence of related problems, with the in-context corollary's shift
//! measured (SPEC §6; seed 000, §10 and Corollary 11.2).
//!
//! A [`Resolver`] keeps what a solve learned — its `x` and, for the leverage strategies, the
//! leverage sample with its inclusion probabilities (whose weights also record the `D₊` it was
//! drawn for) — and solves the next problem (a new `b`, new `w`, a new `A` of the same shape)
//! through the same engine ([`crate::engine::run`] with the Newton strategy), warm-started:
//!
//! - `x`: the previous solution is the start when the shapes agree and the new loss there is
//!   finite and no higher than at the caller's cold start `x0` (the previous `x` is evaluated
//!   with its Hessian and that evaluation is the loop's start, [`crate::engine::run_from`]; the
//!   loss at `x0 = 0` costs `O(n)` on an all-zero matrix, at another `x0` one pass); otherwise
//!   `x0`, and the record says why. (Measured on real attention rows: a previous row's answer
//!   can sit on a saturated-softmax plateau of the next row's loss, where the gradient vanishes
//!   far from the minimum.)
//! - the gradient test: relative to `‖g(x₀)‖` (errata E8), which a warm start has already
//!   brought down; a warm solve stops at `tol` times the last cold start's `‖g(x₀)‖` instead
//!   (as an absolute floor), i.e. where a cold solve would.
//! - CG's forcing term (`leverage-pcg`): `‖g‖` relative to that same cold `‖g(x₀)‖`, so a
//!   warm start close to the answer gets the tight inner solves of a late cold iteration.
//! - the sample: at the first step its rows are re-weighted by the new `D₊` when the estimated
//!   relative drift of `D₊` on them (`√(Σ_S (d_i − d⁰_i)²/p_i / Σ_S (d⁰_i)²/p_i)`, unbiased in
//!   numerator and denominator for the whole diagonal) is at most
//!   [`ReuseParams::max_drift`]; otherwise a fresh sample is drawn (two passes over `A`) and the
//!   record says so with the drift found.
//! - the factor (`leverage-pcg`, [`ReuseParams::reuse_factor`]): near the answer
//!   (`‖g‖ ≤ factor_below·‖g(x₀)‖`) a warm step preconditions CG with a kept Cholesky factor of
//!   the exact Hessian — built at the first such point (one pass over `A` for the Gram of all
//!   rows, `O(nnz·r + d³)`) and kept across the sequence — instead of a sketch, solves the
//!   Newton system to the cold stopping level of `‖g‖` at once, and certifies the end with the
//!   factor's own step `H̃⁻¹g` (no CG, no pass). A step that needs more than
//!   [`ReuseParams::max_factor_cg`] CG iterations marks the factor stale; it is rebuilt at the
//!   next step and the record says after which count ([`FactorUse`]).
//!
//! [`shift`] measures the corollary for one step: the equivalent target `b̃` (SPEC §6),
//! `‖b̃ − b‖₂`, the size of the move (`‖Δx‖₂`, or `‖ΔA‖_F` and a power-iteration estimate of
//! `‖ΔA‖₂`), their ratio (the measured `M`), the corollary's preconditions
//! (`‖AΔx‖_∞ < 0.01`, `‖ΔA·x‖_∞ < 0.01`) and the seed 000 §10 quantities (`|α⁻¹|`, `‖u(A) − u(B)‖₂`,
//! `|α(A) − α(B)|`, `‖c(A) − c(B)‖₂`).
//!
//! ## Cost model
//!
//! A re-solve costs what [`crate::solve`] costs from its start, minus the iterations the warm
//! start saves, minus two passes over `A` for each reused sample; the drift test is
//! `O(rows kept)`. With the kept factor, a warm step near the answer costs the start's
//! evaluation, which is also the warm-start test (2 passes; 2 more when the test rejects the
//! start, 1 more for the loss at a nonzero `x0`), per iteration 2 per CG iteration plus the next
//! evaluation (2), and nothing to certify: measured 11–12 passes against a cold solve's 68
//! (`n = 10⁶, d = 50`, docs/benchmarks.md), plus one Gram pass and a `d³/3` Cholesky per
//! rebuild. [`shift`] costs two passes over `A` (one per point), two more when `A`
//! changes (`‖ΔA·x‖_∞`), `O(nnz)` for `‖ΔA‖_F` and four passes per power iteration for `‖ΔA‖₂`
//! ([`SPECTRAL_ITERATIONS`]); it is a diagnostic, not part of the solver's time.
//!
//! ```
//! use newton::losses::{plant, Activation, LossKind, Objective, PlantSpec, Regulariser};
//! use newton::sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
//! use newton::resolve::{Resolver, ReuseParams};
//! use newton::{SolverParams, Status, Strategy};
//! let a = random_sparse(&GenSpec { nrows: 4000, ncols: 10, sparsity: Sparsity::RowNnz(4), variant: Variant::Plain, seed: 1 })?;
//! let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 2 };
//! let (_, b) = plant(&a, &spec)?;
//! let b2: Vec<f64> = b.iter().enumerate().map(|(i, v)| v * (1.0 + 0.01 * ((i % 7) as f64 - 3.0) / 3.0)).collect();
//! let params = SolverParams { strategy: Strategy::Leverage, checks: false, ..Default::default() };
//! let mut r = Resolver::new(params, ReuseParams::default());
//! for b in [&b, &b2] {
//!     let f = Objective::new(&a, b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp)?;
//!     let out = r.solve(&f, &vec![0.0; 10], None)?;
//!     assert_eq!(out.report.status, Status::Converged);
//! }
//! assert!(r.last().unwrap().reused.x_warm);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use losses::{Activation, Objective};
use serde::Serialize;
use sketch::SampledDiagonal;
use sparse_ops::CsrMatrix;

use crate::engine::{self, Observer};
use crate::error::SolveError;
use crate::hessian_step::HessianStep;
use crate::params::SolverParams;
use crate::report::Report;
use crate::solver::validate;

/// Power iterations for the spectral-norm estimates of [`shift`].
pub const SPECTRAL_ITERATIONS: usize = 30;

/// What a [`Resolver`] may reuse, and the limits of its validity tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReuseParams {
    /// Start from the previous solution (else every solve starts cold: the comparison run).
    pub warm_x: bool,
    /// Offer the previous leverage sample to the next solve.
    pub reuse_sample: bool,
    /// The largest estimated relative drift of `D₊` on the sample's rows at which it is kept.
    pub max_drift: f64,
    /// `leverage-pcg`, warm-started: precondition CG with a kept Cholesky factor of the exact
    /// Hessian (built at the first warm start, one pass over `A`) instead of a sketch at every
    /// step, and solve each Newton system to the cold solve's stopping level.
    pub reuse_factor: bool,
    /// The CG count above which the kept factor is stale: rebuilt at the next step.
    pub max_factor_cg: usize,
    /// The factor serves points with `‖g‖ ≤ factor_below·‖g(x₀)‖` (the last cold start's):
    /// near the answer. Further out a warm step sketches as a cold one (and may reuse the
    /// sample): on real attention rows, whose answers are far apart, factor steps from far
    /// away converged on fewer rows and took more passes (docs/benchmarks.md).
    pub factor_below: f64,
}

impl Default for ReuseParams {
    fn default() -> Self {
        Self {
            warm_x: true,
            reuse_sample: true,
            max_drift: 0.25,
            reuse_factor: true,
            max_factor_cg: 8,
            factor_below: 1e-2,
        }
    }
}

impl ReuseParams {
    /// Nothing reused: every solve cold (`--cold`).
    pub fn cold() -> Self {
        Self { warm_x: false, reuse_sample: false, reuse_factor: false, ..Self::default() }
    }
}

/// What became of the kept factor of the exact Hessian at a re-solve (`leverage-pcg`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorUse {
    /// The solve began with the factor a previous solve built.
    pub kept: bool,
    /// Factors built in this solve (one pass over `A` each), with why.
    pub built: Vec<String>,
    /// CG iterations of each step (0: the factor alone certified the Newton decrement).
    pub cg_iterations: Vec<usize>,
    /// The CG count above which the factor is rebuilt.
    pub max_cg: usize,
    /// Steps made by a sketch because `‖g‖` was above the factor's level (far from the answer).
    pub sketched_steps: usize,
}

/// What became of the leverage sample at a re-solve.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SampleUse {
    /// The strategy keeps no leverage sample (exact, Gauss–Newton, Newton sketch).
    NotUsed,
    /// No sample was offered (the first solve, a cold run, or a shape change).
    Fresh {
        /// Why no sample was offered.
        reason: String,
    },
    /// The previous sample was re-weighted by the new `D₊` and kept.
    Kept {
        /// The measured relative drift of `D₊` on the sampled rows.
        drift: f64,
        /// The largest drift that keeps a sample ([`ReuseParams`]).
        max_drift: f64,
        /// Rows in the kept sample.
        rows: usize,
    },
    /// No sample was needed: the kept factor preconditioned every step.
    Unneeded {
        /// Why.
        reason: String,
    },
    /// The previous sample failed the drift test and a fresh one was drawn.
    Rejected {
        /// The measured relative drift of `D₊` on the sampled rows.
        drift: f64,
        /// The largest drift that keeps a sample.
        max_drift: f64,
    },
}

/// What a re-solve reused and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reused {
    /// Started from the previous solution.
    pub x_warm: bool,
    /// Why (or why not).
    pub x_reason: String,
    /// What became of the leverage sample.
    pub sample: SampleUse,
    /// What became of the kept factor (`None`: not in use — a cold solve, another strategy).
    pub factor: Option<FactorUse>,
}

/// One re-solve.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The solver's report of this re-solve.
    pub report: Report,
    /// What was reused and why.
    pub reused: Reused,
    /// Passes over `A` by the solver: the start's evaluation (two, also the warm-start test;
    /// two more when it rejects the start, one for the loss at a nonzero `x0`), every iteration's, and the step formed to certify the end (not in the history).
    pub passes_over_a: usize,
    /// Wall-clock seconds of the whole re-solve (the warm-start test and the certifying step
    /// included).
    pub time_s: f64,
}

/// A solver that carries its state from one problem of a sequence to the next.
#[derive(Debug)]
pub struct Resolver {
    params: SolverParams,
    reuse: ReuseParams,
    x: Option<Vec<f64>>,
    sample: Option<SampledDiagonal>,
    shape: Option<(usize, usize)>,
    /// `‖g(x₀)‖` of the last cold-started solve: the scale of a warm solve's gradient test.
    grad_ref: Option<f64>,
    /// The Cholesky factor of an exact Hessian kept for the next warm solve.
    factor: Option<faer::Mat<f64>>,
    last: Option<Resolved>,
}

impl Resolver {
    /// A resolver with no state yet: the first solve is cold.
    pub fn new(params: SolverParams, reuse: ReuseParams) -> Self {
        Self { params, reuse, x: None, sample: None, shape: None, grad_ref: None, factor: None, last: None }
    }

    /// Set the absolute gradient floor of the next solves (`SolverParams::atol`): the scale of
    /// the gradient test when the caller's start is already near the answer, where `tol`
    /// relative to `‖g(x₀)‖` would sit below the gradient's rounding floor.
    pub fn set_atol(&mut self, atol: f64) {
        self.params.atol = atol;
    }

    /// The previous solution, if any.
    pub fn x(&self) -> Option<&[f64]> {
        self.x.as_deref()
    }

    /// The last re-solve.
    pub fn last(&self) -> Option<&Resolved> {
        self.last.as_ref()
    }

    /// Solve `f`, warm-started from what the previous solves learned; `x0` is the cold start
    /// (used for the first problem, after a shape change, or where the warm start fails).
    /// `Err` only when the solver cannot run at all (as [`crate::solve`]); the state is then
    /// left as it was.
    pub fn solve(&mut self, f: &Objective, x0: &[f64], x_star: Option<&[f64]>) -> Result<Resolved, SolveError> {
        let clock = std::time::Instant::now();
        let shape = f.shape();
        validate(&self.params, x0, shape.1, x_star)?;
        let same_shape = self.shape == Some(shape);
        // The warm-start test evaluates the previous solution as the engine's start evaluation
        // would (value, gradient and Hessian: `HessianStep` always needs curvature) and hands it
        // to the loop when the start is taken, so the test costs only the loss at `x0`.
        let mut start_eval: Option<losses::Evaluation> = None;
        let mut test_passes = 0;
        let (start, x_warm, mut x_reason) = match (&self.x, self.reuse.warm_x) {
            (_, false) => (x0.to_vec(), false, "cold run: warm starts off".to_string()),
            (None, true) => (x0.to_vec(), false, "first solve: no previous solution".to_string()),
            (Some(_), true) if !same_shape => {
                (x0.to_vec(), false, format!("shape changed from {:?} to {shape:?}", self.shape.unwrap_or_default()))
            }
            (Some(x), true) => {
                // The loss at `x0`: no pass at `x0 = 0` ([`value_at`]), else one.
                test_passes += usize::from(x0.iter().any(|v| *v != 0.0));
                match (<Objective as engine::Problem>::evaluate(f, x, engine::Need::Curvature), value_at(f, x0)) {
                    // The warm start must be no worse than the cold one.
                    (Ok(ew), Ok(fc)) if ew.value <= fc => {
                        let fw = ew.value;
                        start_eval = Some(ew);
                        (
                            x.clone(),
                            true,
                            format!("previous solution, same shape; loss there {fw:.3e} ≤ {fc:.3e} at x0"),
                        )
                    }
                    (Ok(ew), Ok(fc)) => {
                        let fw = ew.value;
                        f.recycle(ew);
                        test_passes += 2;
                        (x0.to_vec(), false, format!("previous solution's loss {fw:.3e} > {fc:.3e} at x0"))
                    }
                    (Err(e), _) => {
                        test_passes += 1;
                        (x0.to_vec(), false, format!("loss not finite at the previous solution: {e}"))
                    }
                    (Ok(ew), Err(_)) => {
                        start_eval = Some(ew);
                        (x.clone(), true, "previous solution (the loss is not finite at x0)".to_string())
                    }
                }
            }
        };
        let uses_sample = self.params.strategy.is_sketched() && self.params.strategy != crate::Strategy::NewtonSketch;
        let offered = match (&self.sample, uses_sample && self.reuse.reuse_sample && same_shape) {
            (Some(s), true) => Some(s.clone()),
            _ => None,
        };
        let fresh_reason = if !self.reuse.reuse_sample {
            "cold run: sample reuse off"
        } else if self.sample.is_none() {
            "first solve: no previous sample"
        } else {
            "shape changed"
        };
        // The gradient test is relative to ‖g(x₀)‖ (errata E8), which a warm start has already
        // brought down: a warm solve stops where a cold one would, at `tol` times the gradient
        // norm of the last cold start (an absolute floor), not `tol` times its own start's.
        let warm_params =
            SolverParams { atol: self.params.atol.max(self.params.tol * self.grad_ref.unwrap_or(0.0)), ..self.params };
        let factor_mode = self.reuse.reuse_factor && self.params.strategy == crate::Strategy::LeveragePcg;
        let kept_factor = if same_shape { self.factor.clone() } else { None };
        let run = |start: &[f64], offered: Option<SampledDiagonal>, warm: bool, pre: Option<losses::Evaluation<'_>>| {
            let params = if warm { warm_params } else { self.params };
            let mut strategy = match offered {
                Some(s) => HessianStep::with_sample(params, s, self.reuse.max_drift),
                None => HessianStep::new(params),
            };
            if warm && let Some(g) = self.grad_ref {
                strategy = strategy.with_grad_ref(g);
                if factor_mode {
                    strategy = strategy.with_factor(
                        kept_factor.clone(),
                        self.reuse.max_factor_cg,
                        warm_params.atol,
                        self.reuse.factor_below * g,
                    );
                }
            }
            let report = run_engine(f, &mut strategy, start, pre, &params, x_star);
            (report, strategy)
        };
        let (mut result, mut strategy) = run(&start, offered.clone(), x_warm, start_eval);
        let mut x_warm = x_warm;
        if x_warm && let Err(e) = &result {
            // The loss cannot be evaluated at the previous solution (overflow on the new data):
            // start cold.
            x_reason = format!("previous solution rejected: {e}; cold start");
            x_warm = false;
            (result, strategy) = run(x0, offered, false, None);
        }
        let report = result?;
        let untaken = strategy.untaken_passes(report.history.len());
        let factor = strategy.take_factor();
        let factor_use = factor.as_ref().map(|(_, log)| FactorUse {
            kept: x_warm && kept_factor.is_some(),
            built: log.builds.clone(),
            cg_iterations: log.cg.clone(),
            max_cg: self.reuse.max_factor_cg,
            sketched_steps: log.sketched_steps,
        });
        let (sample, outcome) = strategy.into_parts();
        let max_drift = self.reuse.max_drift;
        let sample_use = match (uses_sample, outcome) {
            (false, _) => SampleUse::NotUsed,
            (true, Some(o)) if o.kept => {
                SampleUse::Kept { drift: o.drift, max_drift, rows: sample.as_ref().map_or(0, |s| s.len()) }
            }
            (true, Some(o)) => SampleUse::Rejected { drift: o.drift, max_drift },
            (true, None) if factor_use.as_ref().is_some_and(|f| f.sketched_steps == 0) => SampleUse::Unneeded {
                reason: "the kept factor of the exact Hessian preconditions CG: no sketch drawn".to_string(),
            },
            (true, None) => SampleUse::Fresh { reason: fresh_reason.to_string() },
        };
        let passes_over_a = test_passes + 2 + report.history.iter().map(|r| r.passes_over_a).sum::<usize>() + untaken;
        if let Some((l, _)) = factor {
            self.factor = l;
        }
        if !x_warm {
            self.grad_ref = Some(report.grad_norm0);
        }
        if report.x.iter().all(|v| v.is_finite()) {
            self.x = Some(report.x.clone());
        }
        if sample.is_some() {
            self.sample = sample;
        }
        self.shape = Some(shape);
        let out = Resolved {
            report,
            reused: Reused { x_warm, x_reason, sample: sample_use, factor: factor_use },
            passes_over_a,
            time_s: clock.elapsed().as_secs_f64(),
        };
        self.last = Some(out.clone());
        Ok(out)
    }
}

/// The loss at the cold start `x0` for the warm-start test: at `x0 = 0` (`Ax = 0` whatever `A`)
/// the same objective on an all-zero matrix of `A`'s shape gives it bit for bit in `O(n)`
/// (its `indptr` and the targets) instead of a pass over `A`; otherwise one pass.
fn value_at(f: &Objective, x0: &[f64]) -> Result<f64, losses::LossError> {
    if x0.iter().all(|v| *v == 0.0) {
        let (n, d) = f.shape();
        if let Ok(zero) = CsrMatrix::try_from_csr(n, d, vec![0; n + 1], Vec::new(), Vec::new()) {
            return f.with_matrix(&zero)?.value(x0);
        }
    }
    f.value(x0)
}

/// [`crate::solve`]'s loop with a given Newton strategy (and no user observer).
fn run_engine(
    f: &Objective,
    strategy: &mut HessianStep,
    x0: &[f64],
    pre: Option<losses::Evaluation<'_>>,
    params: &SolverParams,
    x_star: Option<&[f64]>,
) -> Result<Report, SolveError> {
    let loop_params = params.loop_params();
    let mut checks = crate::checks::ChecksObserver::new(x_star, params.seed);
    let mut observers: Vec<&mut dyn Observer<_>> = Vec::with_capacity(1);
    if params.checks {
        observers.push(&mut checks);
    }
    let mut report = match pre {
        Some(e) => engine::run_from(f, strategy, x0, e, std::time::Instant::now(), &loop_params, &mut observers),
        None => engine::run(f, strategy, x0, &loop_params, &mut observers).map_err(SolveError::AtStart)?,
    };
    report.regime_from_iteration = if params.checks { crate::checks::regime_from(&report.history) } else { None };
    report.r_against_x_star = x_star.is_some();
    Ok(report)
}

/// Why a shift cannot be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ShiftError {
    /// An input of the wrong size.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The size it must have.
        expected: String,
        /// The size it has.
        found: String,
    },
    /// `α = ⟨u(Ax), 1⟩` vanishes at the old point.
    #[error("α = ⟨u(Ax), 1⟩ is {alpha:e} at the old point: the equivalent target is not defined")]
    ZeroAlpha {
        /// The value of `α`.
        alpha: f64,
    },
    /// An input or an intermediate quantity is NaN or infinite.
    #[error("{what} is not finite")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
    },
}

/// The corollary measured for one step (SPEC §6): the old data and point `(A_t, x_t)`, the new
/// `(A_{t+1}, x_{t+1})`, the target `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    /// `‖b̃ − b‖₂`, `b̃ − b = (u_t − u_{t+1} + (α_{t+1} − α_t)·b)/α_t`.
    pub b_shift: f64,
    /// `‖x_{t+1} − x_t‖₂`.
    pub dx_norm: f64,
    /// `‖A_{t+1} − A_t‖_F` and a power-iteration estimate of `‖A_{t+1} − A_t‖₂` (0 when `A`
    /// did not change).
    pub da_frobenius: f64,
    /// A power-iteration estimate of `‖A_{t+1} − A_t‖₂` (0 when `A` did not change).
    pub da_spectral: f64,
    /// The measured `M`: `‖b̃ − b‖₂` over the size of the move (`‖ΔA‖₂` when `A` changed, else
    /// `‖Δx‖₂`); `None` when nothing moved.
    pub m_measured: Option<f64>,
    /// `‖A_t(x_{t+1} − x_t)‖_∞` and `‖(A_{t+1} − A_t)x_t‖_∞`: the corollary needs both `< 0.01`.
    pub a_dx_inf: f64,
    /// `‖(A_{t+1} − A_t)x_t‖_∞`.
    pub da_x_inf: f64,
    /// Both of the corollary's preconditions hold (each `< 0.01`).
    pub preconditions_hold: bool,
    /// The seed 000 §10 quantities: `|α_t⁻¹|`, `‖u_t − u_{t+1}‖₂`, `|α_t − α_{t+1}|`, `‖c_t − c_{t+1}‖₂` (`c = u − α·b`).
    pub alpha_inv: f64,
    /// `‖u_t − u_{t+1}‖₂`.
    pub u_diff: f64,
    /// `|α_t − α_{t+1}|`.
    pub alpha_diff: f64,
    /// `‖c_t − c_{t+1}‖₂` with `c = u − α·b`.
    pub c_diff: f64,
    /// `‖x_t‖₂`.
    pub x_norm: f64,
    /// `‖x_{t+1}‖₂`.
    pub x_next_norm: f64,
}

/// The equivalent target `b̃` of SPEC §6 and the [`Shift`] figures. `a_next = None` means `A`
/// did not change. Both a change of `x` and of `A` may be given: `b̃` is defined by equal
/// residuals either way (the corollary treats one at a time).
pub fn shift(
    func: Activation,
    a: &CsrMatrix,
    x: &[f64],
    a_next: Option<&CsrMatrix>,
    x_next: &[f64],
    b: &[f64],
) -> Result<(Vec<f64>, Shift), ShiftError> {
    let (n, d) = a.shape();
    let shape_err = |what, e: String, f: String| ShiftError::Shape { what, expected: e, found: f };
    if let Some(an) = a_next
        && an.shape() != (n, d)
    {
        return Err(shape_err("A_{t+1}", format!("{n}×{d}"), format!("{}×{}", an.nrows(), an.ncols())));
    }
    for (what, v, len) in [("x_t", x, d), ("x_{t+1}", x_next, d), ("b", b, n)] {
        if v.len() != len {
            return Err(shape_err(what, len.to_string(), v.len().to_string()));
        }
        if !v.iter().all(|t| t.is_finite()) {
            return Err(ShiftError::NonFinite { what });
        }
    }
    let a1 = a_next.unwrap_or(a);
    let mut z0 = vec![0.0; n];
    let mut z1 = vec![0.0; n];
    a.mul_vec(x, &mut z0);
    a1.mul_vec(x_next, &mut z1);
    let u0: Vec<f64> = z0.iter().map(|&z| func.u(z)).collect();
    let u1: Vec<f64> = z1.iter().map(|&z| func.u(z)).collect();
    let (al0, al1) = (sum(&u0), sum(&u1));
    if !(al0.is_finite() && al1.is_finite()) {
        return Err(ShiftError::NonFinite { what: "α = ⟨u(Ax), 1⟩" });
    }
    if al0 == 0.0 {
        return Err(ShiftError::ZeroAlpha { alpha: al0 });
    }
    let db: Vec<f64> = (0..n).map(|i| (u0[i] - u1[i] + (al1 - al0) * b[i]) / al0).collect();
    let b_tilde: Vec<f64> = b.iter().zip(&db).map(|(b, d)| b + d).collect();
    let dx: Vec<f64> = x_next.iter().zip(x).map(|(p, q)| p - q).collect();
    let mut adx = vec![0.0; n];
    a.mul_vec(&dx, &mut adx);
    let (da_frobenius, da_spectral, da_x_inf) = match a_next {
        None => (0.0, 0.0, 0.0),
        Some(an) => {
            let mut t = vec![0.0; n];
            an.mul_vec(x, &mut t);
            let dax = t.iter().zip(&z0).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
            (difference_frobenius(a, an), difference_spectral(a, an), dax)
        }
    };
    let dx_norm = norm(&dx);
    let b_shift = norm(&db);
    let size = if a_next.is_some() { da_spectral } else { dx_norm };
    let a_dx_inf = adx.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let c_diff = norm(&(0..n).map(|i| (u0[i] - al0 * b[i]) - (u1[i] - al1 * b[i])).collect::<Vec<_>>());
    let s = Shift {
        b_shift,
        dx_norm,
        da_frobenius,
        da_spectral,
        m_measured: (size > 0.0).then(|| b_shift / size),
        a_dx_inf,
        da_x_inf,
        preconditions_hold: a_dx_inf < 0.01 && da_x_inf < 0.01,
        alpha_inv: 1.0 / al0.abs(),
        u_diff: norm(&u0.iter().zip(&u1).map(|(p, q)| p - q).collect::<Vec<_>>()),
        alpha_diff: (al0 - al1).abs(),
        c_diff,
        x_norm: norm(x),
        x_next_norm: norm(x_next),
    };
    Ok((b_tilde, s))
}

/// A power-iteration estimate of `‖A‖₂` ([`SPECTRAL_ITERATIONS`] steps on `AᵀA`, two passes
/// each, from a fixed start): a lower bound that is tight to a few digits on well-separated
/// spectra. For the corollary's `R ≥ max(‖A‖, ‖x‖₂)`.
pub fn spectral_norm(a: &CsrMatrix) -> f64 {
    power_iteration(a.ncols(), a.nrows(), |v, out| a.mul_vec(v, out), |y, out| a.tr_mul_vec(y, out))
}

/// `‖A₁ − A₀‖₂` by power iteration on `(A₁ − A₀)ᵀ(A₁ − A₀)`, never forming the difference.
fn difference_spectral(a0: &CsrMatrix, a1: &CsrMatrix) -> f64 {
    let n = a0.nrows();
    let mut t = vec![0.0; n];
    let mut s = vec![0.0; a0.ncols()];
    power_iteration(
        a0.ncols(),
        n,
        |v, out| {
            a1.mul_vec(v, out);
            a0.mul_vec(v, &mut t);
            out.iter_mut().zip(&t).for_each(|(o, q)| *o -= q);
        },
        |y, out| {
            a1.tr_mul_vec(y, out);
            a0.tr_mul_vec(y, &mut s);
            out.iter_mut().zip(&s).for_each(|(o, q)| *o -= q);
        },
    )
}

fn power_iteration(
    d: usize,
    n: usize,
    mut mul: impl FnMut(&[f64], &mut [f64]),
    mut tr_mul: impl FnMut(&[f64], &mut [f64]),
) -> f64 {
    // A fixed, non-symmetric start (deterministic; unlikely to be orthogonal to the top vector).
    let mut v: Vec<f64> = (0..d).map(|i| 1.0 + ((i * 7919) % 101) as f64 / 101.0).collect();
    let mut y = vec![0.0; n];
    let mut w = vec![0.0; d];
    let mut est = 0.0;
    for _ in 0..SPECTRAL_ITERATIONS {
        let nv = norm(&v);
        if nv == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|t| *t /= nv);
        mul(&v, &mut y);
        est = norm(&y);
        tr_mul(&y, &mut w);
        std::mem::swap(&mut v, &mut w);
    }
    est
}

/// `‖A₁ − A₀‖_F`, merging the rows' sorted column lists (`O(nnz(A₀) + nnz(A₁))`).
fn difference_frobenius(a0: &CsrMatrix, a1: &CsrMatrix) -> f64 {
    let mut total = 0.0;
    for i in 0..a0.nrows() {
        let (c0, v0) = a0.row(i);
        let (c1, v1) = a1.row(i);
        let (mut p, mut q) = (0, 0);
        while p < c0.len() || q < c1.len() {
            let diff = match (c0.get(p), c1.get(q)) {
                (Some(&j0), Some(&j1)) if j0 == j1 => {
                    p += 1;
                    q += 1;
                    v1[q - 1] - v0[p - 1]
                }
                (Some(&j0), Some(&j1)) if j0 < j1 => {
                    p += 1;
                    -v0[p - 1]
                }
                (Some(_), None) => {
                    p += 1;
                    -v0[p - 1]
                }
                _ => {
                    q += 1;
                    v1[q - 1]
                }
            };
            total += diff * diff;
        }
    }
    total.sqrt()
}

fn sum(v: &[f64]) -> f64 {
    runtime::reduce::sum(v.len(), |i| v[i])
}

fn norm(v: &[f64]) -> f64 {
    crate::linalg::norm(v)
}
