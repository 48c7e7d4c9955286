"""`sparsify` and `leverage_scores`."""

from __future__ import annotations

import numpy as np

import spnewton
from conftest import planted


def gram(A, rows, weights):
    S = A[rows]
    return (S.T @ (S.multiply(weights[:, None]))).toarray()


def test_leverage_sparsifier_is_a_spectral_approximation():
    A, _, _ = planted(n=50_000, d=20, row_nnz=6, seed=1)
    D = np.random.default_rng(0).uniform(0.5, 2.0, size=A.shape[0])
    rows, weights, info = spnewton.sparsify(A, D, eps0=0.5, delta=0.1, seed=3)
    assert info["rows_kept"] == len(rows) < A.shape[0] // 10
    assert np.all(np.diff(rows) > 0) and np.all(weights > 0)
    exact = (A.T @ A.multiply(D[:, None])).toarray()
    approx = gram(A, rows, weights)
    L = np.linalg.cholesky(exact)
    Li = np.linalg.inv(L)
    ev = np.linalg.eigvalsh(Li @ approx @ Li.T)
    assert ev.min() >= 0.5 and ev.max() <= 1.5, ev
    again = spnewton.sparsify(A, D, eps0=0.5, delta=0.1, seed=3)
    assert np.array_equal(again[0], rows) and np.array_equal(again[1], weights)
    other = spnewton.sparsify(A, D, eps0=0.5, delta=0.1, seed=4)
    assert not np.array_equal(other[0], rows)


def test_uniform_and_newton_sketch():
    A, _, _ = planted(n=20_000, d=10, row_nnz=4, seed=2)
    D = np.ones(A.shape[0])
    rows, weights, info = spnewton.sparsify(A, D, method="uniform", seed=1)
    assert len(rows) == info["rows_kept"] and np.allclose(weights, weights[0])
    rows, weights, info = spnewton.sparsify(A, D, method="newton-sketch", seed=1)
    assert rows is None and weights is None
    B = info["sketch"]
    assert B.shape == (info["sample_size"], 10)
    exact = (A.T @ A).toarray()
    rel = np.linalg.norm(B.T @ B - exact, 2) / np.linalg.norm(exact, 2)
    assert rel < 0.5


def test_leverage_scores_exact_and_approximate():
    A, _, _ = planted(n=20_000, d=15, row_nnz=5, seed=3)
    exact = spnewton.leverage_scores(A, exact=True)
    dense = A.toarray()
    q, _ = np.linalg.qr(dense)
    np.testing.assert_allclose(exact, (q * q).sum(axis=1), rtol=1e-8, atol=1e-12)
    assert abs(exact.sum() - 15) < 1e-8
    approx = spnewton.leverage_scores(A, seed=1)
    assert approx.shape == exact.shape and np.all(approx >= 0)
    ratio = approx[exact > 1e-6] / exact[exact > 1e-6]
    assert 0.5 < np.median(ratio) < 2.0
    assert np.array_equal(approx, spnewton.leverage_scores(A, seed=1, threads=1))
