//! Observers: what sees each step as it completes.

use std::ops::ControlFlow;

use crate::report::{IterRecord, Iterate};

/// One completed step, as an observer sees it. Observers run in order; an earlier one may fill
/// in the record (the SPEC §4 checks observer writes `record.checks` and `timing.checks_s`)
/// before a later one reads it.
pub struct StepView<'v, E> {
    /// `x_t`, the point the step left.
    pub x: &'v [f64],
    /// `x_{t+1}`.
    pub x_next: &'v [f64],
    /// The evaluations at `x_t` and `x_{t+1}`.
    pub at: &'v E,
    /// The evaluation at `x_{t+1}`.
    pub next: &'v E,
    /// Whether this was a negative-curvature escape from a saddle rather than a strategy step.
    pub escape: bool,
    /// The iteration's record, which observers may fill in.
    pub record: &'v mut IterRecord,
}

/// What runs after every step. `ControlFlow::Break(())` ends the solve after this step with
/// [`crate::Status::Interrupted`] (the point is kept).
pub trait Observer<E> {
    /// Inspect (or annotate) one step; `Break(())` stops the solve.
    fn observe(&mut self, view: &mut StepView<'_, E>) -> ControlFlow<()>;
}

/// A closure `FnMut(&IterRecord, Iterate) -> ControlFlow<()>` as an observer: the form the
/// public `solve` functions take (a progress bar, a history plot, Ctrl-C, a Python callback).
pub struct FnObserver<F>(pub F);

impl<E: super::Evaluated, F: FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>> Observer<E> for FnObserver<F> {
    fn observe(&mut self, view: &mut StepView<'_, E>) -> ControlFlow<()> {
        let it =
            Iterate { x: view.x_next, loss: view.next.value(), grad_norm: crate::linalg::norm(view.next.gradient()) };
        (self.0)(view.record, it)
    }
}
