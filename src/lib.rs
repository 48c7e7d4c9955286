//! # spnewton
//!
//! Input-sparsity-time Newton methods for large sparse regression problems, and the attention
//! losses that share their mathematics. This facade re-exports the workspace crates so that one
//! dependency brings everything; each crate is also usable on its own:
//!
//! - [`sparse_ops`]: the CSR type, deterministic parallel kernels, I/O, generators.
//! - [`sketch`]: spectral sparsifiers of `AᵀDA`.
//! - [`losses`]: losses with structured Hessians, problem directories, planted problems.
//! - [`newton`]: the approximate Newton solver.
//!
//! The command-line program `spnewton` (`src/main.rs`) drives them; see `README.md`.

pub use losses;
pub use newton;
pub use sketch;
pub use sparse_ops;
