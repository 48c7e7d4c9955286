//! Typed errors.

use std::path::PathBuf;

/// What can go wrong reading, splitting or solving a distributed problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A file or directory could not be read or written, or its contents are malformed.
    #[error("{}: {reason}", path.display())]
    Read {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An invalid argument (a vector of the wrong length, a part count out of range, ...).
    #[error("{0}")]
    Invalid(String),
    /// A loss the distributed solver does not implement (softmax).
    #[error("the {loss} loss is not distributed yet (rescaled, hyperbolic and linear are)")]
    Unsupported {
        /// The loss's name.
        loss: String,
    },
    /// `Ax`, the loss, its gradient or its Hessian is not finite at the evaluated point.
    #[error("overflow at max |(Ax)_i| = {max_abs_z:e}: {detail}")]
    Overflow {
        /// `max_i |(Ax)_i|` over all rows (`+∞` when some `(Ax)_i` is NaN), the same on every
        /// rank.
        max_abs_z: f64,
        /// Which quantity overflowed.
        detail: &'static str,
    },
    /// The solver failed; its message.
    #[error("{0}")]
    Solve(String),
    /// Another rank failed; its message.
    #[error("{0}")]
    Remote(String),
}
