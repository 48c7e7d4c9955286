//! Shared helpers: library errors as Python exceptions (bad input is `ValueError`, a numerical
//! failure of a valid problem is `RuntimeError`; the message is the library's) and thread pools.

use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyValueError};

pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

pub fn runtime_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

pub fn loss(e: losses::LossError) -> PyErr {
    match e {
        losses::LossError::Overflow { .. } | losses::LossError::Spectral(_) => runtime_error(e),
        _ => value_error(e),
    }
}

pub fn solve(e: newton::SolveError) -> PyErr {
    match e {
        newton::SolveError::AtStart(l) => match l {
            losses::LossError::Overflow { .. } => {
                runtime_error(format!("the loss cannot be evaluated at the starting point: {l}"))
            }
            other => value_error(format!("the loss cannot be evaluated at the starting point: {other}")),
        },
        other => value_error(other),
    }
}

pub fn sketch(e: sketch::SketchError) -> PyErr {
    match e {
        sketch::SketchError::NotPositiveDefinite | sketch::SketchError::Eigen(_) => runtime_error(e),
        _ => value_error(e),
    }
}

pub fn attention(e: attention::AttentionError) -> PyErr {
    match e {
        attention::AttentionError::Overflow { .. } | attention::AttentionError::NormaliserNearZero { .. } => {
            runtime_error(e)
        }
        _ => value_error(e),
    }
}

pub fn svm(e: att_svm::SvmError) -> PyErr {
    value_error(e)
}

/// A rayon pool of `threads` threads, or `None` for the global pool.
pub fn pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>, PyErr> {
    match threads {
        None => Ok(None),
        Some(0) => Err(value_error("threads must be at least 1")),
        Some(n) if n > 4096 => Err(value_error(format!("threads = {n} is more than 4096"))),
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build().map(Some).map_err(runtime_error),
    }
}

/// Run `f` in `pool` (or on this thread with the global pool).
pub fn run_in<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}
