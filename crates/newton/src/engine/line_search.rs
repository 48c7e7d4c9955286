//! Line searches: how far along the strategy's direction the loop goes.

use std::time::Instant;

use super::{Evaluated, Need, Problem};

/// How the step length `α` along a direction `p` is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineSearch {
    /// Armijo backtracking from `α = 1`, halving: accept `L(x + αp) ≤ L(x) + c·α·gᵀp`, at most
    /// `max_trials` lengths. With `evaluate_full_step` the full step is evaluated with
    /// everything the next iteration needs, so that, when it is accepted (as near `x*`), no
    /// further evaluation is made; trials after it compute the loss alone.
    Armijo {
        /// Armijo sufficient-decrease constant `c`.
        c: f64,
        /// Most step lengths tried.
        max_trials: usize,
        /// Evaluate the full step with everything the next iteration needs.
        evaluate_full_step: bool,
    },
    /// Halve `α` while the loss increases (down to the step's `min_alpha`); the strategy is told
    /// the accepted `α` ([`super::Strategy::accepted`]), so a step size that was too large stays
    /// reduced. Every trial is evaluated with the gradient.
    NoIncrease,
    /// `α = 1` whatever the loss does (fixed-step gradient descent as the papers state it).
    Fixed,
}

/// A point the line search accepted.
pub(crate) struct Accepted<E> {
    pub x: Vec<f64>,
    pub alpha: f64,
    /// Its evaluation, when the search already made it with what the loop needs.
    pub eval: Option<E>,
}

/// What the search did, whether or not it found a point.
pub(crate) struct Search<E, Err> {
    pub accepted: Option<Accepted<E>>,
    /// An evaluation failure that ended the search (`NoIncrease`, `Fixed`).
    pub failure: Option<Err>,
    pub passes: usize,
    pub seconds: f64,
}

/// The direction searched along: `p`, the slope `gᵀp` at `α = 0`, and the smallest `α` a
/// `NoIncrease` search halves down to.
pub(crate) struct Direction<'a> {
    pub p: &'a [f64],
    pub gtp: f64,
    pub min_alpha: f64,
}

pub(crate) fn search<P: Problem>(
    problem: &P,
    rule: LineSearch,
    (x, at): (&[f64], &P::Eval),
    dir: Direction<'_>,
    need: Need,
) -> Search<P::Eval, P::Error> {
    let t = Instant::now();
    let Direction { p, gtp, min_alpha } = dir;
    let point = |alpha: f64| -> Vec<f64> { x.iter().zip(p).map(|(a, b)| a + alpha * b).collect() };
    let mut passes = 0;
    let mut failure = None;
    let accepted = match rule {
        LineSearch::Armijo { c, max_trials, evaluate_full_step } => {
            let armijo = |alpha: f64, v: f64| v <= at.value() + c * alpha * gtp;
            let mut alpha = 1.0;
            let mut found = None;
            for _ in 0..max_trials {
                let xn = point(alpha);
                if alpha == 1.0 && evaluate_full_step {
                    passes += 2;
                    match problem.evaluate(&xn, need) {
                        Ok(e) if armijo(alpha, e.value()) => {
                            found = Some(Accepted { x: xn, alpha, eval: Some(e) });
                            break;
                        }
                        Ok(e) => problem.recycle(e),
                        Err(_) => {}
                    }
                } else {
                    passes += 1;
                    if problem.value(&xn).is_ok_and(|v| armijo(alpha, v)) {
                        found = Some(Accepted { x: xn, alpha, eval: None });
                        break;
                    }
                }
                alpha *= 0.5;
            }
            found
        }
        LineSearch::NoIncrease | LineSearch::Fixed => {
            let mut alpha = 1.0;
            loop {
                let xn = point(alpha);
                passes += 2;
                match problem.evaluate(&xn, need) {
                    Ok(e) if rule == LineSearch::NoIncrease && e.value() > at.value() && alpha > min_alpha => {
                        problem.recycle(e);
                        alpha *= 0.5;
                    }
                    Ok(e) => break Some(Accepted { x: xn, alpha, eval: Some(e) }),
                    Err(e) => {
                        failure = Some(e);
                        break None;
                    }
                }
            }
        }
    };
    Search { accepted, failure, passes, seconds: t.elapsed().as_secs_f64() }
}
