use losses::LossError;

/// Why the solver could not run at all. Everything that happens once it runs is a
/// [`crate::Report`] status instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch { what: &'static str, expected: usize, found: usize },
    #[error("invalid solver parameters: {0}")]
    InvalidParameter(String),
    #[error("the loss cannot be evaluated at the starting point: {0}")]
    AtStart(LossError),
}
