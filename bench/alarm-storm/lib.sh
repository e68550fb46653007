# shellcheck shell=bash
# Shared by bench/alarm-storm/run.sh and restore.sh: builds the Release
# tree ($FM_BUILD_DIR, default build-bench), starts a throwaway PostgreSQL
# (tests/lib/pg.sh) and fieldmon-collector on a free port with the given
# log level and extra YAML lines, and stops both on exit. Sets root, build,
# dir, port and coll_pid. Source it from the repository root.
root=$(pwd)
build="${FM_BUILD_DIR:-build-bench}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fieldmon-collector fm-faultgen >/dev/null

# shellcheck source=../../tests/lib/pg.sh
source tests/lib/pg.sh
coll_pid=""
storm_cleanup() {
    [[ -n "$coll_pid" ]] && kill -TERM "$coll_pid" 2>/dev/null && wait "$coll_pid" || true
    fm_pg_stop
}
trap storm_cleanup EXIT

# storm_start LOG_LEVEL [YAML LINE...]
storm_start() {
    local level="$1"
    shift
    fm_pg_start >/dev/null
    dir="$FM_PG_DIR/bench"
    mkdir -p "$dir"
    {
        echo "collector_id: bench"
        echo "log_level: $level"
        echo "listen: {transport: plain, address: 127.0.0.1, port: 0}"
        echo "metrics: {enabled: false}"
        echo "database: {dsn: \"$FM_PG_DSN\"}"
        printf '%s\n' "$@"
    } >"$dir/collector.yaml"
    "$build/collector/fieldmon-collector" -c "$dir/collector.yaml" --migrate >/dev/null
    : >"$dir/collector.log"
    "$build/collector/fieldmon-collector" -c "$dir/collector.yaml" >>"$dir/collector.log" 2>&1 &
    coll_pid=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*listen: agents on .* port \([0-9]*\) .*/\1/p' "$dir/collector.log" | tail -1)
        [[ -n "$port" ]] && return 0
        sleep 0.1
    done
    cat "$dir/collector.log" >&2
    echo "$0: the collector did not start" >&2
    exit 1
}
