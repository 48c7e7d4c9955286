//! What the engine minimises.

use crate::report::Status;

/// How much an evaluation must compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The value and the gradient.
    Gradient,
    /// The value, the gradient and the curvature model the strategy works with.
    Curvature,
}

/// An evaluated point: the loss and its gradient (and whatever model the problem attaches).
pub trait Evaluated {
    /// The loss.
    fn value(&self) -> f64;
    /// The gradient.
    fn gradient(&self) -> &[f64];
    /// The rounding floor of [`Self::value`]: a loss difference below it is not resolved. `None`
    /// when the problem cannot estimate it ([`crate::engine::LoopParams::decrement_floor`] then
    /// stands in).
    fn value_floor(&self) -> Option<f64> {
        None
    }
}

/// A differentiable objective the engine can minimise.
pub trait Problem {
    /// An evaluated point.
    type Eval: Evaluated;
    /// Why a point cannot be evaluated (overflow, a vanishing normaliser).
    type Error: std::fmt::Display;
    /// The number of parameters.
    fn dim(&self) -> usize;
    /// Evaluate at `x`, computing at least what `need` says.
    fn evaluate(&self, x: &[f64], need: Need) -> Result<Self::Eval, Self::Error>;
    /// The loss alone (line-search trials).
    fn value(&self, x: &[f64]) -> Result<f64, Self::Error>;
    /// Hand an evaluation back when the loop is done with it, so its buffers serve the next one.
    fn recycle(&self, _e: Self::Eval) {}
    /// The status when a point the line search accepted cannot be evaluated.
    fn failure_status(&self, _e: &Self::Error) -> Status {
        Status::Overflow
    }
    /// At a stationary point: `(λ_min, unit eigenvector)` when the curvature is clearly negative,
    /// else `None` (also when the problem has no curvature to inspect).
    fn negative_curvature(&self, _e: &Self::Eval, _seed: u64) -> Option<(f64, Vec<f64>)> {
        None
    }
}
