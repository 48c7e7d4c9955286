//! # attention
//!
//! Single-layer attention as a regression over `x = vec(X)` (docs/reference.md §5, seed 004): for `m`
//! sequences with tokens `A_{l,1}, A_{l,2}, A_{l,3} ∈ R^{n×d}` and targets `B_l`,
//!
//! ```text
//! Att_l = S_l(X)·A_{l,3}Y,   S_l = row-normalise(A_{l,1} X A_{l,2}ᵀ),   L = Σ_l Σ φ(Att_l, B_l)
//! ```
//!
//! with softmax or linear normalisation and the `ℓ2` or logistic entry loss ([`AttentionLoss`]).
//! The tensor trick writes row `j₀` of the logits as `A_{l,j₀}x` with `A_{l,j₀}` block `j₀` of
//! `A_{l,1} ⊗ A_{l,2}` (`n×d²`); this crate never forms that Kronecker product: every product
//! with it goes through `A_{l,1}XA_{l,2}ᵀ` or `A_{l,1}ᵀWA_{l,2}`.
//!
//! What it computes: the forward pass, the value, gradients in `X`, `Y` and the factors `Q`, `K`
//! of `X = QKᵀ` ([`AttentionObjective`]); the Hessian in `vec(X)` in the structured per-block
//! form `Σ A_{l,j₀}ᵀ(diag + low rank)A_{l,j₀}` with a Kronecker-free Hessian-vector product and
//! a dense assembly for small `d` ([`AttentionHessian`], errata E4 applied); W-GD and Newton
//! fits ([`gradient_descent`], [`newton_fit`]); empirical gradient-Lipschitz ratios
//! ([`gradient_lipschitz`]); planted problems ([`plant`]) and the data directory
//! ([`AttentionData`]).
//!
//! Why a crate of its own rather than a module of `losses`: its data are dense per-sequence
//! token matrices, not one sparse `A`; it needs no CSR kernel, and `losses` users need none of
//! it. It shares the library's conventions (structured Hessians, typed errors, determinism) and
//! reaches the Newton machinery through [`newton::dense`].
//!
//! ## Cost model (per sequence; all sequences in parallel)
//!
//! | what | cost |
//! |---|---|
//! | forward, value | `O(n·d² + n²·d)`: `A₁X`, `(A₁X)A₂ᵀ`, `A₃Y`, `SV` |
//! | value + gradients in `X`, `Y` | about 3× the forward |
//! | Hessian-vector product | about the cost of a gradient |
//! | dense Hessian (`d²×d²`) | `O(n²·d² + n·d⁴)` and `8·d⁴` bytes |
//!
//! Per-sequence results are added in sequence order and every product runs sequentially inside
//! its sequence, so **results are bitwise identical for any thread count**.
//!
//! ## Example
//!
//! ```
//! use attention::{plant, AttentionLoss, AttentionObjective, PlantSpec, Want};
//! let p = plant(&PlantSpec::default())?; // m = 8, n = 16, d = 4
//! let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2)?;
//! let x = attention::faer::Mat::<f64>::zeros(4, 4);
//! let e = f.evaluate(x.as_ref(), Want::Hessian)?;
//! let h = e.hessian.unwrap();
//! let hv = h.hvp(e.grad_x.as_ref()); // H·vec(∇L), never forming A₁ ⊗ A₂
//! assert_eq!((hv.nrows(), h.dense().nrows()), (4, 16));
//! # Ok::<(), attention::AttentionError>(())
//! ```
//!
//! ## Numerical safety
//!
//! Softmax rows are shifted by their maximum; non-finite logits are [`AttentionError::Overflow`].
//! A linear-attention normaliser `⟨z, 1⟩` within `1e-8·Σ|z|` of zero is
//! [`AttentionError::NormaliserNearZero`] naming the sequence and row. The logistic loss is
//! evaluated as a softplus and needs labels `±1`.

pub mod data;
mod dense;
pub mod error;
pub mod fit;
pub mod hessian;
pub mod kind;
pub mod lipschitz;
pub mod objective;
pub mod plant;

// The crates whose types this API takes and returns (`faer` matrices, the Newton machinery of
// `newton`, `sparse_ops` kernels): with these a user needs `spnewton-attention` alone.
pub use faer;
pub use newton;
pub use sparse_ops;

pub use data::{AttentionData, AttentionMeta, read_matrix, write_matrix};
pub use dense::{frobenius, unvec_row_major, vec_row_major};
pub use error::AttentionError;
pub use fit::{FitMethod, FitRecord, FitReport, GdParams, curvature_scale, gradient_descent, newton_fit};
pub use hessian::{AttentionHessian, RowCurvature};
pub use kind::{AttentionLoss, EntryLoss, Normalisation, sigmoid};
pub use lipschitz::{LipschitzRow, gradient_lipschitz};
pub use objective::{AttentionEval, AttentionObjective, FactorEval, LINEAR_NORMALISER_RTOL, Want};
pub use plant::{PlantSpec, Planted, plant};
