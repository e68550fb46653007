#!/usr/bin/env bash
# PostgreSQL stopped (crash) for 30 s under load and started again: the
# collector stops reading agents instead of buffering, reconnects with
# backoff, resumes; nothing acked is lost and nothing is stored twice.
source "$(dirname "$0")/coll_lib.sh"
# shellcheck source=../lib/pg.sh
source "$FM_SOURCE_DIR/tests/lib/pg.sh"

coll_config "$T/c.yaml" "database: {dsn: \"$FM_PG_DSN\", reconnect_min: 100ms, reconnect_max: 2s, queue_max_events: 5000}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent out --agents 3 --events 20000 --batch 500 \
    --rate 4000 --timeout 100 >"$T/lg.out" 2>&1 &
lg=$!
sleep 4
fm_pg_kill
echo "PostgreSQL killed at $(date +%T)"
sleep 5
grep -q "pausing reads from agents" "$T/collector.log" || fail "reads not paused while PostgreSQL is down"
grep -q "connection lost" "$T/collector.log" || fail "lost connection not logged"
paused=$(metric conns_paused)
[[ "$paused" -ge 1 ]] || fail "no connection paused (conns_paused=$paused)"
queued=$(metric queue_events)
((queued <= 5000 + 3 * 4 * 500)) || fail "queue grew to $queued events while PostgreSQL was down"
sleep 25
fm_pg_restart_server || fail "PostgreSQL did not restart"
echo "PostgreSQL restarted at $(date +%T)"
wait "$lg" || fail "fm-loadgen: $(cat "$T/lg.out")"
grep -q "caught up: reading from agents again" "$T/collector.log" || fail "reads not resumed"
grep -q "connected again" "$T/collector.log" || fail "writer did not reconnect"
kill -0 "$COLL_PID" || fail "collector died"
expect_rows out- 3 20000
cat "$T/lg.out"
coll_stop
echo "coll_pg_outage: ok"
