#!/usr/bin/env bash
# Create .local/venv with the pinned dependencies (constraints.txt). Fast when nothing changed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.local/venv"
STAMP="$VENV/.sunshine-installed"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

want="$(cat "$REPO/pyproject.toml" "$REPO/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$version" != "3.11" ]]; then
  echo "bootstrap: Python 3.11 is required (found $version at $(command -v "$PYTHON"))" >&2
  exit 1
fi
echo "bootstrap: installing Python dependencies into .local/venv" >&2
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$REPO/constraints.txt" -e "$REPO[dev]"
echo "$want" > "$STAMP"
