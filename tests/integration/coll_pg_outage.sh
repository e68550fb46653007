#!/usr/bin/env bash
# PostgreSQL stopped (crash) for 30 s under load and started again: the
# collector stops reading agents instead of buffering, its writers notice
# the loss (idle ones too: db_connected drops to 0) and take turns on one
# back-off, so the reconnect attempts follow its schedule however many
# batches arrive; they connect only after PostgreSQL is back, db_connected
# then equals the connections PostgreSQL shows, and nothing acked is lost
# or stored twice. No log line has an empty reason. The recovery time is
# printed, not asserted.
source "$(dirname "$0")/coll_lib.sh"
# shellcheck source=../lib/pg.sh
source "$FM_SOURCE_DIR/tests/lib/pg.sh"

WRITERS=4
MIN_MS=100
MAX_MS=1000
coll_config "$T/c.yaml" "database: {dsn: \"$FM_PG_DSN\", workers: $WRITERS, reconnect_min: ${MIN_MS}ms, reconnect_max: ${MAX_MS}ms, queue_max_events: 5000}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
writer_conns() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fieldmon-collector'"; }
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s; false after SECONDS.
wait_for() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
all_connected() { [[ "$(metric db_connected)" == "$WRITERS" && "$(writer_conns)" == "$WRITERS" ]]; }
wait_for 10 all_connected || fail "before: db_connected $(metric db_connected), $(writer_conns) writer connections, want $WRITERS"

"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent out --agents 3 --events 20000 --batch 500 \
    --rate 4000 --timeout 100 >"$T/lg.out" 2>&1 &
lg=$!
sleep 4
fm_pg_kill
killed_s=$(date +%s.%N)
echo "PostgreSQL killed at $(date +%T)"
sleep 5
grep -q "pausing reads from agents" "$T/collector.log" || fail "reads not paused while PostgreSQL is down"
grep -q "connection lost" "$T/collector.log" || fail "lost connection not logged"
paused=$(metric conns_paused)
[[ "$paused" -ge 1 ]] || fail "no connection paused (conns_paused=$paused)"
queued=$(metric queue_events)
((queued <= 5000 + 3 * 4 * 500)) || fail "queue grew to $queued events while PostgreSQL was down"
# Every writer, idle or not, counts itself gone (an idle one checks its
# connection each second).
none_connected() { [[ "$(metric db_connected)" == 0 ]]; }
wait_for 10 none_connected || fail "db_connected $(metric db_connected) with PostgreSQL down"
sleep 20
grep -q "connected again" "$T/collector.log" && fail "a writer 'connected again' while PostgreSQL was down"
attempts=$(metric db_reconnects)
down_s=$(echo "$(date +%s.%N) - $killed_s" | bc)
# The schedule: each writer may fail once as its connection goes (before
# the back-off knows PostgreSQL is down), then one probe per wait, the
# wait doubling from MIN_MS to MAX_MS; +2 for the probes at either end.
# Batches keep arriving all along; a writer woken by each would try
# hundreds of times.
bound=$(echo "$WRITERS + l($MAX_MS / $MIN_MS) / l(2) + 1 + $down_s * 1000 / $MAX_MS + 2" | bc -l | cut -d. -f1)
echo "reconnect attempts while PostgreSQL was down ${down_s%.*} s: $attempts (schedule allows $bound)"
((attempts >= 1 && attempts <= bound)) || fail "$attempts reconnect attempts in ${down_s%.*} s, the back-off allows $bound"
mark=$(wc -l <"$T/collector.log")
fm_pg_restart_server || fail "PostgreSQL did not restart"
back_s=$(date +%s.%N)
echo "PostgreSQL restarted at $(date +%T)"
# Order: PostgreSQL back, then each writer connected (none before, above).
reconnected() { (($(tail -n +"$((mark + 1))" "$T/collector.log" | grep -c "connected again") == WRITERS)); }
wait_for 30 reconnected || fail "not every writer reconnected after PostgreSQL came back"
last=$(tail -n +"$((mark + 1))" "$T/collector.log" | grep "connected again" | tail -1 | cut -d' ' -f1)
echo "recovery: every writer connected $(echo "$(date -d "$last" +%s.%N) - $back_s" | bc) s after PostgreSQL was back (not asserted)"
wait_for 10 all_connected || fail "after: db_connected $(metric db_connected), $(writer_conns) writer connections, want $WRITERS"
wait "$lg" || fail "fm-loadgen: $(cat "$T/lg.out")"
grep -q "caught up: reading from agents again" "$T/collector.log" || fail "reads not resumed"
kill -0 "$COLL_PID" || fail "collector died"
# A reason is never empty: no line ends at its colon.
! grep -nE ':[[:space:]]*(;|$)' "$T/collector.log" || fail "a log line with an empty reason"
expect_rows out- 3 20000
cat "$T/lg.out"
coll_stop
echo "coll_pg_outage: ok"
