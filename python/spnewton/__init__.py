"""spnewton: input-sparsity-time Newton methods for sparse regression, from Python.

SciPy sparse matrices in, :class:`scipy.optimize.OptimizeResult` out::

    import spnewton
    res = spnewton.minimize(A, b)          # A: any scipy.sparse matrix, b: 1-D array
    print(res.x, res.fun, res.nit, res.status)

Inputs
------
``A`` may be any ``scipy.sparse`` array or matrix. A CSR matrix with ``float64`` data and
``int32`` indices is used **without copying** its values or indices (only the ``n + 1`` row
pointers are converted); ``int64`` indices are converted to 32 bits (checked), other dtypes
are converted to ``float64``, and CSC/COO/other formats are converted to CSR by SciPy (COO
duplicates are summed by that conversion). The CSR structure is validated (row pointers,
strictly increasing column indices, so no duplicates, indices in range, finite values):
a violation is a ``ValueError``. **Do not modify the arrays of ``A`` while a call runs.**

Behaviour
---------
The GIL is released while Rust computes; ``threads=N`` runs the call in a pool of ``N``
threads (the results are bitwise the same for any ``N``). Ctrl-C stops a running
:func:`minimize` between iterations and raises ``KeyboardInterrupt``. Library errors are
``ValueError`` (bad input), ``TypeError`` (wrong kinds of arguments) or ``RuntimeError``
(numerical failure, e.g. overflow of ``exp``), with the library's message.
"""

from __future__ import annotations

import json
from typing import Any, Callable, NamedTuple, Optional, Union

import numpy as np
import scipy.sparse as sp
from scipy.optimize import OptimizeResult
from scipy.sparse.linalg import LinearOperator

from . import _spnewton
from ._spnewton import Csr

__all__ = [
    "minimize",
    "evaluate",
    "Evaluation",
    "sparsify",
    "leverage_scores",
    "attention_loss",
    "attention_loss_factors",
    "attention_svm",
    "attention_svm_train",
    "as_csr",
    "STATUS_CODES",
]

__version__: str = _spnewton.__version__

#: ``OptimizeResult.status`` codes, by the solver's status name (0 is success, as in SciPy).
STATUS_CODES = {
    "converged": 0,
    "max_iterations": 1,
    "max_time": 2,
    "stalled": 3,
    "saddle": 4,
    "numerical_error": 5,
    "interrupted": 6,
}

_MESSAGES = {
    "converged": "the gradient norm fell below max(tol * ||g(x0)||, atol)",
    "max_iterations": "the iteration limit was reached",
    "max_time": "the time limit was reached",
    "stalled": "no step decreases the loss any more",
    "saddle": "a stationary point with negative curvature",
    "numerical_error": "the loss overflowed",
    "interrupted": "stopped by the callback",
}


def as_csr(A: Any) -> Csr:
    """Validate ``A`` as a CSR matrix for spnewton, borrowing its arrays where possible.

    Parameters
    ----------
    A : scipy.sparse array or matrix, or a ``Csr`` (returned as is)
        CSR ``float64`` with ``int32`` indices is borrowed without a copy; anything else is
        converted first (see the module documentation).

    Returns
    -------
    Csr
        The validated matrix handle (``.shape``, ``.nnz``, ``.borrowed``).

    Raises
    ------
    TypeError
        ``A`` is not a SciPy sparse matrix.
    ValueError
        Invalid structure: unsorted or duplicate column indices, indices out of range,
        non-finite values, inconsistent row pointers.
    """
    if isinstance(A, Csr):
        return A
    if not sp.issparse(A):
        raise TypeError(f"A must be a scipy.sparse array or matrix, not {type(A).__name__}")
    if A.format != "csr":
        A = A.tocsr()
    data = A.data
    if data.dtype != np.float64:
        if not np.can_cast(data.dtype, np.float64, casting="same_kind") and data.dtype.kind == "c":
            raise TypeError(f"A has complex values ({data.dtype}); spnewton needs real values")
        data = data.astype(np.float64)
    if not data.flags.c_contiguous:
        data = np.ascontiguousarray(data)
    indices = A.indices
    if indices.dtype not in (np.int32, np.int64):
        indices = indices.astype(np.int64)
    indptr = A.indptr
    if indptr.dtype not in (np.int32, np.int64):
        indptr = indptr.astype(np.int64)
    n, d = A.shape
    return Csr(int(n), int(d), indptr, indices, data)


def _vec(name: str, v: Any, n: Optional[int] = None) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name}: expected length {n}, found {a.shape[0]}")
    return np.ascontiguousarray(a)


def _weights(w: Any, n: int) -> tuple[Optional[float], Optional[np.ndarray]]:
    if w is None:
        return None, None
    if np.ndim(w) == 0:
        return float(w), None
    return None, _vec("w", w, n)


def _result(x: np.ndarray, jac: np.ndarray, info: dict[str, Any]) -> OptimizeResult:
    status = info["status"]
    message = info.get("message") or _MESSAGES.get(status, status)
    history = info["history"]
    res = OptimizeResult(
        x=x,
        fun=info["loss"],
        jac=jac,
        nit=info["iterations"],
        nfev=info["nfev"],
        njev=info["iterations"] + 1,
        success=status == "converged",
        status=STATUS_CODES[status],
        message=message,
        status_name=status,
        grad_norm=info["grad_norm"],
        grad_norm0=info["grad_norm0"],
        strategy=info["strategy"],
        history=history,
        timing={**info["timing"], "total_s": info["total_s"]},
        problem=info["problem"],
        checks={
            **info["check_counts"],
            "regime_from_iteration": info.get("regime_from_iteration"),
            "r_against_x_star": info["r_against_x_star"],
        },
        choice=info.get("choice"),
    )
    return res


def minimize(
    A: Any,
    b: Any,
    *,
    loss: str = "rescaled",
    fn: str = "exp",
    w: Union[None, float, Any] = None,
    x0: Any = None,
    hessian: str = "auto",
    tol: float = 1e-8,
    eps0: float = 0.5,
    seed: int = 0,
    max_iter: int = 100,
    max_time: Optional[float] = None,
    threads: Optional[int] = None,
    callback: Optional[Callable[[OptimizeResult], Any]] = None,
    atol: float = 0.0,
    delta: float = 0.1,
    refresh_every: Optional[int] = None,
    checks: Union[bool, str] = True,
    x_star: Any = None,
) -> OptimizeResult:
    """Minimise ``L(x) = f(Ax) + ½‖diag(w)Ax‖²`` by the approximate Newton method.

    Parameters
    ----------
    A : scipy.sparse array or matrix, shape (n, d)
        The data matrix (not copied when CSR float64 with int32 indices).
    b : array_like, shape (n,)
        The target.
    loss : {"rescaled", "hyperbolic", "softmax", "linear"}
        The loss (SPEC §1–2).
    fn : {"exp", "cosh", "sinh"}
        The entrywise function ``u`` of the hyperbolic losses (softmax is always ``exp``).
    w : None, float or array_like of shape (n,)
        Regulariser weights: none, the same for every row, or one per row.
    x0 : array_like, shape (d,), optional
        Starting point (default zeros).
    hessian : {"auto", "exact", "gauss-newton", "leverage", "leverage-pcg", "newton-sketch", "newton-cg"}
        How the Newton matrix is formed; ``"auto"`` chooses from ``n``, ``d``, the nonzeros
        per row and this machine's timed rates as the command line does (``newton::auto``;
        ``result.choice`` holds the figures).
    tol : float
        Stop when ``‖g‖ ≤ max(tol·‖g(x0)‖, atol)``.
    eps0 : float
        Sketch accuracy ``ε₀`` of the sketched strategies.
    seed : int
        Seed of every random choice (same seed, same bits).
    max_iter : int
        Iteration limit.
    max_time : float, optional
        Wall-clock limit in seconds.
    threads : int, optional
        Run in a pool of this many threads (the result does not depend on it).
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration, with an ``OptimizeResult``
        holding ``x``, ``fun``, ``nit`` and ``record`` (the iteration's record). Returning
        ``True`` or raising ``StopIteration`` stops the solve (status ``"interrupted"``);
        any other exception stops it and is re-raised.
    atol, delta, refresh_every, checks, x_star
        Absolute gradient floor; sketch failure probability ``δ``; leverage-score refresh
        interval (default per strategy); the SPEC §4 checks: ``True`` or ``"derived"`` (the default:
        estimated from the step's own quantities, as the command line's ``--checks derived``),
        ``"exact"`` (separate eigenvalue computations, ``--checks exact``) or ``False``; the solution
        ``x*`` that ``r_t`` is measured against (default: successive steps).

    Returns
    -------
    OptimizeResult
        ``x``, ``fun``, ``jac`` (the gradient at ``x``), ``nit``, ``nfev``, ``njev``,
        ``success``, ``status`` (:data:`STATUS_CODES`), ``message``, and as the command line's
        ``result.json``: ``status_name``, ``grad_norm``, ``grad_norm0``, ``strategy``,
        ``history`` (a list of per-iteration dicts), ``timing``, ``problem``, ``checks``, and
        ``choice`` (how ``hessian="auto"`` chose: strategy, predicted step times, timed rates;
        ``None`` when a strategy was named).

    Raises
    ------
    ValueError
        Wrong shapes, non-finite inputs, invalid parameters, invalid matrix structure.
    RuntimeError
        The loss overflows at ``x0``.
    KeyboardInterrupt
        Ctrl-C during the solve (it stops between iterations).
    """
    a = as_csr(A)
    n, d = a.shape
    bv = _vec("b", b, n)
    w_const, w_rows = _weights(w, n)
    x0v = None if x0 is None else _vec("x0", x0, d)
    xs = None if x_star is None else _vec("x_star", x_star, d)
    cb = None
    if callback is not None:

        def cb(x: np.ndarray, fun: float, record: str) -> bool:
            rec = json.loads(record)
            inter = OptimizeResult(x=x, fun=fun, nit=rec["iteration"] + 1, record=rec)
            try:
                return bool(callback(inter))
            except StopIteration:
                return True

    x, jac, info = _spnewton.minimize(
        a, bv, loss, fn, w_const, w_rows, x0v, hessian, float(tol), float(atol), float(eps0),
        float(delta), int(seed), int(max_iter), None if max_time is None else float(max_time),
        refresh_every, _checks_name(checks), xs, threads, cb,
    )
    return _result(x, jac, json.loads(info))


def _checks_name(checks: Union[bool, str]) -> str:
    """``checks=`` as the extension takes it: ``"off"``, ``"derived"`` or ``"exact"``."""
    if checks is True:
        return "derived"
    if checks is False:
        return "off"
    if checks in ("derived", "exact"):
        return str(checks)
    raise ValueError(f"checks must be True, False, 'derived' or 'exact', got {checks!r}")


class Evaluation(NamedTuple):
    """What :func:`evaluate` returns."""

    value: float
    gradient: np.ndarray
    hessian: Union[None, LinearOperator, np.ndarray]


def evaluate(
    A: Any,
    b: Any,
    x: Any,
    *,
    loss: str = "rescaled",
    fn: str = "exp",
    w: Union[None, float, Any] = None,
    hessian: Optional[str] = "operator",
    part: str = "exact",
    threads: Optional[int] = None,
) -> Evaluation:
    """The loss, its gradient and its Hessian at ``x``.

    Parameters
    ----------
    A, b, loss, fn, w
        As in :func:`minimize`.
    x : array_like, shape (d,)
        The point.
    hessian : {"operator", "dense", None}
        ``"operator"``: a matrix-free :class:`scipy.sparse.linalg.LinearOperator` (each
        product costs one ``A·v`` and one ``Aᵀ·y``; its ``.todense()`` gives the dense
        matrix); ``"dense"``: a ``d×d`` NumPy array; ``None``: no Hessian.
    part : {"exact", "gauss-newton"}
        The exact Hessian ``Aᵀ(D + UCUᵀ)A`` or its Gauss–Newton matrix.
    threads : int, optional
        As in :func:`minimize`.

    Returns
    -------
    Evaluation
        ``(value, gradient, hessian)``.
    """
    a = as_csr(A)
    n, d = a.shape
    if hessian not in ("operator", "dense", None):
        raise ValueError(f"hessian must be 'operator', 'dense' or None, got {hessian!r}")
    w_const, w_rows = _weights(w, n)
    value, grad, h = _spnewton.evaluate(
        a, _vec("b", b, n), _vec("x", x, d), loss, fn, w_const, w_rows,
        None if hessian is None else part, threads,
    )
    if hessian is None:
        return Evaluation(value, grad, None)
    if hessian == "dense":
        return Evaluation(value, grad, h.dense(threads))
    return Evaluation(value, grad, _HessianOperator(h, threads))


class _HessianOperator(LinearOperator):
    """The Hessian as a symmetric LinearOperator (matrix-free products)."""

    def __init__(self, h: Any, threads: Optional[int]) -> None:
        super().__init__(dtype=np.float64, shape=(h.dim, h.dim))
        self._h = h
        self._threads = threads

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._h.matvec(np.ascontiguousarray(np.ravel(v), dtype=np.float64), self._threads)

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)

    def _adjoint(self) -> "_HessianOperator":
        return self

    def todense(self) -> np.ndarray:
        """The dense ``d×d`` matrix (exact weighted Gram, ``O(Σ nnz(a_i)²)``)."""
        return self._h.dense(self._threads)


def sparsify(
    A: Any,
    d: Any,
    *,
    eps0: float = 0.5,
    delta: float = 0.1,
    seed: int = 0,
    method: str = "leverage",
    oversampling: float = 1.5,
    threads: Optional[int] = None,
) -> tuple[Optional[np.ndarray], Optional[np.ndarray], dict[str, Any]]:
    """A spectral sparsifier of ``AᵀDA`` (``D = diag(d) ≥ 0``).

    Parameters
    ----------
    A : scipy.sparse matrix, shape (n, d)
    d : array_like, shape (n,)
        The nonnegative diagonal ``D``.
    eps0, delta : float
        With probability ``≥ 1 − δ``: ``(1 − ε₀)AᵀDA ⪯ AᵀD̃A ⪯ (1 + ε₀)AᵀDA``.
    seed : int
    method : {"leverage", "uniform", "newton-sketch"}
    oversampling : float
        ``C`` in the sample size ``s = ⌈C·d·ln(d/δ)/ε₀²⌉``.

    Returns
    -------
    rows : ndarray of int64 or None
        The sampled rows (increasing), ``None`` for the Newton sketch.
    weights : ndarray or None
        Their weights ``D̃``.
    info : dict
        ``method``, ``sample_size``, ``rows_kept`` and, for the Newton sketch, ``sketch``
        (``B`` with ``AᵀD̃A ≈ BᵀB``).
    """
    a = as_csr(A)
    n = a.shape[0]
    rows, weights, sketch, s = _spnewton.sparsify(
        a, _vec("d", d, n), float(eps0), float(delta), int(seed), method, float(oversampling), threads
    )
    info: dict[str, Any] = {"method": method, "sample_size": s, "eps0": eps0, "delta": delta, "seed": seed}
    if sketch is not None:
        info["sketch"] = sketch
        info["rows_kept"] = sketch.shape[0]
    else:
        info["rows_kept"] = len(rows)
    return rows, weights, info


def leverage_scores(
    A: Any,
    d: Any = None,
    *,
    exact: bool = False,
    seed: int = 0,
    threads: Optional[int] = None,
) -> np.ndarray:
    """Leverage scores of ``D^{1/2}A`` (``D = I`` by default).

    Approximate by default (sparse embedding, QR, Gaussian projection; ``O(nnz)``), or exact
    (Cholesky of ``AᵀDA``, which must be positive definite).
    """
    a = as_csr(A)
    n = a.shape[0]
    dv = np.ones(n) if d is None else _vec("d", d, n)
    return _spnewton.leverage_scores(a, dv, bool(exact), int(seed), threads)


def _tokens(name: str, t: Any) -> np.ndarray:
    a = np.ascontiguousarray(t, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (m, n, d), got {a.shape}")
    return a


def _mat(name: str, t: Any) -> np.ndarray:
    a = np.ascontiguousarray(t, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    return a


def attention_loss(
    A1: Any, A2: Any, A3: Any, B: Any, X: Any, Y: Any, *, loss: str = "l2", threads: Optional[int] = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """The attention regression loss and its gradients in ``X`` and ``Y`` (SPEC §5).

    ``L = Σ_l Σ φ(S_l(X)·A_{l,3}Y, B_l)`` with ``S_l`` the row normalisation of
    ``A_{l,1} X A_{l,2}ᵀ``.

    Parameters
    ----------
    A1, A2, A3, B : array_like, shape (m, n, d)
        Per sequence ``l``: query, key and value tokens, and targets.
    X, Y : array_like, shape (d, d)
    loss : {"l2", "logistic", "linear", "linear-logistic"}
        Softmax (or linear) normalisation with the ``ℓ2`` (or logistic) entry loss.

    Returns
    -------
    value : float
    grad_x, grad_y : ndarray, shape (d, d)
    """
    return _spnewton.attention_evaluate(
        _tokens("A1", A1), _tokens("A2", A2), _tokens("A3", A3), _tokens("B", B), _mat("X", X), _mat("Y", Y),
        loss, threads,
    )


def attention_loss_factors(
    A1: Any, A2: Any, A3: Any, B: Any, Q: Any, K: Any, Y: Any, *, loss: str = "l2",
    threads: Optional[int] = None,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The attention loss at ``X = QKᵀ`` and its gradients in ``Q``, ``K`` (``d×k``) and ``Y``.

    Returns
    -------
    value : float
    grad_q, grad_k : ndarray, shape (d, k)
    grad_y : ndarray, shape (d, d)
    """
    return _spnewton.attention_factors(
        _tokens("A1", A1), _tokens("A2", A2), _tokens("A3", A3), _tokens("B", B), _mat("Q", Q), _mat("K", K),
        _mat("Y", Y), loss, threads,
    )


def attention_svm(
    tokens: Any, labels: Any, head: Any, *, causal: bool = False, C: Optional[float] = None,
    tol: float = 1e-9, max_epochs: int = 100_000, seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The attention SVM's max-margin ``X^mm`` (seed 004, Definition 3.8).

    Parameters
    ----------
    tokens : array_like, shape (m, n, d)
    labels : array_like, shape (m, n)
        ``±1`` per query.
    head : array_like, shape (d,)
        The fixed head that scores tokens (the optimal token of each query is its best score).
    causal : bool
        Query ``i`` sees tokens ``0..=i`` only.
    C : float, optional
        Soft margin constant; hard margin when ``None``.

    Returns
    -------
    X : ndarray, shape (d, d)
    info : dict
        ``status``, ``objective``, ``min_margin``, ``gap``, ``relative_gap``, ``violation``,
        ``epochs``, ``constraints`` (``[sequence, query, token]`` rows), ``lambda``, ``margins``.
    """
    x, info = _spnewton.attention_svm(
        _tokens("tokens", tokens), _mat("labels", labels), _vec("head", head), bool(causal),
        None if C is None else float(C), float(tol), int(max_epochs), int(seed),
    )
    return x, json.loads(info)


def attention_svm_train(
    tokens: Any, labels: Any, head: Any, *, causal: bool = False, x_mm: Any = None, steps: int = 2000,
    eta: float = 0.1, normalized: bool = True, record_every: int = 10, threads: Optional[int] = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """W-GD on the fixed-head attention model, recording ``cos(X(k), X^mm)`` and the §4 quantities.

    Returns
    -------
    X : ndarray, shape (d, d)
    info : dict
        ``status``, ``steps`` and ``trajectory`` (a list of per-record dicts).
    """
    x, info = _spnewton.attention_svm_train(
        _tokens("tokens", tokens), _mat("labels", labels), _vec("head", head), bool(causal),
        None if x_mm is None else _mat("x_mm", x_mm), int(steps), float(eta), bool(normalized),
        int(record_every), threads,
    )
    return x, json.loads(info)
