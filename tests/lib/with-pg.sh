#!/usr/bin/env bash
# with-pg.sh CMD [ARGS...]: runs CMD against a throwaway PostgreSQL (see pg.sh)
# with PGHOST/PGDATABASE/... and FM_PG_DSN exported, and always stops the
# server afterwards, also when CMD fails or the script is interrupted.
# Exits with CMD's status. FM_KEEP_PG=1 keeps the data directory for debugging.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=pg.sh
source "$here/pg.sh"

cleanup() {
    if [[ "${FM_KEEP_PG:-0}" == 1 ]]; then
        FM_PG_OWNED=0
        echo "with-pg: kept $FM_PG_DIR" >&2
    fi
    fm_pg_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fm_pg_start || exit 1
"$@"
