#!/usr/bin/env python3
"""SciPy's readers on the same files as `spnewton bench io`: scipy.io.mmread (C++
fast_matrix_market) and scipy.sparse.load_npz, against a byte-streaming pass over each file.
Interleaved rounds, medians.

    python3 benches/peers/io_scipy.py FILE.mtx [--reps 5]

Creates its own virtual environment with numpy and scipy under target/peers-venv on first
use (nothing is installed system-wide or committed). The .npz is written next to the
system's temporary files, from the matrix mmread returns.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "..", "..", "target", "peers-venv")


def ensure_venv():
    try:
        import scipy  # noqa: F401
        return
    except ImportError:
        pass
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "numpy", "scipy"])
    os.execv(py, [py] + sys.argv)


def stream(path):
    total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return total
            total += len(b)


def main():
    ensure_venv()
    import numpy as np  # noqa: F401
    import scipy
    import scipy.io
    import scipy.sparse

    ap = argparse.ArgumentParser()
    ap.add_argument("mtx")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    a = scipy.sparse.csr_matrix(scipy.io.mmread(args.mtx))
    npz = os.path.join(tempfile.gettempdir(), "io_scipy_bench.npz")
    scipy.sparse.save_npz(npz, a, compressed=False)
    cases = [
        ("byte stream (mtx)", lambda: stream(args.mtx)),
        ("scipy.io.mmread", lambda: scipy.io.mmread(args.mtx)),
        ("byte stream (npz)", lambda: stream(npz)),
        ("scipy.sparse.load_npz", lambda: scipy.sparse.load_npz(npz)),
    ]
    samples = [[] for _ in cases]
    for r in range(args.reps + 1):
        for k, (_, f) in enumerate(cases):
            t = time.perf_counter()
            f()
            dt = time.perf_counter() - t
            if r > 0:
                samples[k].append(dt)
    size = {"mtx": os.path.getsize(args.mtx), "npz": os.path.getsize(npz)}
    print(f"scipy {scipy.__version__}; {args.mtx}: {size['mtx'] / 1e6:.1f} MB, npz {size['npz'] / 1e6:.1f} MB, "
          f"{a.nnz} nonzeros; median of {args.reps} interleaved rounds")
    print(f"{'case':<24} {'seconds':>9} {'MB/s':>9}")
    for (name, _), s in zip(cases, samples):
        s.sort()
        m = s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
        nbytes = size["npz"] if "npz" in name else size["mtx"]
        print(f"{name:<24} {m:>9.3f} {nbytes / 1e6 / m:>9.1f}")
    os.remove(npz)


if __name__ == "__main__":
    main()
