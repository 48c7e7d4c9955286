//! # sketch
//!
//! Input-sparsity-time spectral sparsifiers of `AᵀDA` (SPEC §3, seed 000 Lemma 5.3): sparse
//! embeddings, approximate leverage scores of `D^{1/2}A`, and a leverage-score row sampler that
//! returns a sparse diagonal `D̃` with `(1 − ε₀)·AᵀDA ⪯ AᵀD̃A ⪯ (1 + ε₀)·AᵀDA`.
//!
//! Cost model (target): `O(nnz(A)·s + k·d² + n·r)` for an embedding with `s` nonzeros per
//! column, a `k×d` sketch and `r` projection columns. Not implemented yet: this crate is
//! filled by the `sketch` issue, and exports nothing until then.
