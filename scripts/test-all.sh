#!/usr/bin/env bash
# Every test, as the README gives it and CI runs it: the Rust workspace in the release profile
# (it reuses what `cargo run --release -- solve` compiled), then the Python package (a venv under
# target/, maturin, numpy, scipy and pytest from PyPI, the extension built in the same release
# profile). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --workspace
bash python/run-tests.sh "$@"
