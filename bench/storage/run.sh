#!/usr/bin/env bash
# bench/storage: what a day of measurements costs PostgreSQL, with report
# by exception at the agent and rollups in the database (issue 24).
#
#   bench/storage/run.sh [POINTS]      (default 1000, a multiple of 100)
#
# storage_bench (bench/storage/*.c) runs a simulated day of POINTS points
# (copies of the 100-point site of site_model.c, values moved by the
# simulator's behaviours, polled every 30 s) through the agent's alarm stage
# twice: every poll reported, and report by exception with the defaults.
# Each day's reported rows go through the collector's DB writer into a
# database of their own on a throwaway PostgreSQL, with the rollups the
# trigger maintains; then the sizes, the rollups against a recomputation,
# and a one-year read of one point through fm_series (hourly rollups of a
# year written for 100 series). Environment: BENCH_BUILD (build-bench),
# BENCH_DAY (yesterday, UTC). About two minutes.
#
# Last line: bytes_per_point_day= bytes_per_point_day_every_poll=
# bytes_per_point_day_before= rows_reduction= trend_1y_ms= ingest_rows_per_s=
# alarms_lost= rollup_mismatches=
set -euo pipefail
cd "$(dirname "$0")/../.."
points="${1:-1000}"
build="${BENCH_BUILD:-build-bench}"

./deploy/install-deps.sh >/dev/null
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fieldmon-collector storage_bench >/dev/null

# shellcheck source=../../tests/lib/pg.sh
source tests/lib/pg.sh
work=$(mktemp -d /tmp/fm-bench-storage.XXXXXX)
chmod 755 "$work"
cleanup() {
    fm_pg_stop
    rm -rf "$work"
}
trap cleanup EXIT
fm_pg_start "$work/pg" >/dev/null
psql -Xq -c "ALTER SYSTEM SET max_wal_size = '4GB'" -c "SELECT pg_reload_conf()" >/dev/null
for db in every rbe; do
    psql -Xq -c "CREATE DATABASE fm_$db"
    cat >"$work/$db.yaml" <<EOC
collector_id: bench-storage
listen: {transport: plain, address: 127.0.0.1, port: 0}
database: {dsn: "host=$FM_PG_DIR port=5432 user=fieldmon dbname=fm_$db"}
EOC
    "$build/collector/fieldmon-collector" -c "$work/$db.yaml" --migrate >/dev/null
done
args=(--every "host=$FM_PG_DIR port=5432 user=fieldmon dbname=fm_every"
      --rbe "host=$FM_PG_DIR port=5432 user=fieldmon dbname=fm_rbe" --points "$points")
[[ -n "${BENCH_DAY:-}" ]] && args+=(--day "$BENCH_DAY")
"$build/bench/storage_bench" "${args[@]}"
