#!/usr/bin/env bash
# fieldmon-agent -> fieldmon-collector -> PostgreSQL, both real, over mutual
# TLS: the agent's events (comm loss of a silent device, reachability, status
# every second) land in their tables exactly once; the agent is killed with
# SIGKILL and restarted, and afterwards every sequence from 1 to the last the
# agent wrote is stored once, with the agent's high-water mark at that
# sequence. Runs under tests/lib/with-pg.sh (see coll_lib.sh).
source "$(dirname "$0")/coll_lib.sh"

certs="$T/certs"
"$FM_SOURCE_DIR/deploy/make-test-certs.sh" "$certs" agent-e2e >/dev/null
coll_config "$T/c.yaml" \
    "listen: {transport: tls, address: 127.0.0.1, port: 0, cert: $certs/collector.crt, key: $certs/collector.key, ca: $certs/ca.crt}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"
coll_start "$T/c.yaml"

# A device on a UDP port where nothing answers: polls time out.
dead=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/agent.yaml" <<EOF
agent_id: agent-e2e
site: lab
collectors: ["127.0.0.1:$COLL_PORT"]
spool_dir: $T/spool
sender: {tls: {ca: $certs/ca.crt, cert: $certs/agent-e2e.crt, key: $certs/agent-e2e.key}}
status: {interval: 1s, metrics_listen: ""}
snmp: {poll_spread: 0, backoff_max: 1s}
devices:
  - {name: ups-gone, class: ups, profile: ups, interval: 200ms, unreachable_after: 2,
     comm_loss: {fail_polls: 2, fail_time: 0s},
     snmp: {host: 127.0.0.1, port: $dead, community: x, timeout: 100ms, retries: 0}}
profiles:
  - name: ups
    points:
      - {name: output_source, oid: 1.3.6.1.2.1.33.1.4.1.0}
EOF
"$FM_AGENT" -t -c "$T/agent.yaml" >/dev/null || fail "agent config refused"

agent_start() {
    "$FM_AGENT" -c "$T/agent.yaml" >>"$T/agent.log" 2>&1 &
    AGENT_PID=$!
}
key="(SELECT agent_key FROM agents WHERE agent_id = 'agent-e2e')"
wait_rows() { # TABLE MIN
    for _ in $(seq 1 150); do
        [[ $(q "SELECT count(*) FROM $1 WHERE agent_key = $key") -ge $2 ]] && return 0
        sleep 0.1
    done
    tail -20 "$T/agent.log" >&2
    fail "$1: fewer than $2 rows"
}

agent_start
trap '[[ -z "$COLL_PID" ]] || kill -9 "$COLL_PID" 2>/dev/null || true; kill -9 "$AGENT_PID" 2>/dev/null || true' EXIT
wait_rows alarm_events 1
wait_rows agent_status 2
[[ $(q "SELECT code FROM alarm_events WHERE agent_key = $key LIMIT 1") == comm_loss ]] ||
    fail "the first alarm is not comm_loss"

kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
before=$(q "SELECT count(*) FROM agent_status WHERE agent_key = $key")
agent_start
wait_rows agent_status $((before + 2))
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $? after SIGTERM"
last=$(sed -n 's/.*flushed and synced at seq \([0-9]*\),.*/\1/p' "$T/agent.log" | tail -1)
[[ -n "$last" ]] || fail "no flush line in the agent log"

# Every sequence 1..last once, in one epoch, across the event tables.
# Measurements carry seq, not the epoch (schema 024): the agent's epochs from
# agent_progress (one, or the rows multiply and the counts below fail).
union="SELECT pr.epoch, v.seq FROM measurement_values v JOIN agent_progress pr USING (agent_id)
         WHERE v.agent_id = 'agent-e2e'
       UNION ALL SELECT epoch, seq FROM alarm_events WHERE agent_key = $key
       UNION ALL SELECT epoch, seq FROM device_status WHERE agent_key = $key
       UNION ALL SELECT epoch, seq FROM traps WHERE agent_key = $key
       UNION ALL SELECT epoch, seq FROM agent_status WHERE agent_key = $key
       UNION ALL SELECT epoch, seq FROM spool_overflows WHERE agent_key = $key"
got=$(q "SELECT count(*) || '|' || count(DISTINCT seq) || '|' || min(seq) || '|' || max(seq)
         || '|' || count(DISTINCT epoch) FROM ($union) u")
[[ "$got" == "$last|$last|1|$last|1" ]] ||
    fail "rows|distinct|min|max|epochs: got $got, want $last|$last|1|$last|1"
prog=$(q "SELECT committed_seq FROM agent_progress WHERE agent_id = 'agent-e2e'")
[[ "$prog" == "$last" ]] || fail "agent_progress at $prog, the agent wrote $last"
grep -q "session up (collector test-collector, TLS)" "$T/agent.log" || fail "no TLS session line"
coll_stop
echo "agent_collector: ok ($last events, SIGKILL and restart, exactly once)"
