//! Dense `d×d` work: Cholesky with Levenberg–Marquardt damping, triangular solves, and a
//! preconditioned conjugate gradient on a matrix-free operator. Never an explicit inverse.
//! Public so that every solver built on the engine (the distributed one too) factors and
//! solves the same way: the same damping rule, the same CG, the same fallbacks.
//!
//! ```
//! use newton::faer::{Mat, Par};
//! use newton::linalg::{chol_solve, damped_cholesky};
//! // H = [[4, 2], [2, 3]]: positive definite, no damping.
//! let h = Mat::from_fn(2, 2, |i, j| [[4.0, 2.0], [2.0, 3.0]][i][j]);
//! let (l, mu) = damped_cholesky(&h, Par::Seq).expect("factorisable");
//! let x = chol_solve(&l, &[6.0, 5.0]);
//! assert!(mu.is_none() && (x[0] - 1.0).abs() < 1e-15 && (x[1] - 1.0).abs() < 1e-15);
//! ```

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{LltRegularization, cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Mat, Par};

/// The parallelism of dense factorisations from the solver's `dense_tasks`. A fixed task count
/// (not the pool's thread count) fixes faer's partition, so results do not depend on how many
/// threads run it; 0 or 1 is sequential.
pub(crate) fn dense_par(tasks: usize) -> Par {
    if tasks <= 1 { Par::Seq } else { Par::rayon(tasks) }
}

/// A lower Cholesky factor `L` with `H = LLᵀ`, or `None` when `H` is not numerically positive
/// definite.
pub(crate) fn cholesky(h: &Mat<f64>, par: Par) -> Option<Mat<f64>> {
    let d = h.nrows();
    let mut l = h.to_owned();
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(d, par, Default::default()));
    cholesky_in_place(l.as_mut(), LltRegularization::default(), par, MemStack::new(&mut mem), Default::default())
        .ok()?;
    for j in 1..d {
        for i in 0..j {
            l[(i, j)] = 0.0;
        }
    }
    if (0..d).all(|i| l[(i, i)].is_finite() && l[(i, i)] > 0.0) { Some(l) } else { None }
}

/// Cholesky of `H`, else of `H + μ·diag(H)` (Marquardt's scaled damping) with `μ` from `1e-10`
/// growing tenfold up to `1e6`. Returns the factor (of the matrix actually factorised) and the
/// `μ` used, if any; `None` when even the largest shift fails (non-finite entries).
///
/// Both are factorised after Jacobi scaling `S H S` with `S = diag(H)^{-1/2}`, and the shift is
/// relative to each diagonal entry. Why: a coherent design (a few dense indicator columns beside
/// sparse count columns) gives a Newton matrix whose diagonal spans many orders of magnitude. The
/// unscaled Cholesky then failed on rounding alone, and a shift `μI` large enough to pass
/// (`1e-10·max H_ii`) swamped the curvature of the small columns: `leverage` on such a design
/// was damped by the same `μ` at every iteration and never converged. A relative shift damps
/// every column in proportion to its own curvature. Entries with `H_ii ≤ 0` are scaled by the
/// largest diagonal instead.
pub fn damped_cholesky(h: &Mat<f64>, par: Par) -> Option<(Mat<f64>, Option<f64>)> {
    let d = h.nrows();
    let max_diag = (0..d).map(|i| h[(i, i)]).fold(0.0, f64::max);
    if !(max_diag.is_finite() && max_diag > 0.0) {
        return None;
    }
    // Reciprocal square roots of the scaling diagonal.
    let s: Vec<f64> = (0..d).map(|i| if h[(i, i)] > 0.0 { h[(i, i)] } else { max_diag }.sqrt().recip()).collect();
    let scaled = Mat::from_fn(d, d, |i, j| h[(i, j)] * s[i] * s[j]);
    // L of S H S = L Lᵀ gives H = (S⁻¹L)(S⁻¹L)ᵀ: S⁻¹L is a Cholesky factor of H.
    let unscale = |mut l: Mat<f64>| {
        for i in 0..d {
            for j in 0..=i {
                l[(i, j)] /= s[i];
            }
        }
        l
    };
    if let Some(l) = cholesky(&scaled, par) {
        return Some((unscale(l), None));
    }
    let mut mu = 1e-10;
    while mu <= 1e6 {
        let mut shifted = scaled.to_owned();
        for i in 0..d {
            shifted[(i, i)] += mu;
        }
        if let Some(l) = cholesky(&shifted, par) {
            return Some((unscale(l), Some(mu)));
        }
        mu *= 10.0;
    }
    None
}

/// `(m + mᵀ)/2` in place: Gram kernels fill both triangles, and a sum of parts may not agree.
pub fn symmetrise(m: &mut Mat<f64>) {
    for i in 0..m.nrows() {
        for j in 0..i {
            let s = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = s;
            m[(j, i)] = s;
        }
    }
}

/// The largest diagonal entry (for messages).
pub fn max_diagonal(h: &Mat<f64>) -> f64 {
    (0..h.nrows()).map(|i| h[(i, i)]).fold(0.0, f64::max)
}

/// `x = (LLᵀ)⁻¹b` by two triangular solves.
pub fn chol_solve(l: &Mat<f64>, b: &[f64]) -> Vec<f64> {
    let d = b.len();
    let mut x = Mat::from_fn(d, 1, |i, _| b[i]);
    solve_lower_triangular_in_place(l.as_ref(), x.as_mut(), Par::Seq);
    lt_solve_in_place(l, &mut x);
    (0..d).map(|i| x[(i, 0)]).collect()
}

/// `B ← L⁻ᵀB`, `L` lower triangular (sequential, so the same bits wherever it runs): the
/// second half of [`chol_solve`], and `R⁻¹Ω` for `R = Lᵀ` (a JL projection of leverage
/// scores).
pub fn lt_solve_in_place(l: &Mat<f64>, b: &mut Mat<f64>) {
    solve_upper_triangular_in_place(l.transpose(), b.as_mut(), Par::Seq);
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The Euclidean norm, without spurious underflow or overflow: `‖g‖` of a gradient whose
/// entries are `1e-299` is not 0, and of one whose entries are `1e200` is not `inf` (a plain
/// `sqrt(Σ gᵢ²)` gave both, and the solver called the first a stationary point). The plain sum
/// is used in the safe range, so ordinary results are unchanged bit for bit. NaN stays NaN.
pub(crate) fn norm(a: &[f64]) -> f64 {
    let mut m = 0.0f64;
    for &v in a {
        if v.is_nan() {
            return f64::NAN;
        }
        m = m.max(v.abs());
    }
    if m == 0.0 || m.is_infinite() {
        return m;
    }
    if (1e-150..=1e150).contains(&m) {
        return dot(a, a).sqrt();
    }
    m * a.iter().map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
}

/// What [`pcg`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct PcgResult {
    /// The approximate solution.
    pub x: Vec<f64>,
    /// Iterations made.
    pub iterations: usize,
    /// Why it stopped early, if it did not reach the tolerance.
    pub failure: Option<PcgFailure>,
}

/// Preconditioned CG for `H x = b` from `x = 0`, stopping at `‖r‖ ≤ rtol·‖b‖`; `apply` is
/// `v ↦ Hv`, `precond` is `v ↦ M⁻¹v`. Stops (with `failure`) on negative curvature
/// `pᵀHp ≤ 0`, keeping the last iterate, which is a descent direction for `b = −g`.
///
/// Why not faer's `conjugate_gradient` over the Hessian's `LinOp` (`StructuredHessian::op`):
/// on negative curvature faer returns an error and no usable iterate, while a Newton–CG step
/// needs the last iterate (a descent direction) to go on; and faer's block CG (a `k×k`
/// pivoted Cholesky per iteration, even for one right-hand side) was 1.2–1.7× slower on the
/// same operator and iteration count (`cargo bench --bench cg`, docs/benchmarks.md).
///
/// ```
/// // H = diag(1, 4): one Jacobi-preconditioned iteration solves it.
/// let h = [1.0, 4.0];
/// let r = newton::pcg(&[1.0, 2.0], 1e-12, 10, |v, o| o.iter_mut().zip(v).zip(&h).for_each(|((o, v), h)| *o = h * v),
///     |r| r.iter().zip(&h).map(|(r, h)| r / h).collect());
/// assert_eq!((r.x, r.iterations, r.failure), (vec![1.0, 0.5], 1, None));
/// ```
pub fn pcg(
    b: &[f64],
    rtol: f64,
    max_iter: usize,
    mut apply: impl FnMut(&[f64], &mut [f64]),
    precond: impl Fn(&[f64]) -> Vec<f64>,
) -> PcgResult {
    let d = b.len();
    let mut x = vec![0.0; d];
    let mut r = b.to_vec();
    let bn = norm(b);
    if bn == 0.0 {
        return PcgResult { x, iterations: 0, failure: None };
    }
    let mut z = precond(&r);
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    let mut hp = vec![0.0; d];
    for it in 0..max_iter {
        apply(&p, &mut hp);
        let php = dot(&p, &hp);
        // `php` may be NaN: anything but a positive curvature stops CG.
        if php.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return PcgResult { x, iterations: it, failure: Some(PcgFailure::NegativeCurvature { php }) };
        }
        let alpha = rz / php;
        x.iter_mut().zip(&p).for_each(|(xi, pi)| *xi += alpha * pi);
        r.iter_mut().zip(&hp).for_each(|(ri, hi)| *ri -= alpha * hi);
        if norm(&r) <= rtol * bn {
            return PcgResult { x, iterations: it + 1, failure: None };
        }
        z = precond(&r);
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        p.iter_mut().zip(&z).for_each(|(pi, zi)| *pi = zi + beta * *pi);
    }
    PcgResult { x, iterations: max_iter, failure: Some(PcgFailure::MaxIterations { max_iter }) }
}

/// Why [`pcg`] stopped before its tolerance.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PcgFailure {
    #[error("negative curvature pᵀHp = {php:.3e}")]
    /// The search direction `p` had `pᵀHp ≤ 0`.
    NegativeCurvature {
        /// The value of `pᵀHp`.
        php: f64,
    },
    #[error("no convergence in {max_iter} iterations")]
    /// The tolerance was not reached within the iteration limit.
    MaxIterations {
        /// The iteration limit.
        max_iter: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damping_is_relative_to_each_diagonal_entry() {
        // A coherent design's Newton matrix: one dense column with curvature 1e14 beside a
        // slightly indefinite block of curvature 1. A shift μI from 1e-10·max H_ii (= 1e4) swamped
        // the small block (its steps shrank 1e4-fold, at every iteration); μ·diag(H) damps each
        // column in proportion.
        let h = Mat::from_fn(3, 3, |i, j| match (i, j) {
            (0, 0) => 1e14,
            (1, 1) | (2, 2) => 1.0,
            (1, 2) | (2, 1) => 1.0 + 1e-9,
            _ => 0.0,
        });
        let (l, mu) = damped_cholesky(&h, dense_par(2)).expect("factorisable with damping");
        let mu = mu.expect("indefinite: damped");
        assert!(mu <= 1e-6, "μ = {mu:e}");
        let llt = &l * l.transpose();
        for i in 0..3 {
            let rel = (llt[(i, i)] - h[(i, i)]) / h[(i, i)];
            assert!((0.0..=1e-6).contains(&rel), "column {i}: shifted by {rel:e} of its curvature");
        }
        assert!((llt[(1, 2)] - h[(1, 2)]).abs() <= 1e-12);
        // A positive definite matrix is factorised as it is.
        let pd = Mat::from_fn(2, 2, |i, j| if i == j { [1e14, 1.0][i] } else { 0.5 });
        let (l, mu) = damped_cholesky(&pd, dense_par(2)).unwrap();
        assert_eq!(mu, None);
        let back = &l * l.transpose();
        assert!((back[(1, 1)] - 1.0).abs() <= 1e-12 && (back[(0, 1)] - 0.5).abs() <= 1e-9);
    }

    #[test]
    fn norms_neither_underflow_nor_overflow() {
        assert_eq!(norm(&[3e-300, 4e-300]), 5e-300);
        assert!((norm(&[3e200, 4e200]) / 5e200 - 1.0).abs() <= 1e-15);
        assert_eq!(norm(&[1e308, 1e308, 1e308, 1e308]), f64::INFINITY);
        assert!(norm(&[1.0, f64::NAN]).is_nan());
        assert_eq!(norm(&[]), 0.0);
        // The plain path is unchanged bit for bit.
        let v = [0.1, -0.7, 2.5];
        assert_eq!(norm(&v), dot(&v, &v).sqrt());
    }
}
