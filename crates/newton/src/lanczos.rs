//! How the checks and the saddle test stop `losses::spectral::lanczos_lowest`, the adaptive
//! Lanczos (issue 16): the same Krylov estimate as a fixed number of steps, stopped as soon as
//! it is settled.
//!
//! Each step is one operator application plus full reorthogonalisation (`O(k·d)`) and the
//! eigen-decomposition of the `k×k` tridiagonal (`O(k³)`, `k ≤ 60`: negligible next to a pass
//! over `A`). The iteration stops when the lowest Ritz pair `(θ, y)` has the residual bound
//! `‖Hy − θy‖ = β_k·|e_kᵀs| ≤ rel_tol·|θ|` (an eigenvalue lies within that distance of `θ`,
//! and the error in the extreme Ritz value is smaller still, `O(res²/gap)`); or, when asked,
//! as soon as `θ < −1e-10·max(|θ|, θ_max)`: any Ritz value bounds `λ_min` from above, so a
//! negative one certifies negative curvature whatever the remaining steps would add.
//! Cost: `k` applications where the fixed version spends `max_steps`.

/// Relative residual at which the Ritz value counts as settled (the checks' `λ_min`).
pub(crate) const REL_TOL: f64 = 1e-3;
/// Relative residual enough for the sign of `λ_min` (the stationary-point saddle test): an
/// eigenvalue lies within 10% of the settled lowest Ritz value.
pub(crate) const SIGN_TOL: f64 = 0.1;
/// Steps before [`SIGN_TOL`] may stop the iteration (a negative eigenvalue weakly present in
/// the start vector needs a few steps to show).
pub(crate) const SIGN_MIN_STEPS: usize = 10;
