//! The Newton steps of [`crate::Strategy`] over the structured Hessian: form `H̃` (exact,
//! Gauss–Newton, or from a sketch of `D₊`), factor it (damped when not positive definite) and
//! solve `H̃p = −g` — or, for `leverage-pcg`, solve the exact system by CG preconditioned with it.

use std::time::Instant;

use faer::Mat;
use losses::{Evaluation, Objective, Part, StructuredHessian};
use sketch::{Method, SampledDiagonal, Sparsifier, SparsifyParams, sparsify};

use crate::engine::{Need, Step, StepInput, Strategy as StepStrategy};
use crate::error::StepError;
use crate::linalg::{chol_solve, damped_cholesky, dense_par, dot, max_diagonal, norm, pcg, symmetrise};
use crate::params::{SolverParams, Strategy};
use crate::report::{Fallback, Timing};

/// A Newton strategy with its state: the leverage sample kept between refreshes.
pub(crate) struct HessianStep {
    params: SolverParams,
    /// The last leverage sample (it owns its inclusion probabilities, so it can be re-weighted
    /// by the current `D₊` between refreshes).
    sample: Option<SampledDiagonal>,
    /// A warm re-solve's seeded sample: the largest drift of `D₊` it may have at the first
    /// step and still be kept (`crate::resolve`), and what that test found.
    seed_test: Option<f64>,
    seed_outcome: Option<SeedOutcome>,
    /// A warm re-solve's gradient scale: CG's forcing term is `‖g‖` relative to it rather than
    /// to the (already small) gradient at the warm start.
    grad_ref: Option<f64>,
    /// A warm re-solve's kept factor (`crate::resolve`), when it reuses one.
    factor: Option<FactorState>,
    /// Steps formed (taken or not) and the passes of the last one: the certification step
    /// the loop forms at a converged point is not in the history.
    steps_made: usize,
    last_passes: usize,
    /// Where the `exact` strategy leaves the dense `H(x_t)` it formed, for the derived checks.
    shared_dense: Option<crate::checks::SharedDense>,
    /// The `exact` strategy's last dense `H(x_t)` with the gradient it was formed for (small
    /// `d` only, [`crate::objective::dense_is_cheaper`]): at a stationary point the loop's
    /// saddle test reads it instead of forming the same matrix again.
    last_dense: Option<(Vec<f64>, Mat<f64>)>,
}

/// A kept Cholesky factor of the exact Hessian, used as the PCG preconditioner of a warm
/// re-solve while CG needs at most `cg_limit` iterations with it.
pub(crate) struct FactorState {
    /// The factor (`None`: build one at the next step).
    pub l: Option<Mat<f64>>,
    /// The CG count above which the factor is stale and rebuilt at the next step.
    pub cg_limit: usize,
    /// The stopping level of `‖g‖` (the cold scale): CG's target, and below it the step is the
    /// factor's own (no CG: it only certifies the Newton decrement).
    pub stop_grad: f64,
    /// The factor serves only points with `‖g‖ ≤ near_grad` (near the answer, where one
    /// accurate Newton step is worth solving for); further out a step sketches as a cold one.
    pub near_grad: f64,
    /// What happened to the factor in this solve.
    pub log: FactorLog,
}

/// What a warm re-solve did with its kept factor.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FactorLog {
    /// Factors built (exact Hessian's Gram: one pass over `A` each), with why.
    pub builds: Vec<String>,
    /// Steps made with a factor built before this solve.
    pub steps_with_kept: usize,
    /// CG iterations of each step (0: a certification step by the factor alone).
    pub cg: Vec<usize>,
    /// Steps made by a sketch because `‖g‖` was above the factor's level.
    pub sketched_steps: usize,
}

/// What the test of a seeded sample found at the first step of a warm re-solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SeedOutcome {
    /// The estimated relative drift of `D₊` since the sample was drawn ([`d_drift`]).
    pub drift: f64,
    /// Whether the sample was kept (drift within the limit) or drawn afresh.
    pub kept: bool,
}

impl HessianStep {
    pub fn new(params: SolverParams) -> Self {
        Self {
            params,
            sample: None,
            seed_test: None,
            seed_outcome: None,
            grad_ref: None,
            factor: None,
            steps_made: 0,
            last_passes: 0,
            shared_dense: None,
            last_dense: None,
        }
    }

    /// Hand each step's dense exact `H(x_t)` (strategy `exact`) to the derived checks.
    pub(crate) fn with_shared_dense(mut self, shared: crate::checks::SharedDense) -> Self {
        self.shared_dense = Some(shared);
        self
    }

    /// Seeded with a sample a previous solve drew: its first step keeps it (re-weighted by the
    /// new `D₊`) while [`d_drift`] is at most `max_drift`, else draws a fresh one.
    pub fn with_sample(params: SolverParams, sample: SampledDiagonal, max_drift: f64) -> Self {
        Self { sample: Some(sample), seed_test: Some(max_drift), ..Self::new(params) }
    }

    /// A warm re-solve's `leverage-pcg` steps with a kept factor `l` of the exact Hessian (or
    /// one built at the first step) as PCG's preconditioner instead of a sketch; CG solves to
    /// `stop_grad` (the cold solve's stopping level of `‖g‖`); a step needing more than
    /// `cg_limit` CG iterations marks the factor stale, rebuilt at the next step.
    pub fn with_factor(mut self, l: Option<Mat<f64>>, cg_limit: usize, stop_grad: f64, near_grad: f64) -> Self {
        let mut log = FactorLog::default();
        if l.is_none() {
            log.builds.push("no factor kept: built at the first step near the answer".to_string());
        }
        self.factor = Some(FactorState { l, cg_limit, stop_grad, near_grad, log });
        self
    }

    /// The kept factor and what became of it (`None` when not in factor mode).
    pub fn take_factor(&mut self) -> Option<(Option<Mat<f64>>, FactorLog)> {
        self.factor.take().map(|f| (f.l, f.log))
    }

    /// Passes over `A` of the last step formed when it was not taken (the certification at a
    /// converged point), given how many steps the history holds.
    pub fn untaken_passes(&self, taken: usize) -> usize {
        if self.steps_made > taken { self.last_passes } else { 0 }
    }

    /// Measure CG's forcing term against `grad_ref` (a warm re-solve: the cold start's `‖g(x₀)‖`).
    pub fn with_grad_ref(mut self, grad_ref: f64) -> Self {
        self.grad_ref = (grad_ref > 0.0).then_some(grad_ref);
        self
    }

    /// The last sample and what the seeded-sample test found.
    pub fn into_parts(self) -> (Option<SampledDiagonal>, Option<SeedOutcome>) {
        (self.sample, self.seed_outcome)
    }

    /// Whether this step draws a fresh sample.
    fn must_refresh(&mut self, dplus: &[f64], it: usize) -> bool {
        let Some(sample) = &self.sample else { return true };
        if let Some(max_drift) = self.seed_test.take() {
            let drift = d_drift(sample, dplus);
            let kept = drift <= max_drift;
            self.seed_outcome = Some(SeedOutcome { drift, kept });
            return !kept;
        }
        it.is_multiple_of(self.params.refresh_every)
    }
}

/// The relative drift of the diagonal since `sample` was drawn, estimated on its rows:
/// `(Σ_S (d_i − d⁰_i)²/p_i / Σ_S (d⁰_i)²/p_i)^{1/2}` with `d⁰_i = weight_i·p_i` the diagonal
/// the sample was drawn for. Weighting by `1/p_i` makes numerator and denominator unbiased
/// estimates of `‖d − d⁰‖²` and `‖d⁰‖²` over all `n` rows. `O(rows kept)`; `+∞` when `d⁰`
/// vanishes on the sample (or `d` has fewer rows).
pub(crate) fn d_drift(sample: &SampledDiagonal, d: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((&i, &w), &p) in sample.rows.iter().zip(&sample.weights).zip(&sample.probs) {
        let Some(&di) = d.get(i) else { return f64::INFINITY };
        let d0 = w * p;
        num += (di - d0) * (di - d0) / p;
        den += d0 * d0 / p;
    }
    if den > 0.0 { (num / den).sqrt() } else { f64::INFINITY }
}

/// `H̃` and what forming it cost.
struct Formed {
    m: Mat<f64>,
    timing: Timing,
    passes: usize,
    rows_kept: Option<usize>,
    fallbacks: Vec<Fallback>,
}

impl<'a> StepStrategy<Objective<'a>> for HessianStep {
    fn need(&self) -> Need {
        Need::Curvature
    }

    /// The saddle test from the dense `H` the last step formed at this point (`exact`, small
    /// `d`): the PSD certificate first, then that matrix's eigenvalues; no Hessian formed.
    fn negative_curvature(&mut self, at: &Evaluation<'a>, _seed: u64) -> Option<Option<(f64, Vec<f64>)>> {
        let (h, g) = (at.hessian.as_ref()?, at.gradient.as_deref()?);
        let (formed_at, m) = self.last_dense.take()?;
        let same = formed_at.len() == g.len() && formed_at.iter().zip(g).all(|(a, b)| a.to_bits() == b.to_bits());
        if !same || m.nrows() != h.dim() {
            return None;
        }
        if losses::spectral::psd_certificate(h, Part::Exact) {
            return Some(None);
        }
        Some(crate::objective::dense_negative_curvature(&m, crate::objective::curvature_floor(h)))
    }

    fn step(&mut self, f: &Objective<'a>, input: StepInput<'_, Evaluation<'a>>) -> Result<Step, StepError> {
        let h = input.at.hessian.as_ref().expect("evaluated with the Hessian");
        let g = input.at.gradient.as_deref().expect("evaluated with the gradient");
        self.last_dense = None;
        let near = self.factor.as_mut().filter(|_| self.params.strategy == Strategy::LeveragePcg).map(|state| {
            let near = norm(g) <= state.near_grad;
            if !near {
                state.log.sketched_steps += 1;
            }
            near
        });
        if near == Some(true) {
            let step = self.factor_step(h, g)?;
            self.steps_made += 1;
            self.last_passes = step.passes;
            return Ok(step);
        }
        let step = self.sketched_step(f, h, g, input)?;
        self.steps_made += 1;
        self.last_passes = step.passes;
        Ok(step)
    }
}

impl HessianStep {
    /// The step of [`HessianStep::with_factor`]: PCG on the exact Hessian preconditioned by the
    /// kept factor (built first, one pass, when there is none or it went stale).
    fn factor_step(&mut self, h: &StructuredHessian, g: &[f64]) -> Result<Step, StepError> {
        let dense_tasks = self.params.dense_tasks;
        let max_cg = self.params.max_cg;
        let state = self.factor.as_mut().expect("factor mode");
        let mut timing = Timing::default();
        let mut passes = 0;
        let mut fallbacks = Vec::new();
        let built_now = state.l.is_none();
        if built_now {
            let t = Instant::now();
            let mut m = h.dense(Part::Exact);
            symmetrise(&mut m);
            passes += 1;
            timing.hessian_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (l, mu) = damped_cholesky(&m, dense_par(dense_tasks))
                .ok_or(StepError::NotFactorisable { max_diag: max_diagonal(&m) })?;
            if let Some(mu) = mu {
                fallbacks.push(Fallback::Damped { mu });
            }
            state.l = Some(l);
            timing.solve_s += t.elapsed().as_secs_f64();
        } else {
            state.log.steps_with_kept += 1;
        }
        let t = Instant::now();
        let l = state.l.as_ref().expect("built");
        let gn = norm(g);
        let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let (p, its) = if gn <= state.stop_grad {
            // At the stopping level: the factor's step only measures the Newton decrement
            // (gᵀH̃⁻¹g with H̃ a recent exact Hessian) — no CG, no pass over A.
            (chol_solve(l, &neg_g), 0)
        } else {
            // Solve to the stopping level at once: near the answer one accurate Newton step
            // lands there, and with a recent exact factor CG needs few iterations for it.
            let eta = 0.1f64.min(0.5 * state.stop_grad / gn).max(1e-12);
            let cap = if built_now { max_cg } else { max_cg.min(2 * state.cg_limit) };
            let res = pcg(&neg_g, eta, cap, |v, out| h.apply(Part::Exact, v, out), |r| chol_solve(l, r));
            let descent = dot(&res.x, g) < 0.0;
            let p = match res.failure {
                Some(reason) if !descent || res.iterations == 0 => {
                    fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
                    chol_solve(l, &neg_g)
                }
                Some(reason) => {
                    fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
                    res.x
                }
                None => res.x,
            };
            (p, res.iterations)
        };
        passes += 2 * its;
        state.log.cg.push(its);
        if its > state.cg_limit {
            state.log.builds.push(format!(
                "a step took {its} CG iterations > {} with the factor: rebuilt at the next step",
                state.cg_limit
            ));
            state.l = None;
        }
        timing.solve_s += t.elapsed().as_secs_f64();
        if !p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        Ok(Step { p, timing, passes, rows_kept: None, cg_iterations: Some(its), fallbacks, min_alpha: 0.0 })
    }

    fn sketched_step<'a>(
        &mut self,
        f: &Objective<'a>,
        h: &StructuredHessian,
        g: &[f64],
        input: StepInput<'_, Evaluation<'a>>,
    ) -> Result<Step, StepError> {
        let Formed { mut m, mut timing, mut passes, rows_kept, mut fallbacks } = match self.params.strategy {
            Strategy::Exact | Strategy::GaussNewton => exact_matrix(h, self.params.strategy),
            _ => self.sketched_matrix(f, h, input.iteration)?,
        };
        let t = Instant::now();
        symmetrise(&mut m);
        if let Some(shared) = self.shared_dense.as_ref().filter(|_| self.params.strategy == Strategy::Exact) {
            // The exact H(x_t), before any damping: the checks' l and H(x_t)s (d² copy).
            *shared.borrow_mut() = Some(m.clone());
        }
        let d = g.len();
        if max_diagonal(&m) == 0.0 && (0..d).all(|i| (0..d).all(|j| m[(i, j)] == 0.0)) {
            return Err(StepError::Underflow { grad_norm: norm(g) });
        }
        let (l, mu) = damped_cholesky(&m, dense_par(self.params.dense_tasks))
            .ok_or(StepError::NotFactorisable { max_diag: max_diagonal(&m) })?;
        if let Some(mu) = mu {
            fallbacks.push(Fallback::Damped { mu });
        }
        let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut cg_iterations = None;
        let p = if self.params.strategy == Strategy::LeveragePcg {
            let rel_grad = self.grad_ref.map_or(input.rel_grad, |r| norm(g) / r);
            let apply = |v: &[f64], out: &mut [f64]| h.apply(Part::Exact, v, out);
            let (p, its) =
                pcg_step(&neg_g, g, rel_grad, self.params.max_cg, apply, |r| chol_solve(&l, r), &mut fallbacks);
            cg_iterations = Some(its);
            passes += 2 * its;
            p
        } else {
            chol_solve(&l, &neg_g)
        };
        if self.params.strategy == Strategy::Exact && crate::objective::dense_is_cheaper(h) {
            self.last_dense = Some((g.to_vec(), m));
        }
        timing.solve_s += t.elapsed().as_secs_f64();
        if !p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        Ok(Step { p, timing, passes, rows_kept, cg_iterations, fallbacks, min_alpha: 0.0 })
    }
}

impl HessianStep {
    /// `H̃` from a sketch of `D₊` (`losses`' one rule), with the low-rank part kept exact.
    fn sketched_matrix(&mut self, f: &Objective, h: &StructuredHessian, it: usize) -> Result<Formed, StepError> {
        let a = f.matrix();
        let params = self.params;
        let mut timing = Timing::default();
        let mut passes = 0;
        let mut fallbacks = Vec::new();
        let t = Instant::now();
        let (dplus, negative) = h.sketch_diagonal();
        if negative > 0 {
            fallbacks.push(Fallback::NegativeDiagonal { rows: negative });
        }
        let sp_params = SparsifyParams { eps0: params.eps0, delta: params.delta, ..Default::default() };
        let seed = params.seed.wrapping_add(it as u64);
        let sparsifier = if params.strategy == Strategy::NewtonSketch {
            passes += 1;
            sparsify(a, &dplus, Method::NewtonSketch, &sp_params, seed)?
        } else if self.must_refresh(&dplus, it) {
            passes += 2;
            let sp = sparsify(a, &dplus, Method::Leverage, &sp_params, seed)?;
            if let Sparsifier::Diagonal(s) = &sp {
                self.sample = Some(s.clone());
            }
            sp
        } else {
            // Keep the rows; re-weight them by the current D₊.
            Sparsifier::Diagonal(self.sample.as_ref().expect("checked").reweight(&dplus))
        };
        timing.sketch_s += t.elapsed().as_secs_f64();
        let rows_kept = Some(sparsifier.rows_kept());
        let t = Instant::now();
        let mut m = sparsifier.gram(a);
        if h.low_rank(Part::Exact).1 > 0 {
            // AᵀU came with the gradient's pass: no further pass over A.
            h.add_low_rank(Part::Exact, h.atu(), &mut m);
        }
        timing.hessian_s += t.elapsed().as_secs_f64();
        Ok(Formed { m, timing, passes, rows_kept, fallbacks })
    }
}

/// The exact or Gauss–Newton matrix, assembled densely.
fn exact_matrix(h: &StructuredHessian, strategy: Strategy) -> Formed {
    let part = if strategy == Strategy::GaussNewton { Part::GaussNewton } else { Part::Exact };
    let t = Instant::now();
    let m = h.dense(part);
    let timing = Timing { hessian_s: t.elapsed().as_secs_f64(), ..Default::default() };
    // The weighted Gram is one pass; AᵀU came with the gradient's pass.
    Formed { m, timing, passes: 1, rows_kept: None, fallbacks: Vec::new() }
}

/// Inexact Newton by CG on the exact Hessian (`apply`: `v ↦ Hv`), preconditioned by `precond`
/// (the Cholesky solve with the sketched matrix, or the identity). Forcing term
/// `η = min(0.1, √(‖g‖/‖g₀‖))` gives superlinear convergence. Returns the step and the CG
/// iterations; falls back to the preconditioner's own step `precond(−g)` when CG fails before
/// finding a descent direction, and records every CG failure in `fallbacks`. The one inexact
/// step of the workspace: `leverage-pcg` here and the distributed solver's CG modes use it.
pub fn pcg_step(
    neg_g: &[f64],
    g: &[f64],
    rel_grad: f64,
    max_cg: usize,
    apply: impl FnMut(&[f64], &mut [f64]),
    precond: impl Fn(&[f64]) -> Vec<f64>,
    fallbacks: &mut Vec<Fallback>,
) -> (Vec<f64>, usize) {
    let eta = 0.1f64.min(rel_grad.sqrt()).max(1e-12);
    let res = pcg(neg_g, eta, max_cg, apply, &precond);
    let descent = dot(&res.x, g) < 0.0;
    let p = match res.failure {
        Some(reason) if !descent || res.iterations == 0 => {
            fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
            precond(neg_g)
        }
        Some(reason) => {
            fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
            res.x
        }
        None => res.x,
    };
    (p, res.iterations)
}

#[cfg(test)]
mod saddle_tests {
    use super::HessianStep;
    use crate::engine::{Problem, StepInput, Strategy as _};
    use crate::params::{SolverParams, Strategy};
    use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, What, plant};
    use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

    /// Near cosh's saddle at 0 the `exact` strategy's own test (the dense `H` its step formed)
    /// gives the problem's answer (same `λ_min`, same direction up to sign), and declines at a
    /// point its last step was not formed at.
    #[test]
    fn the_exact_strategy_answers_the_saddle_test_from_its_own_matrix() {
        let spec = GenSpec { nrows: 3000, ncols: 8, sparsity: Sparsity::RowNnz(6), variant: Variant::Plain, seed: 4 };
        let a = random_sparse(&spec).unwrap();
        let ps = PlantSpec { loss: LossKind::Rescaled, func: Activation::Cosh, scale: 1.0, noise: 0.0, seed: 5 };
        let (_, b) = plant(&a, &ps).unwrap();
        let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Cosh).unwrap();
        let x: Vec<f64> = (0..8).map(|i| 1e-3 * (i as f64 + 1.0)).collect();
        let at = f.evaluate(&x, What::Hessian).unwrap();
        let mut s = HessianStep::new(SolverParams { strategy: Strategy::Exact, ..Default::default() });
        s.step(&f, StepInput { x: &x, at: &at, iteration: 0, rel_grad: 1.0 }).unwrap();
        let own = s.negative_curvature(&at, 0).expect("the step formed H here").expect("a saddle");
        let reference = Problem::negative_curvature(&f, &at, 0).expect("a saddle");
        assert!(own.0 < 0.0 && (own.0 - reference.0).abs() <= 1e-9 * reference.0.abs(), "{own:?} vs {reference:?}");
        let cos: f64 = own.1.iter().zip(&reference.1).map(|(p, q)| p * q).sum();
        assert!(cos.abs() > 1.0 - 1e-8, "directions differ: cos = {cos}");
        // Taken: a second call, or another point, leaves the test to the problem.
        assert!(s.negative_curvature(&at, 0).is_none());
        s.step(&f, StepInput { x: &x, at: &at, iteration: 1, rel_grad: 1.0 }).unwrap();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        let other = f.evaluate(&y, What::Hessian).unwrap();
        assert!(s.negative_curvature(&other, 0).is_none());
    }
}
