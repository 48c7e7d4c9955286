//! The error type of `losses`.

/// Why a loss could not be evaluated. Never a NaN result: every non-finite outcome is one of
/// these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LossError {
    /// A vector or matrix does not have the size `A` implies.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch { what: &'static str, expected: usize, found: usize },
    /// An input (`x`, `b`, `w`) holds NaN or ±Inf.
    #[error("{what}[{index}] is {value}, not a finite number")]
    NonFiniteInput { what: &'static str, index: usize, value: f64 },
    /// `u(Ax)` or a quantity built from it overflows `f64`.
    #[error("overflow: {detail} (largest |(Ax)_i| = {max_abs_z:.6e} at row {row}; exp overflows above 709.78)")]
    Overflow { max_abs_z: f64, row: usize, detail: &'static str },
    /// An eigenvalue or norm computation failed.
    #[error("spectral computation failed: {0}")]
    Spectral(String),
}
