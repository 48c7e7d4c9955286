//! # spnewton-python
//!
//! The native part of the `spnewton` Python package (`spnewton._spnewton`): thin PyO3 wrappers
//! over the workspace crates. The public Python API (`spnewton.minimize`, `evaluate`,
//! `sparsify`, `leverage_scores`, the attention functions) lives in `python/spnewton/` and
//! converts SciPy/NumPy inputs before calling in here.
//!
//! What this layer guarantees:
//! - **No copy of `A`**: a CSR `float64` matrix's `data` and `int32` `indices` are borrowed
//!   ([`sparse_ops::CsrBuffer`]), kept alive by references to the NumPy arrays; only the
//!   `n + 1` row pointers are converted to `usize`. `int64` indices are converted (checked).
//!   The arrays must not be written while a call runs.
//! - **The GIL is released** during every computation (`Python::detach`), which runs in a rayon
//!   pool of `threads` threads when asked (results do not depend on it).
//! - **Ctrl-C** ends a solve between iterations: the calling thread waits with the GIL released
//!   and checks for signals every 50 ms; the solver's observer sees the request and stops
//!   ([`newton::Status::Interrupted`]); the `KeyboardInterrupt` is then raised in Python.
//! - **No panic crosses into Python**: sizes are checked before any kernel runs, library errors
//!   become `ValueError` (bad input) or `RuntimeError` (numerical failure) with the library's
//!   message.
//!
//! Cost model: the conversions are `O(n)` (row pointers, `b`, `w`) plus the validation of `A`
//! (`O(nnz)`, sequential, about a millisecond per million nonzeros); everything else is the
//! library's cost.

mod attn;
mod common;
mod matrix;
mod sketching;
mod solve;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _spnewton(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<matrix::Csr>()?;
    m.add_class::<solve::Hessian>()?;
    m.add_function(wrap_pyfunction!(solve::minimize, m)?)?;
    m.add_function(wrap_pyfunction!(solve::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(sketching::sparsify, m)?)?;
    m.add_function(wrap_pyfunction!(sketching::leverage_scores, m)?)?;
    m.add_function(wrap_pyfunction!(attn::attention_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(attn::attention_factors, m)?)?;
    m.add_function(wrap_pyfunction!(attn::attention_svm, m)?)?;
    m.add_function(wrap_pyfunction!(attn::attention_svm_train, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
