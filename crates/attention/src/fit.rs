//! Fitting `X` with `Y` fixed: W-GD (seed 004, Definition 3.7) and Newton with the exact
//! Hessian through [`newton::dense`].

use faer::{Mat, MatRef};
use newton::dense::{DenseObjective, DenseParams, DenseRecord, DenseReport, solve_dense};
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

/// Parameters of [`gradient_descent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GdParams {
    /// Step size `η`; `None` takes `1/λ̂` with `λ̂` the largest Hessian eigenvalue magnitude at
    /// `X(0)`, by power iteration on Hessian-vector products ([`curvature_scale`]).
    pub eta: Option<f64>,
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
    pub step: usize,
    pub loss: f64,
    pub grad_norm: f64,
    pub x_norm: f64,
    /// The step size in force.
    pub eta: f64,
    /// `‖X − X*‖_F / ‖X*‖_F`, when `X*` is known.
    pub rel_error: Option<f64>,
}

/// How a fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FitStatus {
    /// The gradient test passed and no step ever raised the loss.
    Converged,
    MaxSteps,
    /// The gradient vanished, but after a step that raised the loss (a fixed step size): a
    /// plateau such as a saturated softmax, not a minimum.
    Stalled,
    /// An iterate could not be evaluated (overflow, a vanishing normaliser): `x` is the last
    /// good one.
    NumericalError,
}

/// What [`gradient_descent`] returns.
#[derive(Debug, Clone)]
pub struct FitReport {
    pub status: FitStatus,
    pub x: Mat<f64>,
    pub eta: f64,
    pub trajectory: Vec<FitRecord>,
    pub message: Option<String>,
}

/// W-GD: `X(k+1) = X(k) − η∇_X L(X(k))`.
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
    let mut eta = match params.eta {
        Some(e) if e.is_finite() && e > 0.0 => e,
        Some(e) => return Err(AttentionError::InvalidParameter(format!("eta must be positive and finite, got {e}"))),
        None => 1.0 / curvature_scale(f, x0, 30, 0)?.max(f64::MIN_POSITIVE),
    };
    let record = |step: usize, x: &Mat<f64>, loss: f64, g: &Mat<f64>, eta: f64| FitRecord {
        step,
        loss,
        grad_norm: frobenius(g.as_ref()),
        x_norm: frobenius(x.as_ref()),
        eta,
        rel_error: x_true.map(|t| frobenius((x - t).as_ref()) / frobenius(t)),
    };
    let mut x = x0.to_owned();
    let mut e = f.evaluate(x.as_ref(), Want::Gradient)?;
    let g0 = frobenius(e.grad_x.as_ref());
    let mut trajectory = vec![record(0, &x, e.value, &e.grad_x, eta)];
    observer(&trajectory[0]);
    let mut status = FitStatus::MaxSteps;
    let mut message = None;
    // The largest factor by which one step raised the loss, and where (fixed step size only).
    let mut worst_increase: Option<(usize, f64)> = None;
    'steps: for step in 1..=params.steps {
        loop {
            let xn = &x - faer::Scale(eta) * &e.grad_x;
            match f.evaluate(xn.as_ref(), Want::Gradient) {
                Ok(en) if params.halve_on_increase && en.value > e.value && eta > f64::MIN_POSITIVE => eta *= 0.5,
                Ok(en) => {
                    if en.value > e.value {
                        let factor = en.value / e.value.abs().max(f64::MIN_POSITIVE);
                        if worst_increase.is_none_or(|(_, f)| factor > f) {
                            worst_increase = Some((step, factor));
                        }
                    }
                    (x, e) = (xn, en);
                    break;
                }
                Err(err) => {
                    status = FitStatus::NumericalError;
                    message = Some(format!("step {step}: {err}"));
                    break 'steps;
                }
            }
        }
        let done = frobenius(e.grad_x.as_ref()) <= params.tol * g0;
        if done || step % params.record_every == 0 || step == params.steps {
            let r = record(step, &x, e.value, &e.grad_x, eta);
            observer(&r);
            trajectory.push(r);
        }
        if done {
            // A vanishing gradient certifies nothing after the loss went up: a step that raised
            // the loss 17× and saturated the softmax used to be reported as converged.
            match worst_increase {
                None => status = FitStatus::Converged,
                Some((at, factor)) => {
                    status = FitStatus::Stalled;
                    message = Some(format!(
                        "the gradient vanished after step {at} raised the loss {factor:.3}×: a plateau (saturated \
                         attention), not a minimum; use a smaller --eta or leave the step-halving on"
                    ));
                }
            }
            break;
        }
    }
    Ok(FitReport { status, x, eta, trajectory, message })
}

/// Newton on `vec(X)` with the exact dense Hessian (damped when indefinite).
pub fn newton_fit(
    f: &AttentionObjective,
    x0: MatRef<'_, f64>,
    params: &DenseParams,
    observer: &mut dyn FnMut(&DenseRecord),
) -> Result<DenseReport, AttentionError> {
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
