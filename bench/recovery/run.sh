#!/usr/bin/env bash
# bench/recovery: how soon fieldmon works again after the faults an operator
# meets first, with default settings (only the DSN, addresses and spool are
# configured):
#
#  1. PostgreSQL killed for DOWN_S (15) s while fm-loadgen streams (3 agents,
#     2,000 events/s) into fieldmon-collector, then started again.
#     pg_recovery_s: from `pg_ctl start` returning (PostgreSQL accepts
#     connections) to the last "connected again" of a DB writer in the
#     collector's log. pg_attempts: reconnect attempts the writers made
#     while PostgreSQL was down (fieldmon_collector_db_reconnects).
#  2. A fieldmon-agent (default sender settings, plain TCP) streaming its
#     status; the collector killed (SIGKILL) and started again at once on
#     the same port, ROUNDS (5) times. agent_back_max_s: the worst round,
#     from the new collector's "listen" line to the agent's "session up"
#     line (both logs stamp the same clock). agent_back_after_3s_max_s:
#     the same, three rounds with the collector down 3 s before it starts.
#  3. once_s: `fieldmon-agent --once` with three SNMP devices (default
#     interval and poll_spread) on a local net-snmp snmpd.
#
#   bench/recovery/run.sh
#
# Builds with cmake into $FM_BUILD_DIR (default build-bench, Release).
# About two minutes. Last line:
#   pg_recovery_s=N pg_attempts=N agent_back_max_s=N agent_back_after_3s_max_s=N once_s=N
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${FM_BUILD_DIR:-build-bench}"
down_s="${DOWN_S:-15}"
rounds="${ROUNDS:-5}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFM_TESTS=OFF >/dev/null
cmake --build "$build" -j 2 --target fieldmon-collector fieldmon-agent fm-loadgen >/dev/null
collector="$build/collector/fieldmon-collector"
agent="$build/agent/fieldmon-agent"

# shellcheck source=../../tests/lib/pg.sh
source tests/lib/pg.sh
fm_pg_start >/dev/null
trap fm_pg_stop EXIT
# The integration tests' helpers: coll_config, coll_start (COLL_PID,
# COLL_PORT, COLL_MPORT; the log in $T/collector.log), metric, fail.
export FM_COLLECTOR="$collector" FM_SOURCE_DIR="$PWD"
# shellcheck source=../../tests/integration/coll_lib.sh
source tests/integration/coll_lib.sh
pids=()
trap 'for p in "${pids[@]}" $COLL_PID; do kill -9 "$p" 2>/dev/null || true; done; fm_pg_stop' EXIT
dir="$T"
secs() { date -d "$1" +%s.%N; } # a log line's stamp, in Unix seconds

# Default settings: only the DSN (coll_config adds test settings otherwise).
coll_config "$dir/c.yaml" "database: {dsn: \"$FM_PG_DSN\"}"
"$collector" -c "$dir/c.yaml" --migrate >/dev/null

# 1. PostgreSQL away and back.
coll_start "$dir/c.yaml"
"$build/bench/fm-loadgen" --connect "127.0.0.1:$COLL_PORT" --agent rec --agents 3 --events 1000000 \
    --batch 100 --rate 2000 --timeout $((down_s + 60)) >"$dir/lg.out" 2>&1 &
lg=$!
pids+=("$lg")
sleep 3
fm_pg_kill
sleep "$down_s"
pg_attempts=$(metric db_reconnects)
mark=$(wc -l <"$dir/collector.log")
fm_pg_restart_server
back=$(date +%s.%N)
lost=$(grep -c "connection lost" "$dir/collector.log" || true)
last=""
for _ in $(seq 1 1200); do
    again=$(tail -n +"$((mark + 1))" "$dir/collector.log" | grep "connected again" || true)
    if [[ -n "$again" ]] && (($(echo "$again" | wc -l) >= lost)); then
        last=$(echo "$again" | tail -1 | cut -d' ' -f1)
        break
    fi
    sleep 0.05
done
[[ -n "$last" ]] || fail "the writers did not all reconnect within 60 s"
pg_recovery_s=$(printf '%.2f' "$(echo "$(secs "$last") - $back" | bc)")
echo "PostgreSQL down ${down_s} s: $pg_attempts reconnect attempts; $lost writers lost their connection; the last connected again ${pg_recovery_s} s after PostgreSQL was back"
kill "$lg" 2>/dev/null || true
coll_stop

# 2. The collector killed and started again under a streaming agent.
port=$COLL_PORT
coll_config "$dir/fixed.yaml" "database: {dsn: \"$FM_PG_DSN\"}" \
    "listen: {transport: plain, address: 127.0.0.1, port: $port}"
coll_start "$dir/fixed.yaml"
cat >"$dir/agent.yaml" <<YAML
agent_id: rec-agent
site: lab
collectors: ["127.0.0.1:$port"]
spool_dir: $dir/spool
sender: {transport: plain}
status: {interval: 1s, metrics_listen: ""}
devices: []
YAML
"$agent" -c "$dir/agent.yaml" -l info >"$dir/agent.log" 2>&1 &
pids+=("$!")
sleep 2
# restarts GAP_S ROUNDS: prints each round, sets worst (seconds).
restarts() {
    local gap=$1 n s up listened cmark
    worst=0
    for r in $(seq 1 "$2"); do
    n=$(grep -c "session up" "$dir/agent.log" || true)
    kill -9 "$COLL_PID"
    wait "$COLL_PID" 2>/dev/null || true
    sleep "$gap"
    cmark=$(wc -l <"$dir/collector.log")
    coll_start "$dir/fixed.yaml"
    listened=$(tail -n +"$((cmark + 1))" "$dir/collector.log" | grep "listen: agents on" | tail -1 | cut -d' ' -f1)
    up=""
    for _ in $(seq 1 1200); do
        if (($(grep -c "session up" "$dir/agent.log" || true) > n)); then
            up=$(grep "session up" "$dir/agent.log" | tail -1 | cut -d' ' -f1)
            break
        fi
        sleep 0.05
    done
    [[ -n "$up" ]] || fail "round $r: the agent did not come back within 60 s"
    s=$(printf '%.2f' "$(echo "$(secs "$up") - $(secs "$listened")" | bc)")
    echo "collector down ${gap} s, round $r: agent back ${s} s after the new collector listened"
    if (($(echo "$s > $worst" | bc))); then worst=$s; fi
    sleep 1
    done
}
restarts 0 "$rounds"
back_now=$worst
restarts 3 3
back_3s=$worst

# 3. --once with three SNMP devices.
snmp_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "rocommunity fmtest 127.0.0.1" >"$dir/snmpd.conf"
MIBS="" snmpd -f -Lf "$dir/snmpd.log" -C -c "$dir/snmpd.conf" -p "$dir/snmpd.pid" \
    "udp:127.0.0.1:$snmp_port" &
pids+=("$!")
for _ in $(seq 1 50); do
    MIBS="" snmpget -v2c -c fmtest -t 0.3 -r 0 "127.0.0.1:$snmp_port" 1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && break
    sleep 0.2
done
{
    echo "agent_id: once"
    echo "site: lab"
    echo "devices:"
    for i in 1 2 3; do
        echo "  - {name: dev$i, profile: p, snmp: {host: 127.0.0.1, port: $snmp_port, community: fmtest}}"
    done
    echo "profiles:"
    echo "  - name: p"
    echo "    points:"
    echo "      - {name: uptime, oid: 1.3.6.1.2.1.1.3.0}"
} >"$dir/once.yaml"
t0=$(date +%s.%N)
"$agent" -c "$dir/once.yaml" --once >"$dir/once.out" 2>"$dir/once.err"
once_s=$(printf '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)")
echo "--once with three SNMP devices: ${once_s} s ($(wc -l <"$dir/once.out") events)"

echo "pg_recovery_s=$pg_recovery_s pg_attempts=$pg_attempts agent_back_max_s=$back_now agent_back_after_3s_max_s=$back_3s once_s=$once_s"
