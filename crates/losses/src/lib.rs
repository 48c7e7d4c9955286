//! # losses
//!
//! The regression losses of spnewton (SPEC §1–2), the problem directory users pass around and
//! planted problems. Evaluation with structured Hessians is added by the `losses` issue.

pub mod kind;
pub mod planted;
pub mod problem;

pub use kind::{Activation, LossKind, Regulariser};
pub use planted::{PlantError, PlantSpec, plant};
pub use problem::{Meta, Problem, ProblemError};
