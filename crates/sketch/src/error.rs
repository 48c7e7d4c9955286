/// Why a sketch could not be built or measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SketchError {
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch { what: &'static str, expected: usize, found: usize },
    #[error("weight D[{index}] = {value} (weights must be finite and nonnegative)")]
    BadWeight { index: usize, value: f64 },
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("the exact matrix AᵀDA is not positive definite, so ε cannot be measured against it")]
    NotPositiveDefinite,
    #[error("every weight is zero: AᵀDA = 0 has nothing to sample")]
    ZeroWeights,
    #[error("eigenvalue computation failed: {0}")]
    Eigen(String),
}
