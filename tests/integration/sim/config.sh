#!/usr/bin/env bash
# fieldmon-sim bad input: broken fleet files, snmprec lines and register maps
# are refused with the file, the line (or key path) and exit status 1; the
# control socket refuses bad commands; malformed datagrams and MBAP headers
# do not hurt the simulator.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../lib/sim.sh"
data="$(cd "$here/../../sim/data" && pwd)"
d="$SIM_DIR"

# expect_error NAME FLEET-TEXT REGEX: `fieldmon-sim -t` fails with a matching message.
expect_error() {
    local name=$1 text=$2 re=$3 out rc
    printf '%s\n' "$text" >"$d/fleet.yaml"
    out=$("$FM_SIM" -t "$d/fleet.yaml" 2>&1)
    rc=$?
    check "$name: exit status" "$rc" "1"
    check_match "$name: message" "$out" "$re"
}

snmp_tmpl="snmp_templates:
  - name: ups
    file: $data/snmp/ups-normal.snmprec"

expect_error "unknown key" "$snmp_tmpl
devices:
  - name: a
    protocol: snmp
    template: ups
    colour: red" "fleet.yaml:8: devices\[0\]\.colour: unknown key"
expect_error "unknown template" "$snmp_tmpl
devices:
  - name: a
    protocol: snmp
    template: nope" "fleet.yaml:7: devices\[0\]\.template: no snmp_templates entry named 'nope'"
expect_error "duplicate device" "$snmp_tmpl
devices:
  - {name: a, protocol: snmp, template: ups}
  - {name: a, protocol: snmp, template: ups}" "fleet.yaml:6: devices\[1\]\.name: 'a' is already used"
expect_error "bad protocol" "$snmp_tmpl
devices:
  - {name: a, protocol: bacnet, template: ups}" "fleet.yaml:5: devices\[0\]\.protocol"
expect_error "point without a record" "$snmp_tmpl
devices:
  - name: a
    protocol: snmp
    template: ups
    points:
      - point: 1.3.6.1.9.9.9
        behaviour: walk" "fleet.yaml:9: devices\[0\]\.points\[0\]: point: a has no value at 1.3.6.1.9.9.9"
expect_error "walk without bounds" "$snmp_tmpl
devices:
  - name: a
    protocol: snmp
    template: ups
    points:
      - point: 1.3.6.1.2.1.33.1.2.7.0
        behaviour: walk" "fleet.yaml:9: devices\[0\]\.points\[0\]: walk needs max above min"
expect_error "behaviour on a string" "$snmp_tmpl
devices:
  - name: a
    protocol: snmp
    template: ups
    points:
      - {point: 1.3.6.1.2.1.1.1.0, behaviour: sine}" "devices\[0\]\.points\[0\]: point: 1.3.6.1.2.1.1.1.0 does not hold a number"
expect_error "rtu without bus" "modbus_templates:
  - {name: th, file: $data/modbus/th-transmitter-xymd02.json}
devices:
  - {name: a, protocol: modbus-rtu, template: th}" "devices\[0\]\.bus: required for modbus-rtu"
expect_error "two units with one id" "modbus_templates:
  - {name: th, file: $data/modbus/th-transmitter-xymd02.json}
rtu_buses:
  - name: b
devices:
  - {name: a, protocol: modbus-rtu, template: th, bus: b}
  - {name: c, protocol: modbus-rtu, template: th, bus: b}" "devices\[1\]\.unit_id: unit 1 is already on bus b"
expect_error "missing data file" "snmp_templates:
  - {name: ups, file: nowhere.snmprec}
devices:
  - {name: a, protocol: snmp, template: ups}" "fleet.yaml:2: snmp_templates\[0\]\.file: .*nowhere.snmprec: No such file"
expect_error "bad trap receiver" "traps:
  receiver: localhost
$snmp_tmpl
devices:
  - {name: a, protocol: snmp, template: ups}" "fleet.yaml:2: traps.receiver: 'localhost' is not host:port"

# snmprec lines: each broken line names its file and line.
for c in "1.3.6.1.2.1.1.5.0|4|ok
1.3.6.1.2.1.1.6.0|2|notanumber:2:'notanumber' is not an Integer32" \
         "1.3.6.1.2.1.1.5.0|4|ok
1.3.6.1.2.1.1.7.0:2:expected OID|tag|value" \
         "1.3.6.1.2.1.1.5.0|99|x:1:unknown tag '99'" \
         "1.3.6.1.2.1.1.5.0|4|a
1.3.6.1.2.1.1.5.0|4|b:2:OID already defined at line 1" \
         "1.3.6.1.2.1.1.5.0|4x|abc:1:odd number of digits" \
         "1.3.6.1.2.1.1.3.0|67|-5:1:not in 0..4294967295" \
         "1.3.6.1.2.1.1.x|4|a:1:is not an OID"; do
    body=${c%:*:*}
    rest=${c#"$body":}
    line=${rest%%:*}
    msg=${rest#*:}
    printf '%s\n' "$body" >"$d/bad.snmprec"
    printf 'snmp_templates:\n  - {name: x, file: bad.snmprec}\ndevices:\n  - {name: a, protocol: snmp, template: x}\n' \
        >"$d/fleet.yaml"
    out=$("$FM_SIM" -t "$d/fleet.yaml" 2>&1)
    check "snmprec '$msg': exit status" "$?" "1"
    check_match "snmprec '$msg': file and line" "$out" "bad.snmprec:$line: .*$msg"
done

# Register maps: JSON syntax (line) and a bad point (key path).
printf '{\n  "schema": "modbus-regmap/1",\n  "unit_id": 1,\n  "points": [\n    {"name": "x",}\n  ]\n}\n' >"$d/bad.json"
printf 'modbus_templates:\n  - {name: x, file: bad.json}\ndevices:\n  - {name: a, protocol: modbus-tcp, template: x}\n' >"$d/fleet.yaml"
out=$("$FM_SIM" -t "$d/fleet.yaml" 2>&1)
check_match "regmap JSON syntax: file and line" "$out" "bad.json:5: "
printf '{"schema": "modbus-regmap/1", "unit_id": 1, "points": [{"name": "x", "function": 3, "address": 0, "type": "float32", "byte_order": "ABDC", "raw": [0, 0]}]}\n' >"$d/bad.json"
out=$("$FM_SIM" -t "$d/fleet.yaml" 2>&1)
check_match "regmap bad byte order" "$out" "bad.json: points\[0\]\.byte_order: must be ABCD, CDAB, BADC or DCBA"
check "regmap: exit status" "$("$FM_SIM" -t "$d/fleet.yaml" >/dev/null 2>&1; echo $?)" "1"

# A running simulator: bad commands are refused, garbage does not hurt it.
sim_start "$here/../../sim/fleets/test.yaml"
check_match "ctl unknown device" "$(sim_ctl dead nosuch 2>&1; echo " rc=$?")" "no device 'nosuch'.*rc=1"
check_match "ctl bad value" "$(sim_ctl set ups-1 1.3.6.1.2.1.33.1.4.1.0=high 2>&1)" "is not an Integer32"
check_match "ctl exception on SNMP device" "$(sim_ctl exception ups-1 2 2>&1)" "applies to Modbus"
check_match "ctl unknown command" "$(sim_ctl frobnicate 2>&1)" "unknown command"
check_match "ctl without simulator" "$("$FM_SIM" ctl --control "$d/none" list 2>&1; echo " rc=$?")" \
    "connect .*none.*rc=2"
ups=$(sim_port ups-1)
ahu=$(sim_port ahu)
garbage=$(python3 - "$ups" "$ahu" <<'PY'
import socket, sys, random
ups, ahu = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
base = bytes.fromhex("302602010104067075626c6963a01902040000000102010002010030" "0b3009060561010203040500")
for i in range(300):
    b = bytearray(base)
    for _ in range(rnd.randint(1, 6)):
        b[rnd.randrange(len(b))] = rnd.randrange(256)
    u.sendto(bytes(b[: rnd.randint(0, len(b))]), ("127.0.0.1", ups))
u.sendto(b"\x30\x84\xff\xff\xff\xff", ("127.0.0.1", ups))
t = socket.create_connection(("127.0.0.1", ahu))
t.settimeout(2)
t.sendall(b"\x00\x09\x00\x00\x00\x06\x01\x03\x00\x00\x00\xc8")  # 200 registers: too many
r = t.recv(64)
print("quantity-exception", r.hex())
t.close()
t = socket.create_connection(("127.0.0.1", ahu))
t.sendall(b"\x00\x01\x00\x07\x00\xff\x01\x03")  # protocol id 7, length 255: refused
t.close()
t = socket.create_connection(("127.0.0.1", ahu))
t.sendall(b"\x00\x01\x00\x00\x00\x06\x01\x03\x00")  # half a request, then gone
t.close()
PY
)
check "read of 200 registers: exception 03" "$garbage" "quantity-exception 000900000003018303"
check "alive after garbage (SNMP)" "$(snmpget -v2c -c public -Oqv -t 1 -r 0 127.0.0.1:$ups 1.3.6.1.2.1.33.1.4.1.0)" "3"
check "alive after garbage (Modbus)" "$(mbpoll -m tcp -p "$ahu" -a 1 -t 4 -r 1 -c 1 -1 -o 1 127.0.0.1 | grep -c '^\[1\]')" "1"
sim_finish
