#!/usr/bin/env bash
# The peer panel (benches/peers/panel.py): builds the release binary, makes a virtual
# environment with numpy and scipy under target/peers-venv (once), and runs the panel.
#   benches/peers/panel.sh --quick            # n ≤ 10⁵, d ≤ 2,000: about 15 minutes on 2 cores
#   benches/peers/panel.sh --threads 1        # spnewton on one thread
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
VENV=target/peers-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import numpy, scipy" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy scipy
fi
exec "$VENV/bin/python" benches/peers/panel.py "$@"
