//! Error type of `att-svm`.

use std::path::PathBuf;

/// Everything that stops the Att-SVM solver or the experiment. Data problems name the
/// sequence and the query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvmError {
    #[error("{what}: expected {expected}, found {found}")]
    /// A matrix or vector has the wrong size.
    DimensionMismatch {
        /// Which input is mismatched.
        what: String,
        /// Required length.
        expected: usize,
        /// Length given.
        found: usize,
    },
    #[error("{what} has a non-finite entry at index {index}")]
    /// An input has a NaN or infinite entry.
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Index of the entry.
        index: usize,
    },
    #[error("label of sequence {sequence}, query {query} is {value}: labels must be ±1")]
    /// A label is not `±1`.
    NotALabel {
        /// The sequence `l`.
        sequence: usize,
        /// The query `i` within the sequence.
        query: usize,
        /// The offending label.
        value: f64,
    },
    #[error(
        "sequence {sequence}, query {query}: tokens {first} and {second} tie for the highest score {score:.6e} \
         (Assumption 3.10 needs a unique optimal token)"
    )]
    /// Two visible tokens tie for the highest score, so the optimal token is not unique.
    Tie {
        /// The sequence `l`.
        sequence: usize,
        /// The query `i` within the sequence.
        query: usize,
        /// The lower of the two tied tokens.
        first: usize,
        /// The higher of the two tied tokens.
        second: usize,
        /// The tied score.
        score: f64,
    },
    #[error("sequence {sequence}, query {query}: optimal token {opt} is not visible to it (visible: 0..{visible})")]
    /// A query's given optimal token is not among those it sees.
    OptNotVisible {
        /// The sequence `l`.
        sequence: usize,
        /// The query `i` within the sequence.
        query: usize,
        /// The optimal token given.
        opt: usize,
        /// Number of tokens the query sees.
        visible: usize,
    },
    #[error("the data have no constraint: every query sees only one token")]
    /// No query sees more than one token, so there is no constraint.
    NoConstraints,
    #[error("invalid parameter: {0}")]
    /// A parameter outside its documented range (message says which).
    InvalidParameter(String),
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
