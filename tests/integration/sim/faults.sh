#!/usr/bin/env bash
# fieldmon-sim faults through `fieldmon-sim ctl`, observed with net-snmp's
# snmpget and snmptrapd and with mbpoll: dead, slow, SNMP error status,
# tooBig and dropped big answers (seen by snmpget and snmpbulkwalk),
# Modbus exception, value overrides, flapping, whole site dead, switching a
# UPS to its on-battery data, and notifications (informs, acknowledged by
# snmptrapd) when a fault starts.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../lib/sim.sh"
data="$(cd "$here/../../sim/data" && pwd)"

# snmptrapd cannot report the port it bound: pick a free one, retry on a clash.
trapd_pid=""
stop_trapd() { [[ -n "$trapd_pid" ]] && kill "$trapd_pid" 2>/dev/null && wait "$trapd_pid" 2>/dev/null; }
trap 'stop_trapd; sim_cleanup' EXIT
printf 'disableAuthorization yes\n' >"$SIM_DIR/snmptrapd.conf"
for _ in 1 2 3 4 5; do
    tport=$(free_udp_port)
    /usr/sbin/snmptrapd -f -On -Lf "$SIM_DIR/traps.log" -C -c "$SIM_DIR/snmptrapd.conf" \
        "udp:127.0.0.1:$tport" >/dev/null 2>&1 &
    trapd_pid=$!
    sleep 0.5
    kill -0 "$trapd_pid" 2>/dev/null && break
done

{
    printf 'traps:\n  receiver: 127.0.0.1:%s\n  inform: true\n  timeout: 500ms\n' "$tport"
    sed "s|\.\./data/|$data/|" "$here/../../sim/fleets/test.yaml"
} >"$SIM_DIR/fleet.yaml"
sim_start "$SIM_DIR/fleet.yaml"
ups=$(sim_port ups-1)
env=$(sim_port env-1)
pm=$(sim_port pm-tcp)
ahu=$(sim_port ahu)
G="snmpget -v2c -c public -Oqv -t 0.5 -r 0"
mb() {
    local port=$1 unit=$2
    shift 2
    mbpoll -m tcp -p "$port" -a "$unit" -1 "$@" 127.0.0.1 2>&1 |
        awk '/^\[/ { $1 = ""; sub(/^[ \t]+/, ""); out = out (out ? " " : "") $0 } /failed|timed out|Illegal|failure/ { out = out (out ? " " : "") $0 } END { print out }'
}
OUTSRC=1.3.6.1.2.1.33.1.4.1.0

# Dead: no answer; clear: answers again.
sim_ctl dead ups-1 >/dev/null
check_match "snmp dead" "$($G 127.0.0.1:$ups $OUTSRC 2>&1)" "^Timeout"
check "other device unaffected" "$($G 127.0.0.1:$(sim_port ups-2) $OUTSRC)" "3"
check_match "status shows dead" "$(sim_ctl status ups-1)" "state dead"
sim_ctl clear ups-1 >/dev/null
check "snmp cleared" "$($G 127.0.0.1:$ups $OUTSRC)" "3"

# Slow: a 0.5 s client gives up on a 1.2 s delay; a 3 s one gets the answer.
sim_ctl slow ups-1 1200 >/dev/null
check_match "snmp slow: short timeout" "$($G 127.0.0.1:$ups $OUTSRC 2>&1)" "^Timeout"
start=$(date +%s%N)
check "snmp slow: long timeout" "$(snmpget -v2c -c public -Oqv -t 3 -r 0 127.0.0.1:$ups $OUTSRC)" "3"
check_match "snmp slow: took the delay" "$((($(date +%s%N) - start) / 1000000))" "^(1[2-9][0-9][0-9]|2[0-9][0-9][0-9])$"
sim_ctl clear ups-1 >/dev/null

# SNMP error status.
sim_ctl error ups-1 5 >/dev/null
check_match "snmp genErr" "$($G 127.0.0.1:$ups $OUTSRC 2>&1)" "genErr"
sim_ctl error ups-1 13 1 >/dev/null
check_match "snmp resourceUnavailable" "$($G 127.0.0.1:$ups $OUTSRC 2>&1)" "resourceUnavailable"
sim_ctl clear ups-1 >/dev/null

# tooBig: a response over the limit is refused with tooBig, GETBULK included
# (not cut short, as snmpd would); a small enough request is answered.
D=1.3.6.1.2.1.1.1.0 # sysDescr.0, a 58-byte string
rows=$(snmpwalk -v2c -c public -t 0.5 -r 0 -On 127.0.0.1:$(sim_port ups-2) 1.3.6.1.2.1.33 | wc -l)
check_match "UPS-MIB has rows to walk" "$rows" "^[1-9][0-9]+$"
sim_ctl toobig ups-1 300 >/dev/null
check_match "toobig: GET of six strings" "$($G 127.0.0.1:$ups $D $D $D $D $D $D 2>&1)" "tooBig"
check_match "toobig: GET of one" "$($G 127.0.0.1:$ups $D)" "UPS SNMP agent"
check_match "toobig: GETBULK of 25 rows" \
    "$(snmpbulkget -v2c -c public -Cr25 -t 0.5 -r 0 127.0.0.1:$ups 1.3.6.1.2.1.33 2>&1)" "tooBig"
check "toobig: bulk walk with 3 rows per request gets every row" \
    "$(snmpbulkwalk -v2c -c public -Cr3 -t 0.5 -r 0 -On 127.0.0.1:$ups 1.3.6.1.2.1.33 | wc -l)" \
    "$rows"
check_match "status shows toobig" "$(sim_ctl status ups-1)" "state toobig=300"
sim_ctl clear ups-1 >/dev/null
check_match "toobig cleared" "$($G 127.0.0.1:$ups $D $D $D $D $D $D 2>&1)" "^\"UPS SNMP"

# drop-big: a response over the limit is never sent; small ones are.
sim_ctl drop-big ups-1 300 >/dev/null
check_match "drop-big: GETBULK of 25 rows times out" \
    "$(snmpbulkget -v2c -c public -Cr25 -t 0.5 -r 0 127.0.0.1:$ups 1.3.6.1.2.1.33 2>&1)" "^Timeout"
check_match "drop-big: GET of one" "$($G 127.0.0.1:$ups $D)" "UPS SNMP agent"
check "drop-big: bulk walk with 3 rows per request gets every row" \
    "$(snmpbulkwalk -v2c -c public -Cr3 -t 0.5 -r 0 -On 127.0.0.1:$ups 1.3.6.1.2.1.33 | wc -l)" \
    "$rows"
check_match "status shows drop-big" "$(sim_ctl status ups-1)" "state drop-big=300"
check_match "toobig/drop-big refuse a tiny size" "$(sim_ctl toobig ups-1 50 2>&1)" "usage: toobig"
sim_ctl clear ups-1 >/dev/null

# Overrides: UPS on battery, temperature high; with a notification.
sim_ctl set ups-1 "$OUTSRC=5" trap=1.3.6.1.2.1.33.2.1 >/dev/null
check "override upsOutputSource" "$($G 127.0.0.1:$ups $OUTSRC)" "5"
sim_ctl set env-1 1.3.6.1.2.1.99.1.1.1.4.2=450 >/dev/null
check "override temperature high" "$($G 127.0.0.1:$env 1.3.6.1.2.1.99.1.1.1.4.2)" "450"
sim_ctl clear env-1 >/dev/null
v=$($G 127.0.0.1:$env 1.3.6.1.2.1.99.1.1.1.4.2)
check_match "cleared: the sine is back (230 +- 50)" "$v" "^(1[89][0-9]|2[0-8][0-9])$"

# Flapping: the override comes and goes every second.
sim_ctl clear ups-1 >/dev/null
sim_ctl flap ups-1 1 "$OUTSRC=5" >/dev/null
seen=""
for _ in $(seq 1 12); do
    seen+=" $($G 127.0.0.1:$ups $OUTSRC)"
    sleep 0.25
done
check_match "flap shows 5" "$seen" " 5"
check_match "flap shows 3" "$seen" " 3"
sim_ctl flap ups-1 1 dead >/dev/null
seen=""
for _ in $(seq 1 12); do
    seen+=" $($G -t 0.2 127.0.0.1:$ups $OUTSRC 2>&1 | head -c 3)"
done
check_match "flap dead: answers and silence" "$seen" "3.*Tim|Tim.*3"
sim_ctl clear ups-1 >/dev/null

# Whole site dead: every device of site north is silent, site south is not.
sim_ctl site-dead north >/dev/null
check_match "site dead: ups-2" "$($G 127.0.0.1:$(sim_port ups-2) $OUTSRC 2>&1)" "^Timeout"
check_match "site dead: modbus ahu" "$(mb $ahu 1 -o 0.5 -t 4 -r 1 -c 1)" "timed out"
check "site dead: other site answers" "$($G 127.0.0.1:$env 1.3.6.1.2.1.1.5.0)" '"ENV-B1-01"'
sim_ctl site-alive north >/dev/null
check "site alive again" "$($G 127.0.0.1:$(sim_port ups-2) $OUTSRC)" "3"

# Modbus: dead, slow, exception, override.
sim_ctl dead pm-tcp >/dev/null
check_match "modbus dead" "$(mb $pm 3 -o 0.5 -t 3 -r 1 -c 2)" "timed out"
sim_ctl clear pm-tcp >/dev/null
sim_ctl slow pm-tcp 1000 >/dev/null
check_match "modbus slow: short timeout" "$(mb $pm 3 -o 0.3 -t 3 -r 1 -c 2)" "timed out"
check "modbus slow: long timeout" "$(mb $pm 3 -o 3 -t 3:float -B -r 1 -c 1)" "229.8"
sim_ctl clear pm-tcp >/dev/null
sim_ctl exception pm-tcp 4 >/dev/null
check_match "modbus exception 04" "$(mb $pm 3 -o 1 -t 3 -r 1 -c 2)" "failure"
sim_ctl exception pm-tcp 6 >/dev/null
check_match "modbus exception 06" "$(mb $pm 3 -o 1 -t 3 -r 1 -c 2)" "busy"
sim_ctl clear pm-tcp >/dev/null
sim_ctl set pm-tcp voltage=180.5 >/dev/null
check "modbus override float32" "$(mb $pm 3 -o 1 -t 3:float -B -r 1 -c 1)" "180.5"
check "ctl get" "$(sim_ctl get pm-tcp voltage)" "180.5"
sim_ctl clear pm-tcp >/dev/null
check "modbus cleared" "$(mb $pm 3 -o 1 -t 3:float -B -r 1 -c 1)" "229.8"

# UPS on battery: the device serves its on-battery data and sends upsTrapOnBattery.
sim_ctl data ups-1 ups-onbattery >/dev/null
check "on battery: upsOutputSource" "$($G 127.0.0.1:$ups $OUTSRC)" "5"
check "on battery: alarm row" "$($G -On 127.0.0.1:$ups 1.3.6.1.2.1.33.1.6.2.1.2.1)" ".1.3.6.1.2.1.33.1.6.3.2"
sim_ctl trap ups-2 1.3.6.1.6.3.1.1.5.1 >/dev/null
for _ in $(seq 1 30); do
    grep -q "1.3.6.1.6.3.1.1.5.1" "$SIM_DIR/traps.log" 2>/dev/null && break
    sleep 0.1
done
log=$(tr '\n' ' ' <"$SIM_DIR/traps.log")
check_match "trap from set: OnBattery with upsOutputSource" "$log" \
    "\.1\.3\.6\.1\.6\.3\.1\.1\.4\.1\.0 = OID: \.1\.3\.6\.1\.2\.1\.33\.2\.1.*\.1\.3\.6\.1\.2\.1\.33\.1\.4\.1\.0 = INTEGER: 5"
check_match "trap from data: minutes, seconds on battery, low-batt time" "$log" \
    "33\.1\.2\.3\.0 = INTEGER: 38.*33\.1\.2\.2\.0 = INTEGER: 180.*33\.1\.9\.7\.0 = INTEGER: 5"
check_match "explicit trap: coldStart" "$log" "OID: \.1\.3\.6\.1\.6\.3\.1\.1\.5\.1"
check_match "trap source is the device" "$log" "UDP: \[127\.0\.0\.1\]:$ups->"
sleep 0.3
check_match "informs acknowledged by snmptrapd" "$(grep -c 'acknowledged' "$SIM_DIR/sim.log")" "^[3-9]$"
sim_ctl clear ups-1 >/dev/null
check "back on mains" "$($G 127.0.0.1:$ups $OUTSRC)" "3"
sim_finish
