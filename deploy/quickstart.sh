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

# Apply the schema the way the collector does: each file in its own
# transaction, recorded in schema_migrations.
psql -q -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"
for f in schema/[0-9]*_*.sql; do
    name=$(basename "$f")
    version=$((10#${name%%_*}))
    psql -q -v ON_ERROR_STOP=1 --single-transaction -f "$f" \
        -c "INSERT INTO schema_migrations (version, name) VALUES ($version, '$name')"
done
echo "quickstart: schema applied:"
psql -c "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
psql -c '\dt'

if ((duration > 0)); then
    echo "quickstart: running for ${duration}s"
    sleep "$duration"
else
    echo "quickstart: running; press Ctrl-C to stop and clean up"
    while true; do sleep 3600; done
fi
