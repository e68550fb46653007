#!/usr/bin/env bash
# Faults and tickets through collector restarts and reloads, against a real
# fieldmon-collector and PostgreSQL, with fm-faultgen playing the agent:
# - a water leak raised just before kill -9 and restart gets its ticket
#   when the group wait ends, counted from the original raise; the clear
#   sent after a second kill -9 and restart clears it;
# - comm_loss and unreachable of one camera are one ticket;
# - SIGHUP reloads (connections stay, the new rules apply); a bad rules
#   file or a bad configuration is refused and the old one keeps running.
source "$(dirname "$0")/coll_lib.sh"
: >>"$T/collector.log"

rules="$T/rules.yaml"
sed 's/^group_wait: 30s/group_wait: 2s/' "$FM_SOURCE_DIR/deploy/rules-default.yaml" >"$rules"
grep -q '^group_wait: 2s' "$rules" || fail "could not shorten group_wait in the test rules"

# A fixed port, so the restarted collector is where the agent left it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
coll_config "$T/c.yaml" "faults: {rules_file: \"$rules\", agent_lost_after: 1s, windows_reload: 200ms}" \
    "listen: {transport: plain, address: 127.0.0.1, port: $port}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"
coll_start "$T/c.yaml"
echo "$COLL_PID" >"$T/pid"
trap 'kill -9 "$(cat "$T/pid")" 2>/dev/null || true; jobs -p | xargs -r kill 2>/dev/null || true' EXIT

# The restart command fm-faultgen runs: kill -9, start again, wait until it
# listens (coll_start's wait, in a child shell that shares $T). The EXIT
# trap below stops whichever collector runs when the test ends.
cat >"$T/restart.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
export FM_PG_DIR="$FM_PG_DIR" FM_COLLECTOR="$FM_COLLECTOR" FM_SOURCE_DIR="$FM_SOURCE_DIR"
source "$(cd "$(dirname "$0")" && pwd)/coll_lib.sh"
kill -9 "\$(cat "$T/pid")" 2>/dev/null || true
while kill -0 "\$(cat "$T/pid")" 2>/dev/null; do sleep 0.05; done
echo "--- restart" >>"$T/collector.log"
coll_start "$T/c.yaml"
echo "\$COLL_PID" >"$T/pid"
trap - EXIT # the collector outlives this script; the test stops it
SH
chmod +x "$T/restart.sh"

fg() { "$FM_FAULTGEN" --port "$port" --group-wait-ms 2000 --lost-ms 1000 "$@" || fail "fm-faultgen $*"; }

# hup PATTERN: sends SIGHUP and waits until the log shows PATTERN after it;
# the lines the reload logged are in $HUP_LOG.
hup() {
    local mark
    mark=$(wc -l <"$T/collector.log")
    kill -HUP "$COLL_PID"
    for _ in $(seq 1 100); do
        HUP_LOG=$(tail -n +"$((mark + 1))" "$T/collector.log")
        grep -q "$1" <<<"$HUP_LOG" && return 0
        sleep 0.1
    done
    fail "SIGHUP: no '$1' in the log"
}
fg --restart-cmd "$T/restart.sh" restart
grep -q "faults: site fg-restart restored" "$T/collector.log" || fail "no restore logged"
fg comm

# Failover between two collectors on one database, an alarm in its group
# wait: one ticket from the original raise, opened and cleared at the
# collector the agent moved to.
sed -e 's/^collector_id: test-collector$/collector_id: test-collector-2/' \
    -e "s/port: $port}/port: 0}/" "$T/c.yaml" >"$T/c2.yaml"
pid_first=$COLL_PID
COLL_PID=""
coll_start "$T/c2.yaml"
pid2=$COLL_PID
"$FM_FAULTGEN" --port "$port" --port2 "$COLL_PORT" --group-wait-ms 2000 --lost-ms 1000 failover ||
    fail "fm-faultgen failover"
kill -TERM "$pid2"
wait "$pid2" || fail "the second collector exited with status $? on SIGTERM"
COLL_PID=$pid_first

# An agent connected when the collector is killed, and gone when it comes
# back: the restarted collector counts it lost and opens its site ticket.
"$FM_FAULTGEN" --port "$port" --site fg-orphan idle-agent 2>/dev/null &
orphan=$!
for _ in $(seq 1 100); do
    [[ "$(q "SELECT count(*) FROM agents WHERE site_id = 'fg-orphan' AND connected")" == 1 ]] && break
    sleep 0.1
done
kill -9 "$(cat "$T/pid")"
kill "$orphan" 2>/dev/null || true
wait "$orphan" 2>/dev/null || true
"$T/restart.sh"
COLL_PID=$(cat "$T/pid")
for _ in $(seq 1 100); do
    [[ "$(q "SELECT count(*) FROM tickets WHERE dedupe_key = 'site:fg-orphan'")" == 1 ]] && break
    sleep 0.1
done
[[ "$(q "SELECT count(*) || ':' || min(kind) || ':' || (SELECT count(*) FROM ticket_devices d
         JOIN tickets t USING (ticket_id) WHERE t.site_id = 'fg-orphan')
         FROM tickets WHERE site_id = 'fg-orphan'")" == "1:site:3" ]] ||
    fail "the agent gone during the restart: want one site ticket with its 3 devices, got $(q "SELECT string_agg(dedupe_key, ',') FROM tickets WHERE site_id = 'fg-orphan'")"
grep -q "agent fg-fg-orphan (site fg-orphan) was connected to this collector before it started" "$T/collector.log" ||
    fail "the orphaned agent is not logged"
echo "ok: an agent gone during a restart is declared lost: one site ticket"
COLL_MPORT=$(sed -n 's/.*metrics: http:\/\/.*:\([0-9]*\)\/metrics.*/\1/p' "$T/collector.log" | tail -1)

# SIGHUP: a connection open across it stays, and the new rules apply: the
# reloaded file makes a camera's tamper alarm (no rule: grade 3) a grade 1.
"$FM_FAULTGEN" --port "$port" --site fg-hup idle-agent 2>/dev/null &
sed 's/^rules:$/rules:\n  - name: tamper-emergency\n    codes: [tamper]\n    grade: 1/' "$rules" >"$T/rules2.yaml"
grep -q "tamper-emergency" "$T/rules2.yaml" || fail "could not write the second rules file"
for _ in $(seq 1 100); do [[ "$(metric conns_open)" == 1 ]] && break; sleep 0.1; done
conns0=$(metric conns_open)
[[ "$conns0" == 1 ]] || fail "the idle agent did not connect (conns_open $conns0)"
sed -i "s#$rules#$T/rules2.yaml#" "$T/c.yaml"
hup "collector: reloaded"
kill -0 "$COLL_PID" || fail "SIGHUP ended the collector"
[[ "$(metric conns_open)" == "$conns0" ]] || fail "SIGHUP dropped connections: $conns0 -> $(metric conns_open)"
fg --site fg-hup2 tamper1
# A bad rules file is refused with its line and key; the collector runs on.
printf 'rules:\n  - name: x\n    grade: 9\n' >"$T/bad-rules.yaml"
sed -i "s#$T/rules2.yaml#$T/bad-rules.yaml#" "$T/c.yaml"
hup "reload refused"
grep -q "reload refused: .*bad-rules.yaml:3: rules\[0\].grade" <<<"$HUP_LOG" ||
    fail "bad rules: no refusal naming the line and key"
# A configuration that does not parse is refused too.
echo "limits: {max_connections: many}" >>"$T/c.yaml"
hup "reload refused"
grep -q "reload refused: .*c.yaml:[0-9]*: limits.max_connections" <<<"$HUP_LOG" ||
    fail "bad config: no refusal naming the key"
kill -0 "$COLL_PID" || fail "a refused reload ended the collector"
# Still grading with the rules in force (tamper at grade 1).
fg --site fg-hup3 tamper1
kill %1 2>/dev/null || true
# The collector is not this shell's child after the restarts: stop it by pid.
kill -TERM "$COLL_PID"
for _ in $(seq 1 100); do kill -0 "$COLL_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$COLL_PID" 2>/dev/null && fail "the collector did not stop on SIGTERM"
grep -q "faults: stopped:" "$T/collector.log" || fail "no clean stop logged"
echo "coll_restart_faults: ok"
