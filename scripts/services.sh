#!/usr/bin/env bash
# Run the three services in the background for the local demo stack.
#   scripts/services.sh start|stop|status
# Logs: .local/logs/<service>.log; pids: .local/run/<service>.pid (stopped by pid only).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.local/venv/bin/python"
RUN="$REPO/.local/run"
LOGS="$REPO/.local/logs"
SERVICES=(donation warehouse notification)
mkdir -p "$RUN" "$LOGS"

port_of() {
  case "$1" in
    donation) echo "${DONATION_PORT:-8001}" ;;
    warehouse) echo "${WAREHOUSE_PORT:-8002}" ;;
    notification) echo "${NOTIFICATION_PORT:-8003}" ;;
  esac
}

alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {
  cd "$REPO"
  for s in "${SERVICES[@]}"; do
    if alive "$s"; then continue; fi
    setsid nohup "$PY" -m "$s" serve >>"$LOGS/$s.log" 2>&1 < /dev/null &
    echo $! > "$RUN/$s.pid"
  done
  for s in "${SERVICES[@]}"; do
    local url="http://127.0.0.1:$(port_of "$s")/readyz" deadline=$((SECONDS + 60))
    until curl -fs -o /dev/null "$url" 2>/dev/null; do
      if ! alive "$s"; then echo "$s exited; see $LOGS/$s.log" >&2; tail -20 "$LOGS/$s.log" >&2; exit 1; fi
      if (( SECONDS > deadline )); then echo "$s not ready after 60s; see $LOGS/$s.log" >&2; exit 1; fi
      sleep 0.3
    done
  done
}

stop() {
  for s in "${SERVICES[@]}"; do
    if alive "$s"; then
      local pid; pid="$(cat "$RUN/$s.pid")"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$s.pid"
  done
}

status() {
  for s in "${SERVICES[@]}"; do
    if alive "$s"; then echo "$s: running (pid $(cat "$RUN/$s.pid"), port $(port_of "$s"))"
    else echo "$s: stopped"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
