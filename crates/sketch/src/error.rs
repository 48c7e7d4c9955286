//! Error type of `sketch`.

/// Why a sketch could not be built or measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SketchError {
    #[error("{what}: expected length {expected}, found {found}")]
    /// Two sizes that must agree do not.
    DimensionMismatch {
        /// Which argument is mismatched.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length actually given.
        found: usize,
    },
    #[error("weight D[{index}] = {value} (weights must be finite and nonnegative)")]
    /// A diagonal weight is negative, NaN or infinite.
    BadWeight {
        /// Index of the weight in `D`.
        index: usize,
        /// The offending value.
        value: f64,
    },
    #[error("invalid parameter: {0}")]
    /// A parameter outside its documented range (message says which).
    InvalidParameter(String),
    #[error("the exact matrix AᵀDA is not positive definite, so ε cannot be measured against it")]
    /// The exact `AᵀDA` is not positive definite, so the accuracy `ε` is undefined.
    NotPositiveDefinite,
    #[error("every weight is zero: AᵀDA = 0 has nothing to sample")]
    /// Every weight is zero, so there is nothing to sample.
    ZeroWeights,
    #[error("eigenvalue computation failed: {0}")]
    /// The eigenvalue solver failed (its message).
    Eigen(String),
}
