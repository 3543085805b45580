#!/usr/bin/env bash
# Every test: set up .venv if needed, install Debian's chromium for the browser tests (as root),
# then run pytest over tests/ (unit, notebook and browser tests).
# Usage: bash scripts/test.sh [pytest args, e.g. tests/browser -q -x]
# Under CI (env CI set) the browser tests fail instead of skipping when chromium is unavailable.
set -euo pipefail
# shellcheck source=scripts/_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

bfnb_bootstrap test

if [ ! -x /usr/bin/chromium ]; then
    if bfnb_is_root && command -v apt-get >/dev/null 2>&1; then
        bfnb_apt_install chromium || bfnb_log "could not install chromium; browser tests will not run"
    else
        bfnb_log "/usr/bin/chromium missing and not root: browser tests will be skipped"
        bfnb_log "(install it with: sudo apt-get install -y chromium)"
    fi
fi

t0=$SECONDS
status=0
"$BFNB_PY" -m pytest "$@" || status=$?
took=$((SECONDS - t0))

case "$status" in
    0) bfnb_log "ALL TESTS PASSED (pytest ${took} s)" ;;
    5) bfnb_log "FAILED: pytest collected no tests (exit 5); check the paths/arguments: $*"
       status=1 ;;
    *) bfnb_log "TESTS FAILED (pytest exit status $status, ${took} s)" ;;
esac
exit "$status"
