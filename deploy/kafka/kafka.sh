#!/usr/bin/env bash
# -----------------------------------------------------------------------------
# deploy/kafka/kafka.sh - local single-node Apache Kafka 4.x (KRaft, combined
# broker + controller) for development and CI, without Docker and without the
# Kafka download site: the jars come from Maven Central via deploy/kafka/pom.xml.
#
# Usage: deploy/kafka/kafka.sh {start|stop|kill|status|reset|classpath|topics ARGS...}
#
#   start      Start the broker in the background (idempotent; returns fast if
#              it is already up) and wait until it can create + list a topic.
#   stop       Graceful SIGTERM (up to 30 s), then SIGKILL. Harmless if stopped.
#   kill       SIGKILL (fault injection for tests). Data is kept; `start`
#              recovers from it.
#   status     Print running/stopped. Exit 0 if running and serving, 3 if
#              stopped, 1 if the process exists but the port is not open.
#   reset      Stop and wipe the data + logs (keeps the classpath cache).
#   classpath  Print the runtime classpath (resolving it first if needed), e.g.
#              java -cp "$(deploy/kafka/kafka.sh classpath)" org.apache.kafka.tools.TopicCommand ...
#   topics     Convenience: run TopicCommand against the local broker, e.g.
#              deploy/kafka/kafka.sh topics --list
#
# Environment (all optional):
#   KAFKA_PORT             client listener port           (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port (default 9093)
#   KAFKA_HEAP             broker heap flags              (default "-Xmx512m -Xms256m")
#   KAFKA_OPTS             extra JVM flags for the broker
#   KAFKA_START_TIMEOUT    readiness timeout in seconds   (default 90)
#   JAVA_HOME              use $JAVA_HOME/bin/java instead of `java` on PATH
#   SUNSHINE_STATE_DIR     state root (default $REPO/.local)
#
# State (all under $STATE_DIR/kafka/, git-ignored):
#   classpath.txt    cached `mvn dependency:build-classpath` output
#   mvn.log          output of the last Maven resolution
#   cluster.id       KRaft cluster id, generated once
#   server.properties  broker config, rewritten on every (re)start
#   tools.properties   AdminClient timeouts for the CLI tools
#   data/            log.dirs (topic data + KRaft metadata log)
#   logs/server.log  broker log (INFO); WARN+ also goes to kafka.out
#   kafka.out        broker stdout/stderr
#   kafka.pid        pid of the broker JVM
#   ready            marker: written once readiness was verified
#
# Application topics are NOT created here (the Python services create them at
# start-up); only the internal probe topic _sunshine_ready is.
# -----------------------------------------------------------------------------
set -euo pipefail

SCRIPT_DIR="$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
LOG_PREFIX="kafka"
# shellcheck source=SCRIPTDIR/../lib.sh
source "$SCRIPT_DIR/../lib.sh"

# --- configuration ------------------------------------------------------------
KAFKA_HOST="127.0.0.1"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
KAFKA_OPTS="${KAFKA_OPTS:-}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT=30
READY_TOPIC="_sunshine_ready"

POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.xml"

KAFKA_DIR="$STATE_DIR/kafka"
DATA_DIR="$KAFKA_DIR/data"
LOGS_DIR="$KAFKA_DIR/logs"
CP_FILE="$KAFKA_DIR/classpath.txt"
MVN_LOG="$KAFKA_DIR/mvn.log"
CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
PROPS_FILE="$KAFKA_DIR/server.properties"
TOOLS_PROPS_FILE="$KAFKA_DIR/tools.properties"
OUT_FILE="$KAFKA_DIR/kafka.out"
PID_FILE="$KAFKA_DIR/kafka.pid"
READY_FILE="$KAFKA_DIR/ready"
LOCK_FILE="$KAFKA_DIR/.lock"

BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

for _p in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_START_TIMEOUT; do
    [[ "${!_p}" =~ ^[0-9]+$ ]] || die "$_p must be a number, got '${!_p}'"
done
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] ||
    die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

# --- helpers --------------------------------------------------------------------

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        die "java not found (install a JDK/JRE >= 17 or set JAVA_HOME)"
    fi
}

# True when the cached classpath exists, is newer than pom.xml and every jar
# in it is still present in the local Maven repository.
classpath_is_fresh() {
    [[ -s "$CP_FILE" && "$CP_FILE" -nt "$POM" ]] || return 1
    local -a jars
    local jar
    IFS=: read -r -a jars <"$CP_FILE"
    ((${#jars[@]} > 0)) || return 1
    for jar in "${jars[@]}"; do
        [[ -f "$jar" ]] || return 1
    done
}

# Resolve the runtime classpath with Maven (once; cached in $CP_FILE).
ensure_classpath() {
    classpath_is_fresh && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the Kafka jars)"
    mkdir -p -- "$KAFKA_DIR"
    log "resolving Kafka classpath with Maven (first run downloads ~40 MB into ~/.m2) ..."
    local tmp="$CP_FILE.tmp.$$"
    # -B: batch mode (no progress bars/colours). Output goes to a log file
    # because Debian's mvn 3.8 emits ANSI escapes even in batch mode.
    if ! mvn -B -q -Dstyle.color=never -f "$POM" \
        dependency:build-classpath \
        -Dmdep.outputFile="$tmp" -Dmdep.includeScope=runtime \
        >"$MVN_LOG" 2>&1 </dev/null; then
        rm -f -- "$tmp"
        tail -n 30 -- "$MVN_LOG" >&2 || true
        die "Maven could not resolve the Kafka classpath; full output in $MVN_LOG"
    fi
    [[ -s "$tmp" ]] || die "Maven produced an empty classpath; see $MVN_LOG"
    mv -f -- "$tmp" "$CP_FILE" # atomic: never leave a half-written cache
    log "classpath cached in $CP_FILE"
}

# run_tool MAIN_CLASS ARGS... : run a Kafka CLI tool (short-lived JVM),
# killed after $TOOL_TIMEOUT seconds.
# Tuned for start-up latency (C1 only, serial GC, small heap). With no
# log4j2 config file, Log4j2 falls back to "ERROR to console", which is what
# we want for tools.
TOOL_TIMEOUT=120
run_tool() {
    local main="$1"
    shift
    local java
    java="$(java_bin)"
    timeout "$TOOL_TIMEOUT" "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
        -Djava.awt.headless=true -Dlog4j2.statusLoggerLevel=OFF \
        -cp "$(<"$CP_FILE")" "$main" "$@" 9>&-
}

# Prints the broker pid if OUR broker is alive: pid file present, process
# alive, and its command line references our server.properties (protects
# against pid reuse after a reboot/crash).
kafka_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(<"$PID_FILE")"
    pid_alive "$pid" || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$PROPS_FILE" || return 1
    printf '%s\n' "$pid"
}

# Ports the running broker was started with, read from its server.properties
# (only rewritten while the broker is stopped), so status/stop act on the real
# ports even if KAFKA_PORT in the environment differs.
running_port() {
    sed -n 's/^listeners=PLAINTEXT:\/\/[^:]*:\([0-9]*\),.*/\1/p' "$PROPS_FILE" 2>/dev/null | head -n1
}
running_controller_port() {
    sed -n 's/^listeners=.*CONTROLLER:\/\/[^:]*:\([0-9]*\).*/\1/p' "$PROPS_FILE" 2>/dev/null | head -n1
}

generate_cluster_id() {
    # Same format as `kafka-storage.sh random-uuid`: 16 random bytes,
    # URL-safe base64 without padding (22 chars). Kafka's own generator never
    # returns ids starting with '-' (they look like CLI options); neither do we.
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$id" != -* && ${#id} -eq 22 ]] && break
    done
    printf '%s\n' "$id"
}

write_config() {
    mkdir -p -- "$DATA_DIR" "$LOGS_DIR"
    # Static quorum (controller.quorum.voters) rather than the dynamic
    # 4.x quorum (controller.quorum.bootstrap.servers + format --standalone):
    # with a static quorum the controller endpoint lives only in this file, so
    # KAFKA_CONTROLLER_PORT can change between restarts without reformatting.
    cat >"$PROPS_FILE" <<EOF
# Generated by deploy/kafka/kafka.sh on every start - do not edit.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA_DIR

# Topics: explicit creation only (the services create their own topics).
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
min.insync.replicas=1

# Internal topics: single replica, few partitions (faster start-up).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Consumer groups rebalance immediately (tests start/stop consumers a lot).
group.initial.rebalance.delay.ms=0

# Fast recovery after "kafka.sh kill": a restarted broker cannot re-register
# its node id until the controller has expired the old session
# (DuplicateBrokerRegistrationException), 9 s by default.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000

# Small machine: fewer threads are plenty.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
EOF
    write_tools_config
}

write_tools_config() {
    mkdir -p -- "$KAFKA_DIR"
    cat >"$TOOLS_PROPS_FILE" <<'EOF'
# AdminClient settings for the CLI tools run by kafka.sh (fail fast, retry in bash).
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

format_storage() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        return 0 # already formatted
    fi
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
        generate_cluster_id >"$CLUSTER_ID_FILE"
    fi
    local cluster_id
    cluster_id="$(<"$CLUSTER_ID_FILE")"
    log "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id)"
    run_tool kafka.tools.StorageTool format \
        --config "$PROPS_FILE" --cluster-id "$cluster_id" --ignore-formatted >&2 ||
        die "kafka-storage format failed"
}

launch() {
    local java
    java="$(java_bin)"
    local -a heap opts jvm
    read -r -a heap <<<"$KAFKA_HEAP"
    read -r -a opts <<<"$KAFKA_OPTS"
    # Same GC flags as Kafka's kafka-run-class.sh.
    jvm=(
        "${heap[@]}"
        -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$LOG4J_CONFIG"
        -Dkafka.logs.dir="$LOGS_DIR"
        "${opts[@]}"
    )

    rm -f -- "$PID_FILE" "$READY_FILE"
    if [[ -f "$OUT_FILE" ]]; then
        mv -f -- "$OUT_FILE" "$OUT_FILE.prev"
    fi

    # setsid: new session, no controlling terminal -> survives the calling
    # shell and is not hit by its Ctrl-C. nohup: ignore SIGHUP. The inner bash
    # writes its own pid and then exec's java, so the pid file holds the JVM's
    # pid whether or not setsid had to fork. fd 9 (our lock) is closed so the
    # daemon does not hold the lock. cwd = state dir (hs_err files land there).
    (
        cd -- "$KAFKA_DIR"
        # shellcheck disable=SC2016 # $$/$1/$@ belong to the inner bash
        exec setsid nohup bash -c 'echo "$$" >"$1"; shift; exec "$@"' _ \
            "$PID_FILE" "$java" "${jvm[@]}" -cp "$(<"$CP_FILE")" kafka.Kafka "$PROPS_FILE" \
            </dev/null >"$OUT_FILE" 2>&1 9>&-
    ) &

    # Wait for the pid file (written within milliseconds).
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$PID_FILE" ]] && break
        sleep 0.1
    done
    [[ -s "$PID_FILE" ]] || die "broker process did not start; see $OUT_FILE"
}

# Kill a broker that failed to become ready, so the next `start` starts clean.
abort_start() {
    local pid="$1" msg="$2"
    if pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f -- "$PID_FILE" "$READY_FILE"
    {
        echo "----- last lines of $OUT_FILE -----"
        tail -n 20 -- "$OUT_FILE" 2>/dev/null || true
        echo "----- last lines of $LOGS_DIR/server.log -----"
        tail -n 20 -- "$LOGS_DIR/server.log" 2>/dev/null || true
        echo "-----"
    } >&2
    die "$msg (full logs: $LOGS_DIR/server.log and $OUT_FILE)"
}

# Readiness: port open, then the broker can create and list a topic (proves
# the controller quorum, metadata propagation and the broker are all up).
wait_ready() {
    local pid="$1"
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    local rc=0
    wait_for_port "$KAFKA_HOST" "$KAFKA_PORT" "$KAFKA_START_TIMEOUT" "$pid" || rc=$?
    if ((rc == 2)); then
        abort_start "$pid" "broker process $pid exited during start-up"
    elif ((rc != 0)); then
        abort_start "$pid" "port $KAFKA_PORT not open after ${KAFKA_START_TIMEOUT}s"
    fi

    local err="$KAFKA_DIR/ready-probe.err" remaining
    while :; do
        remaining=$((deadline - SECONDS))
        ((remaining > 0)) || abort_start "$pid" "broker not ready after ${KAFKA_START_TIMEOUT}s (topic create/list kept failing, last error in $err)"
        pid_alive "$pid" || abort_start "$pid" "broker process $pid exited during start-up"
        # One JVM creates the probe topic; a second one lists topics (the list
        # is served from the broker's metadata cache, so it proves the new
        # topic propagated from the controller to the broker).
        TOOL_TIMEOUT="$remaining"
        if run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
            --command-config "$TOOLS_PROPS_FILE" --create --if-not-exists \
            --topic "$READY_TOPIC" --partitions 1 --replication-factor 1 >/dev/null 2>"$err" &&
            run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
                --command-config "$TOOLS_PROPS_FILE" --list 2>>"$err" | grep -qxF -- "$READY_TOPIC"; then
            break
        fi
        sleep 1
    done
    rm -f -- "$err"
    : >"$READY_FILE"
}

# --- commands -------------------------------------------------------------------

cmd_start() {
    mkdir -p -- "$KAFKA_DIR" 2>/dev/null || true
    [[ -w "$KAFKA_DIR" ]] ||
        die "$KAFKA_DIR is not writable by $(id -un) (created by another user, e.g. root?)"
    with_lock "$LOCK_FILE" 180
    local t0=$SECONDS pid
    if pid="$(kafka_pid)"; then
        local port
        port="$(running_port)"
        if [[ -n "$port" && "$port" != "$KAFKA_PORT" ]]; then
            die "already running (pid $pid) on port $port, not $KAFKA_PORT; run '$0 stop' first"
        fi
        if [[ -f "$READY_FILE" ]] && port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
            log "already running (pid $pid, $BOOTSTRAP)"
            return 0
        fi
        log "process $pid exists but readiness not confirmed yet; waiting ..."
        ensure_classpath
        wait_ready "$pid"
        log "ready (pid $pid, $BOOTSTRAP)"
        return 0
    fi

    rm -f -- "$PID_FILE" "$READY_FILE" # stale
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_open "$KAFKA_HOST" "$p"; then
            die "port $p on $KAFKA_HOST is already in use by another process (not our broker); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
        fi
    done

    ensure_classpath
    write_config
    format_storage
    log "starting broker on $BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT, heap: $KAFKA_HEAP)"
    launch
    pid="$(<"$PID_FILE")"
    wait_ready "$pid"
    log "ready in $((SECONDS - t0))s (pid $pid, $BOOTSTRAP; logs: $LOGS_DIR/server.log)"
}

# stop_pid SIGNAL_FIRST : shared by stop (TERM then KILL) and kill (KILL).
stop_broker() {
    local mode="$1" pid
    if ! pid="$(kafka_pid)"; then
        rm -f -- "$PID_FILE" "$READY_FILE"
        log "not running"
        return 0
    fi
    local deadline port cport
    port="$(running_port)"
    cport="$(running_controller_port)"
    if [[ "$mode" == "graceful" ]]; then
        log "stopping broker (pid $pid, SIGTERM, up to ${KAFKA_STOP_TIMEOUT}s) ..."
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
        while pid_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if pid_alive "$pid"; then
            warn "broker did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
        fi
    else
        log "killing broker (pid $pid, SIGKILL)"
    fi
    if pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while pid_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.1
        done
        pid_alive "$pid" && die "process $pid survived SIGKILL?!"
    fi
    # The JVM's main thread can be reported dead slightly before the kernel
    # has torn down its other threads and sockets; wait for the ports so an
    # immediate `start` does not see them as "in use by another process".
    local p
    for p in ${port:+"$port"} ${cport:+"$cport"}; do
        wait_port_closed "$KAFKA_HOST" "$p" 10 || warn "port $p still open after broker exit"
    done
    rm -f -- "$PID_FILE" "$READY_FILE"
    log "stopped"
}

cmd_stop() {
    with_lock "$LOCK_FILE" 180
    stop_broker graceful
}

cmd_kill() {
    with_lock "$LOCK_FILE" 180
    stop_broker kill
}

cmd_status() {
    local pid port
    if pid="$(kafka_pid)"; then
        port="$(running_port)"
        port="${port:-$KAFKA_PORT}"
        if port_open "$KAFKA_HOST" "$port"; then
            echo "kafka: running (pid $pid, $KAFKA_HOST:$port)"
            return 0
        fi
        echo "kafka: process running (pid $pid) but $KAFKA_HOST:$port is not accepting connections"
        return 1
    fi
    echo "kafka: stopped"
    return 3
}

cmd_reset() {
    with_lock "$LOCK_FILE" 180
    stop_broker graceful
    log "wiping $DATA_DIR and $LOGS_DIR (classpath cache kept)"
    rm -rf -- "$DATA_DIR" "$LOGS_DIR"
    rm -f -- "$OUT_FILE" "$OUT_FILE.prev" "$READY_FILE" "$KAFKA_DIR/ready-probe.err"
}

cmd_classpath() {
    ensure_classpath
    printf '%s\n' "$(<"$CP_FILE")"
}

cmd_topics() {
    ensure_classpath
    [[ -f "$TOOLS_PROPS_FILE" ]] || write_tools_config
    local port=""
    if kafka_pid >/dev/null; then
        port="$(running_port)"
    fi
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_HOST:${port:-$KAFKA_PORT}" \
        --command-config "$TOOLS_PROPS_FILE" "$@"
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
    kill) cmd_kill ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    classpath) cmd_classpath ;;
    topics) cmd_topics "$@" ;;
    -h | --help | help | "") usage ;;
    *)
        echo "unknown command: $cmd" >&2
        usage
        ;;
    esac
}

main "$@"
