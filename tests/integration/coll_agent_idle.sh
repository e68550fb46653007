#!/usr/bin/env bash
# A real fieldmon-agent with nothing to send keeps its session to the real
# collector (mutual TLS) through an idle period of several times its
# dead-after: the collector's heartbeats reach it before it presumes the
# collector dead, and the agent's heartbeats keep the collector's idle
# timeout away. Then the collector is stopped (SIGSTOP, so that it neither
# sends nor closes): the agent notices within its dead-after and says why.
source "$(dirname "$0")/coll_lib.sh"

certs="$T/certs"
"$FM_SOURCE_DIR/deploy/make-test-certs.sh" "$certs" idle-agent >/dev/null
coll_config "$T/c.yaml" \
    "listen: {transport: tls, address: 127.0.0.1, port: 0, cert: $certs/collector.crt, key: $certs/collector.key, ca: $certs/ca.crt}" \
    "limits: {heartbeat: 1s, idle_timeout: 3s}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"
coll_start "$T/c.yaml"

# No devices and a status event once an hour: after the first status event
# the link carries nothing but heartbeats. The agent asks for a dead-after
# of 1 s; with the collector's 1 s heartbeat it runs with 2 x 1 s + 1 s.
cat >"$T/agent.yaml" <<EOF
agent_id: idle-agent
site: lab
collectors: ["127.0.0.1:$COLL_PORT"]
spool_dir: $T/spool
sender: {heartbeat: 1s, dead_after: 1s,
         tls: {ca: $certs/ca.crt, cert: $certs/idle-agent.crt, key: $certs/idle-agent.key}}
status: {interval: 1h, metrics_listen: ""}
devices: []
EOF
agent_start "$T/agent.yaml"
trap '[[ -z "$COLL_PID" ]] || kill -CONT "$COLL_PID" 2>/dev/null; [[ -z "$COLL_PID" ]] || kill -9 "$COLL_PID" 2>/dev/null; kill -9 "$AGENT_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    grep -q "session up" "$T/agent.log" && break
    sleep 0.1
done
grep -q "session up" "$T/agent.log" || { cat "$T/agent.log" >&2; fail "no session"; }
dead=$(sed -n 's/.*dead_after raised to \([0-9]*\) ms.*/\1/p' "$T/agent.log" | tail -1)
[[ "$dead" == 3000 ]] || fail "the agent's dead-after is '$dead' ms, want 3000 (2 x 1 s + 1 s)"

# Idle for 12 s, four times the dead-after.
sleep 12
sessions=$(grep -c "session up" "$T/agent.log")
[[ "$sessions" == 1 ]] || { cat "$T/agent.log" >&2; fail "the idle session was torn down: $sessions sessions"; }
grep -q "presumed dead" "$T/agent.log" && fail "the agent presumed the idle collector dead"
grep "agent idle-agent: closed" "$T/collector.log" && fail "the collector closed the idle agent"
[[ $(metric conns_open) == 1 ]] || fail "metric conns_open $(metric conns_open)"

# A collector that hangs (no bytes, no close) is presumed dead in about 3 s.
kill -STOP "$COLL_PID"
sleep 5
kill -CONT "$COLL_PID"
grep -q "nothing received for [0-9]* ms, peer presumed dead" "$T/agent.log" ||
    { cat "$T/agent.log" >&2; fail "the agent did not notice the hung collector"; }
for _ in $(seq 1 100); do
    (($(grep -c "session up" "$T/agent.log") >= 2)) && break
    sleep 0.1
done
(($(grep -c "session up" "$T/agent.log") >= 2)) || fail "the agent did not reconnect"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $? after SIGTERM"
coll_stop
echo "coll_agent_idle: ok"
