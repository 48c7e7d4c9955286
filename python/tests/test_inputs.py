"""Input handling: zero-copy CSR, conversions, and a clear error (never a panic) for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import spnewton
from conftest import planted


def test_csr_float64_int32_is_not_copied():
    A, b, _ = planted()
    assert A.indices.dtype == np.int32 and A.data.dtype == np.float64
    a = spnewton.as_csr(A)
    assert a.borrowed
    data_addr, indices_addr = a.buffer_addresses()
    # The matrix the solver reads is SciPy's memory itself.
    assert data_addr == A.data.ctypes.data
    assert indices_addr == A.indices.ctypes.data
    assert a.shape == A.shape and a.nnz == A.nnz


def test_the_borrowed_arrays_stay_alive_with_the_handle():
    A, b, _ = planted()
    a = spnewton.as_csr(A)
    ref = spnewton.minimize(A, b, w=0.01)
    del A  # the handle keeps SciPy's arrays alive
    import gc

    gc.collect()
    res = spnewton.minimize(a, b, w=0.01)
    assert np.array_equal(res.x, ref.x)


def test_int64_indices_and_other_formats_and_dtypes_are_converted():
    A, b, _ = planted()
    ref = spnewton.minimize(A, b, w=0.01)
    A64 = sp.csr_array((A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64)), shape=A.shape)
    a64 = spnewton.as_csr(A64)
    assert a64.buffer_addresses()[0] == A64.data.ctypes.data  # values still borrowed
    assert a64.buffer_addresses()[1] != A64.indices.ctypes.data  # indices converted to 32 bits
    for M in (A64, A.tocsc(), A.tocoo(), sp.csr_array(A)):
        res = spnewton.minimize(M, b, w=0.01)
        assert np.array_equal(res.x.view(np.uint64), ref.x.view(np.uint64))
    A32 = A.astype(np.float32)
    res = spnewton.minimize(A32, b, w=0.01)
    assert res.success and not spnewton.as_csr(A32).buffer_addresses()[0] == A32.data.ctypes.data


def bad_structure():
    base = dict(shape=(2, 3), indptr=np.array([0, 2, 3], np.int32))
    return {
        "unsorted": sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([2, 0, 1], np.int32), base["indptr"]), shape=(2, 3)),
        "duplicate": sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([1, 1, 1], np.int32), base["indptr"]), shape=(2, 3)),
        "nan": sp.csr_matrix((np.array([1.0, np.nan, 3.0]), np.array([0, 2, 1], np.int32), base["indptr"]), shape=(2, 3)),
        "inf": sp.csr_matrix((np.array([1.0, np.inf, 3.0]), np.array([0, 2, 1], np.int32), base["indptr"]), shape=(2, 3)),
    }


@pytest.mark.parametrize("case", ["unsorted", "duplicate", "nan", "inf"])
def test_invalid_structure_is_a_value_error(case):
    A = bad_structure()[case]
    expect = {"unsorted": "strictly increasing", "duplicate": "strictly increasing", "nan": "non-finite", "inf": "non-finite"}
    with pytest.raises(ValueError, match=expect[case]):
        spnewton.minimize(A, np.array([0.5, 0.5]))


def test_raw_arrays_out_of_range_or_inconsistent_are_value_errors():
    data = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="out of range"):
        spnewton.Csr(2, 3, np.array([0, 2, 3]), np.array([0, 7, 1], np.int32), data)
    with pytest.raises(ValueError, match="out of range"):
        spnewton.Csr(2, 3, np.array([0, 2, 3]), np.array([0, -1, 1], np.int32), data)
    with pytest.raises(ValueError, match="out of range"):
        spnewton.Csr(2, 3, np.array([0, 2, 3]), np.array([0, -1, 1], np.int64), data)
    with pytest.raises(ValueError, match="row pointer"):
        spnewton.Csr(2, 3, np.array([0, 2]), np.array([0, 1, 1], np.int32), data)
    with pytest.raises(ValueError, match="row pointer"):
        spnewton.Csr(2, 3, np.array([0, 3, 2]), np.array([0, 1, 1], np.int32), data)
    with pytest.raises(ValueError, match="negative"):
        spnewton.Csr(2, 3, np.array([0, -2, 3]), np.array([0, 1, 1], np.int32), data)
    with pytest.raises(TypeError):
        spnewton.Csr(2, 3, np.array([0, 2, 3]), np.array([0, 1, 1], np.float64), data)
    with pytest.raises(TypeError):
        spnewton.Csr(2, 3, np.array([0, 2, 3]), np.array([0, 1, 1], np.int32), data.astype(np.float32))


def test_wrong_shapes_and_values_are_value_errors():
    A, b, _ = planted(n=300, d=6)
    cases = [
        dict(b=b[:-1]),
        dict(b=b.reshape(-1, 1)),
        dict(x0=np.zeros(5)),
        dict(w=np.ones(7)),
        dict(b=np.where(np.arange(300) == 4, np.nan, b)),
        dict(x0=np.full(6, np.nan)),
        dict(w=-np.inf),
        dict(loss="hinge"),
        dict(fn="tanh"),
        dict(hessian="bfgs"),
        dict(threads=0),
        dict(eps0=1.5, hessian="leverage"),
        dict(max_time=-1.0),
        dict(refresh_every=0),
        dict(tol=-1.0),
    ]
    for kw in cases:
        args = dict(b=b)
        args.update(kw)
        bb = args.pop("b")
        with pytest.raises(ValueError):
            spnewton.minimize(A, bb, **args)


def test_overflow_is_a_runtime_error_and_not_a_panic():
    A, b, _ = planted(n=300, d=6)
    with pytest.raises(RuntimeError, match="overflow"):
        spnewton.minimize(A, b, x0=np.full(6, 1e4))
    with pytest.raises(RuntimeError, match="overflow"):
        spnewton.evaluate(A, b, np.full(6, 1e4))


def test_degenerate_shapes_are_errors_or_results_never_panics():
    import scipy.sparse as sps

    with pytest.raises(ValueError, match="no columns"):
        spnewton.minimize(sps.csr_matrix((3, 0)), np.ones(3) / 3)
    for hessian in ("exact", "leverage", "newton-sketch", "leverage-pcg"):
        res = spnewton.minimize(sps.csr_matrix((3, 2)), np.ones(3) / 3, hessian=hessian)
        assert res.nit == 0 and np.array_equal(res.x, np.zeros(2))
    with pytest.raises(ValueError, match="zero"):
        spnewton.sparsify(sps.csr_matrix((3, 2)), np.ones(3))


def test_not_a_sparse_matrix_is_a_type_error():
    with pytest.raises(TypeError, match="scipy.sparse"):
        spnewton.minimize(np.eye(3), np.ones(3))


def test_other_functions_check_their_inputs():
    A, b, _ = planted(n=300, d=6)
    with pytest.raises(ValueError):
        spnewton.evaluate(A, b, np.zeros(5))
    with pytest.raises(ValueError):
        spnewton.evaluate(A, b, np.zeros(6), part="hessian")
    h = spnewton.evaluate(A, b, np.zeros(6)).hessian
    with pytest.raises(ValueError):
        h.matvec(np.zeros(5))
    with pytest.raises(ValueError):
        spnewton.sparsify(A, np.ones(299))
    with pytest.raises(ValueError, match="weight"):
        spnewton.sparsify(A, -np.ones(300))
    with pytest.raises(ValueError):
        spnewton.sparsify(A, np.ones(300), method="random")
    with pytest.raises(ValueError):
        spnewton.sparsify(A, np.ones(300), eps0=0.0)
    with pytest.raises(ValueError):
        spnewton.leverage_scores(A, np.ones(3))
