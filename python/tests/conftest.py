"""Shared fixtures: planted problems, the bundled KJV problem, a NumPy reference objective."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]
KJV = ROOT / "datasets" / "kjv"


class Rescaled:
    """The rescaled exp loss of SPEC §1, written independently in NumPy:

    L(x) = ½‖u − ⟨u,1⟩b‖² + ½‖w∘Ax‖²,  u = exp(Ax), v = u' = u'' = u,
    c = u − αb, β = ⟨b,c⟩,  g = Aᵀ(c∘v − βv + w²∘z),
    H = Aᵀ(diag(v∘v + u∘(c − β) + w²) + U C Uᵀ)A,  U = [v, v∘b], C = [[‖b‖², −1], [−1, 0]].
    """

    def __init__(self, A, b, w):
        self.A = sp.csr_matrix(A)
        self.At = self.A.T.tocsr()
        self.b = np.asarray(b, dtype=float)
        self.w2 = np.broadcast_to(np.asarray(w, dtype=float) ** 2, self.b.shape)

    def parts(self, x):
        z = self.A @ x
        u = np.exp(z)
        c = u - u.sum() * self.b
        beta = self.b @ c
        return z, u, c, beta

    def fun(self, x):
        z, u, c, _ = self.parts(x)
        return 0.5 * c @ c + 0.5 * np.sum(self.w2 * z * z)

    def jac(self, x):
        z, u, c, beta = self.parts(x)
        return self.At @ (c * u - beta * u + self.w2 * z)

    def hess(self, x):
        z, u, c, beta = self.parts(x)
        dg = u * u + u * (c - beta) + self.w2
        h = (self.At @ sp.diags(dg) @ self.A).toarray()
        p = self.At @ u
        q = self.At @ (u * self.b)
        h += (self.b @ self.b) * np.outer(p, p) - np.outer(p, q) - np.outer(q, p)
        return h


def planted(n=3000, d=15, row_nnz=5, seed=1, scale=0.5, noise=0.0):
    """A sparse A with `row_nnz` nonzeros a row and b = u(Ax*)/⟨u(Ax*),1⟩ (+ noise)."""
    rng = np.random.default_rng(seed)
    cols = np.array([rng.choice(d, row_nnz, replace=False) for _ in range(n)])
    rows = np.repeat(np.arange(n), row_nnz)
    vals = rng.normal(size=n * row_nnz) / np.sqrt(row_nnz)
    A = sp.csr_matrix((vals, (rows, cols.ravel())), shape=(n, d))
    A.sort_indices()
    x_true = scale * rng.normal(size=d)
    u = np.exp(A @ x_true)
    b = u / u.sum()
    if noise:
        b = b * (1 + noise * rng.normal(size=n))
    return A, b, x_true


@pytest.fixture(scope="session")
def kjv():
    """The bundled KJV problem: A (31,064 × 1,000), b, w = 0.01 (meta.json), rescaled exp."""
    with gzip.open(KJV / "A.mtx.gz", "rb") as f:
        A = sp.csr_matrix(scipy.io.mmread(f))
    A.sort_indices()
    b = np.loadtxt(KJV / "b.txt")
    return A, b, 0.01


@pytest.fixture(scope="session")
def cli():
    """The command line built from this checkout (python/run-tests.sh builds it)."""
    path = Path(os.environ.get("SPNEWTON_BIN", ROOT / "target" / "release" / "spnewton"))
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: run `cargo build --release` first")
        pytest.skip(f"{path} is missing: run `cargo build --release` first")
    return path


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300)
