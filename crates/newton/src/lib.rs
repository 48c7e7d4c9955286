//! # newton
//!
//! The approximate Newton solver of SPEC §4 (seed 000, Algorithm 1 with errata E1 and E2):
//! Hessian strategies (exact, Gauss–Newton, leverage-score sketch, Newton sketch), Cholesky
//! with recorded fallbacks, line search, termination, per-iteration records and the
//! induction-hypothesis checks.
//!
//! Cost model (target): one iteration costs `O(nnz(A) + d^ω)` up to log factors with a sketched
//! Hessian. Not implemented yet: this crate is filled by the `newton` issue, and exports
//! nothing until then.
