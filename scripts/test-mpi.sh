#!/usr/bin/env bash
# The distributed solver under Open MPI (issue 21): the same x, bitwise, with 1, 2, 3 and 4
# ranks, with the single-process run of the same chunking (`--local`) and with the
# single-machine solver given the same chunking (`spnewton solve --chunks C`), for exact,
# leverage, leverage-pcg and newton-cg, on two planted problems (one plain A.mtx read by byte
# ranges, one split into 3 shards) and on the bundled KJV problem (split into 5 shards); a
# malformed shard fails every rank with one error and no hang; bytes per iteration do not
# depend on n and equal the model; each rank stores its share of A plus O(log C·(d² + m·d)),
# counted, below its own chunks' partials.
#
# Needs libopenmpi-dev, openmpi-bin, libclang-dev (for rsmpi's bindgen) and python3.
# Run: scripts/test-mpi.sh   (about 2 minutes after the build on 2 shared cores; KJV_STRATEGIES=exact to shorten)
set -euo pipefail
cd "$(dirname "$0")/.."
# SPNEWTON_MPI / SPNEWTON: prebuilt binaries to test instead of building these (then no build).
if [ -z "${SPNEWTON_MPI:-}" ]; then
  cargo build --release -p spnewton-distributed --features mpi --bin spnewton-mpi
  cargo build --release -p spnewton --bin spnewton
fi
BIN=${SPNEWTON_MPI:-target/release/spnewton-mpi}
SP=${SPNEWTON:-target/release/spnewton}
START=$SECONDS
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bits() { python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["x_bits"]))' "$1"; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

$SP gen --n 20000 --d 20 --row-nnz 5 --seed 3 --out "$T/p1" >/dev/null
$SP gen --n 12000 --d 12 --row-nnz 4 --loss hyperbolic --w-const 0.05 --seed 4 --out "$T/p2raw" >/dev/null
$SP split --problem "$T/p2raw" --parts 3 --out "$T/p2" >/dev/null
$SP split --problem datasets/kjv --parts 5 --out "$T/kjv" >/dev/null

# problem, chunks, strategies
cases=(
  "p1 64 exact leverage leverage-pcg newton-cg"
  "p2 16 exact leverage leverage-pcg newton-cg"
  "kjv 8 ${KJV_STRATEGIES:-exact leverage-pcg newton-cg leverage}"
)
for c in "${cases[@]}"; do
  read -r prob chunks strategies <<<"$c"
  for s in $strategies; do
    opts=(solve --problem "$T/$prob" --strategy "$s" --chunks "$chunks" --max-iter 30)
    "$BIN" "${opts[@]}" --local --out "$T/ref.json" 2>/dev/null
    ref=$(bits "$T/ref.json")
    status=$(field "$T/ref.json" status)
    for np in 1 2 3 4; do
      timeout 900 "${MPIRUN[@]}" -np "$np" "$BIN" "${opts[@]}" --out "$T/r$np.json" 2>/dev/null \
        || fail "$prob $s np=$np exited $?"
      [ "$(bits "$T/r$np.json")" = "$ref" ] || fail "$prob $s: x with $np ranks differs from the single-process run"
    done
    # The single-machine solver with the same chunking, on the unsplit problem.
    pre=(); [ "$s" = newton-cg ] && pre=(--precond none)
    case $prob in kjv) src=datasets/kjv ;; p2) src="$T/p2raw" ;; *) src="$T/$prob" ;; esac
    code=0
    $SP solve --problem "$src" --hessian "$s" "${pre[@]}" --chunks "$chunks" --max-iter 30 --quiet \
      --out "$T/single.json" >/dev/null || code=$?
    [ "$code" -eq 0 ] || [ "$code" -eq 3 ] || fail "$prob $s: spnewton solve --chunks exited $code"
    single=$(python3 -c 'import json,struct,sys; print(" ".join(format(struct.unpack("<Q", struct.pack("<d", v))[0], "016x") for v in json.load(open(sys.argv[1]))["x"]))' "$T/single.json")
    [ "$single" = "$ref" ] || fail "$prob $s: x of spnewton solve --chunks $chunks differs from the MPI runs'"
    echo "ok: $prob $s: x bitwise identical for spnewton solve --chunks $chunks, --local and 1-4 ranks (status $status)"
  done
done

# A malformed shard on one rank: every rank exits non-zero, within the timeout, one message.
cp -r "$T/p2" "$T/bad"
python3 - "$T/bad/part-00001.mtx" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
lines[len(lines) // 2] = "7 oops 1.0"
open(p, "w").write("\n".join(lines))
PY
set +e
timeout 120 "${MPIRUN[@]}" -np 3 "$BIN" solve --problem "$T/bad" --chunks 16 --out "$T/bad.json" 2>"$T/bad.err"
code=$?
set -e
[ "$code" -ne 0 ] || fail "a malformed shard did not fail"
[ "$code" -ne 124 ] || fail "a malformed shard hung (timeout)"
[ "$(grep -c 'malformed entry line `7 oops 1.0`' "$T/bad.err")" -eq 1 ] || { cat "$T/bad.err"; fail "expected one error message"; }
grep -q "^error: rank 1: .*part-00001.mtx" "$T/bad.err" || { cat "$T/bad.err"; fail "the error does not name the rank and shard"; }
[ ! -e "$T/bad.json" ] || fail "a result was written despite the error"
echo "ok: a malformed shard fails every rank with one error (exit $code)"

# A matrix not sorted by row (halves swapped): refused on every rank, not read wrongly.
mkdir "$T/unsorted"
cp "$T/p1/b.txt" "$T/p1/meta.json" "$T/unsorted/"
python3 - "$T/p1/A.mtx" "$T/unsorted/A.mtx" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
head = [l for l in lines[:3] if l.startswith("%")]
size = lines[len(head)]
entries = lines[len(head) + 1:]
half = len(entries) // 2
open(sys.argv[2], "w").write("\n".join(head + [size] + entries[half:] + entries[:half]) + "\n")
PY
for np in 1 3; do
  set +e
  timeout 120 "${MPIRUN[@]}" -np "$np" "$BIN" solve --problem "$T/unsorted" --out "$T/unsorted.json" 2>"$T/unsorted.err"
  code=$?
  set -e
  [ "$code" -ne 0 ] && [ "$code" -ne 124 ] || fail "an unsorted matrix: exit $code with $np ranks"
  grep -q "sorted" "$T/unsorted.err" || { cat "$T/unsorted.err"; fail "the error does not say the matrix is unsorted"; }
done
echo "ok: a matrix not sorted by row is refused with 1 and 3 ranks"

# Bytes per iteration independent of n; storage per rank within its share + O(d² + m·d).
$SP gen --n 40000 --d 20 --row-nnz 5 --seed 3 --out "$T/p1big" >/dev/null
for prob in p1 p1big; do
  "${MPIRUN[@]}" -np 4 "$BIN" bench distributed --problem "$T/$prob" --strategy exact --chunks 64 \
    --max-iter 3 --out "$T/bench-$prob.json" >/dev/null 2>&1
done
for s in leverage leverage-pcg newton-cg; do
  "${MPIRUN[@]}" -np 3 "$BIN" bench distributed --problem "$T/p1" --strategy "$s" --chunks 64 \
    --max-iter 8 --out "$T/bench-p1-$s.json" >/dev/null 2>&1
done
python3 - "$T"/bench-p1-*.json <<'PY'
import json, sys
checked = 0
for path in sys.argv[1:]:
    f = json.load(open(path))
    for it in f["iterations"]:
        if it.get("model_bytes_per_rank") is not None:
            meas = [list(x) for x in zip(it["bytes_sent_per_rank"], it["bytes_received_per_rank"])]
            assert [list(m) for m in it["model_bytes_per_rank"]] == meas, (path, it["iteration"], meas)
            checked += 1
assert checked > 0
print(f"ok: bytes per iteration equal to the model for leverage, leverage-pcg, newton-cg ({checked} iterations)")
PY
python3 - "$T/bench-p1.json" "$T/bench-p1big.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for f in (a, b):
    assert sum(f["nnz_per_rank"]) == f["nnz"], "ranks' nonzeros do not add up to nnz"
    n, d, p, c = f["n"], f["d"], f["ranks"], f["chunks"]
    for r, (nnz, stored) in enumerate(zip(f["nnz_per_rank"], f["stored_bytes_per_rank"])):
        rows = n // p + 1
        share = 12 * nnz + 8 * (rows + 1)          # the rank's CSR block
        # The reduction tree's buffers, counted by the program: at most one partial per level
        # (⌈log₂C⌉ + 1 of them), then O(d²) dense state.
        levels = (c - 1).bit_length() + 1
        dense = 8 * levels * (d * d + 1) + 8 * (3 * d * d + 20 * d)
        bound = share + 8 * 14 * rows + dense       # + its n-vectors (b, w, 12 work)
        assert stored <= bound, f"rank {r} stores {stored} > {bound}"
        # Less than the partials of its own C/P chunks (what the chain held), let alone all C.
        assert stored - share - 8 * 14 * rows < 8 * (c // p) * (d * d + 1), f"rank {r} holds a partial per chunk"
checked = 0
for f in (a, b):
    for it in f["iterations"]:
        if it.get("model_bytes_per_rank") is not None:
            meas = [list(x) for x in zip(it["bytes_sent_per_rank"], it["bytes_received_per_rank"])]
            assert [list(m) for m in it["model_bytes_per_rank"]] == meas, (it["iteration"], meas)
            checked += 1
assert checked > 0, "no iteration to check the model's byte count on"
for t in range(min(len(a["iterations"]), len(b["iterations"]))):
    x, y = a["iterations"][t], b["iterations"][t]
    assert x["bytes_received_per_rank"] == y["bytes_received_per_rank"], (t, x, y)
    assert x["bytes_sent_per_rank"] == y["bytes_sent_per_rank"], (t, x, y)
print(f"ok: bytes per iteration equal at n = 20000 and 40000 and to the model ({checked} iterations); storage per rank within bound")
PY
echo "test-mpi: all passed ($((SECONDS - START)) s after the build)"
