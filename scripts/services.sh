#!/usr/bin/env bash
# Run the three services, and the payment gateway sandbox they pay through, in the background
# for the local demo stack.
#   scripts/services.sh start|stop|status
# Logs: .local/logs/<service>.log; pids: .local/run/<service>.pid (stopped by pid only).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.local/venv/bin/python"
RUN="$REPO/.local/run"
LOGS="$REPO/.local/logs"
SERVICES=(payment-sandbox donation warehouse notification)
SANDBOX_PORT="${PAYMENT_SANDBOX_PORT:-8090}"
# the demo's donation service takes online gifts through the sandbox (never in production)
export DONATION_PAYMENT_SANDBOX_STATE="${DONATION_PAYMENT_SANDBOX_STATE:-$REPO/.local/payment-sandbox}"
export DONATION_PAYMENT_SANDBOX_URL="${DONATION_PAYMENT_SANDBOX_URL:-http://127.0.0.1:$SANDBOX_PORT}"
mkdir -p "$RUN" "$LOGS"

port_of() {
  case "$1" in
    donation) echo "${DONATION_PORT:-8001}" ;;
    warehouse) echo "${WAREHOUSE_PORT:-8002}" ;;
    notification) echo "${NOTIFICATION_PORT:-8003}" ;;
    payment-sandbox) echo "$SANDBOX_PORT" ;;
  esac
}

ready_url() {
  if [[ "$1" == payment-sandbox ]]; then echo "http://127.0.0.1:$SANDBOX_PORT/healthz"
  else echo "http://127.0.0.1:$(port_of "$1")/readyz"; fi
}

launch() {
  if [[ "$1" == payment-sandbox ]]; then
    setsid nohup "$PY" -m payment_sandbox --port "$SANDBOX_PORT" \
      --state-dir "$DONATION_PAYMENT_SANDBOX_STATE" --public-url "$DONATION_PAYMENT_SANDBOX_URL" \
      >>"$LOGS/$1.log" 2>&1 < /dev/null &
  else
    setsid nohup "$PY" -m "$1" serve >>"$LOGS/$1.log" 2>&1 < /dev/null &
  fi
  echo $! > "$RUN/$1.pid"
}

wait_ready() {
  local url; url="$(ready_url "$1")"
  local deadline=$((SECONDS + 60))
  until curl -fs -o /dev/null "$url" 2>/dev/null; do
    if ! alive "$1"; then echo "$1 exited; see $LOGS/$1.log" >&2; tail -20 "$LOGS/$1.log" >&2; exit 1; fi
    if (( SECONDS > deadline )); then echo "$1 not ready after 60s; see $LOGS/$1.log" >&2; exit 1; fi
    sleep 0.3
  done
}

alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {
  cd "$REPO"
  # the sandbox first: it issues the keys the donation service reads at start
  if ! alive payment-sandbox; then launch payment-sandbox; fi
  wait_ready payment-sandbox
  for s in "${SERVICES[@]:1}"; do
    if ! alive "$s"; then launch "$s"; fi
  done
  for s in "${SERVICES[@]:1}"; do wait_ready "$s"; done
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
