use std::path::PathBuf;

/// Everything that stops an attention computation. Data problems name the sequence and row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttentionError {
    #[error("{what}: expected {expected}, found {found}")]
    DimensionMismatch { what: String, expected: String, found: String },
    #[error("{what} has a non-finite entry at ({row}, {col})")]
    NonFinite { what: &'static str, row: usize, col: usize },
    #[error(
        "logit overflow in sequence {sequence}, row {row}: max |logit| = {max_abs:.3e} is not finite after the shift"
    )]
    Overflow { sequence: usize, row: usize, max_abs: f64 },
    #[error(
        "linear attention: the normaliser ⟨A₁XA₂ᵀ row, 1⟩ = {value:.3e} of sequence {sequence}, row {row} is near zero \
         (relative to Σ|logits| = {scale:.3e})"
    )]
    NormaliserNearZero { sequence: usize, row: usize, value: f64, scale: f64 },
    #[error("logistic loss needs labels ±1: B[{row}, {col}] = {value}")]
    NotALabel { row: usize, col: usize, value: f64 },
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A size product (`m·n`, `m·n·d`, `d²·d²`) overflows or is not addressable.
    #[error("{what}: {dims} is too large (the size overflows)")]
    TooLarge { what: &'static str, dims: String },
    /// The loss, a gradient or the Hessian came out NaN or ±inf (values too large for f64).
    #[error("the {what} is not finite at this X: values overflow f64 (scale the data or X down)")]
    NonFiniteResult { what: &'static str },
    #[error(transparent)]
    Solve(#[from] newton::SolveError),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error(transparent)]
    Read(#[from] sparse_ops::ReadError),
    #[error(transparent)]
    Write(#[from] sparse_ops::WriteError),
}

impl AttentionError {
    pub(crate) fn dims(what: impl Into<String>, expected: impl ToString, found: impl ToString) -> Self {
        AttentionError::DimensionMismatch {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}
