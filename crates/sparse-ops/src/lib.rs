//! # sparse-ops
//!
//! The sparse matrix layer of spnewton: a checked CSR matrix type over [`sprs`]
//! ([`CsrMatrix`]: `f64` values, `u32` column indices, every value finite), the kernels a
//! Newton iteration is made of, readers and writers for real data, and seeded generators.
//! It knows nothing of losses or solvers.
//!
//! ## Cost model
//!
//! | kernel | cost | allocation |
//! |---|---|---|
//! | [`CsrMatrix::mul_vec`] `y = A·x` | `O(nnz + n)` | none |
//! | [`CsrMatrix::tr_mul_vec`] `x = Aᵀ·y` | `O(nnz + d·P)` (`O(nnz + d)` with a cached transpose) | `P ≤ 64` partials of `d` |
//! | [`CsrMatrix::mul_dense`] `A·G`, `G: d×k` | `O(nnz·k)` | none |
//! | [`CsrMatrix::tr_mul_dense`] `Aᵀ·Z`, `Z: n×k` | `O(nnz·k + d·k·P)` | partials of `d×k` |
//! | [`CsrMatrix::weighted_gram`] `AᵀDA` | `O(Σ_i nnz(a_i)²/2 + d²·P)` | partials of `d²` (≤ 64 MiB) |
//! | [`CsrMatrix::sampled_gram`] `Σ_s w_s a_s a_sᵀ` | `O(Σ_s nnz(a_s)²/2 + d²·P)` | same |
//! | [`CsrMatrix::row_sq_norms`], [`CsrMatrix::scale_columns`] | `O(nnz + n)` | output only |
//! | [`CsrMatrix::mul_vec_then`] `z = A·x`, each row block post-processed in cache | `O(nnz + n)` + callback | none |
//! | [`CsrMatrix::tr_mul_then`] `Aᵀ·Y`, `Y: n×K` made in the pass (`K ≤ 4` ≈ one `Aᵀ·y`) | `O(nnz·K + d·K·P)` | partials of `d×K` |
//! | [`CsrMatrix::mul_dense_row_map`], [`CsrMatrix::mul_dense_row_filter`] rows of `A·G` handed to a callback | `O(nnz·k)` (`k = 4, 8, 16, 32`: AVX2 registers) | none (`G` copied aligned) |
//! | [`CsrMatrix::reduce_rows_into`] a caller's reduction | the callback + `O(len·P)` | partials of `len` |
//! //!
//! Partial sums come from a per-matrix [`runtime::pool::BufferPool`] and go back to it (at most
//! [`ChunkPolicy::reduce_bytes`] kept; [`CsrMatrix::release_scratch`]), so repeated reductions
//! do not page-fault.
//!
//! `P` is the number of fixed partial sums of a reduction: it depends on the matrix and the
//! output size only ([`ChunkPolicy`]), never on the number of threads, and partials are added
//! in order, so **every kernel gives bitwise-identical results with 1 thread or many**. All
//! parallelism is rayon's: run inside a `rayon::ThreadPool::install` to choose the thread count.
//!
//! ## Example
//!
//! ```
//! use sparse_ops::{CsrMatrix, Duplicates};
//! // A = [[1, 0, 2], [0, 3, 0]]
//! let a = CsrMatrix::from_triplets(2, 3, &[(0, 0, 1.0), (0, 2, 2.0), (1, 1, 3.0)], Duplicates::Reject)?;
//! let mut y = vec![0.0; 2];
//! a.mul_vec(&[1.0, 1.0, 1.0], &mut y);
//! assert_eq!(y, [3.0, 3.0]);
//! let mut x = vec![0.0; 3];
//! a.tr_mul_vec(&[1.0, 2.0], &mut x);
//! assert_eq!(x, [1.0, 6.0, 2.0]);
//! let g = a.weighted_gram(&[1.0, 1.0]); // AᵀA
//! assert_eq!(g[(0, 2)], 2.0);
//! # Ok::<(), sparse_ops::StructureError>(())
//! ```
//!
//! ## Errors
//!
//! Contract violations by the caller (a slice of the wrong length handed to a kernel) panic
//! with `#[track_caller]`. Everything that comes from data is a `Result`: [`StructureError`]
//! for invalid structure, [`ReadError`] (file, line, [`ReadErrorKind`]) for files.

pub mod csr;
pub mod error;
pub mod generate;
pub mod io;
mod kernels;

// The crates whose types this API takes and returns ([`SprsCsr`], the `faer::Mat` of the Gram
// kernels), so a user needs no second dependency at a matching version.
pub use faer;
pub use runtime;
pub use sprs;

pub use csr::{CsrBuffer, CsrMatrix, Duplicates, SprsCsr};
pub use error::{ReadError, ReadErrorKind, StructureError, WriteError};
pub use io::{DenseMatrix, ReadOptions};
pub use kernels::{MatrixStats, Summary, dot_row};
pub use runtime::partition::ChunkPolicy;
