"""`spnewton.evaluate` against finite differences and the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

import spnewton
from conftest import Rescaled, planted


@pytest.fixture
def problem():
    A, b, x_true = planted(n=2000, d=12, seed=4, noise=0.02)
    x = 0.7 * x_true + 0.05
    return A, b, x


def test_value_and_gradient_match_the_reference_and_finite_differences(problem):
    A, b, x = problem
    f = Rescaled(A, b, 0.03)
    e = spnewton.evaluate(A, b, x, w=0.03)
    assert e.value == pytest.approx(f.fun(x), rel=1e-12)
    np.testing.assert_allclose(e.gradient, f.jac(x), rtol=1e-10, atol=1e-12 * np.abs(e.gradient).max())
    h = 1e-6
    fd = np.array([(spnewton.evaluate(A, b, x + h * ei, w=0.03, hessian=None).value
                    - spnewton.evaluate(A, b, x - h * ei, w=0.03, hessian=None).value) / (2 * h)
                   for ei in np.eye(12)])
    np.testing.assert_allclose(e.gradient, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_hessian_operator_matches_finite_differences_of_the_gradient(problem):
    A, b, x = problem
    e = spnewton.evaluate(A, b, x, w=0.03)
    H = e.hessian
    assert isinstance(H, LinearOperator) and H.shape == (12, 12)
    rng = np.random.default_rng(0)
    v = rng.normal(size=12)
    h = 1e-6
    gp = spnewton.evaluate(A, b, x + h * v, w=0.03, hessian=None).gradient
    gm = spnewton.evaluate(A, b, x - h * v, w=0.03, hessian=None).gradient
    fd = (gp - gm) / (2 * h)
    np.testing.assert_allclose(H @ v, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())
    dense = H.todense()
    np.testing.assert_allclose(dense @ v, H @ v, rtol=1e-10, atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(dense, dense.T, rtol=0, atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(dense, Rescaled(A, b, 0.03).hess(x), rtol=1e-9, atol=1e-11 * np.abs(dense).max())
    np.testing.assert_array_equal(spnewton.evaluate(A, b, x, w=0.03, hessian="dense").hessian, dense)
    np.testing.assert_allclose(H.T @ v, H @ v)


def test_gauss_newton_part_is_positive_semidefinite(problem):
    A, b, x = problem
    gn = spnewton.evaluate(A, b, x, w=0.03, hessian="dense", part="gauss-newton").hessian
    assert np.linalg.eigvalsh(gn).min() >= -1e-10 * np.abs(gn).max()
    exact = spnewton.evaluate(A, b, x, w=0.03, hessian="dense").hessian
    assert not np.allclose(gn, exact)


def test_thread_count_does_not_change_the_bits(problem):
    A, b, x = problem
    e1 = spnewton.evaluate(A, b, x, w=0.03, threads=1)
    e2 = spnewton.evaluate(A, b, x, w=0.03, threads=2)
    assert e1.value == e2.value
    assert np.array_equal(e1.gradient, e2.gradient)
    v = np.linspace(-1, 1, 12)
    assert np.array_equal(e1.hessian @ v, e2.hessian @ v)
