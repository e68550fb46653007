# shellcheck shell=bash
# Helpers for the collector's integration tests, which run under
# tests/lib/with-pg.sh (PGHOST and FM_PG_DSN set). Each test gets a scratch
# directory $T under $FM_PG_DIR. Needs FM_COLLECTOR, FM_LOADGEN and
# FM_SOURCE_DIR in the environment (set by CMake).
set -euo pipefail
T="$FM_PG_DIR/t"
mkdir -p "$T"
COLL_PID=""
COLL_PORT=""
COLL_MPORT=""

fail() {
    echo "FAIL: $*" >&2
    [[ -f "$T/collector.log" ]] && tail -30 "$T/collector.log" >&2
    exit 1
}

# coll_config FILE [extra YAML lines...]: plain TCP on loopback, any port.
coll_config() {
    local f="$1"
    shift
    {
        echo "collector_id: test-collector"
        echo "log_level: info"
        echo "metrics: {address: 127.0.0.1, port: 0}"
        printf '%s\n' "$@"
    } >"$f"
    if ! grep -q '^database:' "$f"; then
        echo "database: {dsn: \"$FM_PG_DSN\", reconnect_min: 100ms, reconnect_max: 1s}" >>"$f"
    fi
    if ! grep -q '^listen:' "$f"; then
        echo "listen: {transport: plain, address: 127.0.0.1, port: 0}" >>"$f"
    fi
}

# coll_start CONFIG: starts the collector, waits until it listens; sets
# COLL_PID, COLL_PORT, COLL_MPORT. The log is appended to $T/collector.log.
coll_start() {
    local mark
    # Create the log here: the background job opens it only once it runs,
    # and a `tail` of a missing file would end the script (set -e, pipefail).
    touch "$T/collector.log"
    mark=$(wc -l <"$T/collector.log")
    "$FM_COLLECTOR" -c "$1" >>"$T/collector.log" 2>&1 &
    COLL_PID=$!
    for _ in $(seq 1 100); do
        COLL_PORT=$(tail -n +"$((mark + 1))" "$T/collector.log" |
            sed -n 's/.*listen: agents on .* port \([0-9]*\) .*/\1/p' | tail -1)
        COLL_MPORT=$(tail -n +"$((mark + 1))" "$T/collector.log" |
            sed -n 's/.*metrics: http:\/\/.*:\([0-9]*\)\/metrics.*/\1/p' | tail -1)
        [[ -n "$COLL_PORT" && -n "$COLL_MPORT" ]] && return 0
        kill -0 "$COLL_PID" 2>/dev/null || fail "collector exited at start"
        sleep 0.1
    done
    fail "collector did not start listening"
}

coll_stop() {
    [[ -n "$COLL_PID" ]] || return 0
    kill -TERM "$COLL_PID" 2>/dev/null || true
    wait "$COLL_PID" || fail "collector exited with status $? on SIGTERM"
    COLL_PID=""
}

trap '[[ -n "$COLL_PID" ]] && kill -9 "$COLL_PID" 2>/dev/null; true' EXIT

# agent_start CONFIG: checks CONFIG (-t) and starts fieldmon-agent ($FM_AGENT)
# on it at debug level, its log in $T/agent.log; sets AGENT_PID.
AGENT_PID=""
agent_start() {
    "$FM_AGENT" -t -c "$1" >/dev/null || fail "agent config refused"
    "$FM_AGENT" -c "$1" -l debug >"$T/agent.log" 2>&1 &
    AGENT_PID=$!
}

q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# expect CODE MESSAGE CMD...: fieldmonctl CMD exits CODE and the first line
# of its stderr is exactly MESSAGE (the usage hint may follow); never a raw
# SQL message. stdout and stderr stay in $T/out and $T/err.
expect() {
    local code="$1" msg="$2" rc=0
    shift 2
    "$FM_CTL" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [[ $rc == "$code" ]] || fail "fieldmonctl $*: exit $rc, want $code: $(cat "$T/err")"
    [[ "$(head -1 "$T/err")" == "$msg" ]] ||
        fail "fieldmonctl $*: said \"$(head -1 "$T/err")\", want \"$msg\""
    if grep -q "ERROR:\|syntax\|invalid input" "$T/err"; then fail "raw SQL message: $(cat "$T/err")"; fi
}

# expect_rows AGENT_PREFIX AGENTS EVENTS [MEASUREMENTS_ONLY]: the rows of
# every table match what fm-loadgen produces, and no (agent, epoch, seq)
# appears twice in any table (measurements: no (agent, seq), see below).
expect_rows() {
    local prefix="$1" agents="$2" events="$3" only="${4:-0}"
    local want got
    # fm-loadgen's mix by sequence number: status every 1000th, trap every
    # 193rd, reachability every 97th, alarm every 50th, else a measurement.
    if [[ "$only" == 1 ]]; then
        want="$((agents * events))|0|0|0|0"
    else
        want=$(q "SELECT $agents * count(*) FILTER (WHERE s % 1000 <> 0 AND s % 193 <> 0 AND s % 97 <> 0 AND s % 50 <> 0)
                 || '|' || $agents * count(*) FILTER (WHERE s % 1000 <> 0 AND s % 193 <> 0 AND s % 97 <> 0 AND s % 50 = 0)
                 || '|' || $agents * count(*) FILTER (WHERE s % 1000 <> 0 AND s % 193 <> 0 AND s % 97 = 0)
                 || '|' || $agents * count(*) FILTER (WHERE s % 1000 <> 0 AND s % 193 = 0)
                 || '|' || $agents * count(*) FILTER (WHERE s % 1000 = 0)
                 FROM generate_series(1, $events) s")
    fi
    local keys="SELECT agent_key FROM agents WHERE agent_id LIKE '$prefix%'"
    got=$(q "SELECT (SELECT count(*) FROM measurement_values WHERE agent_id LIKE '$prefix%')
             || '|' || (SELECT count(*) FROM alarm_events WHERE agent_key IN ($keys))
             || '|' || (SELECT count(*) FROM device_status WHERE agent_key IN ($keys))
             || '|' || (SELECT count(*) FROM traps WHERE agent_key IN ($keys))
             || '|' || (SELECT count(*) FROM agent_status WHERE agent_key IN ($keys))")
    [[ "$got" == "$want" ]] || fail "rows (measurements|alarms|status|traps|agent_status): got $got, want $want"
    local dups
    # A measurement row carries seq, not the epoch (schema 024): each of
    # these agents has one epoch, so (agent, seq) is the event.
    dups=$(q "SELECT count(*) FROM (SELECT agent_id, seq FROM measurement_values
              GROUP BY 1, 2 HAVING count(*) > 1) d")
    [[ "$dups" == 0 ]] || fail "$dups measurements stored twice"
    local prog
    prog=$(q "SELECT count(*) FROM agent_progress WHERE agent_id LIKE '$prefix%' AND committed_seq = $events")
    [[ "$prog" == "$agents" ]] || fail "agent_progress: $prog of $agents agents at seq $events"
    echo "rows ok: $got (measurements|alarms|status|traps|agent_status) for $agents x $events events"
}

metric() { # NAME: value from /metrics
    curl -sf "http://127.0.0.1:$COLL_MPORT/metrics" | sed -n "s/^fieldmon_collector_$1 //p"
}
