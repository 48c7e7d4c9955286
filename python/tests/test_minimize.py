"""`spnewton.minimize` against `scipy.optimize.minimize` on the same NumPy objective (SPEC §1),
and bitwise against the command line."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import scipy.optimize as so
from scipy.optimize import OptimizeResult

import spnewton
from conftest import KJV, Rescaled, planted, rel

LBFGS = dict(method="L-BFGS-B", options=dict(ftol=0.0, gtol=1e-14, maxiter=20000, maxcor=30))


def scipy_solutions(f, d):
    x0 = np.zeros(d)
    lb = so.minimize(f.fun, x0, jac=f.jac, **LBFGS)
    te = so.minimize(f.fun, x0, jac=f.jac, hess=f.hess, method="trust-exact", options=dict(gtol=1e-13))
    return lb, te


@pytest.mark.parametrize(
    "hessian", ["auto", "exact", "gauss-newton", "leverage", "leverage-pcg", "newton-sketch", "newton-cg"]
)
def test_planted_agrees_with_scipy(hessian):
    A, b, _ = planted(n=4000, d=15, seed=3, noise=0.01)
    f = Rescaled(A, b, 0.01)
    res = spnewton.minimize(A, b, w=0.01, hessian=hessian, max_iter=200)
    assert isinstance(res, OptimizeResult)
    assert res.success and res.status == 0 and res.status_name == "converged", res.message
    lb, te = scipy_solutions(f, 15)
    for ref in (lb, te):
        assert rel(res.x, ref.x) <= 1e-6, (hessian, ref.message)
        assert abs(res.fun - ref.fun) <= 1e-6 * abs(ref.fun)
    assert res.fun == pytest.approx(f.fun(res.x), rel=1e-12)
    assert np.linalg.norm(res.jac - f.jac(res.x)) <= 1e-9 * res.grad_norm0
    assert res.grad_norm <= 1e-8 * res.grad_norm0
    assert res.nit == len(res.history) and res.nfev >= res.nit + 1


def test_result_carries_what_result_json_holds():
    A, b, _ = planted()
    res = spnewton.minimize(A, b, w=0.01)
    assert res.strategy == "exact"  # Strategy::default_for at 5 nonzeros a row
    for key in ("timing", "problem", "checks", "history", "grad_norm0"):
        assert key in res
    assert res.problem == {"n": 3000, "d": 15, "nnz": A.nnz, "loss": "rescaled", "fn": "exp"}
    rec = res.history[0]
    for key in ("iteration", "loss", "grad_norm", "step_length", "passes_over_a", "timing", "checks"):
        assert key in rec
    # The checks once, nested, as in the CLI's result.json.
    assert "contraction_ok" in rec["checks"] and "contraction_ok" not in rec
    assert [h["iteration"] for h in res.history] == list(range(res.nit))
    assert res.history[-1]["grad_norm"] > res.grad_norm


def test_kjv_agrees_with_scipy(kjv):
    A, b, w = kjv
    f = Rescaled(A, b, w)
    res = spnewton.minimize(A, b, w=w)
    assert res.success, res.message
    lb, te = scipy_solutions(f, A.shape[1])
    for ref in (lb, te):
        assert rel(res.x, ref.x) <= 1e-6, ref.message
        assert abs(res.fun - ref.fun) <= 1e-6 * abs(ref.fun)


def test_bitwise_identical_to_the_cli(kjv, cli, tmp_path):
    out = tmp_path / "result.json"
    subprocess.run([str(cli), "solve", "--problem", str(KJV), "--out", str(out), "--quiet"], check=True)
    ref = json.loads(out.read_text())
    A, b, w = kjv
    res = spnewton.minimize(A, b, w=w, seed=0)
    assert res.strategy == ref["strategy"] and res.nit == ref["iterations"]
    assert np.array_equal(res.x.view(np.uint64), np.array(ref["x"], dtype=np.float64).view(np.uint64))
    assert res.fun == ref["loss"] and res.grad_norm == ref["grad_norm"]


def test_bitwise_identical_to_the_cli_with_a_sketch(cli, tmp_path):
    A, b, _ = planted(n=20000, d=12, row_nnz=6, seed=5, noise=0.01)
    import scipy.io

    scipy.io.mmwrite(tmp_path / "A.mtx", A, precision=17)
    np.savetxt(tmp_path / "b.txt", b, fmt="%.17g")
    out = tmp_path / "result.json"
    args = ["--a", tmp_path / "A.mtx", "--b", tmp_path / "b.txt", "--hessian", "leverage", "--seed", "7"]
    subprocess.run([str(cli), "solve", *map(str, args), "--out", str(out), "--quiet"], check=False)
    ref = json.loads(out.read_text())
    A2 = scipy.io.mmread(tmp_path / "A.mtx").tocsr()
    b2 = np.loadtxt(tmp_path / "b.txt")
    res = spnewton.minimize(A2, b2, hessian="leverage", seed=7)
    assert res.status_name == ref["status"] and res.nit == ref["iterations"]
    assert np.array_equal(res.x.view(np.uint64), np.array(ref["x"], dtype=np.float64).view(np.uint64))


def test_threads_do_not_change_the_bits():
    A, b, _ = planted(n=20000, d=20, row_nnz=6, seed=9)
    r1 = spnewton.minimize(A, b, w=0.01, hessian="leverage", threads=1)
    r2 = spnewton.minimize(A, b, w=0.01, hessian="leverage", threads=2)
    r3 = spnewton.minimize(A, b, w=0.01, hessian="leverage")
    assert np.array_equal(r1.x.view(np.uint64), r2.x.view(np.uint64))
    assert np.array_equal(r1.x.view(np.uint64), r3.x.view(np.uint64))


def test_other_losses_and_x0():
    A, b, x_true = planted(n=3000, d=10, seed=2)
    for loss, fn in [("hyperbolic", "cosh"), ("softmax", "exp"), ("linear", "exp")]:
        res = spnewton.minimize(A, b, loss=loss, fn=fn, w=np.full(3000, 0.05), x0=0.1 * x_true)
        assert res.success, (loss, res.message)
        e = spnewton.evaluate(A, b, res.x, loss=loss, fn=fn, w=np.full(3000, 0.05), hessian=None)
        assert np.linalg.norm(e.gradient) <= 1e-8 * res.grad_norm0 * 1.0001
