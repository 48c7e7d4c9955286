//! # newton
//!
//! The approximate Newton solver of docs/reference.md §4 (seed 000, Algorithm 1 with errata E1 and E2),
//! made usable outside the theorem's regime:
//!
//! `x_{t+1} = x_t − α_t·H̃(x_t)⁻¹g(x_t)` with `H̃` from a [`Strategy`] (exact Hessian,
//! Gauss–Newton, leverage-score sketch of the diagonal with the low-rank part kept exact,
//! Newton sketch, or exact Newton by CG preconditioned with the sketch), Cholesky with
//! Levenberg–Marquardt damping when `H̃` is not positive definite (recorded), Armijo
//! backtracking that takes the full step whenever it is accepted, escape from saddles along
//! negative curvature (errata E7), and a termination [`Status`]. Each iteration yields a typed
//! [`IterRecord`] with the time split, passes over `A`, fallbacks taken and the
//! induction-hypothesis checks (`l`, `M`, `r_{t+1}/r_t ≤ 0.4`, `M·r_t ≤ 0.1·l`); the
//! [`Report`] says from which iteration the theorem's regime held.
//!
//! ## Cost model
//!
//! One iteration costs one evaluation (two passes over `A`), one pass per line-search trial
//! (one when the full step is accepted), `AᵀU` (one pass) and the strategy's `H̃`:
//! `exact`/`gauss-newton` `O(Σnnz(a_i)² + d³)`; `leverage` `O(nnz + d³ + Σ_kept nnz(a_i)²)` (two
//! passes for the scores, fewer with `refresh_every > 1`); `leverage-pcg` that plus two passes
//! per CG iteration; `newton-cg` (matrix-free, [`Strategy::NewtonCg`]) one pass per CG iteration
//! plus its preconditioner's (Jacobi one pass per step, Nyström two per refresh; see
//! [`precond`]) and no `d×d` matrix. The §4 checks cost extra (λ_min, a Hessian-difference norm) and are
//! timed apart as `checks_s`; turn them off with `SolverParams::checks = false`.
//!
//! Results are bitwise identical for any thread count (dense factorisations use a fixed faer
//! task count).
//!
//! ## Example
//!
//! Everything it needs comes through this crate ([`losses`], [`sketch`], [`sparse_ops`],
//! [`faer`] are re-exported).
//!
//! ```
//! use newton::losses::{plant, Activation, LossKind, Objective, PlantSpec, Regulariser};
//! use newton::sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
//! use newton::{solve, SolverParams, Status, Strategy};
//! let a = random_sparse(&GenSpec { nrows: 5000, ncols: 20, sparsity: Sparsity::RowNnz(5), variant: Variant::Plain, seed: 1 })?;
//! let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 2 };
//! let (x_true, b) = plant(&a, &spec)?;
//! let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp)?;
//! let params = SolverParams { strategy: Strategy::Leverage, ..Default::default() };
//! let report = solve(&f, &vec![0.0; 20], &params, Some(&x_true), &mut |_, _| std::ops::ControlFlow::Continue(()))?;
//! assert_eq!(report.status, Status::Converged);
//! assert!(report.grad_norm <= 1e-8 * report.grad_norm0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod auto;
mod checks;
pub mod dense;
pub mod engine;
mod error;
mod hessian_step;
mod lanczos;
pub mod linalg;
mod newton_cg;
mod objective;
mod params;
pub mod precond;
mod report;
pub mod resolve;
mod result_file;
mod solver;

// The crates whose types this API takes and returns (an `Objective` built from a `CsrMatrix`,
// the sketch's parameters, `faer` matrices): with these a user needs `spnewton-newton` alone.
pub use faer;
pub use losses;
pub use sketch;
pub use sparse_ops;

pub use checks::{ChecksObserver, CurvatureEval};
pub use error::{SolveError, StepError};
pub use hessian_step::pcg_step;
pub use linalg::{PcgFailure, PcgResult, pcg};
pub use params::{ChecksKind, Precond, SolverParams, Strategy};
pub use report::{CheckCounts, Checks, Fallback, IterRecord, Iterate, ProblemSummary, Report, Status, Timing};
pub use result_file::ResultFile;
pub use solver::solve;
