//! `minimize` (the Newton solver) and `evaluate` (value, gradient, Hessian operator).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use losses::{Activation, HessianParts, LossKind, Objective, Part, Regulariser, StructuredHessian, What};
use newton::{ChecksKind, IterRecord, Iterate, ProblemSummary, Report, ResultFile, SolverParams, Strategy};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use sparse_ops::CsrMatrix;

use crate::common::{self, run_in, value_error};
use crate::matrix::Csr;

fn parse<T: std::str::FromStr<Err: std::fmt::Display>>(s: &str) -> PyResult<T> {
    s.parse().map_err(value_error)
}

/// The named strategy, or for `auto` the measured choice (`newton::auto`) with its figures.
fn strategy(name: &str, a: &CsrMatrix) -> PyResult<(Strategy, Option<newton::auto::Choice>)> {
    match name {
        "auto" => {
            let c = newton::auto::Choice::for_matrix(a);
            Ok((c.strategy, Some(c)))
        }
        other => other.parse().map(|s| (s, None)).map_err(|_| {
            value_error(format!("unknown hessian {other:?} (expected one of: auto, {})", Strategy::NAMES.join(", ")))
        }),
    }
}

fn regulariser(w_const: Option<f64>, w_rows: Option<PyReadonlyArray1<'_, f64>>) -> Regulariser {
    match (w_const, w_rows) {
        (_, Some(w)) => Regulariser::PerRow(w.as_array().to_vec()),
        (Some(c), None) => Regulariser::Const(c),
        (None, None) => Regulariser::None,
    }
}

fn vec_of(v: Option<PyReadonlyArray1<'_, f64>>) -> Option<Vec<f64>> {
    v.map(|a| a.as_array().to_vec())
}

/// What Python adds to `newton::ResultFile` (the CLI's `result.json` shape).
#[derive(serde::Serialize)]
struct PyExtra {
    /// Loss evaluations (SciPy's `nfev`).
    nfev: usize,
    /// How `hessian="auto"` chose, and from what; absent when a strategy was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    choice: Option<newton::auto::Choice>,
}

/// The CLI's `result.json` (`newton::ResultFile`), with `x` left empty: it is returned as an
/// array.
fn result_json(
    mut r: Report,
    a: &CsrMatrix,
    loss: LossKind,
    func: Activation,
    strategy: Strategy,
    choice: Option<newton::auto::Choice>,
) -> String {
    r.x = Vec::new();
    let problem =
        ProblemSummary { n: a.nrows(), d: a.ncols(), nnz: a.nnz(), loss: loss.to_string(), func: func.to_string() };
    let extra = PyExtra { nfev: nfev(&r), choice };
    serde_json::to_string(&ResultFile::new(r, strategy.name(), problem, extra)).expect("result serialises")
}

/// Loss evaluations the solver made: the start, then per iteration the line-search trials
/// (`α = 2^-j` took `j + 1`) and, when the full step was rejected, the accepted point's.
fn nfev(r: &Report) -> usize {
    1 + r
        .history
        .iter()
        .map(|h| {
            if h.step_length >= 1.0 || h.step_length <= 0.0 { 1 } else { (-h.step_length.log2()).round() as usize + 2 }
        })
        .sum::<usize>()
}

/// Run `work` on a helper thread (in `pool` if given) while this thread, with the GIL
/// released, checks for Ctrl-C every 50 ms: Python runs signal handlers on the main thread
/// only, and the solver's threads must not hold the GIL. A pending `KeyboardInterrupt` sets
/// `stop`, which the solver's observer turns into `ControlFlow::Break`.
fn interruptible<R: Send>(
    py: Python<'_>,
    pool: Option<&rayon::ThreadPool>,
    work: impl FnOnce(&AtomicBool) -> R + Send,
) -> PyResult<(R, Option<PyErr>)> {
    let stop = AtomicBool::new(false);
    py.detach(|| {
        std::thread::scope(|s| {
            let main = std::thread::current();
            let stop = &stop;
            let handle = std::thread::Builder::new()
                .name("spnewton-solve".into())
                .stack_size(64 << 20)
                .spawn_scoped(s, move || {
                    let r = run_in(pool, || work(stop));
                    main.unpark();
                    r
                })
                .map_err(common::runtime_error)?;
            let mut signal = None;
            while !handle.is_finished() {
                std::thread::park_timeout(Duration::from_millis(50));
                if signal.is_none()
                    && !handle.is_finished()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    signal = Some(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            match handle.join() {
                Ok(r) => Ok((r, signal)),
                Err(_) => Err(common::runtime_error("the solver thread panicked (a bug: please report it)")),
            }
        })
    })
}

/// `(x, jac, result_json)`.
type Solved<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, String);

/// Minimise; returns `(x, jac, result_json)`.
#[pyfunction]
#[pyo3(signature = (a, b, loss, func, w_const, w_rows, x0, hessian, tol, atol, eps0, delta, seed, max_iter, max_time, refresh_every, checks, x_star, threads, callback))]
#[allow(clippy::too_many_arguments)]
pub fn minimize<'py>(
    py: Python<'py>,
    a: &Csr,
    b: PyReadonlyArray1<'py, f64>,
    loss: &str,
    func: &str,
    w_const: Option<f64>,
    w_rows: Option<PyReadonlyArray1<'py, f64>>,
    x0: Option<PyReadonlyArray1<'py, f64>>,
    hessian: &str,
    tol: f64,
    atol: f64,
    eps0: f64,
    delta: f64,
    seed: u64,
    max_iter: usize,
    max_time: Option<f64>,
    refresh_every: Option<usize>,
    checks: &str,
    x_star: Option<PyReadonlyArray1<'py, f64>>,
    threads: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Solved<'py>> {
    // "off", or the kind of the SPEC §4 checks ("derived", "exact"), as the CLI's --checks.
    let (checks, checks_kind) =
        if checks == "off" { (false, ChecksKind::Derived) } else { (true, parse::<ChecksKind>(checks)?) };
    let m = &*a.a;
    let (loss, func) = (parse::<LossKind>(loss)?, parse::<Activation>(func)?);
    let (strategy, choice) = strategy(hessian, m)?;
    let b = b.as_array().to_vec();
    let w = regulariser(w_const, w_rows);
    let d = m.ncols();
    if d == 0 {
        // The solver assumes d ≥ 1 (its saddle test indexes an eigenvector).
        return Err(value_error("A has no columns (d = 0): there is nothing to minimise"));
    }
    let x0 = vec_of(x0).unwrap_or_else(|| vec![0.0; d]);
    let x_star = vec_of(x_star);
    if let Some(t) = max_time
        && (t.is_nan() || t < 0.0)
    {
        return Err(value_error(format!("max_time must be nonnegative, got {t}")));
    }
    if refresh_every == Some(0) {
        return Err(value_error("refresh_every must be at least 1"));
    }
    let params = SolverParams {
        strategy,
        eps0,
        delta,
        seed,
        tol,
        atol,
        max_iter,
        max_time: max_time.unwrap_or(f64::INFINITY),
        refresh_every: refresh_every.unwrap_or(strategy.default_refresh()),
        checks,
        checks_kind,
        ..Default::default()
    };
    let pool = common::pool(threads)?;
    let ((result, cb_err), signal) = interruptible(py, pool.as_ref(), |stop| {
        let f = match Objective::new(m, &b, w, loss, func) {
            Ok(f) => f,
            Err(e) => return (Err(crate::common::loss(e)), None),
        };
        let mut cb_err: Option<PyErr> = None;
        let mut observer = |rec: &IterRecord, at: Iterate<'_>| {
            if stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            if let Some(cb) = &callback {
                let r = Python::attach(|py| -> PyResult<bool> {
                    let x = PyArray1::from_slice(py, at.x);
                    let rec = serde_json::to_string(rec).expect("record serialises");
                    cb.call1(py, (x, at.loss, rec))?.is_truthy(py)
                });
                match r {
                    Ok(false) => {}
                    Ok(true) => return ControlFlow::Break(()),
                    Err(e) => {
                        cb_err = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        };
        let report = match newton::solve(&f, &x0, &params, x_star.as_deref(), &mut observer) {
            Ok(r) => r,
            Err(e) => return (Err(crate::common::solve(e)), cb_err),
        };
        // The gradient at the solution (SciPy's `jac`): one more evaluation, two passes.
        let jac = f.evaluate(&report.x, What::Gradient).ok().and_then(|e| e.gradient).unwrap_or_default();
        (Ok((report, jac)), cb_err)
    })?;
    if let Some(e) = signal {
        return Err(e);
    }
    if let Some(e) = cb_err {
        return Err(e);
    }
    let (report, jac) = result?;
    let x = PyArray1::from_slice(py, &report.x);
    let json = result_json(report, m, loss, func, strategy, choice);
    Ok((x, PyArray1::from_vec(py, jac), json))
}

/// The Hessian `Aᵀ(D + UCUᵀ)A` at a point, as products (`matvec`) or a dense matrix.
#[pyclass(frozen, module = "spnewton._spnewton")]
pub struct Hessian {
    /// Borrows `*a`; declared first so that it is dropped before `a`.
    h: StructuredHessian<'static>,
    a: Arc<CsrMatrix>,
    part: Part,
}

#[pymethods]
impl Hessian {
    /// `H·v` (one `A·v` and one `Aᵀ·y`).
    #[pyo3(signature = (v, threads=None))]
    fn matvec<'py>(
        &self,
        py: Python<'py>,
        v: PyReadonlyArray1<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let d = self.a.ncols();
        let v = v.as_array().to_vec();
        if v.len() != d {
            return Err(value_error(format!("v: expected length {d}, found {}", v.len())));
        }
        let pool = common::pool(threads)?;
        let out = py.detach(|| {
            run_in(pool.as_ref(), || {
                let mut out = vec![0.0; d];
                self.h.apply(self.part, &v, &mut out);
                out
            })
        });
        Ok(PyArray1::from_vec(py, out))
    }

    /// The dense `d×d` matrix (`O(Σ nnz(a_i)² + d²)`).
    #[pyo3(signature = (threads=None))]
    fn dense<'py>(&self, py: Python<'py>, threads: Option<usize>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let d = self.a.ncols();
        dense_budget(d, d)?;
        let pool = common::pool(threads)?;
        let h = py.detach(|| run_in(pool.as_ref(), || self.h.dense(self.part)));
        mat_to_numpy(py, h.as_ref())
    }

    #[getter]
    fn dim(&self) -> usize {
        self.a.ncols()
    }
}

/// Refuse dense results above 8 GiB (an allocation failure would abort the interpreter).
pub(crate) fn dense_budget(rows: usize, cols: usize) -> PyResult<()> {
    match rows.checked_mul(cols).and_then(|e| e.checked_mul(8)) {
        Some(bytes) if bytes <= 8 << 30 => Ok(()),
        _ => Err(value_error(format!("a dense {rows}×{cols} matrix would need more than 8 GiB"))),
    }
}

/// A faer matrix as a new C-ordered NumPy array.
pub(crate) fn mat_to_numpy<'py>(py: Python<'py>, m: faer::MatRef<'_, f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut v = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            v.push(m[(i, j)]);
        }
    }
    PyArray1::from_vec(py, v).reshape([r, c])
}

/// `(value, gradient, hessian)` at `x`; `hessian` is `None`, or a [`Hessian`] of the exact or
/// Gauss–Newton part.
#[pyfunction]
#[pyo3(signature = (a, b, x, loss, func, w_const, w_rows, hessian, threads))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate<'py>(
    py: Python<'py>,
    a: &Csr,
    b: PyReadonlyArray1<'py, f64>,
    x: PyReadonlyArray1<'py, f64>,
    loss: &str,
    func: &str,
    w_const: Option<f64>,
    w_rows: Option<PyReadonlyArray1<'py, f64>>,
    hessian: Option<&str>,
    threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyArray1<f64>>, Option<Hessian>)> {
    let (loss, func) = (parse::<LossKind>(loss)?, parse::<Activation>(func)?);
    let part = match hessian {
        None => None,
        Some("exact") => Some(Part::Exact),
        Some("gauss-newton") => Some(Part::GaussNewton),
        Some(other) => return Err(value_error(format!("unknown Hessian part {other:?} (exact or gauss-newton)"))),
    };
    let b = b.as_array().to_vec();
    let x = x.as_array().to_vec();
    let w = regulariser(w_const, w_rows);
    let pool = common::pool(threads)?;
    let a = a.a.clone();
    // SAFETY: `a` is an `Arc` whose matrix never moves or changes; the `Hessian` built below
    // keeps the `Arc` and drops the borrowing `StructuredHessian` first (field order), so the
    // `'static` borrow never outlives the matrix. Nothing else escapes this function.
    let m: &'static CsrMatrix = unsafe { &*Arc::as_ptr(&a) };
    let out = py.detach(|| {
        run_in(pool.as_ref(), || {
            let f = Objective::new(m, &b, w, loss, func)?;
            let e = f.evaluate(&x, if part.is_some() { What::Hessian } else { What::Gradient })?;
            // The evaluation's Hessian also borrows `b`; its parts are copied (`O(n·k)`, less
            // than the evaluation) into one that borrows only the matrix.
            let h = e.hessian.map(|h| {
                let (u, k, c) = h.low_rank(Part::Exact);
                let parts = HessianParts {
                    d: h.diagonal(Part::Exact).to_vec(),
                    d_gn: h.diagonal(Part::GaussNewton).to_vec(),
                    u: u.to_vec(),
                    k,
                    c: c.to_vec(),
                    c_gn: h.low_rank(Part::GaussNewton).2.to_vec(),
                };
                StructuredHessian::new(m, parts)
            });
            Ok::<_, losses::LossError>((e.value, e.gradient.unwrap_or_default(), h))
        })
    });
    let (value, grad, h) = out.map_err(crate::common::loss)?;
    let h = match (h, part) {
        (Some(h), Some(part)) => Some(Hessian { h, a, part }),
        _ => None,
    };
    Ok((value, PyArray1::from_vec(py, grad), h))
}
