# shellcheck shell=bash
# Throwaway PostgreSQL 15 for tests and the quickstart. Source this file, then:
#
#   fm_pg_start [DIR]   initdb into DIR (default: a new temp dir), start the
#                       server on a unix socket in DIR (no TCP), create the
#                       database "fieldmon", export PGHOST PGPORT PGDATABASE
#                       PGUSER FM_PG_DIR FM_PG_DSN
#   fm_pg_stop          stop the server (fast) and remove DIR if we made it
#   fm_pg_kill          stop the server immediately (crash), keep DIR
#   fm_pg_restart_server  start the server again on the same DIR
#
# PostgreSQL refuses to run as root. When invoked as root, the server runs as
# the unprivileged "postgres" user (created by Debian's postgresql-common);
# clients connect over the socket with trust auth as role "fieldmon".

FM_PG_BIN="${FM_PG_BIN:-/usr/lib/postgresql/15/bin}"

fm__pg_as() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

fm_pg_start() {
    local dir="${1:-}"
    if [[ ! -x "$FM_PG_BIN/initdb" ]]; then
        echo "pg.sh: $FM_PG_BIN/initdb not found; run deploy/install-deps.sh" >&2
        return 1
    fi
    if [[ -z "$dir" ]]; then
        dir=$(mktemp -d /tmp/fm-pg.XXXXXX)
        FM_PG_OWNED=1
    else
        mkdir -p "$dir"
        FM_PG_OWNED=0
    fi
    chmod 755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    export FM_PG_DIR="$dir"
    if ! fm__pg_as "$FM_PG_BIN/initdb" -D "$dir/data" -U fieldmon --auth=trust \
            -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed, see $dir/initdb.log:" >&2
        tail -5 "$dir/initdb.log" >&2
        return 1
    fi
    export PGHOST="$dir" PGPORT=5432 PGUSER=fieldmon PGDATABASE=fieldmon
    export FM_PG_DSN="host=$dir port=5432 user=fieldmon dbname=fieldmon"
    fm_pg_restart_server || return 1
    if ! createdb_out=$("$FM_PG_BIN/createdb" -h "$dir" -U fieldmon fieldmon 2>&1); then
        echo "pg.sh: createdb failed: $createdb_out" >&2
        return 1
    fi
}

fm_pg_restart_server() {
    # listen_addresses='' : unix socket only, so parallel servers never clash.
    if ! fm__pg_as "$FM_PG_BIN/pg_ctl" -D "$FM_PG_DIR/data" -l "$FM_PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses='' -k $FM_PG_DIR -c fsync=on -c max_connections=200" \
            start >/dev/null; then
        echo "pg.sh: server did not start, see $FM_PG_DIR/server.log:" >&2
        tail -5 "$FM_PG_DIR/server.log" >&2
        return 1
    fi
}

fm_pg_kill() {
    [[ -n "${FM_PG_DIR:-}" && -f "$FM_PG_DIR/data/postmaster.pid" ]] || return 0
    fm__pg_as "$FM_PG_BIN/pg_ctl" -D "$FM_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
}

fm_pg_stop() {
    [[ -n "${FM_PG_DIR:-}" ]] || return 0
    if [[ -f "$FM_PG_DIR/data/postmaster.pid" ]]; then
        fm__pg_as "$FM_PG_BIN/pg_ctl" -D "$FM_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
            fm_pg_kill
    fi
    if [[ "${FM_PG_OWNED:-0}" == 1 ]]; then
        rm -rf "$FM_PG_DIR"
    fi
    unset FM_PG_DIR
}
