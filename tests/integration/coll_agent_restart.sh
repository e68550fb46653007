#!/usr/bin/env bash
# A real fieldmon-agent streaming to the real collector; the collector is
# killed (SIGKILL) and a new one started on the same port. The agent, whose
# established session was lost, retries first after a short delay (100 to
# 500 ms), not after its back-off (backoff_min here is 5 s, so the usual
# first step would be 2.5 to 5 s), and is back on that first retry. So that
# this does not depend on how fast the new collector starts, the agent is
# stopped (SIGSTOP) from just before the kill until the new collector
# listens: it sees the loss only then. Then the collector stays down: in the
# first minute the agent's waits are capped at 2 s. Every event the agent
# wrote is stored exactly once.
source "$(dirname "$0")/coll_lib.sh"

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"
coll_start "$T/c.yaml"
port=$COLL_PORT
coll_config "$T/fixed.yaml" "listen: {transport: plain, address: 127.0.0.1, port: $port}"

# No devices: the agent streams its own status events, one a second.
cat >"$T/agent.yaml" <<EOT
agent_id: restart-agent
site: lab
collectors: ["127.0.0.1:$port"]
spool_dir: $T/spool
sender: {transport: plain, backoff_min: 5s, backoff_max: 30s}
status: {interval: 1s, metrics_listen: ""}
devices: []
EOT
agent_start "$T/agent.yaml"
trap 'kill -CONT "$AGENT_PID" 2>/dev/null || true; kill -9 "$AGENT_PID" 2>/dev/null || true
      [[ -z "$COLL_PID" ]] || kill -9 "$COLL_PID" 2>/dev/null || true' EXIT
sessions() { grep -c "session up" "$T/agent.log" || true; }
for _ in $(seq 1 100); do
    (($(sessions) >= 1)) && break
    sleep 0.1
done
(($(sessions) == 1)) || { cat "$T/agent.log" >&2; fail "no session"; }
sleep 2 # a few status events committed

kill -STOP "$AGENT_PID"
kill -9 "$COLL_PID"
wait "$COLL_PID" 2>/dev/null || true
COLL_PID=""
mark=$(wc -l <"$T/agent.log")
coll_start "$T/fixed.yaml"
kill -CONT "$AGENT_PID"
for _ in $(seq 1 100); do
    (($(sessions) >= 2)) && break
    sleep 0.1
done
(($(sessions) >= 2)) || { cat "$T/agent.log" >&2; fail "the agent did not come back"; }

# From the loss to the session: one retry, the short one, and no failure.
after=$(tail -n +"$((mark + 1))" "$T/agent.log" | sed '/session up/q')
echo "$after" | grep -q "session lost" || fail "the loss was not logged: $after"
retries=$(echo "$after" | grep -c "retry in\|next attempt in" || true)
first=$(echo "$after" | sed -n 's/.*session lost, first retry in \([0-9]*\) ms.*/\1/p')
[[ "$retries" == 1 && -n "$first" ]] || fail "want one short first retry before the session, got: $after"
((first >= 100 && first <= 500)) || fail "the first retry came after $first ms, want 100..500"
echo "$after" | grep -q "no collector reachable" && fail "a failed attempt before the session: $after"
echo "first retry after the collector was killed: $first ms, and the session was up on it"

# A collector that stays down: within the first minute after the loss no
# attempt waits longer than 2 s, although backoff_min is 5 s and the
# doubling would reach 10 and 20 s (the attempts are counted from the log,
# not timed).
sleep 2 # status events on the new session
mark=$(wc -l <"$T/agent.log")
kill -9 "$COLL_PID"
wait "$COLL_PID" 2>/dev/null || true
COLL_PID=""
for _ in $(seq 1 200); do
    (($(tail -n +"$((mark + 1))" "$T/agent.log" | grep -c "next attempt in" || true) >= 4)) && break
    sleep 0.1
done
waits=$(tail -n +"$((mark + 1))" "$T/agent.log" | sed -n 's/.*next attempt in \([0-9]*\) ms.*/\1/p')
(($(wc -l <<<"$waits") >= 4)) || fail "want 4 attempts while the collector is down, got: $waits"
for w in $waits; do
    ((w >= 1000 && w <= 2000)) || fail "a wait of $w ms in the first minute after the loss, want 1000..2000"
done
echo "waits while the collector stays down: $(tr '\n' ' ' <<<"$waits")ms"
coll_start "$T/fixed.yaml"
for _ in $(seq 1 100); do
    (($(sessions) >= 3)) && break
    sleep 0.1
done
(($(sessions) >= 3)) || fail "the agent did not come back after the collector stayed down"

sleep 1
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $? after SIGTERM"
# Every status event the agent wrote, stored once (its spool's last seq).
last=$(sed -n 's/.*resuming after seq \([0-9]*\).*/\1/p' "$T/agent.log" | tail -1)
got=$(q "SELECT count(*) || '|' || count(DISTINCT seq) || '|' || coalesce(max(seq), 0) FROM agent_status
         WHERE agent_key = (SELECT agent_key FROM agents WHERE agent_id = 'restart-agent')")
committed=$(q "SELECT committed_seq FROM agent_progress WHERE agent_id = 'restart-agent'")
((committed > last)) || fail "nothing committed after the restart (committed $committed, resumed after $last)"
[[ "$got" == "$committed|$committed|$committed" ]] || fail "agent_status rows (count|distinct|max) $got, committed $committed"
coll_stop
echo "coll_agent_restart: ok"
