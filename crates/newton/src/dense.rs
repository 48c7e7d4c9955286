//! Newton's method for objectives that hand over their exact Hessian as a dense matrix: small
//! parameter spaces such as the attention weights `x = vec(X) ∈ R^{d²}` (SPEC §5), where
//! `d² × d²` is affordable and no sketch is needed.
//!
//! It is the engine's loop ([`crate::engine`]) with a dense problem and a dense Newton strategy:
//! evaluate → damped Cholesky of `H` (Levenberg–Marquardt when `H` is not positive definite,
//! recorded as [`Fallback::Damped`]) → test `‖g‖ ≤ max(tol·‖g₀‖, atol)` together with the Newton
//! decrement `gᵀH⁻¹g/2 ≤ tol·|f| + tol²·|f₀|` → Armijo backtracking from the full step → record.
//! Non-finite values are [`Status::Overflow`], never a test passed by `inf ≤ inf`. A stationary
//! point whose Hessian is not positive semidefinite is reported as [`Status::Saddle`], never as
//! converged. Records and report are the solver's own ([`IterRecord`], [`Report`]).

use std::ops::ControlFlow;
use std::time::Instant;

use faer::{Mat, Par, Side};

use crate::engine::{
    self, Evaluated, FnObserver, LineSearch, LoopParams, Need, Observer, Problem, Step, StepInput, Strategy,
};
use crate::error::{SolveError, StepError};
use crate::linalg::{chol_solve, cholesky, damped_cholesky, dense_par};
#[cfg(any(doc, test))]
use crate::report::Status;
use crate::report::{Fallback, IterRecord, Iterate, Report, Timing};

/// An objective with a dense exact Hessian. `Error` is whatever stops an evaluation (overflow,
/// a vanishing normaliser); the solver treats it as "this point is not usable".
pub trait DenseObjective {
    /// Why an evaluation failed.
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
    /// Iteration limit.
    pub max_iter: usize,
    /// Armijo constant `c` in `L(x + αp) ≤ L(x) + c·α·gᵀp`, in `(0, ½)`.
    pub armijo: f64,
    /// Backtracking halvings before the line search gives up.
    pub max_backtracks: usize,
    /// Tasks of the dense Cholesky (faer's `Par::rayon(dense_tasks)`; 0 or 1: sequential). A
    /// fixed count, not the thread count: the result depends on it, never on the pool size.
    pub dense_tasks: usize,
}

impl Default for DenseParams {
    fn default() -> Self {
        Self { tol: 1e-10, atol: 0.0, max_iter: 100, armijo: 1e-4, max_backtracks: 50, dense_tasks: 2 }
    }
}

/// Minimise `f` from `x0` by damped Newton with Armijo backtracking. Each iteration's record is
/// handed to `observer` with the point it reached; `ControlFlow::Break(())` stops the solve
/// ([`Status::Interrupted`]).
///
/// `Err` only when it cannot start (bad parameters, `x0` of the wrong length or non-finite,
/// `f` not evaluable at `x0`); every other outcome is a report whose status says what happened.
///
/// ```
/// use std::ops::ControlFlow;
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
/// let r = solve_dense(&Cosh, &[0.0; 3], &DenseParams::default(), &mut |_, _| ControlFlow::Continue(()))?;
/// assert_eq!(r.status, Status::Converged);
/// assert!((r.x[2] - 2.0).abs() < 1e-9);
/// # Ok::<(), newton::SolveError>(())
/// ```
pub fn solve_dense<F: DenseObjective>(
    f: &F,
    x0: &[f64],
    params: &DenseParams,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, SolveError> {
    validate(f, x0, params)?;
    let loop_params = LoopParams {
        tol: params.tol,
        atol: params.atol,
        max_iter: params.max_iter,
        max_time: f64::INFINITY,
        decrement_test: true,
        // A dense objective has no rounding estimate: `tol²·|f(x₀)|` stands in as the floor that
        // lets a zero-residual minimum pass (the loss has fallen by `tol²` from the start).
        decrement_floor: params.tol * params.tol,
        curvature_test: true,
        escape_saddles: false,
        line_search: LineSearch::Armijo {
            c: params.armijo,
            max_trials: params.max_backtracks,
            evaluate_full_step: false,
        },
        seed: 0,
    };
    let mut user = FnObserver(observer);
    let mut observers: [&mut dyn Observer<DensePoint>; 1] = [&mut user];
    let par = dense_par(params.dense_tasks);
    engine::run(&Dense(f, par), &mut DenseNewton { par }, x0, &loop_params, &mut observers)
        .map_err(|e| SolveError::AtStartDense(e.to_string()))
}

fn validate<F: DenseObjective>(f: &F, x0: &[f64], p: &DenseParams) -> Result<(), SolveError> {
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
    Ok(())
}

/// A [`DenseObjective`] as an engine problem.
struct Dense<'f, F>(&'f F, Par);

/// An evaluated point of a dense objective.
struct DensePoint {
    value: f64,
    gradient: Vec<f64>,
    hessian: Mat<f64>,
}

impl Evaluated for DensePoint {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        &self.gradient
    }
}

impl<F: DenseObjective> Problem for Dense<'_, F> {
    type Eval = DensePoint;
    type Error = F::Error;
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn evaluate(&self, x: &[f64], _need: Need) -> Result<DensePoint, F::Error> {
        let (value, gradient, hessian) = self.0.value_grad_hessian(x)?;
        Ok(DensePoint { value, gradient, hessian })
    }
    fn value(&self, x: &[f64]) -> Result<f64, F::Error> {
        self.0.value(x)
    }
    fn negative_curvature(&self, e: &DensePoint, _seed: u64) -> Option<(f64, Vec<f64>)> {
        if semidefinite(&e.hessian, self.1) {
            return None;
        }
        let eig = e.hessian.self_adjoint_eigen(Side::Lower).ok()?;
        Some((eig.S()[0], (0..e.hessian.nrows()).map(|i| eig.U()[(i, 0)]).collect()))
    }
}

/// Newton with the dense Hessian, damped when it is not positive definite.
struct DenseNewton {
    par: Par,
}

impl<F: DenseObjective> Strategy<Dense<'_, F>> for DenseNewton {
    fn need(&self) -> Need {
        Need::Curvature
    }
    fn step(&mut self, _f: &Dense<'_, F>, input: StepInput<'_, DensePoint>) -> Result<Step, StepError> {
        let t = Instant::now();
        let h = &input.at.hessian;
        if !(0..h.ncols()).all(|j| (0..h.nrows()).all(|i| h[(i, j)].is_finite())) {
            return Err(StepError::NonFiniteHessian);
        }
        let (l, damping) = damped_cholesky(h, self.par)
            .ok_or(StepError::NotFactorisable { max_diag: crate::linalg::max_diagonal(h) })?;
        let p: Vec<f64> = chol_solve(&l, &input.at.gradient).into_iter().map(|v| -v).collect();
        if !p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        let timing = Timing { solve_s: t.elapsed().as_secs_f64(), ..Default::default() };
        let fallbacks = damping.map(|mu| Fallback::Damped { mu }).into_iter().collect();
        Ok(Step { p, timing, fallbacks, ..Default::default() })
    }
}

/// `H + τI` positive definite for a rounding-sized `τ = 1e-10·max|H_ii|`.
fn semidefinite(h: &Mat<f64>, par: Par) -> bool {
    let d = h.nrows();
    let scale = (0..d).map(|i| h[(i, i)].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut s = h.to_owned();
    for i in 0..d {
        s[(i, i)] += 1e-10 * scale;
    }
    cholesky(&s, par).is_some()
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
        let r = solve_dense(&Saddle, &[0.5, 0.0], &params, &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!(r.status, Status::Saddle, "{:?} {:?}", r.message, r.x);
    }

    #[test]
    fn damping_finds_the_minimum_from_a_region_of_negative_curvature() {
        let r =
            solve_dense(&Saddle, &[0.5, 0.3], &DenseParams::default(), &mut |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!(r.status, Status::Converged);
        assert!((r.x[1].abs() - 2f64.sqrt()).abs() < 1e-9, "{:?}", r.x);
        assert!(r.history.iter().any(|h| h.fallbacks.iter().any(|f| matches!(f, Fallback::Damped { .. }))));
    }

    #[test]
    fn bad_starts_are_errors() {
        assert!(solve_dense(&Saddle, &[0.0], &DenseParams::default(), &mut |_, _| ControlFlow::Continue(())).is_err());
        assert!(
            solve_dense(&Saddle, &[f64::NAN, 0.0], &DenseParams::default(), &mut |_, _| ControlFlow::Continue(()))
                .is_err()
        );
    }
}
