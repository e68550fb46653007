#!/usr/bin/env bash
# The collector refuses a database whose schema is older than it needs, and
# says which command fixes it; after that command it starts. The old schema
# is made by migrating with a schema directory that lacks the newest file.
source "$(dirname "$0")/coll_lib.sh"

mkdir -p "$T/old-schema"
files=("$FM_SOURCE_DIR"/schema/[0-9]*.sql)
cp "${files[@]:0:${#files[@]}-1}" "$T/old-schema/"
newest=$(basename "${files[-1]}")
need=$("$FM_COLLECTOR" --version | sed -n 's/.*database schema version \([0-9]*\).*/\1/p')
[[ "$need" == "$((10#${newest%%_*}))" ]] ||
    fail "the collector needs schema $need but the newest migration is $newest"

coll_config "$T/old.yaml" "schema_dir: $T/old-schema"
"$FM_COLLECTOR" -c "$T/old.yaml" --migrate >"$T/migrate-old.out" 2>&1 || fail "$(cat "$T/migrate-old.out")"
have=$(q "SELECT max(version) FROM schema_migrations")
((have < need)) || fail "old schema is at $have, want below $need"

coll_config "$T/c.yaml"
rc=0
timeout 20 "$FM_COLLECTOR" -c "$T/c.yaml" >"$T/refused.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "collector on an old schema exited $rc, want 1: $(cat "$T/refused.log")"
grep -q "database schema is at version $have, this collector needs $need: run \`fieldmon-collector -c CONFIG --migrate\`" \
    "$T/refused.log" || fail "no clear error: $(cat "$T/refused.log")"
echo "refused: $(grep -o 'database schema is at.*' "$T/refused.log")"

"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >"$T/migrate.out" 2>&1 || fail "$(cat "$T/migrate.out")"
[[ "$(q "SELECT max(version) FROM schema_migrations")" == "$need" ]] || fail "migrate did not reach $need"
coll_start "$T/c.yaml"
coll_stop
echo "coll_schema: ok"
