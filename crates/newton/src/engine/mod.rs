//! The one optimisation loop of the workspace: start → check termination → step → line search
//! → observe → finish, over any [`Problem`] with any [`Strategy`].
//!
//! - A [`Problem`] evaluates the loss and its gradient at a point (and, when a strategy asks,
//!   whatever curvature model it has: a structured Hessian, a dense one), tells the loop the
//!   value's rounding floor and, at a stationary point, whether the curvature is negative.
//! - A [`Strategy`] turns an evaluated point into a direction: a (sketched, damped) Newton step,
//!   a CG step, a gradient step. It knows nothing of termination or line searches.
//! - The [`LoopParams`] choose the termination tests and the [`LineSearch`].
//! - [`Observer`]s see each step as it completes: the SPEC §4 checks fill in the record's
//!   checks, a progress bar draws, a user callback may stop the solve.
//!
//! `newton::solve` (sparse losses), [`crate::dense::solve_dense`] (dense Hessians such as the
//! attention weights), attention's gradient descent and the Att-SVM's training are this loop
//! with different problems, strategies and parameters.

mod line_search;
mod observer;
mod problem;
mod run;

pub use line_search::LineSearch;
pub use observer::{FnObserver, Observer, StepView};
pub use problem::{Evaluated, Need, Problem};
pub use run::{LoopParams, Step, StepInput, Strategy, run, run_from};
