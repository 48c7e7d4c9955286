//! The achieved accuracy of a sparsifier: `ε = max |λ(H^{-1/2} H̃ H^{-1/2}) − 1|`.

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, Par, Side};

use crate::error::SketchError;

/// `ε` such that `(1 − ε)H ⪯ H̃ ⪯ (1 + ε)H`, the smallest such: the largest distance from 1 of
/// the eigenvalues of `L⁻¹H̃L⁻ᵀ` with `H = LLᵀ` (Cholesky). `O(d³)`; `H` must be positive
/// definite.
pub fn measure_eps(exact: &Mat<f64>, approx: &Mat<f64>) -> Result<f64, SketchError> {
    let d = exact.nrows();
    let llt = exact.llt(Side::Lower).map_err(|_| SketchError::NotPositiveDefinite)?;
    // M = L⁻¹ H̃ L⁻ᵀ: solve L X = H̃, then L Mᵀ = Xᵀ.
    let mut x = approx.to_owned();
    solve_lower_triangular_in_place(llt.L(), x.as_mut(), Par::Seq);
    let mut m = x.transpose().to_owned();
    solve_lower_triangular_in_place(llt.L(), m.as_mut(), Par::Seq);
    let sym = Mat::from_fn(d, d, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let ev = sym.self_adjoint_eigenvalues(Side::Lower).map_err(|e| SketchError::Eigen(format!("{e:?}")))?;
    Ok(ev.iter().map(|l| (l - 1.0).abs()).fold(0.0, f64::max))
}
