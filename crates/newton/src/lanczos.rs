//! Adaptive Lanczos for the lowest eigenvalue of a symmetric operator (issue 16): the same
//! Krylov estimate as a fixed number of steps, stopped as soon as it is settled.
//!
//! Each step is one operator application plus full reorthogonalisation (`O(k·d)`) and the
//! eigen-decomposition of the `k×k` tridiagonal (`O(k³)`, `k ≤ 60`: negligible next to a pass
//! over `A`). The iteration stops when the lowest Ritz pair `(θ, y)` has the residual bound
//! `‖Hy − θy‖ = β_k·|e_kᵀs| ≤ rel_tol·|θ|` (an eigenvalue lies within that distance of `θ`,
//! and the error in the extreme Ritz value is smaller still, `O(res²/gap)`); or, when asked,
//! as soon as `θ < −1e-10·max(|θ|, θ_max)`: any Ritz value bounds `λ_min` from above, so a
//! negative one certifies negative curvature whatever the remaining steps would add.
//! Cost: `k` applications where the fixed version spends `max_steps`.

use faer::Side;

use crate::linalg::{dot, norm};

/// What [`lowest`] returns.
pub(crate) struct Lowest {
    /// The lowest Ritz value (an upper bound on `λ_min`).
    pub theta: f64,
    /// The largest Ritz value (a lower bound on `λ_max`).
    pub theta_max: f64,
    /// The unit Ritz vector of `theta`.
    pub vector: Vec<f64>,
    /// Operator applications spent.
    #[allow(dead_code)] // read by the tests
    pub steps: usize,
}

/// Relative residual at which the Ritz value counts as settled (the checks' `λ_min`).
pub(crate) const REL_TOL: f64 = 1e-3;
/// Relative residual enough for the sign of `λ_min` (the stationary-point saddle test): an
/// eigenvalue lies within 10% of the settled lowest Ritz value.
pub(crate) const SIGN_TOL: f64 = 0.1;
/// Steps before [`SIGN_TOL`] may stop the iteration (a negative eigenvalue weakly present in
/// the start vector needs a few steps to show).
pub(crate) const SIGN_MIN_STEPS: usize = 10;

/// The lowest eigenpair estimate of `apply` by Lanczos from `start` (need not be unit; a zero
/// or non-finite start is refused with `None`), at most `max_steps` applications, stopped early
/// as the module docs say. Deterministic: sequential vector operations only.
pub(crate) fn lowest(
    dim: usize,
    max_steps: usize,
    start: &[f64],
    rel_tol: f64,
    min_steps: usize,
    stop_on_negative: bool,
    mut apply: impl FnMut(&[f64], &mut [f64]),
) -> Option<Lowest> {
    let m = max_steps.min(dim).max(1);
    let n0 = norm(start);
    if !(n0 > 0.0 && n0.is_finite()) {
        return None;
    }
    let mut q: Vec<f64> = start.iter().map(|v| v / n0).collect();
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(m);
    let (mut alpha, mut beta) = (Vec::with_capacity(m), Vec::<f64>::with_capacity(m));
    let mut w = vec![0.0; dim];
    loop {
        apply(&q, &mut w);
        let a = dot(&q, &w);
        alpha.push(a);
        basis.push(std::mem::take(&mut q));
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &w);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let nb = norm(&w);
        let k = alpha.len();
        let t = losses::spectral::tridiagonal(&alpha[..k], &beta[..k - 1]);
        let eig = t.self_adjoint_eigen(Side::Lower).ok()?;
        let (theta, theta_max) = (eig.S()[0], eig.S()[k - 1]);
        if !theta.is_finite() || !theta_max.is_finite() {
            return None;
        }
        let res = nb * eig.U()[(k - 1, 0)].abs();
        let scale = theta.abs().max(1e-12 * theta_max.abs());
        let negative = stop_on_negative && theta < -1e-10 * theta.abs().max(theta_max.abs());
        let invariant = nb <= 1e-12 * a.abs().max(theta_max.abs()).max(1e-300);
        if k == m || negative || invariant || (k >= min_steps.max(2) && res <= rel_tol * scale) {
            let mut vector = vec![0.0; dim];
            for (i, b) in basis.iter().enumerate() {
                let c = eig.U()[(i, 0)];
                vector.iter_mut().zip(b).for_each(|(v, x)| *v += c * x);
            }
            let vn = norm(&vector);
            if vn > 0.0 {
                vector.iter_mut().for_each(|v| *v /= vn);
            }
            return Some(Lowest { theta, theta_max, vector, steps: k });
        }
        beta.push(nb);
        q = w.iter().map(|x| x / nb).collect();
    }
}

/// A deterministic pseudo-random start vector (entries in `[-0.5, 0.5)`, SplitMix64), decorrelated by `seed`.
pub(crate) fn start_vector(dim: usize, seed: u64) -> Vec<f64> {
    let mut state = seed ^ 0x5EED_1A7C_205F_0001;
    (0..dim)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diagonal operator with a known spectrum: the adaptive estimate matches `λ_min` to its
    /// tolerance in fewer steps than the cap, and a negative eigenvalue stops it at once.
    #[test]
    fn finds_the_lowest_eigenvalue_and_stops_early() {
        let d = 400;
        let diag: Vec<f64> = (0..d).map(|i| 1.0 + i as f64 * 0.25).collect();
        let apply = |v: &[f64], o: &mut [f64]| o.iter_mut().zip(v).zip(&diag).for_each(|((o, v), s)| *o = s * v);
        let r = lowest(d, 200, &start_vector(d, 3), 1e-6, 2, false, apply).unwrap();
        assert!((r.theta - 1.0).abs() < 1e-4, "θ = {}", r.theta);
        assert!(r.theta >= 1.0 - 1e-12, "a Ritz value is never below λ_min");
        assert!(r.steps < 200, "{} steps", r.steps);
        assert!(r.vector[0].abs() > 0.99, "the Ritz vector is e₀: {}", r.vector[0]);
        // Warm start at the Ritz vector: settled in a couple of steps.
        let w = lowest(d, 200, &r.vector, 1e-6, 2, false, apply).unwrap();
        assert!(w.steps <= 3 && (w.theta - 1.0).abs() < 1e-6, "{} steps, θ = {}", w.steps, w.theta);
        // One negative eigenvalue: certified and stopped long before convergence of the rest.
        let neg: Vec<f64> = diag.iter().enumerate().map(|(i, s)| if i == 7 { -2.0 } else { *s }).collect();
        let apply = |v: &[f64], o: &mut [f64]| o.iter_mut().zip(v).zip(&neg).for_each(|((o, v), s)| *o = s * v);
        let r = lowest(d, 200, &start_vector(d, 3), 1e-12, 2, true, apply).unwrap();
        assert!(r.theta < 0.0 && r.theta >= -2.0 - 1e-12, "θ = {}", r.theta);
        assert!(r.steps < 20, "{} steps", r.steps);
    }
}
