# shellcheck shell=bash
# -----------------------------------------------------------------------------
# deploy/lib.sh - shared helpers for the local infrastructure scripts.
#
# Source it (do not execute it):
#
#     # shellcheck source=deploy/lib.sh
#     source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#
# It defines:
#   REPO        absolute, symlink-free path of the repository root, derived from
#               the location of this file (never from the caller's cwd), so the
#               scripts work from any clone location and any working directory.
#   STATE_DIR   where all local state lives: $REPO/.local (git-ignored).
#               Can be overridden with SUNSHINE_STATE_DIR (e.g. for tests).
#   LOG_PREFIX  prefix of log lines; scripts set it to e.g. "kafka".
# and a few small functions: log, warn, die, is_root, port_open,
# wait_for_port, wait_port_closed, pid_alive, with_lock, sha1_short.
#
# Everything here is side-effect free except with_lock (creates a lock file).
# -----------------------------------------------------------------------------

# Guard against double sourcing.
if [[ -n "${_SUNSHINE_LIB_SOURCED:-}" ]]; then
    return 0
fi
_SUNSHINE_LIB_SOURCED=1

# deploy/lib.sh -> deploy/ -> repo root. `cd -P` + `pwd -P` resolve symlinks so
# the path is canonical (it is also hashed by pg.sh, so it must be stable).
REPO="$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
STATE_DIR="${SUNSHINE_STATE_DIR:-$REPO/.local}"
LOG_PREFIX="${LOG_PREFIX:-sunshine}"
export REPO STATE_DIR

# log MESSAGE... : informational message on stderr (stdout stays clean for
# machine-readable output such as `pg.sh url` or `kafka.sh classpath`).
log() {
    printf '[%s] %s\n' "$LOG_PREFIX" "$*" >&2
}

# warn MESSAGE... : warning on stderr.
warn() {
    printf '[%s] WARNING: %s\n' "$LOG_PREFIX" "$*" >&2
}

# die MESSAGE... : error on stderr, exit 1.
die() {
    printf '[%s] ERROR: %s\n' "$LOG_PREFIX" "$*" >&2
    exit 1
}

# is_root : true when running with effective uid 0.
is_root() {
    [[ "$(id -u)" -eq 0 ]]
}

# port_open HOST PORT : true if a TCP connection to HOST:PORT succeeds.
# Uses bash's /dev/tcp (no nc/ss needed); bounded to 1 s.
port_open() {
    local host="$1" port="$2"
    # shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
    timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_SECONDS [PID]
# Polls every 0.2 s until HOST:PORT accepts connections. Returns 0 when open,
# 1 on timeout. If PID is given and that process dies, gives up immediately
# (returns 2) instead of waiting for the full timeout.
wait_for_port() {
    local host="$1" port="$2" timeout_s="$3" pid="${4:-}"
    local deadline=$((SECONDS + timeout_s))
    while ((SECONDS < deadline)); do
        if port_open "$host" "$port"; then
            return 0
        fi
        if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
            return 2
        fi
        sleep 0.2
    done
    port_open "$host" "$port"
}

# wait_port_closed HOST PORT TIMEOUT_SECONDS : polls until nothing listens on
# HOST:PORT any more (a SIGKILLed multi-threaded JVM keeps its sockets for a
# moment after its main thread is already a zombie). Returns 1 on timeout.
wait_port_closed() {
    local host="$1" port="$2" timeout_s="$3"
    local deadline=$((SECONDS + timeout_s))
    while port_open "$host" "$port"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# pid_alive PID : true if PID is a live (non-zombie) process.
pid_alive() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A zombie still answers kill -0; treat it as dead.
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

# with_lock LOCKFILE TIMEOUT_SECONDS : take an exclusive flock on LOCKFILE via
# file descriptor 9 for the rest of the calling script, so concurrent
# start/stop invocations (parallel test runners) do not race each other.
# Daemons spawned afterwards MUST close fd 9 (`9>&-`), otherwise they would
# hold the lock for their whole lifetime.
with_lock() {
    local lockfile="$1" timeout_s="$2"
    mkdir -p -- "$(dirname -- "$lockfile")"
    exec 9>"$lockfile"
    if ! flock -w "$timeout_s" 9; then
        die "could not acquire lock $lockfile within ${timeout_s}s (another start/stop running?)"
    fi
}

# sha1_short STRING : first 12 hex digits of the SHA-1 of STRING.
sha1_short() {
    printf '%s' "$1" | sha1sum | cut -c1-12
}
