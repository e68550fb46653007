#!/usr/bin/env bash
# bench/row-bytes/row_bytes.sh: bytes on disk per measurement row before
# (schema 023: the wide row with its primary key) and after (schema 024: the
# narrow row, its series index, the rollups), for the same rows: SERIES series
# x one day at 30 s (2,880 rows each), inserted one 30 s tick per statement and
# transaction as the collector's batches arrive, so that indexes and rollups
# grow as they do in service. The rollups' open buckets (rollup_*_open) are
# small tables that autovacuum keeps near one row per series and are not
# counted. Runs against a throwaway PostgreSQL
# (tests/lib/with-pg.sh); not a timed test. Prints one line per variant.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/../.."
series="${SERIES:-1000}"
ticks="${TICKS:-2880}"

apply() { # DB UPTO: migrations up to version UPTO
    createdb "$1"
    for f in "$src"/schema/[0-9]*.sql; do
        v=$(basename "$f" | sed 's/_.*//; s/^0*//')
        ((v <= $2)) || continue
        psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -f "$f" >/dev/null
    done
    psql -XAtq -v ON_ERROR_STOP=1 -d "$1" >/dev/null -c "
        INSERT INTO sites VALUES ('s');
        INSERT INTO agents (agent_id, site_id) VALUES ('a', 's');
        INSERT INTO devices (agent_id, name) VALUES ('a', 'd');
        INSERT INTO points (device_id, name) SELECT 1, 'p' || g FROM generate_series(1, $series) g;
        SELECT fm_measurement_partition(date '2030-01-01');"
}

# The values: a slow random walk per series (gauges), raw equal to value.
apply m23 23
psql -XAtq -v ON_ERROR_STOP=1 -d m23 <<SQL
DO \$\$
BEGIN
    FOR t IN 0..$ticks - 1 LOOP
        INSERT INTO measurements (ts, point_id, value, raw, quality, agent_key, epoch, seq)
        SELECT timestamptz '2030-01-01 00:00:00+00' + t * interval '30 s', g, v, v, 1, 1, 1,
               t::bigint * $series + g
        FROM (SELECT g, 20 + (g % 10) + random() AS v FROM generate_series(1, $series) g) x;
        COMMIT;
    END LOOP;
END \$\$;
SQL
apply m24 24
psql -XAtq -v ON_ERROR_STOP=1 -d m24 -c "CREATE INDEX measurements_series_ts ON measurements (series_id, ts)"
psql -XAtq -v ON_ERROR_STOP=1 -d m24 -c "INSERT INTO series (point_id) SELECT point_id FROM points ORDER BY point_id"
psql -XAtq -v ON_ERROR_STOP=1 -d m24 <<SQL
DO \$\$
BEGIN
    FOR t IN 0..$ticks - 1 LOOP
        INSERT INTO measurements (ts, series_id, quality, seq, value)
        SELECT timestamptz '2030-01-01 00:00:00+00' + t * interval '30 s', g, 1,
               t::bigint * $series + g, 20 + (g % 10) + random()
        FROM generate_series(1, $series) g;
        COMMIT;
    END LOOP;
END \$\$;
SQL
rows=$((series * ticks))
size() { psql -XAtq -d "$1" -c "SELECT $2"; }
old=$(size m23 "pg_total_relation_size('measurements_20300101')")
old_heap=$(size m23 "pg_relation_size('measurements_20300101')")
heap=$(size m24 "pg_relation_size('measurements_20300101')")
ix_s=$(size m24 "pg_relation_size('measurements_20300101_series_id_idx')")
ix_st=$(size m24 "pg_relation_size('measurements_20300101_series_id_ts_idx')")
psql -XAtq -d m24 -c "SELECT fm_rollup_flush('infinity')" >/dev/null # the day's last buckets
r5=$(size m24 "pg_total_relation_size('rollup_5m_203001')")
r1=$(size m24 "pg_total_relation_size('rollup_1h_203001')")
check=$(size m24 "count(*) FROM fm_rollup_verify('2030-01-01', '2030-01-02')")
echo "rows=$rows"
echo "before: total_bytes=$old bytes_per_row=$((old / rows)) heap_per_row=$((old_heap / rows))"
echo "after: heap_per_row=$((heap / rows)) index_series_per_row=$(echo "scale=1; $ix_s / $rows" | bc) index_series_ts_per_row=$(echo "scale=1; $ix_st / $rows" | bc)"
echo "after: bytes_per_row_series_index=$(((heap + ix_s) / rows)) bytes_per_row_series_ts_index=$(((heap + ix_st) / rows))"
echo "rollups: 5m_bytes_per_series_day=$((r5 / series)) 1h_bytes_per_series_day=$((r1 / series)) verify_differences=$check"
r5h=$(size m24 "pg_relation_size('rollup_5m_203001')")
r1h=$(size m24 "pg_relation_size('rollup_1h_203001')")
echo "rollups: 5m_heap_per_bucket=$((r5h / series / 288)) 5m_index_per_bucket=$(((r5 - r5h) / series / 288)) 1h_heap_per_bucket=$((r1h / series / 24)) 1h_index_per_bucket=$(((r1 - r1h) / series / 24))"
