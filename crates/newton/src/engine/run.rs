//! The loop.

use std::ops::ControlFlow;
use std::time::Instant;

use super::line_search::{self, Accepted, LineSearch};
use super::observer::{Observer, StepView};
use super::problem::{Evaluated, Need, Problem};
use crate::error::StepError;
use crate::linalg::{dot, norm};
use crate::report::{Checks, Fallback, IterRecord, Report, Status, Timing};

/// A direction and what it cost.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The direction `p` (a descent direction: `gᵀp < 0`).
    pub p: Vec<f64>,
    /// Seconds spent forming it, by phase.
    pub timing: Timing,
    /// Passes over the data made to form it.
    pub passes: usize,
    /// Rows kept by the sample, if the strategy samples.
    pub rows_kept: Option<usize>,
    /// CG iterations, if the strategy runs CG.
    pub cg_iterations: Option<usize>,
    /// Departures from a plain Newton step made in forming it.
    pub fallbacks: Vec<Fallback>,
    /// The smallest step length the [`LineSearch::NoIncrease`] search may try (0: no limit).
    pub min_alpha: f64,
}

/// What a strategy sees when it makes a step.
pub struct StepInput<'s, E> {
    /// The current point `x_t`.
    pub x: &'s [f64],
    /// The problem's evaluation at `x_t`.
    pub at: &'s E,
    /// The iteration number `t`.
    pub iteration: usize,
    /// `‖g‖/‖g_ref‖`: how far the gradient has come down (for forcing terms).
    pub rel_grad: f64,
}

/// How a step is made from an evaluated point.
pub trait Strategy<P: Problem> {
    /// What the loop must evaluate at each accepted point for this strategy's next step.
    fn need(&self) -> Need;
    /// The direction at `input.at`.
    fn step(&mut self, problem: &P, input: StepInput<'_, P::Eval>) -> Result<Step, StepError>;
    /// The line search accepted the length `alpha` along the last step.
    fn accepted(&mut self, _alpha: f64) {}
    /// At a stationary point `at`: the strategy's own negative-curvature test, when what its
    /// last step formed there answers it (e.g. the dense Hessian it factored); `Some(answer)`
    /// in [`Problem::negative_curvature`]'s form, `None` to leave the test to the problem.
    fn negative_curvature(&mut self, _at: &P::Eval, _seed: u64) -> Option<Option<(f64, Vec<f64>)>> {
        None
    }
}

/// What the loop does, beyond the problem and the strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopParams {
    /// Stop when `‖g‖ ≤ max(tol·‖g_ref‖, atol)` (`g_ref = g(x₀)`, or the gradient after an
    /// escape from a saddle) and, with `decrement_test`, the Newton decrement `λ²/2 = −gᵀp/2 ≤
    /// tol·|f| + floor`.
    pub tol: f64,
    /// Absolute gradient floor.
    pub atol: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Wall-clock budget (seconds).
    pub max_time: f64,
    /// Also require the Newton decrement test to stop.
    pub decrement_test: bool,
    /// The floor of the decrement test when the problem gives none
    /// ([`Evaluated::value_floor`]), relative to `|f(x₀)|`.
    pub decrement_floor: f64,
    /// At a stationary point, ask the problem for negative curvature: none means converged;
    /// some means a saddle, left along it when `escape_saddles`.
    pub curvature_test: bool,
    /// Take the negative-curvature step out of a saddle (else stop with `Saddle`).
    pub escape_saddles: bool,
    /// How the step length is chosen.
    pub line_search: LineSearch,
    /// Seed of the randomised curvature estimates.
    pub seed: u64,
}

impl LoopParams {
    /// A first-order method's loop: the gradient test `‖g‖ ≤ max(tol·‖g₀‖, atol)` and the step
    /// budget, with `line_search`; no decrement or curvature test, no time limit.
    pub fn first_order(tol: f64, atol: f64, max_iter: usize, line_search: LineSearch) -> Self {
        Self {
            tol,
            atol,
            max_iter,
            max_time: f64::INFINITY,
            decrement_test: false,
            decrement_floor: 0.0,
            curvature_test: false,
            escape_saddles: false,
            line_search,
            seed: 0,
        }
    }
}

/// Minimise `problem` from `x0` with `strategy`. `Err` only when `x0` cannot be evaluated;
/// every other outcome is a [`Report`] whose status says what happened (its
/// `regime_from_iteration` and `r_against_x_star` are left for the caller to fill).
pub fn run<P: Problem, S: Strategy<P>>(
    problem: &P,
    strategy: &mut S,
    x0: &[f64],
    params: &LoopParams,
    observers: &mut [&mut dyn Observer<P::Eval>],
) -> Result<Report, P::Error> {
    let start = Instant::now();
    let cur = problem.evaluate(x0, strategy.need())?;
    Ok(run_from(problem, strategy, x0, cur, start, params, observers))
}

/// [`run`] from an evaluation of `x0` the caller already made (with at least
/// `strategy.need()`), e.g. a re-solve that evaluated its warm start to test it: the loop does
/// not evaluate `x0` again. `start` is when the caller began (the evaluation's time is counted
/// as evaluation time).
pub fn run_from<P: Problem, S: Strategy<P>>(
    problem: &P,
    strategy: &mut S,
    x0: &[f64],
    cur: P::Eval,
    start: Instant,
    params: &LoopParams,
    observers: &mut [&mut dyn Observer<P::Eval>],
) -> Report {
    let mut total = Timing { eval_s: start.elapsed().as_secs_f64(), ..Default::default() };
    let g0 = norm(cur.gradient());
    let floor0 = params.decrement_floor * cur.value().abs();
    let mut run = Run {
        problem,
        params,
        x: x0.to_vec(),
        cur,
        g_ref: g0,
        history: Vec::new(),
        escaped: false,
        worst_increase: None,
        floor0,
        start,
    };
    let (status, message) = loop {
        match run.iteration(strategy, observers, &mut total) {
            ControlFlow::Continue(()) => {}
            ControlFlow::Break(end) => break end,
        }
    };
    let Run { x, cur, history, .. } = run;
    Report {
        status,
        regime_from_iteration: None,
        r_against_x_star: false,
        loss: cur.value(),
        grad_norm: norm(cur.gradient()),
        grad_norm0: g0,
        iterations: history.len(),
        history,
        x,
        timing: total,
        total_s: start.elapsed().as_secs_f64(),
        message,
    }
}

type End = (Status, Option<String>);

struct Run<'p, P: Problem> {
    problem: &'p P,
    params: &'p LoopParams,
    x: Vec<f64>,
    cur: P::Eval,
    g_ref: f64,
    history: Vec<IterRecord>,
    /// The last step was an escape from a saddle.
    escaped: bool,
    /// The largest factor by which an accepted step raised the loss, and at which iteration.
    worst_increase: Option<(usize, f64)>,
    floor0: f64,
    start: Instant,
}

impl<P: Problem> Run<'_, P> {
    /// One iteration: the tests, a step, its line search, the observers.
    fn iteration<S: Strategy<P>>(
        &mut self,
        strategy: &mut S,
        observers: &mut [&mut dyn Observer<P::Eval>],
        total: &mut Timing,
    ) -> ControlFlow<End> {
        let (p, it) = (self.params, self.history.len());
        let (gn, value) = (norm(self.cur.gradient()), self.cur.value());
        // `inf ≤ tol·inf` holds: a non-finite norm must never reach the gradient test.
        if !(gn.is_finite() && value.is_finite()) {
            let msg = format!("‖g‖ = {gn:e} at a loss of {value:e}: the gradient's norm overflows f64");
            return ControlFlow::Break((Status::Overflow, Some(msg)));
        }
        if self.problem.dim() == 0 {
            return ControlFlow::Break((
                Status::Converged,
                Some("no parameters: the loss does not depend on x".into()),
            ));
        }
        let grad_ok = gn <= (p.tol * self.g_ref).max(p.atol);
        let budget = self.budget(it);
        if !grad_ok && let Some(status) = budget {
            let msg = format!("‖g‖ = {gn:.3e} has not reached its tolerance {:.3e}", p.tol * self.g_ref);
            return ControlFlow::Break((status, Some(msg)));
        }
        // The step is formed before the stopping test: its Newton decrement λ² = −gᵀp is the
        // scale-invariant half of the test (no step at an exactly stationary point).
        let step = if gn == 0.0 {
            None
        } else {
            let input = StepInput {
                x: &self.x,
                at: &self.cur,
                iteration: it,
                rel_grad: gn / self.g_ref.max(f64::MIN_POSITIVE),
            };
            match strategy.step(self.problem, input) {
                Ok(s) => Some(s),
                Err(e) => return ControlFlow::Break((e.status(), Some(e.to_string()))),
            }
        };
        let lambda2 = step.as_ref().map_or(0.0, |s| (-dot(self.cur.gradient(), &s.p)).max(0.0));
        if grad_ok && self.certified(gn, lambda2) {
            self.stationary(strategy, observers, total)?;
            return ControlFlow::Continue(());
        }
        if let Some(status) = budget {
            let msg = format!(
                "‖g‖ = {gn:.3e} passed its test but the Newton decrement λ²/2 = {:.3e} is not small against the loss {value:.3e}",
                lambda2 / 2.0
            );
            return ControlFlow::Break((status, Some(msg)));
        }
        self.escaped = false;
        let Some(step) = step else {
            // gn = 0 passes both tests: `stationary` has ended this iteration.
            return ControlFlow::Break((Status::Converged, None));
        };
        self.take(strategy, step, grad_ok, lambda2, observers, total)
    }

    fn budget(&self, it: usize) -> Option<Status> {
        if it >= self.params.max_iter {
            Some(Status::MaxIterations)
        } else if self.start.elapsed().as_secs_f64() > self.params.max_time {
            Some(Status::MaxTime)
        } else {
            None
        }
    }

    /// The second half of the stopping test: an explicit absolute tolerance is the user's own
    /// scale for ‖g‖ and is honoured as given; otherwise the Newton decrement (when tested).
    fn certified(&self, gn: f64, lambda2: f64) -> bool {
        let p = self.params;
        if gn <= p.atol || !p.decrement_test {
            return true;
        }
        let floor = self.cur.value_floor().unwrap_or(self.floor0);
        crate::solver::decrement_ok(lambda2, self.cur.value(), floor, p.tol)
    }

    /// At a point that passed the stopping test: a minimum, a saddle to leave (errata E7: cosh
    /// at 0), or — after a step that raised the loss — a plateau.
    fn stationary<S: Strategy<P>>(
        &mut self,
        strategy: &mut S,
        observers: &mut [&mut dyn Observer<P::Eval>],
        total: &mut Timing,
    ) -> ControlFlow<End> {
        if self.escaped {
            return ControlFlow::Break((
                Status::Saddle,
                Some("the negative-curvature step led back to a stationary point".into()),
            ));
        }
        if let Some((at, factor)) = self.worst_increase {
            let msg = format!(
                "the gradient vanished after step {at} raised the loss {factor:.3}×: a plateau (such as a \
                 saturated softmax), not a minimum; use a smaller step size or a line search"
            );
            return ControlFlow::Break((Status::Stalled, Some(msg)));
        }
        if !self.params.curvature_test {
            return ControlFlow::Break((Status::Converged, None));
        }
        let t = Instant::now();
        let escape = strategy
            .negative_curvature(&self.cur, self.params.seed)
            .unwrap_or_else(|| self.problem.negative_curvature(&self.cur, self.params.seed));
        total.checks_s += t.elapsed().as_secs_f64();
        match escape {
            None => ControlFlow::Break((Status::Converged, None)),
            Some((lambda, _)) if !self.params.escape_saddles => {
                ControlFlow::Break((Status::Saddle, Some(format!("stationary point with λ_min = {lambda:.3e}"))))
            }
            Some((lambda, v)) => self.escape(strategy, lambda, &v, observers, total),
        }
    }

    /// A step along `±v` that decreases the loss by at least a quarter of the quadratic model's
    /// prediction `½α²λ`, taken as an iteration of its own.
    fn escape<S: Strategy<P>>(
        &mut self,
        strategy: &mut S,
        lambda: f64,
        v: &[f64],
        observers: &mut [&mut dyn Observer<P::Eval>],
        total: &mut Timing,
    ) -> ControlFlow<End> {
        let stalled = (Status::Saddle, Some(format!("stationary point with λ_min = {lambda:.3e}")));
        let Some(xn) = curvature_step(self.problem, &self.x, self.cur.value(), self.cur.gradient(), v, lambda) else {
            return ControlFlow::Break(stalled);
        };
        let t = Instant::now();
        let next = match self.problem.evaluate(&xn, strategy.need()) {
            Ok(e) => e,
            Err(e) => return ControlFlow::Break((Status::Overflow, Some(format!("beyond the saddle: {e}")))),
        };
        let mut timing = Timing { eval_s: t.elapsed().as_secs_f64(), ..Default::default() };
        total.add(&timing);
        timing.checks_s = 0.0;
        let rec = IterRecord {
            iteration: self.history.len(),
            loss: self.cur.value(),
            grad_norm: norm(self.cur.gradient()),
            step_norm: dist(&self.x, &xn),
            step_length: 1.0,
            newton_decrement: 0.0,
            rows_kept: None,
            cg_iterations: None,
            passes_over_a: 3,
            timing,
            fallbacks: vec![Fallback::NegativeCurvatureStep { lambda_min: lambda }],
            checks: Checks::default(),
        };
        let flow = self.advance(xn, next, rec, true, observers, None);
        // The gradient vanished at the saddle: measure progress from here.
        self.g_ref = norm(self.cur.gradient()).max(self.params.atol);
        self.escaped = true;
        flow
    }

    /// Line search along the step, evaluate the accepted point, record, observe.
    fn take<S: Strategy<P>>(
        &mut self,
        strategy: &mut S,
        step: Step,
        grad_ok: bool,
        lambda2: f64,
        observers: &mut [&mut dyn Observer<P::Eval>],
        total: &mut Timing,
    ) -> ControlFlow<End> {
        let gn = norm(self.cur.gradient());
        let gtp = dot(self.cur.gradient(), &step.p);
        if gtp.partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
            return ControlFlow::Break((Status::Stalled, Some(format!("not a descent direction: gᵀp = {gtp:.3e}"))));
        }
        let mut timing = step.timing;
        let mut passes = step.passes;
        let need = strategy.need();
        let search = line_search::search(
            self.problem,
            self.params.line_search,
            (&self.x, &self.cur),
            line_search::Direction { p: &step.p, gtp, min_alpha: step.min_alpha },
            need,
        );
        timing.eval_s += search.seconds;
        passes += search.passes;
        let Some(Accepted { x: xn, alpha, eval }) = search.accepted else {
            total.add(&timing);
            if let Some(e) = search.failure {
                return ControlFlow::Break((
                    self.problem.failure_status(&e),
                    Some(format!("iteration {}: {e}", self.history.len())),
                ));
            }
            return self.no_decrease(gn, grad_ok, lambda2, total);
        };
        strategy.accepted(alpha);
        if !xn.iter().all(|v| v.is_finite()) {
            total.add(&timing);
            return ControlFlow::Break((Status::Overflow, Some("the next iterate is not finite".into())));
        }
        let next = match eval {
            Some(e) => e,
            None => {
                let t = Instant::now();
                passes += 2;
                let e = match self.problem.evaluate(&xn, need) {
                    Ok(e) => e,
                    Err(e) => return ControlFlow::Break((self.problem.failure_status(&e), Some(e.to_string()))),
                };
                timing.eval_s += t.elapsed().as_secs_f64();
                e
            }
        };
        if next.value() > self.cur.value() {
            let factor = next.value() / self.cur.value().abs().max(f64::MIN_POSITIVE);
            if self.worst_increase.is_none_or(|(_, f)| factor > f) {
                self.worst_increase = Some((self.history.len() + 1, factor));
            }
        }
        let rec = IterRecord {
            iteration: self.history.len(),
            loss: self.cur.value(),
            grad_norm: gn,
            step_norm: dist(&self.x, &xn),
            step_length: alpha,
            newton_decrement: (-gtp).max(0.0).sqrt(),
            rows_kept: step.rows_kept,
            cg_iterations: step.cg_iterations,
            passes_over_a: passes,
            timing,
            fallbacks: step.fallbacks,
            checks: Checks::default(),
        };
        self.advance(xn, next, rec, false, observers, Some(total))
    }

    /// The line search found no decrease.
    fn no_decrease(&self, gn: f64, grad_ok: bool, lambda2: f64, total: &mut Timing) -> ControlFlow<End> {
        let value = self.cur.value();
        if grad_ok {
            // The gradient test holds and not even a tiny fraction of the step lowers the loss:
            // the predicted decrease is below the rounding of the loss itself (a zero-residual
            // minimum evaluated to its floating-point floor). Stationary to the precision the
            // loss can be evaluated, unless the curvature says saddle.
            let t = Instant::now();
            let escape = if self.params.curvature_test {
                self.problem.negative_curvature(&self.cur, self.params.seed)
            } else {
                None
            };
            total.checks_s += t.elapsed().as_secs_f64();
            return ControlFlow::Break(match escape {
                None => (
                    Status::Converged,
                    Some(format!(
                        "stationary to rounding: the Newton decrease λ²/2 = {:.3e} is below what the loss {value:.3e} resolves",
                        lambda2 / 2.0
                    )),
                ),
                Some((lambda, _)) => (Status::Saddle, Some(format!("stationary point with λ_min = {lambda:.3e}"))),
            });
        }
        ControlFlow::Break((
            Status::Stalled,
            Some(format!(
                "the line search found no decrease along the step (‖g‖ = {gn:.3e}, λ²/2 = {:.3e}, loss {value:.3e})",
                lambda2 / 2.0
            )),
        ))
    }

    /// Move to `xn`: run the observers on the step's record, keep it, recycle the old point.
    /// `total` (normal steps) receives the record's timing after the observers have filled in
    /// their share (the checks).
    fn advance(
        &mut self,
        xn: Vec<f64>,
        next: P::Eval,
        mut rec: IterRecord,
        escape: bool,
        observers: &mut [&mut dyn Observer<P::Eval>],
        total: Option<&mut Timing>,
    ) -> ControlFlow<End> {
        let mut stop = false;
        for o in observers.iter_mut() {
            let mut view = StepView { x: &self.x, x_next: &xn, at: &self.cur, next: &next, escape, record: &mut rec };
            stop |= o.observe(&mut view).is_break();
        }
        if let Some(total) = total {
            total.add(&rec.timing);
        }
        self.history.push(rec);
        self.x = xn;
        // Its buffers serve the next evaluations (no fresh pages to fault in).
        self.problem.recycle(std::mem::replace(&mut self.cur, next));
        if stop {
            return ControlFlow::Break((Status::Interrupted, Some(INTERRUPTED.into())));
        }
        ControlFlow::Continue(())
    }
}

/// The report's message when an observer stopped the solve.
const INTERRUPTED: &str = "stopped by the observer between iterations";

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// A step along `±v` that decreases `f` by at least a quarter of the quadratic model's
/// prediction `½α²λ`; `None` if no such step is found.
fn curvature_step<P: Problem>(problem: &P, x: &[f64], fx: f64, g: &[f64], v: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let sign = if dot(g, v) > 0.0 { -1.0 } else { 1.0 };
    let mut alpha = 1.0f64.max(norm(x));
    for _ in 0..40 {
        let xn: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + sign * alpha * b).collect();
        if let Ok(val) = problem.value(&xn)
            && val - fx <= 0.25 * 0.5 * alpha * alpha * lambda
        {
            return Some(xn);
        }
        alpha *= 0.5;
    }
    None
}
