//! Typed errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    #[error("{}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the {loss} loss is not distributed yet (rescaled, hyperbolic and linear are)")]
    Unsupported { loss: String },
    #[error("overflow at max |(Ax)_i| = {max_abs_z:e}: {detail}")]
    Overflow { max_abs_z: f64, detail: &'static str },
    #[error("{0}")]
    Solve(String),
    /// Another rank failed; its message.
    #[error("{0}")]
    Remote(String),
}
