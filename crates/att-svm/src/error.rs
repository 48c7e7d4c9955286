use std::path::PathBuf;

/// Everything that stops the Att-SVM solver or the experiment. Data problems name the
/// sequence and the query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvmError {
    #[error("{what}: expected {expected}, found {found}")]
    DimensionMismatch { what: String, expected: usize, found: usize },
    #[error("{what} has a non-finite entry at index {index}")]
    NonFinite { what: &'static str, index: usize },
    #[error("label of sequence {sequence}, query {query} is {value}: labels must be ±1")]
    NotALabel { sequence: usize, query: usize, value: f64 },
    #[error(
        "sequence {sequence}, query {query}: tokens {first} and {second} tie for the highest score {score:.6e} \
         (Assumption 3.10 needs a unique optimal token)"
    )]
    Tie { sequence: usize, query: usize, first: usize, second: usize, score: f64 },
    #[error("sequence {sequence}, query {query}: optimal token {opt} is not visible to it (visible: 0..{visible})")]
    OptNotVisible { sequence: usize, query: usize, opt: usize, visible: usize },
    #[error("the data have no constraint: every query sees only one token")]
    NoConstraints,
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error(transparent)]
    Read(#[from] sparse_ops::ReadError),
    #[error(transparent)]
    Write(#[from] sparse_ops::WriteError),
}
