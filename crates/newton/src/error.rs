use losses::LossError;

/// Why the solver could not run at all. Everything that happens once it runs is a
/// [`crate::Report`] status instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch { what: &'static str, expected: usize, found: usize },
    /// A parameter outside its allowed range: `name` is the field (as in [`crate::SolverParams`]
    /// or the CLI option of the same name), `allowed` says what it may be.
    #[error("invalid solver parameter {name} = {value}: must be {allowed}")]
    InvalidParameter { name: &'static str, value: f64, allowed: &'static str },
    /// `x0` holds NaN or ±Inf.
    #[error("{what}[{index}] is {value}, not a finite number")]
    NonFiniteStart { what: &'static str, index: usize, value: f64 },
    #[error("the loss cannot be evaluated at the starting point: {0}")]
    AtStart(LossError),
    /// A dense objective (e.g. attention) could not be evaluated at the starting point.
    #[error("the objective cannot be evaluated at the starting point: {0}")]
    AtStartDense(String),
}

/// Why a Newton step could not be formed (the solver then stops with
/// [`crate::Status::NumericalError`] and this as its message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    #[error("the sketch failed: {0}")]
    Sketch(#[from] sketch::SketchError),
    #[error("the Newton matrix could not be factorised even with damping (largest diagonal {max_diag:.3e})")]
    NotFactorisable { max_diag: f64 },
    #[error(
        "the Newton matrix is zero although ‖g‖ = {grad_norm:.3e}: its entries underflow (A's entries are too small; rescale A)"
    )]
    Underflow { grad_norm: f64 },
    #[error("the Newton step is not finite (the Newton matrix is too ill-conditioned)")]
    NonFiniteStep,
    #[error("the Hessian is not finite (overflow)")]
    NonFiniteHessian,
}

impl StepError {
    /// The solver's status when a step fails this way.
    pub fn status(&self) -> crate::Status {
        match self {
            StepError::NonFiniteHessian => crate::Status::Overflow,
            _ => crate::Status::NumericalError,
        }
    }
}
