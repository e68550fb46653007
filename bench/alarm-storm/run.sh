#!/usr/bin/env bash
# bench/alarm-storm: behind one agent that keeps talking, all 500 devices of
# a site become unreachable within one second (their switch died). Measures
# the time from the last reachability event sent (loopback: received) to
# the site ticket committed in PostgreSQL, and counts the tickets opened for
# the site after the group wait has passed: exactly one site ticket with
# all devices attached, nothing per device.
#
#   bench/alarm-storm/run.sh [DEVICES]      (default 500)
#
# Builds with cmake into $FM_BUILD_DIR (default build-bench, Release), starts
# a throwaway PostgreSQL (tests/lib/pg.sh) and a fieldmon-collector on a free
# port, and drives it with fm-faultgen. The rules are the shipped defaults
# with group_wait 3s instead of 30s, so the run proves "nothing per device"
# in seconds. Last line: site_ticket_s=N tickets_opened=N
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
devices="${1:-500}"
build="${FM_BUILD_DIR:-build-bench}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fieldmon-collector fm-faultgen >/dev/null

# shellcheck source=../../tests/lib/pg.sh
source tests/lib/pg.sh
coll_pid=""
cleanup() {
    [[ -n "$coll_pid" ]] && kill -TERM "$coll_pid" 2>/dev/null && wait "$coll_pid" || true
    fm_pg_stop
}
trap cleanup EXIT
fm_pg_start >/dev/null
dir="$FM_PG_DIR/bench"
mkdir -p "$dir"
sed 's/^group_wait: 30s/group_wait: 3s/' deploy/rules-default.yaml >"$dir/rules.yaml"
cat >"$dir/collector.yaml" <<YAML
collector_id: bench
log_level: notice
listen: {transport: plain, address: 127.0.0.1, port: 0}
metrics: {enabled: false}
database: {dsn: "$FM_PG_DSN"}
faults: {rules_file: "$dir/rules.yaml"}
YAML
"$build/collector/fieldmon-collector" -c "$dir/collector.yaml" --migrate >/dev/null
: >"$dir/collector.log"
"$build/collector/fieldmon-collector" -c "$dir/collector.yaml" >>"$dir/collector.log" 2>&1 &
coll_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listen: agents on .* port \([0-9]*\) .*/\1/p' "$dir/collector.log" | tail -1)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { cat "$dir/collector.log" >&2; echo "alarm-storm: collector did not start" >&2; exit 1; }
echo "alarm-storm: $devices devices, collector on port $port, group_wait 3s"
"$root/$build/bench/fm-faultgen" --port "$port" --devices "$devices" --group-wait-ms 3000 storm
