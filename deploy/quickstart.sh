#!/usr/bin/env bash
# fieldmon's main job on an embedded default, on a fresh Debian machine:
# installs dependencies, builds, starts a throwaway PostgreSQL with the schema
# applied, and runs what fieldmon has (see README.md). Everything runs under
# one temporary directory and is stopped and removed on Ctrl-C or exit.
#
#   ./deploy/quickstart.sh                 run until Ctrl-C
#   ./deploy/quickstart.sh --duration 120  run 120 s, print the summary, exit 0
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=0
while (($#)); do
    case "$1" in
    --duration)
        duration="${2:?--duration needs seconds}"
        shift 2
        ;;
    -h | --help)
        sed -n '2,9p' "$0"
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
    esac
done

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_ASAN=OFF -DFM_UBSAN=OFF -DFM_WERROR=OFF -DFM_FUZZ=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "quickstart: built into $root/build"

# shellcheck source=../tests/lib/pg.sh
source tests/lib/pg.sh
work=$(mktemp -d /tmp/fieldmon-quickstart.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    fm_pg_stop
    rm -rf "$work"
    echo "quickstart: stopped and cleaned up"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

fm_pg_start "$work/pg"
echo "quickstart: PostgreSQL running, socket in $PGHOST (psql -h $PGHOST -U fieldmon fieldmon)"

# The collector applies the schema itself (idempotent), then runs on plain
# TCP on loopback (a demo: production uses TLS, see docs/collector.md).
cat >"$work/collector.yaml" <<EOC
collector_id: quickstart
listen: {address: 127.0.0.1, port: 0, transport: plain}
metrics: {address: 127.0.0.1, port: 0}
database: {dsn: "$FM_PG_DSN"}
EOC
build/collector/fieldmon-collector -c "$work/collector.yaml" --migrate
build/collector/fieldmon-collector -c "$work/collector.yaml" 2>"$work/collector.log" &
pids+=($!)
for _ in $(seq 1 50); do
    port=$(sed -n 's/.*listen: agents on .* port \([0-9]*\) .*/\1/p' "$work/collector.log")
    mport=$(sed -n 's/.*metrics: http:\/\/.*:\([0-9]*\)\/metrics.*/\1/p' "$work/collector.log")
    [[ -n "$port" && -n "$mport" ]] && break
    sleep 0.1
done
if [[ -z "${port:-}" || -z "${mport:-}" ]]; then
    cat "$work/collector.log" >&2
    echo "quickstart: the collector did not start" >&2
    exit 1
fi
echo "quickstart: collector listening on 127.0.0.1:$port, metrics on http://127.0.0.1:$mport/metrics"
psql -c "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"

# Until agents run here, a contract client plays three agents for a moment.
build/bench/fm-loadgen --connect "127.0.0.1:$port" --agent demo --agents 3 --events 5000 \
    --timeout 30 | tail -1
psql -c "SELECT d.agent_id, count(*) AS measurements FROM measurements m
         JOIN points p USING (point_id) JOIN devices d USING (device_id) GROUP BY 1 ORDER BY 1"

if ((duration > 0)); then
    echo "quickstart: running for ${duration}s"
    sleep "$duration"
else
    echo "quickstart: running; press Ctrl-C to stop and clean up"
    while true; do sleep 3600; done
fi
