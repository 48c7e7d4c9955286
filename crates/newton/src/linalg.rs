//! Dense `d×d` work: Cholesky with Levenberg–Marquardt damping, triangular solves, and a
//! preconditioned conjugate gradient on a matrix-free operator. Never an explicit inverse.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{LltRegularization, cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Mat, Par};

/// The parallelism of dense factorisations. A fixed task count (not the pool's thread count)
/// fixes faer's partition, so results do not depend on how many threads run it.
pub(crate) fn dense_par() -> Par {
    Par::rayon(2)
}

/// A lower Cholesky factor `L` with `H = LLᵀ`, or `None` when `H` is not numerically positive
/// definite.
pub(crate) fn cholesky(h: &Mat<f64>) -> Option<Mat<f64>> {
    let d = h.nrows();
    let par = dense_par();
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

/// Cholesky of `H`, else of `H + μI` with `μ` from `1e-10·max|H_ii|` growing tenfold (the
/// Levenberg–Marquardt fallback). Returns the factor and the `μ` used, if any.
pub(crate) fn damped_cholesky(h: &Mat<f64>) -> Option<(Mat<f64>, Option<f64>)> {
    if let Some(l) = cholesky(h) {
        return Some((l, None));
    }
    let d = h.nrows();
    let scale = (0..d).map(|i| h[(i, i)].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut mu = 1e-10 * scale;
    while mu <= 1e6 * scale {
        let mut shifted = h.to_owned();
        for i in 0..d {
            shifted[(i, i)] += mu;
        }
        if let Some(l) = cholesky(&shifted) {
            return Some((l, Some(mu)));
        }
        mu *= 10.0;
    }
    None
}

/// `x = (LLᵀ)⁻¹b` by two triangular solves.
pub(crate) fn chol_solve(l: &Mat<f64>, b: &[f64]) -> Vec<f64> {
    let d = b.len();
    let mut x = Mat::from_fn(d, 1, |i, _| b[i]);
    solve_lower_triangular_in_place(l.as_ref(), x.as_mut(), Par::Seq);
    solve_upper_triangular_in_place(l.transpose(), x.as_mut(), Par::Seq);
    (0..d).map(|i| x[(i, 0)]).collect()
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// What [`pcg`] returns.
pub(crate) struct PcgResult {
    pub x: Vec<f64>,
    pub iterations: usize,
    /// Why it stopped early, if it did not reach the tolerance.
    pub failure: Option<String>,
}

/// Preconditioned CG for `H x = b` from `x = 0`, stopping at `‖r‖ ≤ rtol·‖b‖`; `apply` is
/// `v ↦ Hv`, `precond` is `v ↦ M⁻¹v`. Stops (with `failure`) on negative curvature
/// `pᵀHp ≤ 0`, keeping the last iterate, which is a descent direction for `b = −g`.
pub(crate) fn pcg(
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
            return PcgResult { x, iterations: it, failure: Some(format!("negative curvature pᵀHp = {php:.3e}")) };
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
    PcgResult { x, iterations: max_iter, failure: Some(format!("no convergence in {max_iter} iterations")) }
}
