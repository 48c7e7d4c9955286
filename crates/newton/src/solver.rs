//! [`solve`]: the sparse losses on the engine, with the Newton strategies of [`Strategy`].

use std::ops::ControlFlow;

use losses::Objective;

use crate::checks::{ChecksObserver, regime_from};
use crate::engine::{self, FnObserver, LineSearch, LoopParams, Observer};
use crate::error::SolveError;
use crate::hessian_step::HessianStep;
use crate::newton_cg::{NewtonCg, SharedCurvature};
use crate::params::{ChecksKind, SolverParams, Strategy};
use crate::report::{IterRecord, Iterate, Report};

/// Armijo trials from the full step down to `α = 2⁻⁴⁶ ≈ 1.4·10⁻¹⁴`.
const LINE_SEARCH_TRIALS: usize = 47;

impl SolverParams {
    /// The engine's loop for these parameters: the gradient test and the Newton decrement, the
    /// iteration and time budgets, the curvature test with saddle escape, Armijo backtracking
    /// from the full step (evaluated with everything the next iteration needs).
    pub fn loop_params(&self) -> LoopParams {
        LoopParams {
            tol: self.tol,
            atol: self.atol,
            max_iter: self.max_iter,
            max_time: self.max_time,
            decrement_test: true,
            decrement_floor: 0.0,
            curvature_test: true,
            escape_saddles: true,
            line_search: LineSearch::Armijo {
                c: self.armijo,
                max_trials: LINE_SEARCH_TRIALS,
                evaluate_full_step: true,
            },
            seed: self.seed,
        }
    }
}

/// Minimise `f` from `x0`. `x_star`, when known (e.g. `x_true`), is what `r_t = ‖x_t − x*‖` is
/// measured against; otherwise successive steps stand in for it. Every iteration's record is
/// handed to `observer` as it completes, with the point it reached ([`Iterate`]);
/// `ControlFlow::Break(())` from the observer ends the solve after that iteration (the point is
/// kept) with [`crate::Status::Interrupted`], which is how Ctrl-C and user callbacks stop a
/// solve between iterations.
///
/// Returns `Err` only when the solver cannot run (bad parameters, `x0` of the wrong size or
/// non-finite, the loss not finite at `x0`); every other outcome is a [`Report`] whose status
/// says what happened. The result never holds a NaN.
pub fn solve(
    f: &Objective,
    x0: &[f64],
    params: &SolverParams,
    x_star: Option<&[f64]>,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, SolveError> {
    let (_, d) = f.shape();
    validate(params, x0, d, x_star)?;
    let loop_params = params.loop_params();
    let mut checks = ChecksObserver::new(x_star, params.seed);
    // Newton–CG hands its measured curvature to the checks when derived checks were asked for.
    let shared: Option<SharedCurvature> =
        (params.strategy == Strategy::NewtonCg && params.checks && params.checks_kind == ChecksKind::Derived)
            .then(SharedCurvature::default);
    if let Some(c) = &shared {
        checks = checks.with_cg(c.clone());
    }
    // The exact strategy hands its dense H(x_t) to the derived checks.
    let dense: Option<crate::checks::SharedDense> =
        (params.strategy == Strategy::Exact && params.checks && params.checks_kind == ChecksKind::Derived)
            .then(Default::default);
    if let Some(c) = &dense {
        checks = checks.with_dense(c.clone());
    }
    let mut user = FnObserver(observer);
    let mut observers: Vec<&mut dyn Observer<_>> = Vec::with_capacity(2);
    if params.checks {
        observers.push(&mut checks);
    }
    observers.push(&mut user);
    let mut report = if params.strategy == Strategy::NewtonCg {
        engine::run(f, &mut NewtonCg::new(*params, shared.clone()), x0, &loop_params, &mut observers)
    } else {
        let mut step = HessianStep::new(*params);
        if let Some(c) = dense {
            step = step.with_shared_dense(c);
        }
        engine::run(f, &mut step, x0, &loop_params, &mut observers)
    }
    .map_err(SolveError::AtStart)?;
    report.regime_from_iteration = if params.checks { regime_from(&report.history) } else { None };
    report.r_against_x_star = x_star.is_some();
    Ok(report)
}

pub(crate) fn validate(params: &SolverParams, x0: &[f64], d: usize, x_star: Option<&[f64]>) -> Result<(), SolveError> {
    if x0.len() != d {
        return Err(SolveError::DimensionMismatch { what: "x0", expected: d, found: x0.len() });
    }
    if let Some(xs) = x_star
        && xs.len() != d
    {
        return Err(SolveError::DimensionMismatch { what: "x*", expected: d, found: xs.len() });
    }
    if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
        return Err(SolveError::NonFiniteStart { what: "x0", index: i, value: x0[i] });
    }
    let bad = |name: &'static str, value: f64, allowed: &'static str| {
        Err(SolveError::InvalidParameter { name, value, allowed })
    };
    let p = params;
    // `!(v >= 0.0)` rather than `v < 0.0`: NaN must fail too.
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return bad("tol", p.tol, "finite and ≥ 0");
    }
    if !(p.atol >= 0.0 && p.atol.is_finite()) {
        return bad("atol", p.atol, "finite and ≥ 0");
    }
    if p.refresh_every < 1 {
        return bad("refresh_every", p.refresh_every as f64, "≥ 1");
    }
    if !(p.armijo > 0.0 && p.armijo < 0.5) {
        return bad("armijo", p.armijo, "in (0, 0.5)");
    }
    if p.max_time.is_nan() || p.max_time <= 0.0 {
        return bad("max_time", p.max_time, "> 0 (seconds; +inf for no limit)");
    }
    if p.strategy.is_sketched() {
        if !(p.eps0 > 0.0 && p.eps0 < 1.0) {
            return bad("eps0", p.eps0, "in (0, 1) for a sketched strategy");
        }
        if !(p.delta > 0.0 && p.delta < 1.0) {
            return bad("delta", p.delta, "in (0, 1) for a sketched strategy");
        }
    }
    Ok(())
}

/// The scale-invariant half of the stopping test: the Newton decrement `λ²/2 = gᵀH̃⁻¹g/2`
/// (the decrease the quadratic model still promises) is at most `tol·|f| + floor`. Unlike
/// `‖g‖`, it does not change when `x` or `A` is rescaled, and unlike a test relative to
/// `‖g(x₀)‖` it is not loosened by a bad start (`‖g(x₀)‖` of 1e9–1e44 let the relative
/// gradient test stop at a loss of 3.46 where the minimum is 0). `floor` is the loss's rounding
/// floor ([`losses::Evaluation::value_floor`]): what lets a zero-residual minimum (`f* = 0`,
/// where `λ²/2 ≈ f` all the way down) pass once `f` is at the noise level. `λ² = 0` (an
/// exactly stationary point, or the trivial minimum `L = 0`) always passes.
pub(crate) fn decrement_ok(lambda2: f64, value: f64, floor: f64, tol: f64) -> bool {
    lambda2 == 0.0 || lambda2 / 2.0 <= tol * value.abs() + floor
}
