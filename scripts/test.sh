#!/usr/bin/env bash
# `make test`: provision PostgreSQL and Kafka, lint, type-check, then the whole pytest suite.
# Infrastructure this script started is stopped again at the end; a running `make up` stack
# is left alone (tests use their own databases, ports and topic prefix).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.local/venv/bin/python"
cd "$REPO"
"$REPO/scripts/bootstrap.sh"

started=()
if ! "$REPO/deploy/postgres/pg.sh" status >/dev/null 2>&1; then started+=(postgres); fi
if ! "$REPO/deploy/kafka/kafka.sh" status >/dev/null 2>&1; then started+=(kafka); fi
cleanup() {
  for s in "${started[@]}"; do
    case "$s" in
      postgres) "$REPO/deploy/postgres/pg.sh" stop >/dev/null 2>&1 || true ;;
      kafka) "$REPO/deploy/kafka/kafka.sh" stop >/dev/null 2>&1 || true ;;
    esac
  done
}
trap cleanup EXIT
"$REPO/deploy/postgres/pg.sh" start
"$REPO/deploy/kafka/kafka.sh" start

# Browser tests drive Debian's Chromium (with a CJK font for readable screenshots).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wenquanyi; then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null
  else
    echo "test: chromium missing; as root run: apt-get install -y chromium fonts-wqy-microhei" >&2
    exit 1
  fi
fi
echo "== ruff (lint, format)"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
echo "== mypy"
"$PY" -m mypy shared services tests bench
echo "== import contracts (lint-imports: the layers of pyproject.toml [tool.importlinter])"
"$REPO/.local/venv/bin/lint-imports"
echo "== pytest"
# Two workers: the suite mostly waits (on Kafka, PostgreSQL, service processes), so two
# processes use the two cores; a test file stays on one worker (module fixtures, faults).
"$PY" -m pytest -n 2 --dist loadfile "$@"
