//! `sparsify` and `leverage_scores`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use sketch::{LeverageParams, Method, Sparsifier, SparsifyParams};

use crate::common::{self, run_in, value_error};
use crate::matrix::Csr;
use crate::solve::{dense_budget, mat_to_numpy};

fn weights(w: PyReadonlyArray1<'_, f64>, n: usize) -> PyResult<Vec<f64>> {
    let w = w.as_array().to_vec();
    if w.len() != n {
        return Err(value_error(format!("weights D (one per row of A): expected length {n}, found {}", w.len())));
    }
    Ok(w)
}

/// Sparsify `AᵀDA`: `(rows, weights, sketch, sample_size)`; `rows`/`weights` for the sampled
/// diagonal methods, `sketch` (`B` with `H̃ = BᵀB`) for the Newton sketch.
#[pyfunction]
#[pyo3(signature = (a, w, eps0, delta, seed, method, oversampling, threads))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn sparsify<'py>(
    py: Python<'py>,
    a: &Csr,
    w: PyReadonlyArray1<'py, f64>,
    eps0: f64,
    delta: f64,
    seed: u64,
    method: &str,
    oversampling: f64,
    threads: Option<usize>,
) -> PyResult<(
    Option<Bound<'py, PyArray1<i64>>>,
    Option<Bound<'py, PyArray1<f64>>>,
    Option<Bound<'py, numpy::PyArray2<f64>>>,
    usize,
)> {
    let m = &*a.a;
    let method: Method = method.parse().map_err(value_error)?;
    let w = weights(w, m.nrows())?;
    let s = sketch::sample_size(m.ncols(), eps0, delta, oversampling).map_err(common::sketch)?;
    if method == Method::NewtonSketch {
        dense_budget(s, m.ncols())?;
    }
    let params = SparsifyParams { eps0, delta, oversampling, ..Default::default() };
    let pool = common::pool(threads)?;
    let sp = py
        .detach(|| run_in(pool.as_ref(), || sketch::sparsify(m, &w, method, &params, seed)))
        .map_err(common::sketch)?;
    Ok(match sp {
        Sparsifier::Diagonal(d) => (
            Some(PyArray1::from_vec(py, d.rows.iter().map(|&r| r as i64).collect())),
            Some(PyArray1::from_vec(py, d.weights)),
            None,
            s,
        ),
        Sparsifier::Embedded(b) => (None, None, Some(mat_to_numpy(py, b.as_ref())?), s),
    })
}

/// Leverage scores of `D^{1/2}A`: approximate (sketch → QR → projection), or exact (Cholesky of
/// `AᵀDA`, `O(n·d² + Σnnz(a_i)²)`).
#[pyfunction]
#[pyo3(signature = (a, w, exact, seed, threads))]
pub fn leverage_scores<'py>(
    py: Python<'py>,
    a: &Csr,
    w: PyReadonlyArray1<'py, f64>,
    exact: bool,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = &*a.a;
    let w = weights(w, m.nrows())?;
    if exact {
        dense_budget(m.ncols(), m.ncols())?;
    }
    let pool = common::pool(threads)?;
    let scores = py
        .detach(|| {
            run_in(pool.as_ref(), || {
                if exact {
                    sketch::exact_leverage(m, &w)
                } else {
                    sketch::approximate_leverage(m, &w, &LeverageParams::default(), seed)
                }
            })
        })
        .map_err(common::sketch)?;
    Ok(PyArray1::from_vec(py, scores))
}
