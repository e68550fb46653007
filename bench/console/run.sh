#!/usr/bin/env bash
# bench/console: what the console's server costs with a contractor's backlog
# (issue 16). A throwaway PostgreSQL is filled with BENCH_TICKETS (10,000)
# open tickets over 500 sites and BENCH_ALARMS (1,000,000) alarm events;
# fieldmon-web (Release build in build-bench/) serves it; console_bench.py
# connects BENCH_CLIENTS (200) live-feed clients (GET /api/v1/events, an API
# token each), then opens BENCH_RATE (20) faults per second for
# BENCH_SECONDS (30) s, each in its own transaction through fm_ticket_open,
# while one client reads the first page of open tickets every 100 ms.
#
#   push_p99_ms  from just before a fault's COMMIT to its event read by a
#                client, p99 over every (fault, client) pair
#   api_p99_ms   GET /api/v1/tickets?open=1 (first page, 100 rows), p99
#   sse_clients  clients connected when the faults began
#   web_rss_mb   fieldmon-web's peak resident memory (VmHWM)
#   events_missing  (fault, client) pairs never delivered (0 is right)
#
# Installs python3-psycopg2 (deploy/install-deps.sh --bench). About two
# minutes, most of it filling the database.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BENCH_BUILD:-build-bench}"
tickets="${BENCH_TICKETS:-10000}"
alarms="${BENCH_ALARMS:-1000000}"

./deploy/install-deps.sh --bench >/dev/null
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fieldmon-collector fieldmon-web fieldmonctl >/dev/null

# shellcheck source=../../tests/lib/pg.sh
source tests/lib/pg.sh
work=$(mktemp -d /tmp/fm-bench-console.XXXXXX)
chmod 755 "$work"
web_pid=""
cleanup() {
    [[ -n "$web_pid" ]] && kill "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null
    fm_pg_stop
    rm -rf "$work"
}
trap cleanup EXIT
fm_pg_start "$work/pg" >/dev/null
cat >"$work/collector.yaml" <<EOC
collector_id: bench-console
listen: {transport: plain, address: 127.0.0.1, port: 0}
database: {dsn: "$FM_PG_DSN"}
EOC
"$build/collector/fieldmon-collector" -c "$work/collector.yaml" --migrate >/dev/null

echo "console: filling $tickets open tickets and $alarms alarm events"
psql -Xq -v ON_ERROR_STOP=1 -v tickets="$tickets" -v alarms="$alarms" \
    -f bench/console/fill.sql >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/web.yaml" <<EOC
listen: 127.0.0.1:$port
database: "$FM_PG_DSN"
ui_dir: $work
limits: {max_sse_clients: 1000}
EOC
"$build/web/fieldmon-web" -c "$work/web.yaml" >"$work/web.log" 2>&1 &
web_pid=$!

"$build/ctl/fieldmonctl" user add bench --role viewer --password-stdin <<<"bench-password-not-used" >/dev/null
token=$("$build/ctl/fieldmonctl" user token bench console-bench | grep -o 'fmt_[A-Za-z0-9_-]*')
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/api/v1/me" -H "Authorization: Bearer $token" && break
    sleep 0.1
done
python3 bench/console/console_bench.py --url "http://127.0.0.1:$port" --token "$token" \
    --dsn "$FM_PG_DSN" --pid "$web_pid" --clients "${BENCH_CLIENTS:-200}" \
    --rate "${BENCH_RATE:-20}" --seconds "${BENCH_SECONDS:-30}"
