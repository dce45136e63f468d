#!/usr/bin/env bash
# Create (if missing) the Python venv used by fixtures/generate.py and
# scripts/live_check.py, install scripts/requirements.txt into it, and print
# the path of its python on stdout (everything else goes to stderr).
#
#   PY=$(bash scripts/python-venv.sh)
#   "$PY" scripts/live_check.py target/release/tensorjson
#
# The venv lives at ${TJ_VENV:-target/venv}, relative to the repo root.
# Idempotent: requirements are reinstalled only when requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${TJ_VENV:-target/venv}"
REQ="scripts/requirements.txt"
PY="$VENV/bin/python"
STAMP="$VENV/.tensorjson-requirements.sha256"

make_venv() {
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
}

if [ ! -x "$PY" ]; then
    if ! make_venv; then
        # Debian/Ubuntu ship venv's ensurepip separately (python3-venv).
        echo "python-venv.sh: 'python3 -m venv' failed; installing python3-venv" >&2
        SUDO=""
        if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
        $SUDO apt-get update -qq >&2 || true
        ver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2 \
            || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "python${ver}-venv" >&2
        make_venv
    fi
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQ" >&2
    echo "$want" > "$STAMP"
fi

echo "$(cd "$VENV" && pwd)/bin/python"
