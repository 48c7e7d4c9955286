//! Newton's method for objectives that hand over their exact Hessian as a dense matrix: small
//! parameter spaces such as the attention weights `x = vec(X) ∈ R^{d²}` (SPEC §5), where
//! `d² × d²` is affordable and no sketch is needed.
//!
//! The loop is the one of [`crate::solve`] without the sparse machinery: evaluate → damped
//! Cholesky of `H` (Levenberg–Marquardt when `H` is not positive definite, recorded) → test
//! `‖g‖ ≤ max(tol·‖g₀‖, atol)` together with the Newton decrement `gᵀH⁻¹g/2 ≤ tol·|f| + tol²·|f₀|` →
//! Armijo backtracking from the full step → record. Non-finite values are
//! [`Status::Overflow`], never a test passed by `inf ≤ inf`. A stationary point whose Hessian is
//! not positive semidefinite is reported as [`Status::Saddle`], never as converged.

use std::time::Instant;

use faer::Mat;
use serde::Serialize;

use crate::error::SolveError;
use crate::linalg::{chol_solve, cholesky, damped_cholesky, dot, norm};
use crate::report::Status;

/// An objective with a dense exact Hessian. `Error` is whatever stops an evaluation (overflow,
/// a vanishing normaliser); the solver treats it as "this point is not usable".
pub trait DenseObjective {
    type Error: std::fmt::Display;
    /// The number of parameters.
    fn dim(&self) -> usize;
    /// The loss at `x`.
    fn value(&self, x: &[f64]) -> Result<f64, Self::Error>;
    /// The loss, its gradient and its Hessian (`dim × dim`, symmetric) at `x`.
    fn value_grad_hessian(&self, x: &[f64]) -> Result<(f64, Vec<f64>, Mat<f64>), Self::Error>;
}

/// Parameters of [`solve_dense`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseParams {
    /// Relative gradient tolerance: stop when `‖g‖ ≤ tol·‖g(x₀)‖` (or `‖g‖ ≤ atol`).
    pub tol: f64,
    /// Absolute gradient floor.
    pub atol: f64,
    pub max_iter: usize,
    /// Armijo constant `c` in `L(x + αp) ≤ L(x) + c·α·gᵀp`, in `(0, ½)`.
    pub armijo: f64,
    /// Backtracking halvings before the line search gives up.
    pub max_backtracks: usize,
}

impl Default for DenseParams {
    fn default() -> Self {
        Self { tol: 1e-10, atol: 0.0, max_iter: 100, armijo: 1e-4, max_backtracks: 50 }
    }
}

/// One iteration of [`solve_dense`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenseRecord {
    pub iteration: usize,
    pub loss: f64,
    pub grad_norm: f64,
    pub step_norm: f64,
    pub step_length: f64,
    /// The Levenberg–Marquardt shift `μ` added to `H`, when it was not positive definite.
    pub damping: Option<f64>,
    pub time_s: f64,
}

/// What [`solve_dense`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenseReport {
    pub status: Status,
    pub x: Vec<f64>,
    pub loss: f64,
    pub grad_norm: f64,
    pub grad_norm0: f64,
    pub iterations: usize,
    pub history: Vec<DenseRecord>,
    /// Why it stopped, beyond the status, when there is more to say.
    pub message: Option<String>,
}

/// Minimise `f` from `x0` by damped Newton with Armijo backtracking.
///
/// `Err` only when it cannot start (bad parameters, `x0` of the wrong length or non-finite,
/// `f` not evaluable at `x0`); every other outcome is a report whose status says what happened.
///
/// ```
/// use faer::Mat;
/// use newton::dense::{solve_dense, DenseObjective, DenseParams};
/// use newton::Status;
/// // L(x) = Σ cosh(x_i − i): minimum at x_i = i.
/// struct Cosh;
/// impl DenseObjective for Cosh {
///     type Error = String;
///     fn dim(&self) -> usize { 3 }
///     fn value(&self, x: &[f64]) -> Result<f64, String> {
///         Ok(x.iter().enumerate().map(|(i, v)| (v - i as f64).cosh()).sum())
///     }
///     fn value_grad_hessian(&self, x: &[f64]) -> Result<(f64, Vec<f64>, Mat<f64>), String> {
///         let g = x.iter().enumerate().map(|(i, v)| (v - i as f64).sinh()).collect();
///         let h = Mat::from_fn(3, 3, |i, j| if i == j { (x[i] - i as f64).cosh() } else { 0.0 });
///         Ok((self.value(x)?, g, h))
///     }
/// }
/// let r = solve_dense(&Cosh, &[0.0; 3], &DenseParams::default(), &mut |_| {})?;
/// assert_eq!(r.status, Status::Converged);
/// assert!((r.x[2] - 2.0).abs() < 1e-9);
/// # Ok::<(), newton::SolveError>(())
/// ```
pub fn solve_dense<F: DenseObjective>(
    f: &F,
    x0: &[f64],
    params: &DenseParams,
    observer: &mut dyn FnMut(&DenseRecord),
) -> Result<DenseReport, SolveError> {
    let p = params;
    let bad = |name: &'static str, value: f64, allowed: &'static str| {
        Err(SolveError::InvalidParameter { name, value, allowed })
    };
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return bad("tol", p.tol, "finite and ≥ 0");
    }
    if !(p.atol >= 0.0 && p.atol.is_finite()) {
        return bad("atol", p.atol, "finite and ≥ 0");
    }
    if !(p.armijo > 0.0 && p.armijo < 0.5) {
        return bad("armijo", p.armijo, "in (0, 0.5)");
    }
    if p.max_backtracks == 0 {
        return bad("max_backtracks", 0.0, "≥ 1");
    }
    if x0.len() != f.dim() {
        return Err(SolveError::DimensionMismatch { what: "x0", expected: f.dim(), found: x0.len() });
    }
    if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
        return Err(SolveError::NonFiniteStart { what: "x0", index: i, value: x0[i] });
    }
    let (mut value, mut g, mut h) = f.value_grad_hessian(x0).map_err(|e| SolveError::AtStartDense(e.to_string()))?;
    let mut x = x0.to_vec();
    let grad_norm0 = norm(&g);
    let value0 = value;
    let mut history = Vec::new();
    let (status, message) = loop {
        let t = Instant::now();
        let gn = norm(&g);
        // `inf ≤ tol·inf` holds: non-finite values never reach the tests (the objective may
        // hand back NaN or ±inf instead of an error).
        if let Some(what) = non_finite(value, &g, &h) {
            break (Status::Overflow, Some(format!("the {what} is not finite (overflow)")));
        }
        let grad_ok = gn <= (p.tol * grad_norm0).max(p.atol);
        // The step comes first: its Newton decrement is the scale-invariant half of the test.
        let step = if gn == 0.0 {
            None
        } else {
            let Some((l, damping)) = damped_cholesky(&h) else {
                break (Status::NumericalError, Some("the Hessian could not be factorised even with damping".into()));
            };
            let step: Vec<f64> = chol_solve(&l, &g).into_iter().map(|v| -v).collect();
            if !step.iter().all(|v| v.is_finite()) {
                break (Status::NumericalError, Some("the Newton step is not finite".into()));
            }
            Some((step, damping))
        };
        let lambda2 = step.as_ref().map_or(0.0, |(s, _)| (-dot(&g, s)).max(0.0));
        // A dense objective has no rounding estimate: `tol²·|f(x₀)|` stands in as the floor that
        // lets a zero-residual minimum pass (the loss has fallen by `tol²` from the start).
        // An explicit `atol` is the caller's own scale for ‖g‖ and is honoured as given.
        let certified =
            gn <= p.atol || crate::solver::decrement_ok(lambda2, value, p.tol * p.tol * value0.abs(), p.tol);
        if grad_ok && certified {
            // A stationary point is a minimum only if H ⪰ 0 (up to rounding).
            break if semidefinite(&h) {
                (Status::Converged, None)
            } else {
                (Status::Saddle, Some("stationary point with negative curvature".into()))
            };
        }
        if history.len() >= p.max_iter {
            break (
                Status::MaxIterations,
                Some(format!("‖g‖ = {gn:.3e}, Newton decrement λ²/2 = {:.3e}", lambda2 / 2.0)),
            );
        }
        let Some((step, damping)) = step else {
            break (Status::Converged, None);
        };
        let gtp = dot(&g, &step);
        if gtp.partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
            break (Status::Stalled, Some(format!("not a descent direction: gᵀp = {gtp:.3e}")));
        }
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..p.max_backtracks {
            let xn: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + alpha * s).collect();
            if f.value(&xn).is_ok_and(|v| v <= value + p.armijo * alpha * gtp) {
                accepted = Some(xn);
                break;
            }
            alpha *= 0.5;
        }
        let Some(xn) = accepted else {
            // With the gradient test passed, no decrease even at a tiny fraction of the Newton
            // step means the predicted decrease is below the loss's rounding: stationary to the
            // precision the loss can be evaluated (a zero-residual minimum).
            if grad_ok && semidefinite(&h) {
                break (
                    Status::Converged,
                    Some(format!("stationary to rounding: λ²/2 = {:.3e} at a loss of {value:.3e}", lambda2 / 2.0)),
                );
            }
            break (Status::Stalled, Some("the line search found no decrease".into()));
        };
        match f.value_grad_hessian(&xn) {
            Ok((v, gg, hh)) => (value, g, h) = (v, gg, hh),
            Err(e) => break (Status::Overflow, Some(format!("the accepted point cannot be evaluated: {e}"))),
        }
        x = xn;
        let rec = DenseRecord {
            iteration: history.len(),
            loss: value,
            grad_norm: norm(&g),
            step_norm: alpha * norm(&step),
            step_length: alpha,
            damping,
            time_s: t.elapsed().as_secs_f64(),
        };
        observer(&rec);
        history.push(rec);
    };
    Ok(DenseReport {
        status,
        loss: value,
        grad_norm: norm(&g),
        grad_norm0,
        iterations: history.len(),
        history,
        x,
        message,
    })
}

/// Which of the value, gradient and Hessian holds a non-finite entry, if any.
fn non_finite(value: f64, g: &[f64], h: &Mat<f64>) -> Option<&'static str> {
    if !value.is_finite() {
        Some("loss")
    } else if !g.iter().all(|v| v.is_finite()) || !norm(g).is_finite() {
        Some("gradient")
    } else if !(0..h.ncols()).all(|j| (0..h.nrows()).all(|i| h[(i, j)].is_finite())) {
        Some("Hessian")
    } else {
        None
    }
}

/// `H + τI` positive definite for a rounding-sized `τ = 1e-10·max|H_ii|`.
fn semidefinite(h: &Mat<f64>) -> bool {
    let d = h.nrows();
    let scale = (0..d).map(|i| h[(i, i)].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut s = h.to_owned();
    for i in 0..d {
        s[(i, i)] += 1e-10 * scale;
    }
    cholesky(&s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `L(x, y) = x² − y² + y⁴/4`: saddle at 0, minima at `y = ±√2`.
    struct Saddle;
    impl DenseObjective for Saddle {
        type Error = String;
        fn dim(&self) -> usize {
            2
        }
        fn value(&self, x: &[f64]) -> Result<f64, String> {
            Ok(x[0] * x[0] - x[1] * x[1] + x[1].powi(4) / 4.0)
        }
        fn value_grad_hessian(&self, x: &[f64]) -> Result<(f64, Vec<f64>, Mat<f64>), String> {
            let g = vec![2.0 * x[0], -2.0 * x[1] + x[1].powi(3)];
            let h = Mat::from_fn(2, 2, |i, j| match (i, j) {
                (0, 0) => 2.0,
                (1, 1) => -2.0 + 3.0 * x[1] * x[1],
                _ => 0.0,
            });
            Ok((self.value(x)?, g, h))
        }
    }

    #[test]
    fn a_saddle_is_reported_not_converged() {
        // On y = 0 the damped steps (μ = 20 > |λ_min| = 2) shrink x by 10/11 each: slow, but
        // the end is a stationary point with negative curvature, which must not pass as a minimum.
        let params = DenseParams { max_iter: 500, ..Default::default() };
        let r = solve_dense(&Saddle, &[0.5, 0.0], &params, &mut |_| {}).unwrap();
        assert_eq!(r.status, Status::Saddle, "{:?} {:?}", r.message, r.x);
    }

    #[test]
    fn damping_finds_the_minimum_from_a_region_of_negative_curvature() {
        let r = solve_dense(&Saddle, &[0.5, 0.3], &DenseParams::default(), &mut |_| {}).unwrap();
        assert_eq!(r.status, Status::Converged);
        assert!((r.x[1].abs() - 2f64.sqrt()).abs() < 1e-9, "{:?}", r.x);
        assert!(r.history.iter().any(|h| h.damping.is_some()));
    }

    #[test]
    fn bad_starts_are_errors() {
        assert!(solve_dense(&Saddle, &[0.0], &DenseParams::default(), &mut |_| {}).is_err());
        assert!(solve_dense(&Saddle, &[f64::NAN, 0.0], &DenseParams::default(), &mut |_| {}).is_err());
    }
}
