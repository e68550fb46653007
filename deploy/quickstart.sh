#!/usr/bin/env bash
# fieldmon's main job, whole, on a fresh Debian machine: installs the
# dependencies, builds, starts a throwaway PostgreSQL, the device simulator
# with a two-site fleet (tests/sim/fleets/demo.yaml: UPS units, cameras,
# environmental sensors, a DDC), a collector (TLS, fault grading, tickets,
# contract clocks from deploy/contract-default.yaml) and one agent per site;
# then injects faults through the simulator's control socket and shows the
# graded alarms and the tickets with their deadlines. Everything runs under
# one temporary directory and is stopped and removed on Ctrl-C or exit.
#
#   ./deploy/quickstart.sh                 run until Ctrl-C
#   ./deploy/quickstart.sh --duration 120  run 120 s, print the final tickets, exit 0
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=0
while (($#)); do
    case "$1" in
    --duration)
        duration="${2:?--duration needs seconds}"
        [[ "$duration" =~ ^[0-9]+$ ]] || { echo "quickstart: --duration takes whole seconds" >&2; exit 2; }
        shift 2
        ;;
    -h | --help)
        sed -n '2,13p' "$0"
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
    esac
done

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_ASAN=OFF -DFM_UBSAN=OFF -DFM_WERROR=OFF -DFM_FUZZ=OFF >/dev/null
if ! cmake --build build -j "$(nproc)" >build/quickstart-build.log 2>&1; then
    tail -30 build/quickstart-build.log >&2
    echo "quickstart: the build failed; the whole log is build/quickstart-build.log" >&2
    exit 1
fi
echo "quickstart: built into $root/build"
sim="$root/build/tests/sim/fieldmon-sim"
agent="$root/build/agent/fieldmon-agent"
collector="$root/build/collector/fieldmon-collector"
ctl="$root/build/ctl/fieldmonctl"

# shellcheck source=../tests/lib/pg.sh
source tests/lib/pg.sh
work=$(mktemp -d /tmp/fieldmon-quickstart.XXXXXX)
chmod 755 "$work"
pids=()
nap_pid=
cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$nap_pid" ]]; then kill "$nap_pid" 2>/dev/null || true; fi
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    fm_pg_stop
    rm -rf "$work"
    echo "quickstart: stopped and cleaned up"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
started=$(date +%s)
# nap SECONDS: a sleep that a signal interrupts at once (bash runs a trap
# only after a foreground command ends, so the sleep runs in the background).
nap() {
    sleep "$1" &
    nap_pid=$!
    wait "$nap_pid" || true
    nap_pid=
}
say() { printf 'quickstart [%4ds]: %s\n' "$(($(date +%s) - started))" "$*"; }

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
    local what="$1" secs="$2"
    shift 2
    for _ in $(seq 1 $((secs * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        nap 0.1
    done
    say "gave up waiting for $what; logs are in $work" >&2
    tail -5 "$work"/*.log >&2 || true
    exit 1
}

fm_pg_start "$work/pg" >/dev/null
say "PostgreSQL running (psql -h $PGHOST -U fieldmon fieldmon)"

# The simulator serves the fleet on free loopback ports and writes them down.
"$sim" tests/sim/fleets/demo.yaml --ports-file "$work/sim.ports" --control "$work/sim.sock" \
    >"$work/sim.log" 2>&1 &
pids+=($!)
wait_for "the simulator" 20 test -s "$work/sim.ports"
say "simulator: $(grep -cv '^bus ' "$work/sim.ports") devices at 2 sites (ports in $work/sim.ports)"
simctl() { "$sim" ctl --control "$work/sim.sock" "$@"; }

# Certificates: a throwaway CA, the collector, one agent per site.
./deploy/make-test-certs.sh "$work/certs" agent-hq agent-depot >/dev/null

# The contracts: the shipped default for HQ, and the same terms for the
# depot's owner, a customer of its own (its console account sees only the depot).
{
    cat deploy/contract-default.yaml
    sed -n '/^  - customer: default$/,$p' deploy/contract-default.yaml |
        sed 's/^  - customer: default$/  - customer: depot-logistics\n    sites: [depot]/'
} >"$work/contracts.yaml"

# The collector: TLS on a free port, the shipped rules and the contracts.
cat >"$work/collector.yaml" <<EOF
collector_id: quickstart
log_level: info
listen: {address: 127.0.0.1, port: 0, transport: tls, cert: $work/certs/collector.crt,
         key: $work/certs/collector.key, ca: $work/certs/ca.crt}
database: {dsn: "$FM_PG_DSN"}
metrics: {address: 127.0.0.1, port: 0}
faults: {rules_file: $root/deploy/rules-default.yaml}
sla: {contracts: $work/contracts.yaml, interval: 2s}
EOF
"$collector" -c "$work/collector.yaml" --migrate >/dev/null
# The contract's on-site deadline depends on each site's distance from the
# service base: the core site is 10 km away, the end office 80 km.
psql -Xq -v ON_ERROR_STOP=1 -c "INSERT INTO sites (site_id, name, distance_km) VALUES
    ('hq', 'HQ core room B1', 10), ('depot', 'Depot end office', 80)
    ON CONFLICT (site_id) DO UPDATE SET distance_km = EXCLUDED.distance_km"
"$collector" -c "$work/collector.yaml" >"$work/collector.log" 2>&1 &
pids+=($!)
wait_for "the collector" 20 grep -q "listen: agents on" "$work/collector.log"
cport=$(sed -n 's/.*listen: agents on .* port \([0-9]*\) .*/\1/p' "$work/collector.log" | head -1)
say "collector listening on 127.0.0.1:$cport (TLS, mutual authentication)"

# One agent per site, polling the simulated SNMP devices and the DDC (Modbus
# TCP) of its site every 5 s.
agent_config() { # SITE
    local site="$1"
    cat <<EOF
agent_id: agent-$site
site: $site
collectors: ["127.0.0.1:$cport"]
spool_dir: $work/spool-$site
log_level: notice
sender:
  transport: tls
  tls: {ca: $work/certs/ca.crt, cert: $work/certs/agent-$site.crt, key: $work/certs/agent-$site.key}
status: {interval: 10s, metrics_listen: ""}
devices:
EOF
    while read -r name proto addr port _unit dsite; do
        [[ "$dsite" == "$site" ]] || continue
        case "$proto:$name" in
        snmp:ups-*) cls=ups ;;
        snmp:cam-*) cls=camera ;;
        snmp:env-*) cls=env_sensor ;;
        modbus-tcp:ddc-*) cls=ddc ;;
        *) continue ;; # the RS-485 bus devices are left out of the demo
        esac
        cat <<EOF
  - name: $name
    class: $cls
    profile: $cls
    interval: 5s
    unreachable_after: 2
    tags: {room: $([[ $site == hq ]] && echo core || echo office)}
EOF
        if [[ "$proto" == snmp ]]; then
            echo "    snmp: {host: $addr, port: $port, timeout: 500ms, retries: 1}"
        else
            echo "    protocol: modbus_tcp"
            echo "    modbus: {host: $addr, port: $port, unit_id: 1, timeout: 500ms}"
        fi
    done <"$work/sim.ports"
    cat "$root/deploy/quickstart-profiles.yaml"
}
for site in hq depot; do
    agent_config "$site" >"$work/agent-$site.yaml"
    "$agent" -c "$work/agent-$site.yaml" >"$work/agent-$site.log" 2>&1 &
    pids+=($!)
done
q() { psql -XAtq -c "$1"; }
agents_up() { [[ $(q "SELECT count(*) FROM agents WHERE connected") == 2 ]]; }
ups_ticket() { [[ -n $(q "SELECT ticket_id FROM tickets WHERE site_id = 'depot' AND response_due IS NOT NULL") ]]; }
# The grade change as the contract clocks saw it (deadlines recomputed).
ups_grade2() { [[ $(q "SELECT count(*) FROM sla_grade_changes g JOIN tickets t USING (ticket_id)
                       WHERE t.site_id = 'depot' AND g.to_grade = 2") != 0 ]]; }
wait_for "both agents to connect" 30 agents_up
say "agents agent-hq and agent-depot connected; polling $(q "SELECT count(*) FROM devices WHERE name <> ''") devices"

# Faults, as they happen in machine rooms.
nap 5
say "fault: smoke detected in the HQ core room (env-hq-1)"
simctl set env-hq-1 1.3.6.1.2.1.99.1.1.1.4.5=1 >/dev/null
say "fault: the depot UPS goes on battery (ups-depot-1, site 80 km away)"
simctl data ups-depot-1 ups-onbattery >/dev/null
say "fault: camera cam-hq-1 stops answering"
simctl dead cam-hq-1 >/dev/null
say "fault: the AHU's filter is dirty (ddc-hq-ahu1 over Modbus; grade 4: recorded, no ticket)"
simctl set ddc-hq-ahu1 alarm_word=2 >/dev/null

show() {
    say "graded alarms:"
    "$ctl" alarms --since 10m --limit 20 || true
    say "tickets and their contract deadlines (fieldmonctl deadlines):"
    "$ctl" deadlines || true
}

# The depot UPS ticket opens after the rules' group wait (30 s); then the
# battery runs low, which raises it to grade 2: its deadlines move, still
# counted from the original opening.
wait_for "the UPS ticket" 90 ups_ticket
show
say "fault: the depot UPS battery runs low"
simctl set ups-depot-1 1.3.6.1.2.1.33.1.2.1.0=3 >/dev/null
wait_for "the grade change" 60 ups_grade2
say "the depot ticket is grade 2 now; its deadlines, recomputed from the original opening:"
"$ctl" deadlines || true
psql -Xqx -c "SELECT ticket_id, changed_at, from_grade, to_grade, before, after FROM sla_grade_changes"

# What to try, with the database the quickstart runs on.
try_this() {
    say "the database: FM_PG_DSN=\"$FM_PG_DSN\""
    cat <<EOF
  try, in another terminal:
    export FM_PG_DSN="$FM_PG_DSN" FM_ACTOR=\$USER
    $ctl tickets                    # open tickets, most severe first
    $ctl deadlines                  # their contract clocks
    $ctl show 1                     # one ticket's whole record
    $ctl ack 1 --note "called the site"
    $ctl sla                        # the SLA report
    $ctl trend env-hq-1 temperature # a point's values (raw, 5-minute or hourly by range)
    psql "\$FM_PG_DSN"              # the tables (docs/schema.md)
EOF
}

if ((duration > 0)); then
    left=$((duration - ($(date +%s) - started)))
    if ((left > 0)); then
        try_this
        say "running for ${left}s more (--duration $duration; Ctrl-C stops and cleans up)"
        nap "$left"
    fi
    say "final tickets:"
    "$ctl" tickets
    "$ctl" deadlines
    say "the HQ temperature in 5-minute rollups (fieldmonctl trend):"
    "$ctl" trend env-hq-1 temperature --resolution 5m || true
    exit 0
fi
try_this
say "running until Ctrl-C (which stops everything and cleans up)"
while true; do nap 3600; done
