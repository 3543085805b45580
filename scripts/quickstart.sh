#!/usr/bin/env bash
# The main job: set up .venv if needed, then execute notebooks/1_quickstart.ipynb offline.
# Usage: bash scripts/quickstart.sh [args passed to `python -m bfnb quickstart`]
set -euo pipefail
# shellcheck source=scripts/_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

bfnb_bootstrap notebook
# `bfnb quickstart` runs the notebook with nbclient; should the notebook extra lack it, the test
# extra has it.
if ! "$BFNB_PY" -c 'import nbclient, nbformat' >/dev/null 2>&1; then
    bfnb_bootstrap test
fi

exec "$BFNB_PY" -m bfnb quickstart "$@"
