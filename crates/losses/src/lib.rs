//! # losses
//!
//! The regression losses of spnewton (docs/reference.md §1–2) with their exact structured Hessians, the
//! problem directory users pass around, and planted problems.
//!
//! Every loss here is `L(x) = f(Ax) + ½‖diag(w)Ax‖²` with a Hessian of the form
//! `Aᵀ(D + UCUᵀ)A`, `D` diagonal and `U` of at most three columns:
//!
//! | loss | `f(z)` | `U` |
//! |---|---|---|
//! | rescaled (`u ∈ {exp, cosh, sinh}`) | `½‖u(z) − ⟨u(z),1⟩b‖²` | `[v, v∘b]` |
//! | hyperbolic | `½‖u(z) − b‖²` | none |
//! | softmax | `½‖softmax(z) − b‖²` | `[s, s∘s, q]` |
//! | linear | `½‖z − b‖²` | none |
//!
//! [`Objective::evaluate`] computes `z = Ax` once and returns the value, the gradient and, on
//! request, the [`StructuredHessian`], which never forms a `d×d` matrix unless asked
//! ([`StructuredHessian::dense`]).
//!
//! ## Cost model
//!
//! - value: one `A·x` plus `O(n)`;
//! - value and gradient: one `A·x`, one `Aᵀ·y`, `O(n)` (a handful of passes over `n`-vectors);
//! - Hessian: `O(n·k)` more, no pass over `A`; Hessian-vector product: one `A·v`, one `Aᵀ·y`;
//!   `AᵀU`: one pass; dense assembly: `O(Σ_i nnz(a_i)² + d²·k)`.
//!
//! All sums over `n` use fixed chunks with compensated summation
//! ([`runtime::reduce`]): results are bitwise identical for any thread count.
//!
//! Measured (`spnewton bench losses`, docs/benchmarks.md): value + gradient costs 1.4–2.1 and
//! value + gradient + Hessian 1.5–2.5 times one `A·x` plus one `Aᵀ·y` at 10 nonzeros per row.
//! That needs the `exp` vectorised ([`runtime::vmath`]) and the Hessian's parts written
//! inside the gradient's pass; and, at `n ≥ 10⁶`, handing finished evaluations back with
//! [`Objective::recycle`] so that the next one reuses their memory instead of page-faulting
//! fresh pages.
//!
//! ## Example
//!
//! Everything it needs comes through this crate ([`sparse_ops`], [`faer`] are re-exported).
//!
//! ```
//! use losses::{Activation, LossKind, Objective, Part, Regulariser, What};
//! use losses::sparse_ops::CsrMatrix;
//! let a = CsrMatrix::from_dense(3, 2, &[1.0, 0.5, 0.0, 1.0, 1.0, 1.0])?;
//! let b = [0.3, 0.3, 0.4];
//! let f = Objective::new(&a, &b, Regulariser::None, LossKind::Hyperbolic, Activation::Cosh)?;
//! let e = f.evaluate(&[0.2, -0.1], What::Hessian)?;
//! let g = e.gradient.unwrap();
//! let h = e.hessian.unwrap().dense(Part::Exact); // 2×2
//! assert_eq!(g.len(), 2);
//! assert!((h[(0, 1)] - h[(1, 0)]).abs() < 1e-15);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Numerical safety
//!
//! `exp`, `cosh` and `sinh` overflow for `|z| > 709.78`; the value's squares overflow sooner.
//! Either case, and non-finite `x`, `b` or `w`, is a [`LossError`] naming the cause (the
//! largest `|(Ax)_i|` and its row): a NaN is never returned. Softmax shifts by `max z` and
//! never overflows. Note (docs/reference.md, errata E7): the rescaled `sinh` problem has `L(0) = 0` for
//! every `b`, and the rescaled `cosh` problem has a zero gradient at `x = 0` for every `b`.

#![forbid(unsafe_code)]

pub mod error;
pub mod hessian;
pub mod kind;
pub mod log_linear;
pub mod objective;
pub mod planted;
pub mod problem;
pub mod rows;
pub mod spectral;

// The crates whose types this API takes and returns (`CsrMatrix`, `faer::Mat`): with these a
// user needs `spnewton-losses` alone.
pub use faer;
pub use sparse_ops;

pub use error::LossError;
pub use hessian::{HessianOp, HessianParts, Part, StructuredHessian};
pub use kind::{Activation, LossKind, Regulariser};
pub use objective::{Evaluation, LN_MAX, Objective, What};
pub use planted::{PlantError, PlantSpec, plant};
pub use problem::{MATRIX_FILES, Meta, Problem, ProblemError, check_w_const};
pub use spectral::{hessian_lipschitz_ratio, lambda_min, lanczos_extremes};
