#!/usr/bin/env bash
# The agent's real spool and sender (three agents, TLS) stream into the
# collector; the collector is killed with SIGKILL mid-stream and restarted.
# Every spooled event is stored exactly once.
source "$(dirname "$0")/coll_lib.sh"

certs="$T/certs"
"$FM_SOURCE_DIR/deploy/make-test-certs.sh" "$certs" e2e-1 e2e-2 e2e-3 >/dev/null
coll_config "$T/c.yaml" \
    "listen: {transport: tls, address: 127.0.0.1, port: 0, cert: $certs/collector.crt, key: $certs/collector.key, ca: $certs/ca.crt}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
port=$COLL_PORT
sed -i "s/port: 0, cert/port: $port, cert/" "$T/c.yaml"
pids=()
for a in 1 2 3; do
    "$FM_AGENT_SENDER" --connect "127.0.0.1:$port" --cert-dir "$certs" --agent "e2e-$a" \
        --spool "$T/spool-$a" --events 60000 --timeout 50 >"$T/a$a.out" 2>"$T/a$a.err" &
    pids+=($!)
done
for _ in $(seq 1 100); do
    committed=$(q "SELECT coalesce(sum(committed_seq), 0) FROM agent_progress")
    ((committed > 0)) && break
    sleep 0.05
done
kill -9 "$COLL_PID"
wait "$COLL_PID" 2>/dev/null || true
echo "collector killed with $committed of 180000 events committed"
((committed < 180000)) || fail "not mid-stream"
sleep 0.5
coll_start "$T/c.yaml"
for a in 1 2 3; do
    wait "${pids[$((a - 1))]}" || fail "agent e2e-$a: $(tail -5 "$T/a$a.err")"
done
expect_rows e2e- 3 60000 1
coll_stop
echo "coll_agent_e2e: ok"
