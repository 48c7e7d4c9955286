#!/usr/bin/env python3
"""Where `exact` and `newton-cg` cross, and what `auto` picks there (docs/guide.md).

For generated planted problems (rescaled exp, n rows, 10 nonzeros a row, d swept), solves each
with `--hessian exact`, `--hessian newton-cg` and the default (`auto`), interleaved, and reports
the median solver time (result.json `total_s`, no checks, no file reading) of each, the ratio,
and the strategy `auto` chose with its predicted step times.

    python3 benches/peers/crossover.py [--n 200000] [--ds 100,200,400,800,1600] [--reps 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

SP = os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "spnewton")


def solve(problem, out, hessian):
    cmd = [SP, "solve", "--problem", problem, "--no-checks", "--quiet", "--out", out]
    if hessian:
        cmd += ["--hessian", hessian]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--row-nnz", type=int, default=10)
    ap.add_argument("--ds", default="100,200,400,800,1600")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    print(f"n = {a.n}, {a.row_nnz} nonzeros a row; medians of {a.reps} interleaved solves (solver time, no checks)")
    print(f"{'d':>6} {'exact s':>9} {'its':>4} {'ncg s':>9} {'its':>4} {'exact/ncg':>9} {'auto':>10} {'pred e/n':>9} {'calib ms':>8} {'of solve':>7}")
    with tempfile.TemporaryDirectory() as t:
        for d in [int(x) for x in a.ds.split(",")]:
            p = os.path.join(t, f"d{d}")
            subprocess.run([SP, "gen", "--n", str(a.n), "--d", str(d), "--row-nnz", str(a.row_nnz), "--seed", "7",
                            "--out", p], check=True, stdout=subprocess.DEVNULL)
            times = {"exact": [], "newton-cg": [], None: []}
            its, last = {}, {}
            for _ in range(a.reps):
                for h in times:
                    r = solve(p, os.path.join(t, "r.json"), h)
                    assert r["status"] == "converged", (d, h, r["status"], r.get("message"))
                    times[h].append(r["total_s"])
                    its[h], last[h] = r["iterations"], r
            med = {h: statistics.median(v) for h, v in times.items()}
            c = last[None]["choice"]
            timed = c["calibration"] is not None
            pred = f"{c['exact_s'] / c['newton_cg_s']:>9.2f}" if timed else f"{'-':>9}"
            calib = f"{1e3 * c['calibration']['seconds']:>8.2f}" if timed else f"{'-':>8}"
            print(f"{d:>6} {med['exact']:>9.3f} {its['exact']:>4} {med['newton-cg']:>9.3f} {its['newton-cg']:>4} "
                  f"{med['exact'] / med['newton-cg']:>9.2f} {c['strategy']:>10} {pred} {calib} "
                  f"{100 * c['calibration']['seconds'] / med[None] if timed else 0:>6.1f}%")


if __name__ == "__main__":
    main()
