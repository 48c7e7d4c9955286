//! The per-row terms of SPEC §1–2, the one definition every evaluator uses: the regulariser's
//! `w_i²` and, from a row's `z_i = a_iᵀx`, `u_i = u(z_i)`, `u'_i` and `b_i`, the gradient
//! integrand `y_i` (`∇L = Aᵀy`), the Hessian's diagonal `D_i` and the Gauss–Newton diagonal
//! `D_GN,i`. [`crate::Objective`] and the distributed solver's evaluation both call these, so a
//! formula is changed in one place and both give the same bits per row. Cost: `O(1)` per row.
//!
//! ```
//! use losses::rows::{self, RowWeights};
//! use losses::Regulariser;
//!
//! let w2 = RowWeights::squares(&Regulariser::Const(0.5), 3)?;
//! // Linear: y = z − b + w²z, D = D_GN = 1 + w².
//! let t = rows::linear(2.0, 1.0, w2.at(0));
//! assert_eq!((t.y, t.d, t.d_gn), (1.5, 1.25, 1.25));
//! # Ok::<(), losses::LossError>(())
//! ```

use crate::error::LossError;
use crate::kind::Regulariser;

/// `w∘w`, without materialising a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum RowWeights {
    /// `w = 0`.
    Zero,
    /// The same `w²` on every row.
    Const(f64),
    /// `w_i²` per row.
    PerRow(Vec<f64>),
}

impl RowWeights {
    /// The squares of `w` for `n` rows; an error when `w` is not finite, has the wrong length
    /// or its square overflows.
    pub fn squares(w: &Regulariser, n: usize) -> Result<Self, LossError> {
        Ok(match w {
            Regulariser::None => RowWeights::Zero,
            Regulariser::Const(c) => {
                check_vec("w", &[*c], 1)?;
                if !(c * c).is_finite() {
                    return Err(LossError::Overflow { max_abs_z: 0.0, row: 0, detail: "w² overflows" });
                }
                RowWeights::Const(c * c)
            }
            Regulariser::PerRow(w) => {
                check_vec("w", w, n)?;
                if let Some(i) = w.iter().position(|v| !(v * v).is_finite()) {
                    return Err(LossError::Overflow { max_abs_z: 0.0, row: i, detail: "w_i² overflows" });
                }
                RowWeights::PerRow(w.iter().map(|v| v * v).collect())
            }
        })
    }

    /// `w_i²`.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            RowWeights::Zero => 0.0,
            RowWeights::Const(c) => *c,
            RowWeights::PerRow(w) => w[i],
        }
    }
}

/// A vector of length `len` with only finite entries, else a typed error naming it.
pub(crate) fn check_vec(what: &'static str, v: &[f64], len: usize) -> Result<(), LossError> {
    if v.len() != len {
        return Err(LossError::DimensionMismatch { what, expected: len, found: v.len() });
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(LossError::NonFiniteInput { what, index, value: v[index] }),
        None => Ok(()),
    }
}

/// One row's gradient integrand and Hessian diagonals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowTerms {
    /// `y_i`, the row's weight in `∇L = Aᵀy`.
    pub y: f64,
    /// `D_i`, the Hessian's diagonal (may be negative).
    pub d: f64,
    /// `D_GN,i ≥ 0`, the Gauss–Newton diagonal.
    pub d_gn: f64,
}

/// The rescaled loss (SPEC §1), given `α = ⟨u,1⟩` and `β = ⟨b, u − αb⟩`: with
/// `r = u − αb − β`, `y = r·u' + w²z`, `D = u'² + u·r + w²`, `D_GN = u'² + w²`
/// (`U`'s row is `[u', u'·b]`).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn rescaled(u: f64, du: f64, b: f64, z: f64, w2: f64, alpha: f64, beta: f64) -> RowTerms {
    let r = u - alpha * b - beta;
    RowTerms { y: r * du + w2 * z, d: du * du + u * r + w2, d_gn: du * du + w2 }
}

/// The hyperbolic loss `½‖u(Ax) − b‖²`: with `r = u − b`, `y = r·u' + w²z`,
/// `D = u'² + u·r + w²`, `D_GN = u'² + w²`.
#[inline]
pub fn hyperbolic(u: f64, du: f64, b: f64, z: f64, w2: f64) -> RowTerms {
    let r = u - b;
    RowTerms { y: r * du + w2 * z, d: du * du + u * r + w2, d_gn: du * du + w2 }
}

/// The linear loss `½‖Ax − b‖²`: `y = z − b + w²z`, `D = D_GN = 1 + w²`.
#[inline]
pub fn linear(z: f64, b: f64, w2: f64) -> RowTerms {
    RowTerms { y: z - b + w2 * z, d: 1.0 + w2, d_gn: 1.0 + w2 }
}

/// `D₊,i`, the diagonal the sketches sample by (the one rule): `D_i` where it is
/// non-negative, else the Gauss–Newton `D_GN,i ≥ 0`.
#[inline]
pub fn sketch_weight(d: f64, d_gn: f64) -> f64 {
    if d >= 0.0 { d } else { d_gn }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's `y`, `D` is the derivative of its loss term: finite differences of
    /// `½(u(z) − b)² + ½w²z²` (hyperbolic) in `z`.
    #[test]
    fn hyperbolic_terms_are_the_derivatives_of_the_row_loss() {
        let (b, w2) = (0.7, 0.3);
        for f in [crate::Activation::Exp, crate::Activation::Cosh, crate::Activation::Sinh] {
            let l = |z: f64| 0.5 * (f.u(z) - b).powi(2) + 0.5 * w2 * z * z;
            let dl = |z: f64| hyperbolic(f.u(z), f.du(z), b, z, w2).y;
            for z in [-0.8, 0.1, 0.9] {
                let h = 1e-6;
                let t = hyperbolic(f.u(z), f.du(z), b, z, w2);
                assert!(((l(z + h) - l(z - h)) / (2.0 * h) - t.y).abs() < 1e-8, "{f} y at {z}");
                assert!(((dl(z + h) - dl(z - h)) / (2.0 * h) - t.d).abs() < 1e-7, "{f} D at {z}");
                assert!(t.d_gn >= w2 && (t.d_gn - f.du(z).powi(2) - w2).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn weights_are_checked_before_use() {
        assert_eq!(RowWeights::squares(&Regulariser::PerRow(vec![1.0, 2.0]), 2).unwrap().at(1), 4.0);
        assert!(matches!(
            RowWeights::squares(&Regulariser::PerRow(vec![1.0]), 2),
            Err(LossError::DimensionMismatch { .. })
        ));
        assert!(matches!(RowWeights::squares(&Regulariser::Const(f64::NAN), 2), Err(LossError::NonFiniteInput { .. })));
        assert!(matches!(RowWeights::squares(&Regulariser::Const(1e200), 2), Err(LossError::Overflow { .. })));
    }
}
