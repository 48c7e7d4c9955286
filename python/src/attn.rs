//! The attention losses (value and gradients in `X`, `Y`, `Q`, `K`) and the attention SVM, on
//! NumPy arrays. Token matrices come as `(m, n, d)` arrays (sequence, token, feature).

use att_svm::{Margin, SvmMeta, SvmParams, TokenData, TrainParams};
use attention::{AttentionData, AttentionLoss, AttentionMeta, AttentionObjective, Want};
use faer::Mat;
use numpy::{PyArray2, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::common::{self, run_in, value_error};
use crate::solve::mat_to_numpy;

fn stacked(what: &str, a: &PyReadonlyArray3<'_, f64>, shape: [usize; 3]) -> PyResult<Mat<f64>> {
    let s = a.shape();
    if s != shape {
        return Err(value_error(format!("{what}: expected shape {shape:?} (m, n, d), found {s:?}")));
    }
    let v = a.as_array();
    let [m, n, d] = shape;
    Ok(Mat::from_fn(m * n, d, |i, j| v[[i / n, i % n, j]]))
}

fn square(what: &str, a: &PyReadonlyArray2<'_, f64>, rows: usize, cols: Option<usize>) -> PyResult<Mat<f64>> {
    let s = a.shape();
    if s[0] != rows || cols.is_some_and(|c| c != s[1]) {
        let want = cols.map_or(format!("({rows}, k)"), |c| format!("({rows}, {c})"));
        return Err(value_error(format!("{what}: expected shape {want}, found {s:?}")));
    }
    let v = a.as_array();
    Ok(Mat::from_fn(s[0], s[1], |i, j| v[[i, j]]))
}

fn data(
    a1: PyReadonlyArray3<'_, f64>,
    a2: PyReadonlyArray3<'_, f64>,
    a3: PyReadonlyArray3<'_, f64>,
    b: PyReadonlyArray3<'_, f64>,
) -> PyResult<AttentionData> {
    let s = a1.shape();
    let shape = [s[0], s[1], s[2]];
    let meta = AttentionMeta { m: shape[0], n: shape[1], d: shape[2] };
    AttentionData::new(
        meta,
        stacked("A1", &a1, shape)?,
        stacked("A2", &a2, shape)?,
        stacked("A3", &a3, shape)?,
        stacked("B", &b, shape)?,
    )
    .map_err(common::attention)
}

fn loss_kind(name: &str) -> PyResult<AttentionLoss> {
    AttentionLoss::parse(name).ok_or_else(|| {
        value_error(format!("unknown attention loss {name:?} (expected l2, logistic, linear or linear-logistic)"))
    })
}

/// `(value, ∂L/∂X, ∂L/∂Y)`.
#[pyfunction]
#[pyo3(signature = (a1, a2, a3, b, x, y, loss, threads))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn attention_evaluate<'py>(
    py: Python<'py>,
    a1: PyReadonlyArray3<'py, f64>,
    a2: PyReadonlyArray3<'py, f64>,
    a3: PyReadonlyArray3<'py, f64>,
    b: PyReadonlyArray3<'py, f64>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    loss: &str,
    threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>)> {
    let loss = loss_kind(loss)?;
    let data = data(a1, a2, a3, b)?;
    let d = data.meta().d;
    let (x, y) = (square("X", &x, d, Some(d))?, square("Y", &y, d, Some(d))?);
    let pool = common::pool(threads)?;
    let e = py
        .detach(|| {
            run_in(pool.as_ref(), || {
                let f = AttentionObjective::new(&data, y, loss)?;
                f.evaluate(x.as_ref(), Want::Gradient).map(|e| (e.value, e.grad_x, e.grad_y))
            })
        })
        .map_err(common::attention)?;
    Ok((e.0, mat_to_numpy(py, e.1.as_ref())?, mat_to_numpy(py, e.2.as_ref())?))
}

/// `(value, ∂L/∂Q, ∂L/∂K, ∂L/∂Y)` at `X = QKᵀ`.
#[pyfunction]
#[pyo3(signature = (a1, a2, a3, b, q, k, y, loss, threads))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn attention_factors<'py>(
    py: Python<'py>,
    a1: PyReadonlyArray3<'py, f64>,
    a2: PyReadonlyArray3<'py, f64>,
    a3: PyReadonlyArray3<'py, f64>,
    b: PyReadonlyArray3<'py, f64>,
    q: PyReadonlyArray2<'py, f64>,
    k: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    loss: &str,
    threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>)> {
    let loss = loss_kind(loss)?;
    let data = data(a1, a2, a3, b)?;
    let d = data.meta().d;
    let q = square("Q", &q, d, None)?;
    let k = square("K", &k, d, Some(q.ncols()))?;
    let y = square("Y", &y, d, Some(d))?;
    let pool = common::pool(threads)?;
    let e = py
        .detach(|| {
            run_in(pool.as_ref(), || {
                let f = AttentionObjective::new(&data, y, loss)?;
                f.evaluate_factors(q.as_ref(), k.as_ref())
            })
        })
        .map_err(common::attention)?;
    Ok((
        e.value,
        mat_to_numpy(py, e.grad_q.as_ref())?,
        mat_to_numpy(py, e.grad_k.as_ref())?,
        mat_to_numpy(py, e.grad_y.as_ref())?,
    ))
}

fn token_data(
    tokens: PyReadonlyArray3<'_, f64>,
    labels: PyReadonlyArray2<'_, f64>,
    head: numpy::PyReadonlyArray1<'_, f64>,
    causal: bool,
) -> PyResult<TokenData> {
    let s = tokens.shape();
    let (m, n, d) = (s[0], s[1], s[2]);
    if labels.shape() != [m, n] {
        return Err(value_error(format!("labels: expected shape ({m}, {n}), found {:?}", labels.shape())));
    }
    let tokens: Vec<f64> = tokens.as_array().iter().copied().collect();
    let labels: Vec<f64> = labels.as_array().iter().copied().collect();
    let head = head.as_array().to_vec();
    TokenData::new(SvmMeta { m, n, d, causal }, tokens, labels, head, None).map_err(common::svm)
}

/// The max-margin `X^mm`: `(x, json)` with the status, certificate, margins, constraints and
/// multipliers in the JSON.
#[pyfunction]
#[pyo3(signature = (tokens, labels, head, causal, c, tol, max_epochs, seed))]
#[allow(clippy::too_many_arguments)]
pub fn attention_svm<'py>(
    py: Python<'py>,
    tokens: PyReadonlyArray3<'py, f64>,
    labels: PyReadonlyArray2<'py, f64>,
    head: numpy::PyReadonlyArray1<'py, f64>,
    causal: bool,
    c: Option<f64>,
    tol: f64,
    max_epochs: usize,
    seed: u64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, String)> {
    let data = token_data(tokens, labels, head, causal)?;
    let margin = match c {
        None => Margin::Hard,
        Some(c) if c > 0.0 && c.is_finite() => Margin::Soft { c },
        Some(c) => return Err(value_error(format!("C must be positive and finite, got {c}"))),
    };
    let params = SvmParams { margin, tol, max_epochs, seed };
    let sol = py.detach(|| att_svm::solve_svm(&data, &params)).map_err(common::svm)?;
    let json = serde_json::json!({
        "status": sol.status,
        "objective": sol.objective,
        "min_margin": sol.min_margin,
        "gap": sol.gap,
        "relative_gap": sol.relative_gap,
        "violation": sol.violation,
        "epochs": sol.epochs,
        "time_s": sol.time_s,
        "constraints": sol.constraints.iter().map(|k| [k.sequence, k.query, k.token]).collect::<Vec<_>>(),
        "lambda": sol.lambda,
        "margins": sol.margins,
    });
    Ok((mat_to_numpy(py, sol.x.as_ref())?, json.to_string()))
}

/// W-GD on the fixed-head model: `(x, json)` with the status, steps and trajectory.
#[pyfunction]
#[pyo3(signature = (tokens, labels, head, causal, x_mm, steps, eta, normalized, record_every, threads))]
#[allow(clippy::too_many_arguments)]
pub fn attention_svm_train<'py>(
    py: Python<'py>,
    tokens: PyReadonlyArray3<'py, f64>,
    labels: PyReadonlyArray2<'py, f64>,
    head: numpy::PyReadonlyArray1<'py, f64>,
    causal: bool,
    x_mm: Option<PyReadonlyArray2<'py, f64>>,
    steps: usize,
    eta: f64,
    normalized: bool,
    record_every: usize,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, String)> {
    let data = token_data(tokens, labels, head, causal)?;
    let d = data.meta().d;
    let x_mm = x_mm.map(|x| square("x_mm", &x, d, Some(d))).transpose()?;
    let params = TrainParams { steps, eta, normalized, record_every };
    let pool = common::pool(threads)?;
    let rep = py
        .detach(|| {
            run_in(pool.as_ref(), || att_svm::train(&data, x_mm.as_ref().map(|x| x.as_ref()), &params, &mut |_| {}))
        })
        .map_err(common::svm)?;
    let json = serde_json::json!({
        "status": rep.status,
        "steps": rep.steps,
        "trajectory": rep.trajectory,
    });
    Ok((mat_to_numpy(py, rep.x.as_ref())?, json.to_string()))
}
