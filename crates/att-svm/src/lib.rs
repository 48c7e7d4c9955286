//! # att-svm
//!
//! The attention SVM of seed 004 (docs/reference.md §5, Definition 3.8) and the experiment behind its
//! Theorem 3.14: trained by gradient descent, the attention weights `X = QKᵀ` of a single
//! layer grow without bound in the direction of `X^mm`, the max-margin separator of each
//! query's optimal token from the others, and attention becomes a hard token selection.
//!
//! - [`solve_svm`]: hard- or soft-margin `X^mm` by dual coordinate descent that exploits the
//!   rank-one features `a_i(a_opt − a_t)ᵀ` and never forms them; returns the margins, the
//!   support tokens (`λ > 0`), and a certificate (smallest margin, duality gap).
//! - [`train`]: W-GD (plain or normalised) on the fixed-head model with the seed 004 §4 quantities:
//!   `cos(X(k), X^mm)`, `‖X(k)‖_F`, logit gaps, attention entropy, top-k mass, top-k sparse
//!   attention error, the share of negligible gradient contributions.
//! - [`TokenData`]: the data directory; [`generate`]: seeded data satisfying Assumption 3.10.
//!
//! Convention (errata E6): the query is on the left of `X`: the logit of key `t` for query
//! `i` is `a_iᵀ X a_t`, and constraints read `a_iᵀ X (a_opt − a_t) ≥ 1`.
//!
//! ## Cost model
//!
//! | what | time | memory |
//! |---|---|---|
//! | one epoch of [`solve_svm`] | `O(Σ_q (d² + |visible_q|·d))` | `O(#constraints + d²)` |
//! | the same with formed features ([`solve_svm_explicit`]) | `O(#constraints·d²)` | `8·d²` bytes per constraint |
//! | one step of [`train`] | `O(m·(n·d² + n²·d))` | `O(n² + d²)` per thread |
//!
//! [`solve_svm`] is sequential and so deterministic; [`train`] runs sequences in parallel and
//! adds their gradients in sequence order: bitwise the same for any thread count.
//!
//! ## Example
//!
//! ```
//! use att_svm::{generate, solve_svm, train, GenSpec, SvmParams, TrainParams};
//! let data = generate(&GenSpec::default())?;
//! let svm = solve_svm(&data, &SvmParams::default())?;
//! let params = TrainParams { steps: 300, eta: 0.5, normalized: true, record_every: 100 };
//! let run = train(&data, Some(svm.x.as_ref()), &params, &mut |_| {})?;
//! let last = run.trajectory.last().unwrap();
//! assert!(last.cos_mm.unwrap() > 0.9 && last.x_norm > run.trajectory[1].x_norm);
//! # Ok::<(), att_svm::SvmError>(())
//! ```

pub mod data;
pub mod error;
pub mod explicit;
pub mod generate;
pub mod svm;
pub mod train;

// The crates whose types this API takes and returns (`faer` matrices, the attention data and
// losses): with these a user needs `spnewton-att-svm` alone.
pub use attention;
pub use faer;
pub use newton;
pub use sparse_ops;

pub use data::{SvmMeta, TIE_RTOL, TokenData};
pub use error::SvmError;
pub use explicit::solve_svm_explicit;
pub use generate::{GenSpec, generate};
pub use svm::{Constraint, Margin, SvmParams, SvmSolution, SvmStatus, solve_svm};
pub use train::{
    GRADIENT_FLOOR, NEGLIGIBLE, TOP_K, TrainParams, TrainRecord, TrainReport, TrainStatus, loss_and_gradient, train,
};
