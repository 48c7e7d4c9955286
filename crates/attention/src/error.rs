//! Error type of `attention`.

use std::path::PathBuf;

/// Everything that stops an attention computation. Data problems name the sequence and row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttentionError {
    #[error("{what}: expected {expected}, found {found}")]
    /// A matrix or vector has the wrong shape.
    DimensionMismatch {
        /// Which input is mismatched.
        what: String,
        /// The shape required.
        expected: String,
        /// The shape given.
        found: String,
    },
    #[error("{what} has a non-finite entry at ({row}, {col})")]
    /// An input matrix has a NaN or infinite entry.
    NonFinite {
        /// Which matrix.
        what: &'static str,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
    },
    #[error(
        "logit overflow in sequence {sequence}, row {row}: max |logit| = {max_abs:.3e} is not finite after the shift"
    )]
    /// Softmax logits are not finite even after the max shift.
    Overflow {
        /// The sequence `l`.
        sequence: usize,
        /// The row `j₀` within the sequence.
        row: usize,
        /// The largest `|logit|`.
        max_abs: f64,
    },
    #[error(
        "linear attention: the normaliser ⟨A₁XA₂ᵀ row, 1⟩ = {value:.3e} of sequence {sequence}, row {row} is near zero \
         (relative to Σ|logits| = {scale:.3e})"
    )]
    /// A linear-attention normaliser is near zero relative to its terms ([`crate::LINEAR_NORMALISER_RTOL`]).
    NormaliserNearZero {
        /// The sequence `l`.
        sequence: usize,
        /// The row `j₀` within the sequence.
        row: usize,
        /// The normaliser `⟨A₁XA₂ᵀ row, 1⟩`.
        value: f64,
        /// `Σ|logits|` of that row.
        scale: f64,
    },
    #[error("logistic loss needs labels ±1: B[{row}, {col}] = {value}")]
    /// A logistic-loss target is not `±1`.
    NotALabel {
        /// Row of `B` (stacked).
        row: usize,
        /// Column of `B`.
        col: usize,
        /// The offending value.
        value: f64,
    },
    #[error("invalid parameter: {0}")]
    /// A parameter outside its documented range (message says which).
    InvalidParameter(String),
    /// A size product (`m·n`, `m·n·d`, `d²·d²`) overflows or is not addressable.
    #[error("{what}: {dims} is too large (the size overflows)")]
    TooLarge {
        /// Which object is being sized.
        what: &'static str,
        /// Its dimensions, as text.
        dims: String,
    },
    /// The loss, a gradient or the Hessian came out NaN or ±inf (values too large for f64).
    #[error("the {what} is not finite at this X: values overflow f64 (scale the data or X down)")]
    NonFiniteResult {
        /// Which quantity (loss, gradient, Hessian).
        what: &'static str,
    },
    #[error(transparent)]
    /// The Newton solver could not start.
    Solve(#[from] newton::SolveError),
    #[error("{path}: {message}")]
    /// A data directory's content is invalid.
    Data {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    #[error(transparent)]
    /// A data file could not be read.
    Read(#[from] sparse_ops::ReadError),
    #[error(transparent)]
    /// A data file could not be written.
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
