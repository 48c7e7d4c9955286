#!/usr/bin/env bash
# The Python tests, from a checkout: a virtual environment under target/ (not committed),
# maturin, numpy, scipy and pytest from PyPI, the CLI and the extension built with the release
# profile in the workspace's target/ (so the workspace crates and their dependencies are
# compiled once for both), then pytest. Extra arguments go to pytest.
#
#   python/run-tests.sh            # everything
#   python/run-tests.sh -k cli     # a subset
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/target/pyenv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
# Already-satisfied requirements are not fetched again.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9.4,<2" "numpy>=1.24" "scipy>=1.10" "pytest>=7"
# The command line that the bitwise-equality test compares with, built in the same cargo
# invocation as the extension's crate: features of shared dependencies are then unified over
# both (pyo3 enables a few more, e.g. on syn and num-integer), so maturin below reuses every
# dependency instead of rebuilding faer & co. with a different feature set.
cargo build --release -p spnewton -p spnewton-python
# Builds python/ (crate spnewton-python) with the release profile into target/release and
# installs it into the venv (the package sources stay editable in python/spnewton); only pyo3
# and the extension are recompiled (maturin sets PYO3_BUILD_EXTENSION_MODULE).
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop --release --manifest-path python/Cargo.toml
exec "$venv/bin/python" -m pytest python/tests -q "$@"
