//! Fitting `X` with `Y` fixed: W-GD (seed 004, Definition 3.7) and Newton with the exact
//! Hessian through [`newton::dense`].

use std::ops::ControlFlow;

use faer::{Mat, MatRef};
use newton::dense::{DenseObjective, DenseParams, solve_dense};
use newton::engine::{
    self, Evaluated, LineSearch, LoopParams, Need, Observer, Problem, Step, StepInput, StepView, Strategy,
};
use newton::{IterRecord, Iterate, Report, Status, StepError};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::dense::{frobenius, unvec_row_major, vec_row_major};
use crate::error::AttentionError;
use crate::objective::{AttentionObjective, Want};

impl DenseObjective for AttentionObjective<'_> {
    type Error = AttentionError;
    fn dim(&self) -> usize {
        let d = AttentionObjective::dim(self);
        d * d
    }
    fn value(&self, x: &[f64]) -> Result<f64, AttentionError> {
        let d = AttentionObjective::dim(self);
        AttentionObjective::value(self, unvec_row_major(x, d, d).as_ref())
    }
    fn value_grad_hessian(&self, x: &[f64]) -> Result<(f64, Vec<f64>, Mat<f64>), AttentionError> {
        let d = AttentionObjective::dim(self);
        let e = self.evaluate(unvec_row_major(x, d, d).as_ref(), Want::Hessian)?;
        let h = e.hessian.as_ref().expect("requested").try_dense()?;
        Ok((e.value, vec_row_major(e.grad_x.as_ref()), h))
    }
}

/// How `X` is fitted: [`gradient_descent`] (W-GD) or [`newton_fit`] (exact dense Hessian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMethod {
    /// Gradient descent with a fixed (or halved) step ([`gradient_descent`]).
    Gd,
    /// Newton's method on the dense Hessian ([`newton_fit`]).
    Newton,
}

runtime::named_enum!(FitMethod { Gd => "gd", Newton => "newton" });

/// Parameters of [`gradient_descent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GdParams {
    /// Step size `η`; `None` takes `1/λ̂` with `λ̂` the largest Hessian eigenvalue magnitude at
    /// `X(0)`, by power iteration on Hessian-vector products ([`curvature_scale`]).
    pub eta: Option<f64>,
    /// Most gradient steps taken.
    pub steps: usize,
    /// Stop early when `‖∇L‖_F ≤ tol·‖∇L(X(0))‖_F`.
    pub tol: f64,
    /// Record every this many steps (and the last).
    pub record_every: usize,
    /// A step that would increase the loss is retried with `η/2` (and `η` stays halved), so a
    /// step size estimated at `X(0)` cannot diverge where the curvature is larger; off, this is
    /// the paper's fixed-step W-GD.
    pub halve_on_increase: bool,
}

impl Default for GdParams {
    fn default() -> Self {
        Self { eta: None, steps: 1000, tol: 1e-10, record_every: 10, halve_on_increase: true }
    }
}

/// One recorded point of a fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitRecord {
    /// Step number (0 for `X(0)`).
    pub step: usize,
    /// `L(X)` at this step.
    pub loss: f64,
    /// `‖∇L(X)‖_F`.
    pub grad_norm: f64,
    /// `‖X‖_F`.
    pub x_norm: f64,
    /// The step size in force.
    pub eta: f64,
    /// `‖X − X*‖_F / ‖X*‖_F`, when `X*` is known.
    pub rel_error: Option<f64>,
}

/// What [`gradient_descent`] returns: the engine's report (status, `vec(X)`, every step's
/// record) and the attention view of it. Status [`Status::Converged`]: the gradient test
/// passed and no step ever raised the loss; [`Status::Stalled`]: the gradient vanished after a
/// step that raised the loss (a fixed step size) — a plateau such as a saturated softmax, not
/// a minimum; [`Status::NumericalError`]: an iterate could not be evaluated (`x` is the last
/// good one); [`Status::MaxIterations`]: the step budget ran out.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The engine's report (`x` there is `vec(X)`, row-major).
    pub report: Report,
    /// The fitted `X` (`d×d`).
    pub x: Mat<f64>,
    /// The step size in force at the end.
    pub eta: f64,
    /// The recorded points: `X(0)`, every `record_every` steps, and the last.
    pub trajectory: Vec<FitRecord>,
}

/// W-GD: `X(k+1) = X(k) − η∇_X L(X(k))`, on the engine: a gradient strategy with the line search
/// [`LineSearch::NoIncrease`] (step halving on) or [`LineSearch::Fixed`] (the paper's fixed step),
/// the gradient test `‖∇L‖_F ≤ tol·‖∇L(X(0))‖_F` and no curvature test.
pub fn gradient_descent(
    f: &AttentionObjective,
    x0: MatRef<'_, f64>,
    params: &GdParams,
    x_true: Option<MatRef<'_, f64>>,
    observer: &mut dyn FnMut(&FitRecord),
) -> Result<FitReport, AttentionError> {
    if params.record_every == 0 || params.tol.is_nan() || params.tol < 0.0 {
        return Err(AttentionError::InvalidParameter("record_every must be ≥ 1 and tol ≥ 0".into()));
    }
    let eta = match params.eta {
        Some(e) if e.is_finite() && e > 0.0 => e,
        Some(e) => return Err(AttentionError::InvalidParameter(format!("eta must be positive and finite, got {e}"))),
        None => 1.0 / curvature_scale(f, x0, 30, 0)?.max(f64::MIN_POSITIVE),
    };
    let d = AttentionObjective::dim(f);
    let line_search = if params.halve_on_increase { LineSearch::NoIncrease } else { LineSearch::Fixed };
    let loop_params = LoopParams::first_order(params.tol, 0.0, params.steps, line_search);
    let e0 = f.evaluate(x0, Want::Gradient)?;
    let first = FitRecord {
        step: 0,
        loss: e0.value,
        grad_norm: frobenius(e0.grad_x.as_ref()),
        x_norm: frobenius(x0),
        eta,
        rel_error: x_true.map(|t| frobenius((x0 - t).as_ref()) / frobenius(t)),
    };
    observer(&first);
    let mut trajectory = Trajectory { params, x_true, d, eta, g0: first.grad_norm, points: vec![first], observer };
    let mut strategy = GradientStep { eta };
    let mut observers: [&mut dyn Observer<GdPoint>; 1] = [&mut trajectory];
    let report = engine::run(&Gd(f), &mut strategy, &vec_row_major(x0), &loop_params, &mut observers)?;
    let x = unvec_row_major(&report.x, d, d);
    Ok(FitReport { eta: strategy.eta, x, trajectory: trajectory.points, report })
}

/// The attention objective as an engine problem on `vec(X)` (row-major), value and gradient.
struct Gd<'f, 'a>(&'f AttentionObjective<'a>);

/// An evaluated `X`: the loss and `vec(∇L)`.
struct GdPoint {
    value: f64,
    gradient: Vec<f64>,
}

impl Evaluated for GdPoint {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        &self.gradient
    }
}

impl Problem for Gd<'_, '_> {
    type Eval = GdPoint;
    type Error = AttentionError;
    fn dim(&self) -> usize {
        let d = AttentionObjective::dim(self.0);
        d * d
    }
    fn evaluate(&self, x: &[f64], _need: Need) -> Result<GdPoint, AttentionError> {
        let d = AttentionObjective::dim(self.0);
        let e = self.0.evaluate(unvec_row_major(x, d, d).as_ref(), Want::Gradient)?;
        Ok(GdPoint { value: e.value, gradient: vec_row_major(e.grad_x.as_ref()) })
    }
    fn value(&self, x: &[f64]) -> Result<f64, AttentionError> {
        let d = AttentionObjective::dim(self.0);
        AttentionObjective::value(self.0, unvec_row_major(x, d, d).as_ref())
    }
    fn failure_status(&self, _e: &AttentionError) -> Status {
        Status::NumericalError
    }
}

/// `p = −η∇L`; a step the line search shortened keeps `η` shortened.
struct GradientStep {
    eta: f64,
}

impl Strategy<Gd<'_, '_>> for GradientStep {
    fn need(&self) -> Need {
        Need::Gradient
    }
    fn step(&mut self, _f: &Gd<'_, '_>, input: StepInput<'_, GdPoint>) -> Result<Step, StepError> {
        let p = input.at.gradient.iter().map(|g| -(self.eta * g)).collect();
        // Halve while η stays a normal number.
        Ok(Step { p, min_alpha: f64::MIN_POSITIVE / self.eta, ..Default::default() })
    }
    fn accepted(&mut self, alpha: f64) {
        self.eta *= alpha;
    }
}

/// The recorded points: every `record_every` steps, the last, and where the gradient test passed.
struct Trajectory<'o, 'p> {
    params: &'p GdParams,
    x_true: Option<MatRef<'p, f64>>,
    d: usize,
    eta: f64,
    g0: f64,
    points: Vec<FitRecord>,
    observer: &'o mut dyn FnMut(&FitRecord),
}

impl Observer<GdPoint> for Trajectory<'_, '_> {
    fn observe(&mut self, view: &mut StepView<'_, GdPoint>) -> ControlFlow<()> {
        self.eta *= view.record.step_length;
        let step = view.record.iteration + 1;
        // ‖∇L‖_F as the attention crate measures it (faer's norm), as the trajectory always had it.
        let grad_norm = frobenius(unvec_row_major(&view.next.gradient, self.d, self.d).as_ref());
        let done = grad_norm <= self.params.tol * self.g0;
        if done || step.is_multiple_of(self.params.record_every) || step == self.params.steps {
            let x = unvec_row_major(view.x_next, self.d, self.d);
            let r = FitRecord {
                step,
                loss: view.next.value,
                grad_norm,
                x_norm: frobenius(x.as_ref()),
                eta: self.eta,
                rel_error: self.x_true.map(|t| frobenius((&x - t).as_ref()) / frobenius(t)),
            };
            (self.observer)(&r);
            self.points.push(r);
        }
        ControlFlow::Continue(())
    }
}

/// Newton on `vec(X)` with the exact dense Hessian (damped when indefinite).
pub fn newton_fit(
    f: &AttentionObjective,
    x0: MatRef<'_, f64>,
    params: &DenseParams,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, AttentionError> {
    Ok(solve_dense(f, &vec_row_major(x0), params, observer)?)
}

/// `max |λ(∇²L(X))|` estimated by `iters` steps of power iteration on Hessian-vector products
/// from a seeded random start (`O(iters)` gradient-sized passes; never forms the Hessian).
pub fn curvature_scale(
    f: &AttentionObjective,
    x: MatRef<'_, f64>,
    iters: usize,
    seed: u64,
) -> Result<f64, AttentionError> {
    let d = f.dim();
    let e = f.evaluate(x, Want::Hessian)?;
    let h = e.hessian.as_ref().expect("requested");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = Mat::from_fn(d, d, |_, _| StandardNormal.sample(&mut rng));
    let mut lambda = 0.0;
    for _ in 0..iters.max(1) {
        let nv = frobenius(v.as_ref());
        if nv == 0.0 {
            break;
        }
        v *= faer::Scale(1.0 / nv);
        let hv = h.hvp(v.as_ref());
        lambda = frobenius(hv.as_ref());
        v = hv;
    }
    Ok(lambda)
}
