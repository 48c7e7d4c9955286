//! The sparse losses of `losses` as an engine [`Problem`]: evaluations carry the structured
//! Hessian `Aᵀ(D + UCUᵀ)A`, whose negative curvature the loop inspects at stationary points.

use faer::Side;
use losses::{Evaluation, LossError, Objective, Part, StructuredHessian, What};

use crate::engine::{Evaluated, Need, Problem};
use crate::report::Status;

/// Lanczos steps for `λ_min` and negative-curvature directions.
pub(crate) const LANCZOS_STEPS: usize = 60;

impl Evaluated for Evaluation<'_> {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        self.gradient.as_deref().expect("the engine always asks for the gradient")
    }
    fn value_floor(&self) -> Option<f64> {
        Some(self.value_floor)
    }
}

impl<'a> Problem for Objective<'a> {
    type Eval = Evaluation<'a>;
    type Error = LossError;
    fn dim(&self) -> usize {
        self.shape().1
    }
    fn evaluate(&self, x: &[f64], need: Need) -> Result<Evaluation<'a>, LossError> {
        Objective::evaluate(self, x, if need == Need::Curvature { What::Hessian } else { What::Gradient })
    }
    fn value(&self, x: &[f64]) -> Result<f64, LossError> {
        Objective::value(self, x)
    }
    fn recycle(&self, e: Evaluation<'a>) {
        Objective::recycle(self, e)
    }
    fn failure_status(&self, e: &LossError) -> Status {
        if matches!(e, LossError::Overflow { .. }) { Status::Overflow } else { Status::NumericalError }
    }
    fn negative_curvature(&self, e: &Evaluation<'a>, seed: u64) -> Option<(f64, Vec<f64>)> {
        negative_curvature(e.hessian.as_ref()?, seed)
    }
}

/// Whether dense eigenvalues (`Σ nnz(a_i)²` to form `H`, about `4d³` to diagonalise) are
/// cheaper than Lanczos (`LANCZOS_STEPS` one-pass Hessian-vector products, `4·nnz` flops each, plus
/// reorthogonalisation).
pub(crate) fn dense_is_cheaper(h: &StructuredHessian) -> bool {
    let a = h.matrix();
    let d = a.ncols() as f64;
    let gram: f64 = a.indptr().windows(2).map(|w| ((w[1] - w[0]) as f64).powi(2) / 2.0).sum();
    let dense = gram + 4.0 * d * d * d;
    let steps = LANCZOS_STEPS as f64;
    let lanczos = steps * 4.0 * a.nnz() as f64 + steps * steps * d;
    dense <= lanczos
}

/// How many `ε` of the Hessian's term scale ([`StructuredHessian::term_scale`]) a negative
/// eigenvalue must exceed to be told from rounding.
const CURVATURE_ROUNDING: f64 = 64.0 * f64::EPSILON;

/// Whether `lo` is clearly negative: below `−1e-10` of the spectrum's size and below the
/// rounding floor `floor` of the computed eigenvalues (a nearly flat Hessian, such as a
/// saturated softmax's, has a tiny `λ_max`, and its `λ_min ≈ −1e-14` is rounding, not a saddle).
fn clearly_negative(lo: f64, hi: f64, floor: f64) -> bool {
    lo < -(1e-10 * hi.abs().max(lo.abs())).max(floor)
}

/// The rounding floor of `h`'s computed eigenvalues.
pub(crate) fn curvature_floor(h: &StructuredHessian) -> f64 {
    CURVATURE_ROUNDING * h.term_scale(Part::Exact)
}

/// `(λ_min, unit eigenvector)` of a dense exact Hessian when it is clearly negative (relative
/// to its largest eigenvalue and above the rounding floor `floor`), else `None`: `O(d³)`.
pub(crate) fn dense_negative_curvature(m: &faer::Mat<f64>, floor: f64) -> Option<(f64, Vec<f64>)> {
    let d = m.nrows();
    if d == 0 {
        return None;
    }
    let eig = m.self_adjoint_eigen(Side::Lower).ok()?;
    let s = eig.S();
    let (lo, hi) = (s[0], s[d - 1]);
    clearly_negative(lo, hi, floor).then(|| (lo, (0..d).map(|i| eig.U()[(i, 0)]).collect()))
}

/// `(λ_min, unit eigenvector)` of the exact Hessian when it is clearly negative (relative to
/// its largest eigenvalue), else `None`.
fn negative_curvature(h: &StructuredHessian, seed: u64) -> Option<(f64, Vec<f64>)> {
    let d = h.dim();
    // H ⪰ 0 proved from the row weights (D ≥ 0 and the middle matrix PSD; no pass over A):
    // nothing to find (issue 16; cosh at 0 has D < 0 and still reaches the tests below).
    if losses::spectral::psd_certificate(h, Part::Exact) {
        return None;
    }
    if dense_is_cheaper(h) {
        return dense_negative_curvature(&h.dense(Part::Exact), curvature_floor(h));
    }
    // Adaptive Lanczos (issue 16): stops once the lowest Ritz value is settled well enough to
    // know its sign (residual ≤ 10% of it, after at least 10 steps) instead of always spending
    // `LANCZOS_STEPS` products; its Ritz vector (Rayleigh quotient exactly `θ`) is the escape
    // direction.
    let r = losses::spectral::lanczos_lowest(
        d,
        LANCZOS_STEPS,
        &losses::spectral::lanczos_start(d, seed),
        crate::lanczos::SIGN_TOL,
        crate::lanczos::SIGN_MIN_STEPS,
        false,
        |v, out| h.apply_fused(Part::Exact, v, out),
    )?;
    clearly_negative(r.theta, r.theta_max, curvature_floor(h)).then_some((r.theta, r.vector))
}
