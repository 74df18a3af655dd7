#!/usr/bin/env bash
# Start or stop the infrastructure (PostgreSQL, Kafka) and create the topics.
#   scripts/infra.sh up      start both (idempotent), create topics
#   scripts/infra.sh down    stop both
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  up)
    "$REPO/deploy/postgres/pg.sh" start
    "$REPO/deploy/kafka/kafka.sh" start
    "$REPO/.local/venv/bin/python" -m shared.messaging.topics >/dev/null
    ;;
  down)
    "$REPO/deploy/kafka/kafka.sh" stop || true
    "$REPO/deploy/postgres/pg.sh" stop || true
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
