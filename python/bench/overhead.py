"""What the Python layer adds to a solve with nnz = 10⁷ (docs/python.md, docs/benchmarks.md).

    target/release/spnewton gen --n 1000000 --d 100 --row-nnz 10 --seed 1 --w-const 0.01 \
        --out target/py-bench/n1e6
    target/pyenv/bin/python python/bench/overhead.py target/py-bench/n1e6 [repeats]

Interleaved, `repeats` times: (a) `spnewton solve` on the problem directory (a separate process:
its wall time includes reading the Matrix Market file; `total_s` is the Rust solve alone), then
(b) `spnewton.minimize` on the same matrix as a SciPy CSR array in this process (wall time of
the call, and the Rust solve's own `total_s` inside it). Medians are printed; the overhead of
the Python layer is `wall(b) / total_s(b) − 1` per call and `median wall(b) / median total_s(a) − 1`
across the two.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

import spnewton

problem = Path(sys.argv[1])
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
root = Path(__file__).resolve().parents[2]
cli = root / "target" / "release" / "spnewton"
meta = json.loads((problem / "meta.json").read_text())

t = time.perf_counter()
A = scipy.io.mmread(problem / "A.mtx").tocsr()
A.sort_indices()
b = np.loadtxt(problem / "b.txt")
print(f"read with SciPy in {time.perf_counter() - t:.1f} s: {A.shape[0]} × {A.shape[1]}, nnz {A.nnz}, "
      f"indices {A.indices.dtype}, data {A.data.dtype}")
assert spnewton.as_csr(A).borrowed

rows = []
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "result.json"
    for r in range(repeats):
        t = time.perf_counter()
        subprocess.run([str(cli), "solve", "--problem", str(problem), "--out", str(out), "--quiet"], check=False)
        cli_wall = time.perf_counter() - t
        ref = json.loads(out.read_text())
        t = time.perf_counter()
        res = spnewton.minimize(A, b, loss=meta["loss"], fn=meta["fn"], w=meta.get("w_const"))
        py_wall = time.perf_counter() - t
        same = np.array_equal(res.x, np.array(ref["x"]))
        rows.append((cli_wall, ref["timing"]["total_s"], py_wall, res.timing["total_s"]))
        print(f"run {r}: CLI wall {cli_wall:.3f} s (solve {ref['timing']['total_s']:.3f} s), "
              f"Python wall {py_wall:.3f} s (solve {res.timing['total_s']:.3f} s), "
              f"{res.nit} iterations, {res.strategy}, same x bits as the CLI: {same}")

cli_wall, cli_solve, py_wall, py_solve = np.median(np.array(rows), axis=0)
per_call = np.median([p / s - 1 for _, _, p, s in rows])
print(f"medians over {repeats}: CLI wall {cli_wall:.3f} s, CLI solve {cli_solve:.3f} s, "
      f"Python wall {py_wall:.3f} s, Python's solve {py_solve:.3f} s")
print(f"Python layer overhead: {100 * per_call:.2f}% per call (wall / its own solve), "
      f"{100 * (py_wall / cli_solve - 1):.2f}% against the CLI's solve")
