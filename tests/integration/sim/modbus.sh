#!/usr/bin/env bash
# fieldmon-sim Modbus TCP devices, read by mbpoll: every type and byte order
# (raw words and decoded values), coils and discrete inputs, the register
# maps' values, a write that sticks, a read outside the map (exception 02),
# and drift of a behaviour. mbpoll numbers registers from 1 (address + 1);
# -t 0 coils, 1 discrete inputs, 3 input registers, 4 holding registers.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../lib/sim.sh"

sim_start "$here/../../sim/fleets/test.yaml"
orders=$(sim_port orders)
pm=$(sim_port pm-tcp)
leak=$(sim_port leak-tcp)
ahu=$(sim_port ahu)

# mb PORT UNIT ARGS...: mbpoll once, values only, joined by spaces.
mb() {
    local port=$1 unit=$2
    shift 2
    mbpoll -m tcp -p "$port" -a "$unit" -1 -o 1 "$@" 127.0.0.1 2>&1 |
        awk '/^\[/ { $1 = ""; sub(/^[ \t]+/, ""); out = out (out ? " " : "") $0 } /failed|error|Illegal/ { out = out (out ? " " : "") $0 } END { print out }'
}

check "float32 ABCD/CDAB/BADC/DCBA raw words" "$(mb $orders 7 -t 4:hex -r 1 -c 8)" \
    "0x47F1 0x2000 0x2000 0x47F1 0xF147 0x0020 0x0020 0xF147"
check "float32 ABCD decoded (mbpoll -B)" "$(mb $orders 7 -t 4:float -B -r 1 -c 1)" "123456"
check "float32 CDAB decoded (mbpoll default)" "$(mb $orders 7 -t 4:float -r 3 -c 1)" "123456"
check "int32 ABCD and CDAB" "$(mb $orders 7 -t 4:int -B -r 9 -c 1) $(mb $orders 7 -t 4:int -r 11 -c 1)" \
    "-123456 -123456"
check "uint32 BADC/DCBA raw words" "$(mb $orders 7 -t 3:hex -r 1 -c 4)" "0xD0B2 0x005E 0x005E 0xD0B2"
check "int16 negative" "$(mb $orders 7 -t 3 -r 5 -c 1)" "65331 (-205)"
check "coil and discrete input" "$(mb $orders 7 -t 0 -r 4 -c 1) $(mb $orders 7 -t 1 -r 10 -c 1)" "1 1"
check "power meter voltage float32 ABCD" "$(mb $pm 3 -t 3:float -B -r 1 -c 1)" "229.8"
check "power meter reactive power negative" "$(mb $pm 3 -t 3:float -B -r 25 -c 1)" "-955"
check "leak detector cable length float32 CDAB" "$(mb $leak 2 -t 3:float -r 8003 -c 1)" "150"
check "leak detector status block" "$(mb $leak 2 -t 3 -r 1 -c 9)" "0 0 0 0 1500 3750 3748 3500 301"
check "ahu temperatures (int16 x0.1, one negative)" "$(mb $ahu 1 -t 4 -r 1 -c 4)" \
    "162 248 65502 (-34) 121"
check "ahu discrete inputs" "$(mb $ahu 1 -t 1 -r 1 -c 6)" "1 0 1 0 0 0"

# A holding register written by a client keeps its value (set point 16.0 -> 18.5).
mbpoll -m tcp -p "$ahu" -a 1 -t 4 -r 21 -1 -o 1 127.0.0.1 185 >/dev/null 2>&1
check "write holding register sticks" "$(mb $ahu 1 -t 4 -r 21 -c 1)" "185"
check_match "read outside the map: exception 02" "$(mb $ahu 1 -t 4 -r 1000 -c 2)" \
    "Illegal data address"

# fan_run_hours drifts 240 h per simulated day; a day passes per second.
h1=$(mb $ahu 1 -t 4:int -B -r 41 -c 1)
sleep 1.5
h2=$(mb $ahu 1 -t 4:int -B -r 41 -c 1)
check_match "drift raises the run hours" "$((h2 - h1))" "^(2[0-9][0-9]|3[0-9][0-9])$"

# A second connection to the same device, and 50 registers in one read.
check "50 input registers in one read" "$(mbpoll -m tcp -p "$pm" -a 3 -1 -o 1 -t 3 -r 1 -c 50 \
    127.0.0.1 | grep -c '^\[')" "50"
sim_finish
