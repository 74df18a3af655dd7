#!/usr/bin/env bash
# -----------------------------------------------------------------------------
# deploy/postgres/pg.sh - private PostgreSQL cluster for development and CI,
# built from Debian's postgresql packages (no Docker).
#
# Usage: deploy/postgres/pg.sh {start|stop|status|reset|psql [ARGS...]|url}
#
#   start   Install PostgreSQL if missing, initdb once, start the cluster
#           (idempotent; fast when already running), wait for pg_isready and
#           make sure the application role and databases exist.
#   stop    pg_ctl stop -m fast on OUR data dir only. Harmless if stopped.
#   status  Print running/stopped; exit 0 if running, 3 if stopped.
#   reset   Stop and wipe the cluster (data, logs, socket dir).
#   psql    psql as superuser on our cluster; extra args are passed through,
#           e.g.  deploy/postgres/pg.sh psql -d donation -c 'select 1'
#   url     Print the base URL (no database): postgresql://USER:PASSWORD@127.0.0.1:PORT
#
# Environment (all optional):
#   PG_PORT           TCP port on 127.0.0.1           (default 55432)
#   PG_APP_USER       application role                (default sunshine)
#   PG_APP_PASSWORD   its password                    (default sunshine)
#   PG_DATABASES      databases owned by PG_APP_USER, space/comma separated
#                     (default: donation warehouse notification
#                               donation_test warehouse_test notification_test)
#   PG_BINDIR         PostgreSQL bin dir to use (default: the cluster's own
#                     version, else the newest /usr/lib/postgresql/*/bin)
#   SUNSHINE_STATE_DIR  state root (default $REPO/.local)
#
# The Debian system cluster ("main", port 5432) is neither used nor touched.
#
# Layout: everything lives in $STATE_DIR/postgres/ (git-ignored):
#   data/              PGDATA (postgresql.conf includes our sunshine.conf)
#   run/               unix socket directory
#   log/postgresql.log server log
#
# Running as root (CI, fresh machines): PostgreSQL refuses to run as root, so
# initdb/pg_ctl run as the `postgres` system user (created if missing) via
# runuser. That user must be able to reach $STATE_DIR/postgres, which is not
# the case when the repo lives below a 0700 directory (e.g. a `mktemp -d`
# clone). Then the real directory is created at
#     /var/lib/postgresql/sunshine/<first 12 hex of sha1($STATE_DIR)>   (postgres, 0700)
# and $STATE_DIR/postgres becomes a symlink to it, so `reset` (or deleting
# .local) from the repo still finds and wipes it. psql/pg_isready run as the
# calling user (root can use the socket), so `pg.sh psql -f ./file.sql` reads
# files with the caller's permissions and relative to the caller's cwd.
# -----------------------------------------------------------------------------
set -euo pipefail

SCRIPT_DIR="$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
LOG_PREFIX="postgres"
# shellcheck source=SCRIPTDIR/../lib.sh
source "$SCRIPT_DIR/../lib.sh"

# libpq/pg_ctl environment variables of the caller (PGHOST, PGPORT, PGDATA,
# PGDATABASE, PGOPTIONS, ...) must not redirect our commands to another
# cluster; every command below passes host/port/user/data dir explicitly.
while IFS= read -r _v; do
    unset "$_v"
done < <(compgen -e | grep -E '^PG[A-Z]' || true)

# --- configuration ------------------------------------------------------------
PG_HOST="127.0.0.1"
PG_PORT="${PG_PORT:-55432}"
PG_APP_USER="${PG_APP_USER:-sunshine}"
PG_APP_PASSWORD="${PG_APP_PASSWORD:-sunshine}"
PG_DATABASES="${PG_DATABASES:-donation warehouse notification donation_test warehouse_test notification_test}"
PG_SUPERUSER="postgres"
PG_OS_USER="postgres" # server owner when running as root
PG_START_TIMEOUT=30

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "PG_PORT must be a number, got '$PG_PORT'"

PG_LINK="$STATE_DIR/postgres"          # real dir, or symlink (see header)
PG_VARLIB="/var/lib/postgresql/sunshine" # root fallback location
LOCK_FILE="$STATE_DIR/postgres.lock"

# Filled in by resolve_layout.
PG_HOME="" DATA_DIR="" SOCK_DIR="" LOG_DIR="" LOG_FILE="" BIN=""

# --- layout -----------------------------------------------------------------------

# Compute paths without creating anything.
resolve_layout() {
    if [[ -L "$PG_LINK" ]]; then
        PG_HOME="$(readlink -- "$PG_LINK")"
    else
        PG_HOME="$PG_LINK"
    fi
    DATA_DIR="$PG_HOME/data"
    LOG_DIR="$PG_HOME/log"
    LOG_FILE="$LOG_DIR/postgresql.log"
    SOCK_DIR="$PG_HOME/run"
    # Unix socket paths are limited to 107 bytes; deep clone locations would
    # exceed it, so fall back to a short per-repo directory in /tmp.
    if ((${#SOCK_DIR} + ${#PG_PORT} + 12 > 107)); then
        SOCK_DIR="/tmp/sunshine-pg-$(sha1_short "$STATE_DIR")"
    fi
}

# run_pg CMD... : run a server-side command as the cluster owner (the postgres
# system user when we are root, else ourselves), from / so that a cwd the
# postgres user cannot access does not break initdb/pg_ctl.
run_pg() {
    if is_root; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# write_pg FILE : write stdin to FILE as the cluster owner.
write_pg() {
    run_pg tee -- "$1" >/dev/null
}

ensure_os_user() {
    is_root || return 0
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        log "creating system user $PG_OS_USER"
        useradd --system --user-group --home-dir /var/lib/postgresql \
            --no-create-home --shell /bin/bash "$PG_OS_USER"
    fi
}

# Create the directory layout (see header for the root/0700 case).
prepare_home() {
    mkdir -p -- "$STATE_DIR"
    if ! is_root; then
        if [[ -L "$PG_LINK" ]]; then
            [[ -w "$(readlink -- "$PG_LINK")" ]] ||
                die "$PG_LINK links to $(readlink -- "$PG_LINK"), which was created by root; run '$0 reset' as root first"
        else
            mkdir -p -- "$PG_LINK"
            [[ -w "$PG_LINK" && -O "$PG_LINK" ]] ||
                die "$PG_LINK belongs to another user (created as root?); run '$0 reset' as that user first"
        fi
        resolve_layout
        install -d -m 0700 -- "$LOG_DIR" "$SOCK_DIR"
        return 0
    fi

    ensure_os_user
    if [[ -L "$PG_LINK" ]]; then
        # Already relocated earlier; (re)create the target if it vanished.
        install -d -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0700 -- "$(readlink -- "$PG_LINK")"
    else
        local fresh=0
        if [[ ! -e "$PG_LINK" ]]; then
            mkdir -p -- "$PG_LINK"
            fresh=1
        fi
        if ((fresh)) || [[ -z "$(ls -A -- "$PG_LINK")" ]]; then
            chown "$PG_OS_USER:$PG_OS_USER" -- "$PG_LINK"
            chmod 0700 -- "$PG_LINK"
        fi
        if ! runuser -u "$PG_OS_USER" -- test -w "$PG_LINK" -a -x "$PG_LINK" 2>/dev/null; then
            [[ -z "$(ls -A -- "$PG_LINK")" ]] ||
                die "user $PG_OS_USER cannot access $PG_LINK (not empty); run '$0 reset' first"
            local target
            target="$PG_VARLIB/$(sha1_short "$STATE_DIR")"   # one per state dir: a repo may run several clusters
            log "user $PG_OS_USER cannot reach $PG_LINK (repo under a private directory?);"
            log "  using $target instead, linked from $PG_LINK"
            install -d -m 0755 -- /var/lib/postgresql
            install -d -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0700 -- "$PG_VARLIB" "$target"
            rmdir -- "$PG_LINK"
            ln -s -- "$target" "$PG_LINK"
        fi
    fi
    resolve_layout
    run_pg install -d -m 0700 -- "$LOG_DIR" "$SOCK_DIR"
}

# --- binaries -----------------------------------------------------------------------

ensure_installed() {
    if [[ -n "${PG_BINDIR:-}" ]] || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        return 0
    fi
    log "PostgreSQL server not installed; installing Debian package 'postgresql' ..."
    local -a sudo=()
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "PostgreSQL is not installed and we are not root (and passwordless sudo is unavailable). Install it with: sudo apt-get install -y postgresql"
        fi
    fi
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
        die "apt-get install postgresql did not provide /usr/lib/postgresql/*/bin/initdb"
}

# Sets BIN: PG_BINDIR, else the version that created our cluster, else newest.
resolve_bin() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        BIN="$PG_BINDIR"
    elif [[ -r "$DATA_DIR/PG_VERSION" ]]; then
        local v
        v="$(<"$DATA_DIR/PG_VERSION")"
        BIN="/usr/lib/postgresql/$v/bin"
        [[ -x "$BIN/postgres" ]] ||
            die "cluster in $DATA_DIR was created by PostgreSQL $v but $BIN is missing; install postgresql-$v or run '$0 reset'"
    else
        BIN="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)"
        [[ -n "$BIN" ]] || die "no /usr/lib/postgresql/*/bin found; run '$0 start' to install PostgreSQL"
    fi
    [[ -x "$BIN/pg_ctl" ]] || die "$BIN/pg_ctl not found"
}

# --- cluster ------------------------------------------------------------------------

is_initialized() {
    [[ -f "$DATA_DIR/PG_VERSION" ]]
}

# True if our postmaster runs. pg_ctl status only does kill(pid, 0), which
# also succeeds for a crashed postmaster that is still a zombie (not yet
# reaped by init), so the pid is double-checked with pid_alive.
is_running() {
    is_initialized || return 1
    run_pg "$BIN/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1 || return 1
    pid_alive "$(postmaster_field 1)"
}

# Fields of postmaster.pid: line 1 pid, line 4 port.
postmaster_field() {
    sed -n "${1}p" "$DATA_DIR/postmaster.pid" 2>/dev/null || true
}

# After a crash (e.g. SIGKILL) the dead postmaster can linger as a zombie
# until init reaps it; PostgreSQL treats the pid in postmaster.pid as alive
# and refuses to start ("lock file already exists"). Wait for it to vanish.
wait_stale_postmaster() {
    local pid deadline=$((SECONDS + 15))
    pid="$(postmaster_field 1)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if [[ -e "/proc/$pid" ]] && ! pid_alive "$pid"; then
        log "waiting for crashed postmaster $pid to be reaped ..."
        while [[ -e "/proc/$pid" ]] && ((SECONDS < deadline)); do
            sleep 0.2
        done
    fi
}

init_cluster() {
    is_initialized && return 0
    log "initdb $DATA_DIR ($("$BIN/postgres" --version))"
    local out
    local -a common=(-D "$DATA_DIR" -U "$PG_SUPERUSER" -E UTF8
        --auth-local=trust --auth-host=scram-sha-256)
    if ! out="$(run_pg "$BIN/initdb" "${common[@]}" --locale=C.UTF-8 2>&1)"; then
        warn "initdb with --locale=C.UTF-8 failed; retrying with --no-locale"
        printf '%s\n' "$out" | tail -n 5 >&2
        run_pg rm -rf -- "$DATA_DIR"
        out="$(run_pg "$BIN/initdb" "${common[@]}" --no-locale 2>&1)" || {
            printf '%s\n' "$out" >&2
            die "initdb failed"
        }
    fi
    # Our settings live in sunshine.conf (rewritten on every start); the
    # generated postgresql.conf only gets this include line appended once.
    if ! grep -q "^include_if_exists = 'sunshine.conf'" "$DATA_DIR/postgresql.conf"; then
        printf "\n# Sunshine local settings (deploy/postgres/pg.sh)\ninclude_if_exists = 'sunshine.conf'\n" |
            run_pg tee -a -- "$DATA_DIR/postgresql.conf" >/dev/null
    fi
}

# (Re)write our config files; only called while the server is stopped.
write_config() {
    local sock_quoted="${SOCK_DIR//\'/\'\'}"
    write_pg "$DATA_DIR/sunshine.conf" <<EOF
# Generated by deploy/postgres/pg.sh on every start - do not edit.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$sock_quoted'
max_connections = 300
shared_buffers = 128MB
password_encryption = 'scram-sha-256'
# The server's stderr goes to $LOG_FILE (pg_ctl -l).
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
    write_pg "$DATA_DIR/pg_hba.conf" <<'EOF'
# Generated by deploy/postgres/pg.sh - do not edit.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
EOF
}

# psql as superuser over our unix socket, as the calling user.
su_psql() {
    "$BIN/psql" -h "$SOCK_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"
}

wait_ready() {
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    until "$BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -t 1; do
        if ! is_running; then
            tail -n 20 -- "$LOG_FILE" >&2 2>/dev/null || true
            die "PostgreSQL is not running any more; see $LOG_FILE"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 -- "$LOG_FILE" >&2 2>/dev/null || true
            die "PostgreSQL not ready on $PG_HOST:$PG_PORT after ${PG_START_TIMEOUT}s; see $LOG_FILE"
        fi
        sleep 0.2
    done
}

# Idempotently create/update the application role and its databases.
ensure_app_objects() {
    local dbs
    dbs="$(tr ',' ' ' <<<"$PG_DATABASES" | xargs)"
    su_psql -d postgres -X -q -v ON_ERROR_STOP=1 \
        -v app_user="$PG_APP_USER" -v app_password="$PG_APP_PASSWORD" -v dbs="$dbs" <<'SQL'
SELECT format('CREATE ROLE %I', :'app_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'app_user', :'app_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'app_user')
  FROM unnest(string_to_array(:'dbs', ' ')) AS d
 WHERE d <> '' AND NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', d.datname, :'app_user')
  FROM pg_database d
 WHERE d.datname = ANY (string_to_array(:'dbs', ' '))
   AND pg_get_userbyid(d.datdba) <> :'app_user' \gexec
SQL
}

# --- commands -------------------------------------------------------------------

cmd_start() {
    with_lock "$LOCK_FILE" 120
    local t0=$SECONDS
    ensure_installed
    resolve_layout
    if is_initialized && resolve_bin && is_running; then
        local port
        port="$(postmaster_field 4)"
        if [[ -n "$port" && "$port" != "$PG_PORT" ]]; then
            die "already running on port $port, not $PG_PORT; run '$0 stop' first"
        fi
        # Normally ready at once; a postmaster that is still starting up or
        # recovering gets the usual timeout.
        wait_ready
        ensure_app_objects
        log "already running (pid $(postmaster_field 1), $PG_HOST:$PG_PORT)"
        return 0
    fi

    prepare_home
    resolve_bin
    init_cluster
    if port_open "$PG_HOST" "$PG_PORT"; then
        die "port $PG_PORT on $PG_HOST is already in use by another process; set PG_PORT"
    fi
    write_config
    wait_stale_postmaster
    log "starting PostgreSQL on $PG_HOST:$PG_PORT (data $DATA_DIR)"
    # pg_ctl detaches the postmaster (setsid, stdin /dev/null, output to the
    # log file). fd 9 is our lock and must not leak into the server.
    if ! run_pg "$BIN/pg_ctl" start -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$PG_START_TIMEOUT" -s 9>&- >&2; then
        tail -n 20 -- "$LOG_FILE" >&2 2>/dev/null || true
        die "pg_ctl start failed; see $LOG_FILE"
    fi
    wait_ready
    ensure_app_objects
    log "ready in $((SECONDS - t0))s (pid $(postmaster_field 1), $PG_HOST:$PG_PORT, log $LOG_FILE)"
}

# Stop our cluster if it runs. Returns 0 in all "not running" cases.
stop_cluster() {
    resolve_layout
    if ! is_initialized; then
        log "not running (no cluster)"
        return 0
    fi
    resolve_bin
    if ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping PostgreSQL (pid $(postmaster_field 1), fast mode) ..."
    run_pg "$BIN/pg_ctl" stop -D "$DATA_DIR" -m fast -w -t 60 -s >&2
    log "stopped"
}

cmd_stop() {
    with_lock "$LOCK_FILE" 120
    stop_cluster
}

cmd_status() {
    resolve_layout
    if is_initialized && resolve_bin && is_running; then
        echo "postgres: running (pid $(postmaster_field 1), $PG_HOST:$(postmaster_field 4), data $DATA_DIR)"
        return 0
    fi
    echo "postgres: stopped"
    return 3
}

cmd_reset() {
    with_lock "$LOCK_FILE" 120
    stop_cluster
    resolve_layout
    if [[ -L "$PG_LINK" ]]; then
        log "wiping $PG_HOME (symlinked from $PG_LINK)"
        rm -rf -- "$PG_HOME"
        rm -f -- "$PG_LINK"
    elif [[ -e "$PG_LINK" ]]; then
        log "wiping $PG_LINK"
        rm -rf -- "$PG_LINK"
    else
        log "nothing to wipe"
    fi
    if [[ "$SOCK_DIR" == /tmp/sunshine-pg-* ]]; then
        rm -rf -- "$SOCK_DIR"
    fi
}

cmd_psql() {
    resolve_layout
    is_initialized || die "no cluster yet; run '$0 start'"
    resolve_bin
    is_running || die "PostgreSQL is not running; run '$0 start'"
    su_psql "$@"
}

# Percent-encode a URL userinfo component.
urlencode() {
    local LC_ALL=C # iterate over bytes, so UTF-8 is encoded byte by byte
    local s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
        [a-zA-Z0-9.~_-]) out+="$c" ;;
        *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

cmd_url() {
    printf 'postgresql://%s:%s@%s:%s\n' \
        "$(urlencode "$PG_APP_USER")" "$(urlencode "$PG_APP_PASSWORD")" "$PG_HOST" "$PG_PORT"
}

usage() {
    sed -n '3,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    psql) cmd_psql "$@" ;;
    url) cmd_url ;;
    -h | --help | help | "") usage ;;
    *)
        echo "unknown command: $cmd" >&2
        usage
        ;;
    esac
}

main "$@"
