#!/usr/bin/env bash
# Rollups (schema 024) equal a recomputation from the raw rows after a
# collector killed with SIGKILL mid-stream and restarted, a resend of
# committed events, and late events in buckets already rolled up; fm_series
# picks raw, 5m or 1h by range; retention drops old raw partitions and keeps
# the rollups.
source "$(dirname "$0")/coll_lib.sh"

now_ms=$(date +%s%3N)
day_ms=86400000
start=$((now_ms - 5 * day_ms)) # seq s at start + s minutes: 6000 events end ~0.8 days ago

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
port=$COLL_PORT
coll_config "$T/fixed.yaml" "listen: {transport: plain, address: 127.0.0.1, port: $port}"

# 1. A stream of measurements a minute apart, the collector killed mid-way.
"$FM_LOADGEN" --connect "127.0.0.1:$port" --agent roll-1 --events 6000 --batch 200 --rate 1500 \
    --only-measurements --ts-start "$start" --ts-step 60000 --timeout 60 >"$T/lg1.out" 2>&1 &
lg=$!
for _ in $(seq 1 100); do
    c=$(q "SELECT coalesce(max(committed_seq), 0) FROM agent_progress WHERE agent_id = 'roll-1'")
    ((c >= 1000)) && break
    sleep 0.1
done
((c >= 1000 && c < 6000)) || fail "not mid-stream: $c committed"
kill -9 "$COLL_PID"
wait "$COLL_PID" 2>/dev/null || true
echo "collector killed with $c events committed"
coll_start "$T/fixed.yaml"
wait "$lg" || fail "fm-loadgen: $(cat "$T/lg1.out")"
expect_rows roll- 1 6000 1

# 2. The last 500 committed events sent again: skipped, no row, no rollup change.
"$FM_LOADGEN" --connect "127.0.0.1:$port" --agent roll-1 --events 6000 --batch 500 --resend 500 \
    --only-measurements --ts-start "$start" --ts-step 60000 --timeout 30 >"$T/lg2.out" 2>&1 ||
    fail "resend: $(cat "$T/lg2.out")"
(($(metric events_duplicate) >= 500)) || fail "resend not seen: events_duplicate $(metric events_duplicate)"
expect_rows roll- 1 6000 1

# 3. Late events: a second epoch of the same agent (the same series) with
#    times a day after the first's start, into buckets already closed.
q "CREATE TABLE stored_before AS SELECT series_id, bucket, n FROM rollup_1h" >/dev/null
"$FM_LOADGEN" --connect "127.0.0.1:$port" --agent roll-1 --epoch 2 --events 2000 --batch 300 \
    --only-measurements --ts-start "$((start + day_ms + 30000))" --ts-step 60000 --timeout 30 \
    >"$T/lg3.out" 2>&1 || fail "late events: $(cat "$T/lg3.out")"
[[ $(q "SELECT count(*) FROM measurement_values WHERE agent_id = 'roll-1'") == 8000 ]] ||
    fail "rows after the late events"

from="date_trunc('hour', to_timestamp($start / 1000.0))"
to="date_trunc('hour', now()) + interval '1 hour'"
diffs=$(q "SELECT count(*) FROM fm_rollup_verify($from, $to)")
[[ "$diffs" == 0 ]] || fail "rollups differ from the raw rows: $(q "SELECT * FROM fm_rollup_verify($from, $to) LIMIT 5")"
# Not vacuous: every good value is in the rollups, and late buckets merged.
for res in 5m 1h; do
    got=$(q "SELECT sum(n) FROM fm_rollup('$res', NULL, $from, $to)")
    [[ "$got" == 8000 ]] || fail "$res rollups count $got values, want 8000"
done
merged=$(q "SELECT count(*) FROM rollup_1h r JOIN stored_before b USING (series_id, bucket)
           WHERE r.n > b.n")
((merged > 0)) || fail "no stored hourly bucket took late values"
echo "rollups verified: 8000 values, $merged hourly buckets merged with late events"

# 4. fm_series picks the resolution by range; each gives every value once.
sid=$(q "SELECT fm_series_of('roll-1', 'dev-1', 'p0')")
[[ -n "$sid" ]] || fail "fm_series_of found no series"
series_check() { # FROM TO WANT
    local got raw
    got=$(q "SELECT string_agg(DISTINCT resolution, ',') || '|' || coalesce(sum(n), 0)
             FROM fm_series($sid, $1, $2)")
    raw=$(q "SELECT count(*) FROM measurements WHERE series_id = $sid AND ts >= $1 AND ts < $2")
    [[ "$got" == "$3|$raw" ]] || fail "fm_series($1, $2): got $got, want $3|$raw"
    echo "fm_series $3: $raw values"
}
t0="to_timestamp($start / 1000.0)"
# Bucket-aligned bounds: a rollup bucket then holds only values in the range.
series_check "date_trunc('hour', $t0 + interval '2 hours')" "date_trunc('hour', $t0 + interval '14 hours')" raw
series_check "date_trunc('hour', $t0 + interval '1 day')" "date_trunc('hour', $t0 + interval '4 days')" 5m
series_check "date_trunc('hour', now() - interval '30 days')" "date_trunc('hour', now())" 1h
[[ $(q "SELECT fm_series_resolution(now() - interval '1 day', now())") == raw ]] || fail "1 day"
[[ $(q "SELECT fm_series_resolution(now() - interval '10 days', now())") == 5m ]] || fail "10 days"
[[ $(q "SELECT fm_series_resolution(now() - interval '11 days', now())") == 1h ]] || fail "11 days"
coll_stop

# 5. Retention: raw rows kept 2 days, rollups by default. The collector's
#    maintenance at start drops the old days and keeps their rollups.
coll_config "$T/short.yaml" \
    "database: {dsn: \"$FM_PG_DSN\", retention_days: 2, reconnect_min: 100ms, reconnect_max: 1s}"
before=$(q "SELECT sum(n) FROM fm_rollup('1h', NULL, $from, $to)")
coll_start "$T/short.yaml"
for _ in $(seq 1 50); do
    [[ $(q "SELECT days FROM measurement_retention WHERE resolution = 'raw'") == 2 ]] && break
    sleep 0.1
done
old="(now() AT TIME ZONE 'UTC')::date - 2"
[[ $(q "SELECT count(*) FROM measurements WHERE ts < ($old)::timestamp AT TIME ZONE 'UTC'") == 0 ]] ||
    fail "raw rows older than the retention kept"
(($(metric partitions_dropped) >= 3)) || fail "metric partitions_dropped $(metric partitions_dropped)"
[[ $(q "SELECT sum(n) FROM fm_rollup('1h', NULL, $from, $to)") == "$before" ]] || fail "rollups lost"
[[ $(q "SELECT fm_series_resolution(now() - interval '4 days', now() - interval '3 days 12 hours')") == 5m ]] ||
    fail "a 12-hour range older than raw retention does not read 5m"
got=$(q "SELECT sum(n) FROM fm_series($sid, $t0, $t0 + interval '12 hours')")
((got > 0)) || fail "fm_series of dropped raw days returns nothing"
coll_stop
echo "coll_rollup: ok"
