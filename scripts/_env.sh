# shellcheck shell=bash
# Shared set-up for scripts/*.sh: find the repo root, make sure `.venv` exists and holds bfnb.
#
# Sourced, not run. The README's two commands must work on a fresh machine that has only Python 3.11,
# pip and Debian's apt, so this file creates the virtual environment itself (installing Debian's
# python3-venv when ensurepip is missing and we are root, else falling back to `virtualenv`), then
# installs bfnb editable with the requested extra. The install is skipped when pyproject.toml is
# unchanged since the last successful one: a stamp per extra in .venv holds pyproject's hash, so a
# second run starts at once and a changed pyproject reinstalls. Safe to source repeatedly, from any cwd.
#
# After `bfnb_bootstrap EXTRA`: $BFNB_ROOT is the repo root (also the cwd), $BFNB_PY the venv's python.

set -euo pipefail

BFNB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BFNB_VENV="$BFNB_ROOT/.venv"
BFNB_PY="$BFNB_VENV/bin/python"
export BFNB_ROOT
# We may be root in a container; the venv is ours, so pip's root warning is noise.
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$BFNB_ROOT"

bfnb_log() { printf '[bfnb] %s\n' "$*" >&2; }
bfnb_die() { printf '[bfnb] ERROR: %s\n' "$*" >&2; exit 1; }

bfnb_is_root() { [ "$(id -u)" = 0 ]; }

# apt-get, non-interactive and quiet; only used as root.
bfnb_apt_install() {
    bfnb_log "apt-get install $* (as root) ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The interpreter that builds the venv: $BFNB_PYTHON, else python3 (must be >= 3.11).
_bfnb_base_python() {
    local py="${BFNB_PYTHON:-python3}"
    command -v "$py" >/dev/null 2>&1 || bfnb_die "$py not found: install Python 3.11 or set BFNB_PYTHON"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || bfnb_die "$py is $("$py" -V 2>&1); bfnb needs Python >= 3.11 (set BFNB_PYTHON)"
    printf '%s' "$py"
}

_bfnb_venv_ok() { [ -x "$BFNB_PY" ] && "$BFNB_PY" -m pip --version >/dev/null 2>&1; }

_bfnb_make_venv() {
    _bfnb_venv_ok && return 0
    local py
    py="$(_bfnb_base_python)"
    # A venv left without pip by an earlier failed attempt is rebuilt from scratch.
    [ -e "$BFNB_VENV" ] && { bfnb_log "removing incomplete $BFNB_VENV"; rm -rf "$BFNB_VENV"; }
    bfnb_log "creating virtual environment .venv with $("$py" -V 2>&1) ..."
    if "$py" -m venv "$BFNB_VENV" >/dev/null 2>&1 && _bfnb_venv_ok; then return 0; fi
    rm -rf "$BFNB_VENV"
    # Debian ships venv/ensurepip separately (python3-venv).
    if bfnb_is_root && command -v apt-get >/dev/null 2>&1; then
        bfnb_apt_install python3-venv || bfnb_log "apt-get install python3-venv failed"
        if "$py" -m venv "$BFNB_VENV" >/dev/null 2>&1 && _bfnb_venv_ok; then return 0; fi
        rm -rf "$BFNB_VENV"
    fi
    bfnb_log "python -m venv is unavailable; falling back to virtualenv"
    if ! "$py" -m virtualenv --version >/dev/null 2>&1; then
        "$py" -m pip install -q --user --no-warn-script-location virtualenv \
            || "$py" -m pip install -q --user --no-warn-script-location --break-system-packages virtualenv \
            || bfnb_die "could not install virtualenv (install python3-venv, then re-run)"
    fi
    "$py" -m virtualenv -q "$BFNB_VENV" && _bfnb_venv_ok \
        || bfnb_die "could not create $BFNB_VENV"
}

_bfnb_hash() {
    "$BFNB_PY" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

# bfnb_bootstrap [EXTRA]  (EXTRA: test (default) or notebook)
bfnb_bootstrap() {
    local extra="${1:-test}"
    _bfnb_make_venv
    local stamp="$BFNB_VENV/.bfnb-installed-$extra" want
    want="$(_bfnb_hash "$BFNB_ROOT/pyproject.toml")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    bfnb_log "installing bfnb[$extra] into .venv (quiet; first time takes a few minutes) ..."
    local t0=$SECONDS
    "$BFNB_PY" -m pip install -q --disable-pip-version-check -e "$BFNB_ROOT[$extra]" \
        || bfnb_die "pip install -e .[$extra] failed (see pip's output above)"
    printf '%s\n' "$want" >"$stamp"
    # The test extra includes the notebook extra.
    if [ "$extra" = test ]; then printf '%s\n' "$want" >"$BFNB_VENV/.bfnb-installed-notebook"; fi
    bfnb_log "installed in $((SECONDS - t0)) s"
}
