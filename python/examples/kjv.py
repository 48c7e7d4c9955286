"""Notebook-style example (docs/python.md): solve the bundled KJV problem, plot the convergence
from `history`, and compare with scipy.optimize.minimize(method="L-BFGS-B") in one session.

    target/pyenv/bin/pip install matplotlib
    target/pyenv/bin/python python/examples/kjv.py docs/python-kjv-convergence.png
"""

import gzip
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.io
import scipy.optimize
import scipy.sparse as sp

import spnewton

kjv = Path(__file__).resolve().parents[2] / "datasets" / "kjv"
with gzip.open(kjv / "A.mtx.gz", "rb") as f:
    A = sp.csr_array(scipy.io.mmread(f))  # 31,064 × 1,000, 533,683 nonzeros
b = np.loadtxt(kjv / "b.txt")
w = 0.01  # meta.json: rescaled loss, u = exp, w_const = 0.01

t = time.perf_counter()
res = spnewton.minimize(A, b, w=w)
t_spn = time.perf_counter() - t
print(f"spnewton: {res.message}; {res.nit} iterations, loss {res.fun:.12e}, "
      f"‖g‖ {res.grad_norm:.2e}, strategy {res.strategy}, {t_spn:.2f} s "
      f"(solver {res.timing['total_s'] - res.timing['checks_s']:.2f} s, checks {res.timing['checks_s']:.2f} s)")
t = time.perf_counter()
res_nochecks = spnewton.minimize(A, b, w=w, checks=False)
t_spn_nc = time.perf_counter() - t
print(f"spnewton (checks=False): {res_nochecks.nit} iterations, {t_spn_nc:.2f} s")


# The same objective in NumPy (SPEC §1): L = ½‖u − ⟨u,1⟩b‖² + ½‖wAx‖², u = exp(Ax).
At = A.T.tocsr()


def fun_and_grad(x):
    z = A @ x
    u = np.exp(z)
    c = u - u.sum() * b
    beta = b @ c
    return 0.5 * c @ c + 0.5 * w * w * z @ z, At @ (c * u - beta * u + w * w * z)


x0 = np.zeros(A.shape[1])
g0 = np.linalg.norm(fun_and_grad(x0)[1])
for label, opts in [("L-BFGS-B (default options)", {}),
                    ("L-BFGS-B (gtol 1e-8·‖g0‖, maxcor 30)", dict(gtol=1e-8 * g0, ftol=0.0, maxiter=20000, maxcor=30))]:
    t = time.perf_counter()
    ref = scipy.optimize.minimize(fun_and_grad, x0, jac=True, method="L-BFGS-B", options=opts)
    dt = time.perf_counter() - t
    g = np.linalg.norm(fun_and_grad(ref.x)[1])
    print(f"{label}: {ref.nit} iterations, {ref.nfev} evaluations, loss {ref.fun:.12e}, "
          f"‖g‖/‖g0‖ {g / g0:.1e}, ‖x − x_spnewton‖/‖x‖ {np.linalg.norm(ref.x - res.x) / np.linalg.norm(res.x):.1e}, "
          f"{dt:.2f} s")

# Convergence from `history` (one dict per iteration, as in the CLI's result.json).
it = [h["iteration"] for h in res.history] + [res.nit]
gn = [h["grad_norm"] for h in res.history] + [res.grad_norm]
loss = [h["loss"] for h in res.history] + [res.fun]
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
ax[0].semilogy(it, np.array(gn) / res.grad_norm0, "o-")
ax[0].axhline(1e-8, ls=":", c="gray")
ax[0].set(xlabel="iteration", ylabel="‖g‖ / ‖g₀‖", title="gradient norm")
ax[1].semilogy(it, np.array(loss) - res.fun + 1e-16, "o-")
ax[1].set(xlabel="iteration", ylabel="L(x_t) − L(x*)", title="loss gap")
fig.suptitle(f"spnewton.minimize on KJV (31,064 × 1,000), strategy {res.strategy}")
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "kjv-convergence.png"
fig.savefig(out, dpi=110)
print("wrote", out)
