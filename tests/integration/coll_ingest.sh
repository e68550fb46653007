#!/usr/bin/env bash
# Collector ingest end to end: --migrate (idempotent), refusal of an old
# schema, three agents streaming at once, exact row counts, no duplicates,
# a full resend acked without new rows, metrics, clean shutdown.
source "$(dirname "$0")/coll_lib.sh"

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" -t >/dev/null || fail "-t refused a good config"

# An unmigrated database is refused with the command that fixes it.
if "$FM_COLLECTOR" -c "$T/c.yaml" 2>"$T/refuse.log"; then fail "started on an empty database"; fi
grep -q "schema is at version 0, this collector needs .*--migrate" "$T/refuse.log" ||
    fail "no fix named: $(cat "$T/refuse.log")"

"$FM_COLLECTOR" -c "$T/c.yaml" --migrate | grep -q "migration(s) applied" || fail "migrate"
out=$("$FM_COLLECTOR" -c "$T/c.yaml" --migrate)
[[ "$out" == *"(0 migration(s) applied"* ]] || fail "second --migrate applied something: $out"

# Partitions far past retention (raw 30 days, 5-minute rollups 400, hourly
# 1830 by default) are dropped when the collector starts: the day's and its
# month's rollups; partitions for the days ahead are created.
q "SELECT fm_measurement_partition(date '2001-01-01')" >/dev/null
coll_start "$T/c.yaml"
for _ in $(seq 1 50); do
    [[ $(q "SELECT to_regclass('measurements_20010101') IS NULL") == t ]] && break
    sleep 0.1
done
[[ $(q "SELECT to_regclass('measurements_20010101') IS NULL") == t ]] || fail "old partition kept"
ahead=$(q "SELECT to_regclass('measurements_' || to_char((now() AT TIME ZONE 'UTC')::date + 3, 'YYYYMMDD')) IS NOT NULL")
[[ "$ahead" == t ]] || fail "no partition 3 days ahead"
[[ $(metric partitions_dropped) == 1 ]] || fail "metric partitions_dropped $(metric partitions_dropped)"
[[ $(q "SELECT to_regclass('rollup_5m_200101') IS NULL AND to_regclass('rollup_1h_200101') IS NULL") == t ]] ||
    fail "old rollup partitions kept"
[[ $(metric rollup_partitions_dropped) == 2 ]] ||
    fail "metric rollup_partitions_dropped $(metric rollup_partitions_dropped)"
pids=()
for a in 1 2 3; do
    "$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent "ing-$a" --events 20000 --batch 700 \
        --timeout 40 >"$T/lg$a.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "fm-loadgen: $(cat "$T"/lg*.out)"; done
expect_rows ing- 3 20000

# Values arrive intact: a measurement with a label (binary COPY), an alarm
# whose message has a quote and a tab, a trap's varbinds, partitions by day.
key="(SELECT agent_key FROM agents WHERE agent_id = 'ing-1')"
got=$(q "SELECT labels->>'ifIndex', value, raw, quality, point, device
         FROM measurement_values WHERE agent_id = 'ing-1' AND seq = 14")
[[ "$got" == "14|7|14|1|p3|dev-2" ]] || fail "measurement seq 14: $got"
got=$(q "SELECT state || '|' || level || '|' || message || '|' || limit_value FROM alarm_events
         WHERE agent_key = $key AND seq = 50")
[[ "$got" == $'raised|warning|temperature above 30 "C"\ttab|30' ]] || fail "alarm seq 50: $got"
got=$(q "SELECT varbinds->0->>'value', trap_oid FROM traps WHERE agent_key = $key AND seq = 193")
[[ "$got" == "3|1.3.6.1.2.1.33.2.0.1" ]] || fail "trap seq 193: $got"
got=$(q "SELECT reachable FROM devices WHERE agent_id = 'ing-1' AND name = 'dev-' || (19982 % 4)")
[[ "$got" == t || "$got" == f ]] || fail "reachability not applied to devices: '$got'"

# The inventory landed: 4 devices (plus the agent itself) with 5 points each.
[[ $(q "SELECT count(*) FROM devices WHERE agent_id = 'ing-1'") == 5 ]] || fail "devices"
[[ $(q "SELECT count(*) FROM points p JOIN devices d USING (device_id) WHERE agent_id = 'ing-1'") == 20 ]] ||
    fail "points"
[[ $(q "SELECT connected FROM agents WHERE agent_id = 'ing-1'") == f ]] || fail "agent still connected"

# The same agent again (a new process knows nothing): it resumes after seq
# 20000, sends nothing, and no row is added.
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent ing-1 --events 20000 >"$T/again.out" ||
    fail "resume"
expect_rows ing- 3 20000

[[ $(metric events_committed) == 60000 ]] || fail "metric events_committed $(metric events_committed)"
[[ $(metric conns_open) == 0 ]] || fail "metric conns_open"
[[ $(metric events_per_s) -gt 0 ]] || fail "metric events_per_s $(metric events_per_s)"
coll_stop

# A batch that PostgreSQL refuses (a trigger fails it once): the connection
# is closed with the reason, no later batch of that connection is applied
# past it, and the agent's resend stores everything exactly once.
# (A sequence counts the attempts: nextval survives the rollback.)
q "CREATE SEQUENCE fail_once;
   CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
       IF NEW.seq = 1050 AND nextval('fail_once') <= 2 THEN
           RAISE EXCEPTION 'injected failure at seq %', NEW.seq;
       END IF;
       RETURN NEW;
   END \$\$;
   CREATE TRIGGER fail_once BEFORE INSERT ON alarm_events FOR EACH ROW EXECUTE FUNCTION fail_once()"
coll_start "$T/c.yaml"
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent flt --events 5000 --batch 100 --window 8 \
    --timeout 30 >"$T/flt.out" 2>&1 || fail "after a refused batch: $(cat "$T/flt.out")"
grep -q "closed: database: .*injected failure at seq 1050" "$T/collector.log" ||
    fail "refused batch not logged"
q "DROP TRIGGER fail_once ON alarm_events" >/dev/null
expect_rows flt 1 5000
coll_stop

# Over limits.max_connections: an extra agent is refused with a reason,
# retries, and gets in when another leaves.
coll_config "$T/max.yaml" "limits: {max_connections: 2}"
coll_start "$T/max.yaml"
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent max --agents 2 --events 3000 --hold 3 \
    --timeout 30 >"$T/max.out" 2>&1 &
holder=$!
sleep 1
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent max-3 --events 3000 --timeout 30 \
    >"$T/max3.out" 2>&1 || fail "agent over the limit: $(cat "$T/max3.out")"
wait "$holder" || fail "agents within the limit: $(cat "$T/max.out")"
grep -q "reconnects=0" "$T/max.out" || fail "agents within the limit were disturbed: $(cat "$T/max.out")"
grep -q "closed: refused: 2 connections are open (limits.max_connections)" "$T/collector.log" ||
    fail "no refusal logged"
grep -q "collector said goodbye (reason 6)" "$T/max3.out" || fail "no Goodbye OVERLOADED to the refused agent"
[[ $(metric conns_refused) -ge 1 ]] || fail "metric conns_refused"
expect_rows max- 3 3000
coll_stop
grep -q "collector: Terminated: shutting down" "$T/collector.log" || fail "no shutdown line"
echo "coll_ingest: ok"
