use losses::LossError;

/// Why the solver could not run at all. Everything that happens once it runs is a
/// [`crate::Report`] status instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    #[error("{what}: expected length {expected}, found {found}")]
    /// A vector does not have the size the problem implies.
    DimensionMismatch {
        /// Which input is mismatched.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length actually given.
        found: usize,
    },
    /// A parameter outside its allowed range: `name` is the field (as in [`crate::SolverParams`]
    /// or the CLI option of the same name), `allowed` says what it may be.
    #[error("invalid solver parameter {name} = {value}: must be {allowed}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it may be.
        allowed: &'static str,
    },
    /// `x0` holds NaN or ±Inf.
    #[error("{what}[{index}] is {value}, not a finite number")]
    NonFiniteStart {
        /// Which input (`x0`).
        what: &'static str,
        /// Index of the non-finite entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    #[error("the loss cannot be evaluated at the starting point: {0}")]
    /// The loss cannot be evaluated at `x0` (its error).
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
    /// Sampling or embedding failed.
    Sketch(#[from] sketch::SketchError),
    #[error("the Newton matrix could not be factorised even with damping (largest diagonal {max_diag:.3e})")]
    /// The Newton matrix is not positive definite even after damping.
    NotFactorisable {
        /// Largest diagonal entry of the matrix.
        max_diag: f64,
    },
    #[error(
        "the Newton matrix is zero although ‖g‖ = {grad_norm:.3e}: its entries underflow (A's entries are too small; rescale A)"
    )]
    /// The Newton matrix is zero although the gradient is not (entries of `A` underflow).
    Underflow {
        /// `‖g‖` at the point.
        grad_norm: f64,
    },
    #[error("the Newton step is not finite (the Newton matrix is too ill-conditioned)")]
    /// The solved step has a NaN or infinite entry.
    NonFiniteStep,
    #[error("the Hessian is not finite (overflow)")]
    /// The Hessian has a NaN or infinite entry.
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
