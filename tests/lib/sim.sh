#!/usr/bin/env bash
# sim.sh: helpers for tests that run fieldmon-sim (source it).
#   sim_start FLEET [ARGS...]  starts the simulator with a ports file and a
#                              control socket in $SIM_DIR; waits until serving
#   sim_port NAME              port (or, for RTU, pty path) of a device
#   sim_ctl ARGS...            fieldmon-sim ctl against this simulator
#   check NAME GOT WANT        one assertion; counts failures
#   sim_finish                 prints the result; exit status for the test
# The simulator is stopped (by its PID) on exit. Needs FM_SIM (the binary).
set -uo pipefail

SIM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fm-sim-test.XXXXXX")
SIM_PID=""
SIM_FAILS=0
SIM_CHECKS=0

sim_cleanup() {
    if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
    fi
    if [[ "$SIM_FAILS" != 0 && -f "$SIM_DIR/sim.log" ]]; then
        echo "--- simulator log" >&2
        tail -30 "$SIM_DIR/sim.log" >&2
    fi
    rm -rf "$SIM_DIR"
}
trap sim_cleanup EXIT
trap 'exit 130' INT TERM

sim_start() {
    local fleet=$1
    shift
    rm -f "$SIM_DIR/ports"
    "$FM_SIM" "$fleet" --ports-file "$SIM_DIR/ports" --control "$SIM_DIR/ctl" \
        --log-level info "$@" >"$SIM_DIR/sim.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 1 100); do
        [[ -f "$SIM_DIR/ports" ]] && return 0
        kill -0 "$SIM_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "fieldmon-sim did not start:" >&2
    cat "$SIM_DIR/sim.log" >&2
    exit 1
}

sim_port() {
    awk -v n="$1" '$1 == n { print ($2 == "modbus-rtu" ? $3 : $4) }' "$SIM_DIR/ports"
}

sim_ctl() {
    "$FM_SIM" ctl --control "$SIM_DIR/ctl" "$@"
}

check() {
    local name=$1 got=$2 want=$3
    SIM_CHECKS=$((SIM_CHECKS + 1))
    if [[ "$got" == "$want" ]]; then
        echo "ok   $name"
    else
        echo "FAIL $name: got [$got], want [$want]"
        SIM_FAILS=$((SIM_FAILS + 1))
    fi
}

# check_match NAME GOT REGEX
check_match() {
    local name=$1 got=$2 re=$3
    SIM_CHECKS=$((SIM_CHECKS + 1))
    if [[ "$got" =~ $re ]]; then
        echo "ok   $name"
    else
        echo "FAIL $name: got [$got], want match of [$re]"
        SIM_FAILS=$((SIM_FAILS + 1))
    fi
}

sim_finish() {
    echo "$SIM_CHECKS checks, $SIM_FAILS failed"
    [[ "$SIM_FAILS" == 0 ]]
}

# A free UDP port on 127.0.0.1, for peers that cannot report the port they
# bound (snmptrapd). The port is released before use: a small race, retried
# by the callers that need it.
free_udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
