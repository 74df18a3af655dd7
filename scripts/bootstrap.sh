#!/usr/bin/env bash
# Create .local/venv with the pinned dependencies (constraints.txt). Fast when nothing changed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.local/venv"
STAMP="$VENV/.sunshine-installed"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# The receipt PDF's font (公益事业捐赠电子票据 in Chinese): WenQuanYi Micro Hei, a Debian package.
RECEIPT_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [[ ! -f "$RECEIPT_FONT" ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "bootstrap: installing the receipt font (fonts-wqy-microhei)" >&2
    apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-microhei >/dev/null; }
  else
    echo "bootstrap: receipts need fonts-wqy-microhei; as root run: apt-get install -y fonts-wqy-microhei" >&2
  fi
fi

# Front-end packages for the pages (ECharts, QR codes): npm ci into node_modules when missing or
# when package-lock.json changed. Pages still load without them (charts say they are unavailable).
NODE_STAMP="$REPO/node_modules/.sunshine-installed"
lock="$(sha256sum "$REPO/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$NODE_STAMP" || "$(cat "$NODE_STAMP")" != "$lock" ]]; then
  if ! command -v npm >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "bootstrap: installing npm (Debian package)" >&2
    apt-get install -y -q npm >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q npm >/dev/null; }
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "bootstrap: installing front-end packages (npm ci)" >&2
    (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error) && echo "$lock" > "$NODE_STAMP"
  else
    echo "bootstrap: npm not found; pages will run without charts and QR codes" >&2
  fi
fi

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
