#!/usr/bin/env bash
# fieldmon-sim Modbus RTU: mbpoll opens the bus's pseudo-terminal as a serial
# port and reads two unit ids on the one bus (T/H transmitter unit 1, power
# meter unit 3); an absent unit id gets no answer; faults apply per unit.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../lib/sim.sh"

sim_start "$here/../../sim/fleets/test.yaml"
pty=$(awk '$1 == "bus" && $2 == "bus-a" { print $3 }' "$SIM_DIR/ports")
check_match "bus pty published" "$pty" "^/dev/pts/[0-9]+$"
check "unit 1 on the bus" "$(sim_port th-1)" "$pty"

# rtu_read TIMEOUT UNIT MBPOLL-ARGS...: one mbpoll request, output condensed.
# Input left on the line by a reply that came after mbpoll gave up would be
# read as the answer to the next request ("Response not from requested
# slave"): drop it first, as an RTU master flushes before it asks.
rtu_read() {
    local timeout=$1 unit=$2
    shift 2
    python3 -c 'import os, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
termios.tcflush(fd, termios.TCIFLUSH)
os.close(fd)' "$pty"
    mbpoll -m rtu -b 9600 -P none -a "$unit" -1 -o "$timeout" "$@" "$pty" 2>&1 |
        awk '/^\[/ { $1 = ""; sub(/^[ \t]+/, ""); out = out (out ? " " : "") $0 } /failed|timed out|Illegal/ { out = out (out ? " " : "") $0 } END { print out }'
}

# rtu UNIT ARGS...: a read that should be answered. On a loaded machine the
# simulator can miss mbpoll's deadline, so the timeout is generous and one
# retry is allowed, as an RTU master would; a unit that never answers still
# fails. Reads that must time out use rtu_silent with a short timeout.
rtu() {
    local out
    out=$(rtu_read 2 "$@")
    if [[ "$out" == *failed* || "$out" == *"timed out"* ]]; then
        out=$(rtu_read 2 "$@")
    fi
    echo "$out"
}
rtu_silent() {
    rtu_read 0.5 "$@"
}

check "unit 1 temperature and humidity (FC04)" "$(rtu 1 -t 3 -r 2 -c 2)" "236 485"
check "unit 1 correction registers (FC03)" "$(rtu 1 -t 4 -r 258 -c 4)" "1 0 65531 (-5) 12"
check "unit 3 voltage float32 ABCD" "$(rtu 3 -t 3:float -B -r 1 -c 1)" "229.8"
check "unit 3 energy float32 ABCD" "$(rtu 3 -t 3:float -B -r 73 -c 1)" "48213.5"
check "unit 1 again after unit 3" "$(rtu 1 -t 3 -r 2 -c 1)" "236"
check_match "absent unit 9 times out" "$(rtu_silent 9 -t 3 -r 1 -c 1)" "timed out"
check_match "unit 5 (absent) does not disturb the next read" "$(rtu_silent 5 -t 3 -r 1 -c 1) $(rtu 1 -t 3 -r 3 -c 1)" \
    "timed out 485$"

sim_ctl dead th-1 >/dev/null
check_match "dead unit 1 times out" "$(rtu_silent 1 -t 3 -r 2 -c 1)" "timed out"
check "unit 3 still answers" "$(rtu 3 -t 3:float -B -r 71 -c 1)" "50.01"
sim_ctl clear th-1 >/dev/null
sim_ctl exception pm-1 2 >/dev/null
check_match "unit 3 exception 02" "$(rtu 3 -t 3 -r 1 -c 2)" "Illegal data address"
sim_ctl set th-1 temperature=-20.5 >/dev/null
check "unit 1 override (int16 x0.1)" "$(rtu 1 -t 3 -r 2 -c 1)" "65331 (-205)"
sim_ctl clear-all >/dev/null
check "unit 1 cleared" "$(rtu 1 -t 3 -r 2 -c 1)" "236"
sim_finish
