#!/usr/bin/env bash
# The collector killed with SIGKILL mid-stream (twice) and restarted on the
# same port: the agents reconnect, resume after the committed sequence, and
# every event is stored exactly once.
source "$(dirname "$0")/coll_lib.sh"

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
port=$COLL_PORT
coll_config "$T/fixed.yaml" "listen: {transport: plain, address: 127.0.0.1, port: $port}"
"$FM_LOADGEN" --connect "127.0.0.1:$port" --agent kill --agents 3 --events 40000 --batch 400 \
    --rate 15000 --timeout 60 >"$T/lg.out" 2>&1 &
lg=$!
for round in 1 2; do
    sleep 2
    committed=$(q "SELECT coalesce(sum(committed_seq), 0) FROM agent_progress WHERE agent_id LIKE 'kill-%'")
    ((committed > 0 && committed < 120000)) || fail "round $round: not mid-stream ($committed committed)"
    kill -9 "$COLL_PID"
    wait "$COLL_PID" 2>/dev/null || true
    echo "round $round: collector killed with $committed events committed"
    sleep 0.5
    coll_start "$T/fixed.yaml"
done
wait "$lg" || fail "fm-loadgen: $(cat "$T/lg.out")"
grep -q "reconnects=0 " "$T/lg.out" && fail "agents never reconnected: $(cat "$T/lg.out")"
expect_rows kill- 3 40000
cat "$T/lg.out"
coll_stop
echo "coll_kill: ok"
