//! # spnewton
//!
//! Input-sparsity-time Newton methods for large sparse regression problems, and the attention
//! losses that share their mathematics. This facade re-exports the workspace crates so that one
//! dependency brings everything; each crate is also usable on its own:
//!
//! - [`sparse_ops`]: the CSR type, deterministic parallel kernels, I/O, generators.
//! - [`sketch`]: spectral sparsifiers of `AᵀDA` by leverage-score sampling.
//! - [`losses`]: losses with structured Hessians, problem directories, planted problems.
//! - [`newton`]: the approximate Newton solver and its per-iteration checks.
//! - [`attention`]: softmax and linear attention losses through the tensor trick, their
//!   structured Hessians in `vec(X)`, W-GD and Newton fits.
//! - [`att_svm`]: the attention SVM and gradient descent on single-layer attention converging to it.
//!
//! ## Cost model
//!
//! One Newton iteration costs a few passes over `A` (evaluation, line search) plus the
//! strategy's Newton matrix: `O(Σ_i nnz(a_i)² + d³)` exactly, or `O(nnz(A) + d³)` up to log
//! factors with the leverage-score sketch. Each crate's documentation gives its own table;
//! `docs/benchmarks.md` has the measured figures.
//!
//! ## Example
//!
//! ```
//! use spnewton::losses::{plant, Activation, LossKind, Objective, PlantSpec, Regulariser};
//! use spnewton::newton::{solve, SolverParams, Status, Strategy};
//! use spnewton::sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
//!
//! let a = random_sparse(&GenSpec { nrows: 4000, ncols: 10, sparsity: Sparsity::RowNnz(4), variant: Variant::Plain, seed: 1 })?;
//! let (x_true, b) = plant(&a, &PlantSpec { loss: LossKind::Hyperbolic, func: Activation::Cosh, scale: 0.5, noise: 0.0, seed: 2 })?;
//! let f = Objective::new(&a, &b, Regulariser::None, LossKind::Hyperbolic, Activation::Cosh)?;
//! let x0: Vec<f64> = x_true.iter().map(|v| 0.5 * v + 0.01).collect(); // not 0: errata E7
//! let report = solve(&f, &x0, &SolverParams { strategy: Strategy::Exact, ..Default::default() }, Some(&x_true), &mut |_, _| std::ops::ControlFlow::Continue(()))?;
//! assert_eq!(report.status, Status::Converged);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The command-line program `spnewton` (`src/main.rs`) drives them; see `README.md` and
//! `docs/guide.md`.

#![forbid(unsafe_code)]

pub use att_svm;
pub use attention;
pub use losses;
pub use newton;
pub use sketch;
pub use sparse_ops;
