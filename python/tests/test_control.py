"""Callbacks, Ctrl-C and the GIL."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import spnewton
from conftest import planted


@pytest.fixture(scope="module")
def problem():
    A, b, _ = planted(n=3000, d=15, seed=7, noise=0.01)
    return A, b


def test_callback_sees_every_iterate_like_scipy(problem):
    A, b = problem
    seen = []
    res = spnewton.minimize(A, b, w=0.01, callback=lambda r: seen.append((r.nit, r.x.copy(), r.fun)))
    assert res.success
    assert [s[0] for s in seen] == list(range(1, res.nit + 1))
    np.testing.assert_array_equal(seen[-1][1], res.x)
    assert seen[-1][2] == res.fun
    # fun is the loss at the iterate handed over.
    for nit, x, fun in seen:
        assert fun == pytest.approx(spnewton.evaluate(A, b, x, w=0.01, hessian=None).value, rel=1e-14)


@pytest.mark.parametrize("how", ["stop_iteration", "return_true"])
def test_callback_stops_the_solve(problem, how):
    A, b = problem
    full = spnewton.minimize(A, b, w=0.01, max_iter=2)

    def cb(r):
        if r.nit == 2:
            if how == "stop_iteration":
                raise StopIteration
            return True
        return None

    res = spnewton.minimize(A, b, w=0.01, callback=cb)
    assert not res.success and res.status_name == "interrupted" and res.status == spnewton.STATUS_CODES["interrupted"]
    assert res.nit == 2
    np.testing.assert_array_equal(res.x, full.x)


def test_callback_exception_propagates(problem):
    A, b = problem

    def cb(r):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        spnewton.minimize(A, b, w=0.01, callback=cb)


def test_ctrl_c_ends_the_solve_between_iterations(problem):
    A, b = problem
    iterations = []

    def slow(r):
        iterations.append(r.nit)
        time.sleep(0.3)  # releases the GIL: the solve is "long"

    # Python keeps SIGINT ignored when it starts with it ignored (a background job of a
    # non-interactive shell, as CI scripts may start it): Ctrl-C's handler is installed here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.45, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        t = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            spnewton.minimize(A, b, w=0.01, tol=0.0, max_iter=100, callback=slow)
        timer.join()
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert len(iterations) < 10  # it did not run to max_iter
    assert time.perf_counter() - t < 10
    # The module is still usable afterwards.
    assert spnewton.minimize(A, b, w=0.01).success


def test_the_gil_is_released_during_a_solve():
    A, b, _ = planted(n=200_000, d=40, row_nnz=8, seed=8)
    done = threading.Event()
    out = {}

    def work():
        t = time.perf_counter()
        out["res"] = spnewton.minimize(A, b, w=0.01, max_iter=5, tol=0.0)
        out["s"] = time.perf_counter() - t
        done.set()

    th = threading.Thread(target=work)
    ticks = 0
    th.start()
    while not done.is_set():
        ticks += 1  # pure Python work: runs only while the solver does not hold the GIL
        time.sleep(0)
    th.join()
    assert out["res"].nit >= 1
    # With the GIL held for the whole solve the loop would hardly run at all.
    assert ticks > 100, (ticks, out["s"])
