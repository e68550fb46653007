#!/usr/bin/env bash
# fieldmonctl trend as a user meets it: one point's values over a range at
# the resolution the range calls for (raw for a day, 5-minute rollups up to
# ten days, hourly beyond), the figures of each bucket equal to those of
# the raw rows it holds, a table column's row chosen by --label, a device
# name several agents know refused with the candidates, and wrong usage in
# the user's words.
source "$(dirname "$0")/coll_lib.sh"

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null 2>&1 || fail "migrate"

# Two agents that both have a device "ups-1"; a temperature every 30 s for
# three days ending at the last full hour (value k = the reading's number,
# so 5-minute bucket j holds k = 10j .. 10j + 9), and a table column with
# two rows.
q "INSERT INTO sites (site_id, name) VALUES ('hq', 'HQ'), ('depot', 'Depot');
   INSERT INTO agents (agent_id, site_id) VALUES ('gw-hq', 'hq'), ('gw-depot', 'depot');
   INSERT INTO devices (agent_id, name) VALUES ('gw-hq', 'ups-1'), ('gw-depot', 'ups-1');
   INSERT INTO points (device_id, name, unit)
       SELECT device_id, pn, u FROM devices, (VALUES ('temp', 'degC'), ('load', '%')) p (pn, u);
   INSERT INTO series (point_id, labels)
       SELECT point_id, l::jsonb FROM points p JOIN devices d USING (device_id),
       (VALUES ('{}'), ('{\"line\": \"1\"}'), ('{\"line\": \"2\"}')) x (l)
       WHERE (p.name = 'temp') = (l = '{}');" >/dev/null
end=$(q "SELECT date_trunc('hour', now() - interval '1 hour')")
q "SELECT fm_measurement_partition(d::date) FROM generate_series(
       timestamptz '$end' - interval '4 days', timestamptz '$end', interval '1 day') d" >/dev/null
q "INSERT INTO measurements (ts, series_id, quality, seq, value)
   SELECT timestamptz '$end' - interval '3 days' + k * interval '30 seconds',
          fm_series_of('gw-hq', 'ups-1', 'temp'), 1, k + 1, k
   FROM generate_series(0, 8639) k;
   INSERT INTO measurements (ts, series_id, quality, seq, value)
   SELECT timestamptz '$end' - interval '1 hour' + k * interval '1 minute',
          fm_series_of(a, 'ups-1', 'load', jsonb_build_object('line', l)), 1, 9000 + k,
          CASE a WHEN 'gw-hq' THEN 0 ELSE 100 END + l::int * 10
   FROM generate_series(0, 59) k, (VALUES ('1'), ('2')) x (l), (VALUES ('gw-hq'), ('gw-depot')) y (a)"
start=$(q "SELECT to_char(timestamptz '$end' - interval '3 days', 'YYYY-MM-DD HH24:MI:SS')")
endt=$(q "SELECT to_char(timestamptz '$end', 'YYYY-MM-DD HH24:MI:SS')")

ctl() { "$FM_CTL" --tz UTC "$@"; }

# Twelve hours: raw values, 1,440 of them, in order.
ctl trend --agent gw-hq ups-1 temp --from "$start" --to "$(q "SELECT to_char(timestamptz '$end' - interval '60 hours', 'YYYY-MM-DD HH24:MI:SS')")" \
    --csv >"$T/raw.csv" || fail "trend raw: $(cat "$T/raw.csv")"
[[ $(head -1 "$T/raw.csv" | tr -d '\r') == "ts,resolution,n,min,avg,max,last" ]] || fail "csv header: $(head -1 "$T/raw.csv")"
[[ $(($(wc -l <"$T/raw.csv") - 1)) == 1440 ]] || fail "12 h raw: $(($(wc -l <"$T/raw.csv") - 1)) rows"
sed -n 2p "$T/raw.csv" | grep -q "^${start/ /T}+00:00,raw,1,0,0,0,0" || fail "first raw row: $(sed -n 2p "$T/raw.csv")"
sed -n '$p' "$T/raw.csv" | grep -q ",raw,1,1439,1439,1439,1439" || fail "last raw row: $(sed -n '$p' "$T/raw.csv")"

# Three days: 5-minute rollups, each the figures of its ten raw values.
ctl trend --site hq ups-1 temp --from "$start" --to "$endt" --csv >"$T/5m.csv" || fail "trend 5m"
[[ $(($(wc -l <"$T/5m.csv") - 1)) == 864 ]] || fail "3 d at 5m: $(($(wc -l <"$T/5m.csv") - 1)) rows"
sed -n 2p "$T/5m.csv" | grep -q ",5m,10,0,4.5,9,9" || fail "first bucket: $(sed -n 2p "$T/5m.csv")"
sed -n 12p "$T/5m.csv" | grep -q ",5m,10,100,104.5,109,109" || fail "11th bucket: $(sed -n 12p "$T/5m.csv")"

# A month: hourly rollups, only the 72 hours with values; asked resolution wins.
ctl trend --agent gw-hq ups-1 temp --from "$(q "SELECT to_char(now() - interval '30 days', 'YYYY-MM-DD')")" \
    --csv >"$T/1h.csv" || fail "trend 1h"
[[ $(($(wc -l <"$T/1h.csv") - 1)) == 72 ]] || fail "30 d at 1h: $(($(wc -l <"$T/1h.csv") - 1)) rows"
sed -n 2p "$T/1h.csv" | grep -q ",1h,120,0,59.5,119,119" || fail "first hour: $(sed -n 2p "$T/1h.csv")"
ctl trend --agent gw-hq ups-1 temp --from "$start" --to "$endt" --resolution 1h --csv >"$T/1hb.csv" ||
    fail "trend --resolution 1h"
[[ $(($(wc -l <"$T/1hb.csv") - 1)) == 72 ]] || fail "--resolution 1h: $(($(wc -l <"$T/1hb.csv") - 1)) rows"

# The table as a person reads it: the point, its unit, the rows.
ctl trend --agent gw-hq ups-1 temp --from "$start" --to "$endt" --resolution 1h >"$T/table" ||
    fail "trend table"
head -1 "$T/table" | grep -q "^ups-1/temp, in degC$" || fail "title: $(head -1 "$T/table")"
grep -q "(72 rows)" "$T/table" || fail "table: $(tail -2 "$T/table")"

# JSON keeps numbers.
"$FM_CTL" --json trend --agent gw-depot ups-1 load --label line=2 >"$T/j" || fail "trend --json"
python3 - "$T/j" <<'PY' || fail "json: $(head -c 300 "$T/j")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 60, len(rows)
assert rows[0]["resolution"] == "raw" and rows[0]["last"] == 120 and rows[0]["n"] == 1, rows[0]
PY

expect 1 'fieldmonctl: device "ups-1" is known to several agents; name one with --agent (or --site):' \
    trend ups-1 temp
grep -q "agent gw-depot, site depot" "$T/err" && grep -q "agent gw-hq, site hq" "$T/err" ||
    fail "candidates: $(cat "$T/err")"
expect 1 'fieldmonctl: no measurements of point "load" of device "ups-1" at gw-hq (a table column needs its row'"'"'s --label, e.g. --label line=1)' \
    trend --agent gw-hq ups-1 load
expect 1 'fieldmonctl: no measurements of point "nope" of device "ups-1" at hq (a table column needs its row'"'"'s --label, e.g. --label line=1)' \
    trend --site hq ups-1 nope
expect 2 'fieldmonctl trend: --resolution 1d: want auto, raw, 5m or 1h' trend ups-1 temp --resolution 1d
expect 2 'fieldmonctl trend: --label line: want KEY=VALUE' trend ups-1 load --label line
expect 2 'fieldmonctl trend: want DEVICE POINT' trend ups-1
expect 2 'fieldmonctl trend: --from 2026-12-05 --to 2026-12-04: empty or reversed range' \
    trend --agent gw-hq ups-1 temp --from 2026-12-05 --to 2026-12-04
echo "ok: fieldmonctl trend"
