#!/usr/bin/env python3
"""fieldmon-agent's Modbus support end to end against pymodbus (Debian
python3-pymodbus, a Modbus implementation fieldmon did not write), and its
configuration errors.

tests/modbus/serve_regmap.py serves register maps on a kernel-picked loopback
port; the agent polls them with `--once`: the AHU map with the example
profile of deploy/agent-modbus-example.yaml, and a map with every type
(16/32/64-bit integers, float32, float64) in every byte and word order.
Impossible point and device definitions must be refused by `-t` with
file:line.

usage: agent_modbus_test.py PATH/TO/fieldmon-agent [test-name ...]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

from fmmodbus import (EXAMPLE, DATA, ROOT, check_map_values, example_profiles,
                      profile_from_map, reach, run_once, values)
from fmtest import check

AGENT = None
SERVER = os.path.join(ROOT, "tests", "modbus", "serve_regmap.py")


class Pymodbus:
    """serve_regmap.py with the AHU map at unit 1 and all-types at unit 5."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SERVER, "--map", os.path.join(DATA, "ahu-ddc.json") + ":1",
             "--map", os.path.join(DATA, "all-types.json") + ":5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("port="), ("pymodbus server did not start", line))
        self.port = int(line[5:])

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(20)


def test_pymodbus_every_type_and_order(tmp):
    srv = Pymodbus()
    try:
        cfg = os.path.join(tmp, "agent.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            # max_gap 0: pymodbus, like strict devices, refuses reads across
            # unmapped registers (exception 02).
            f.write("agent_id: t\nsite: s\ndevices:\n"
                    "  - {name: ahu, protocol: modbus_tcp, profile: ahu-ddc, modbus: "
                    "{host: 127.0.0.1, port: %d, unit_id: 1, max_gap: 0}}\n"
                    "  - {name: types, protocol: modbus_tcp, profile: all-types, modbus: "
                    "{host: 127.0.0.1, port: %d, unit_id: 5, max_gap: 0}}\n"
                    "  - {name: holes, protocol: modbus_tcp, profile: ahu-ddc, modbus: "
                    "{host: 127.0.0.1, port: %d, unit_id: 1, max_gap: 16}}\n"
                    % (srv.port, srv.port, srv.port))
            f.write(example_profiles())
            f.write(profile_from_map("all-types", "all-types.json"))
        rc, ev, err, _ = run_once(AGENT, cfg)
        check(rc == 0, (rc, err))
        check_map_values(ev, "ahu", "ahu-ddc.json")
        check_map_values(ev, "types", "all-types.json")
        # Bits of the AHU alarm word, all clear.
        bits = [e for e in ev if e["device"] == "ahu" and e["labels"].get("bit")]
        check(len(bits) == 7 and all(e["text"] == "false" for e in bits), bits)
        # Reading across holes: the server answers exception 02 for the
        # merged holding-register read; coils and inputs still read.
        got = values(ev, "holes")
        check(got["supply_air_temp"]["quality"] == "device_error", got["supply_air_temp"])
        check(got["supply_air_temp"]["detail"] == "modbus exception 02 illegal data address",
              got["supply_air_temp"])
        check(got["fan_start_cmd"]["quality"] == "good" and got["fan_start_cmd"]["value"] == 1,
              got["fan_start_cmd"])
        check(reach(ev, "holes") == [], "an exception is an answer")
    finally:
        srv.stop()


BAD_POINTS = [
    ("modbus: {function: 3, address: 0, type: float32, count: 1}",
     "modbus.count: float32 takes 2 registers, count is 1"),
    ("modbus: {function: 4, address: 65535, type: float32}",
     "modbus.address: 65535 + 2 registers runs past address 65535"),
    ("modbus: {function: 3, address: 70000}", "modbus.address: 70000 is not in 0..65535"),
    ("modbus: {function: 1, address: 0, type: int16}",
     "modbus.type: int16 needs registers; function 1 reads single bits"),
    ("modbus: {function: 2, address: 0, type: float32}",
     "modbus.type: float32 needs registers; function 2 reads single bits (coils and discrete "
     "inputs are bool; leave type out)"),
    ("modbus: {function: 3, address: 0, type: uint16, count: 126}",
     "modbus.count: uint16 takes 1 register, count is 126"),
    ("modbus: {function: 5, address: 0}", "modbus.function: 5 is not in 1..4"),
    ("modbus: {function: 3, address: 0, type: float32, bit: 3}", "modbus.bit: only a bool"),
    ("modbus: {function: 3, address: 0, bits: {16: x}}", "'16' is not a bit number 0..15"),
    ("modbus: {function: 3, address: 0, type: float64, order: ACBD}",
     'modbus.order: "ACBD" is not one of'),
    ("oid: 1.3.6.1.2.1.1.3.0\n        modbus: {function: 3, address: 0}", "not both"),
]

BAD_DEVICES = [
    ("  - {name: d, protocol: modbus_tcp, profile: p, modbus: {host: h, max_span: 1}}\n",
     "modbus.max_span: point 0 of the profile needs 2 registers in one read, max_span is 1"),
    ("  - {name: d, protocol: modbus_tcp, profile: p, modbus: {host: h, max_span: 200}}\n",
     "max_span: 200 is not in 1..125"),
    ("  - {name: d, protocol: modbus_rtu, profile: p, modbus: {serial: /dev/x, unit_id: 0}}\n",
     "modbus.unit_id: 0 is not 1..247"),
    ("  - {name: d, protocol: modbus_tcp, profile: p}\n", "devices[0].modbus: required"),
    ("  - {name: d, protocol: modbus_tcp, profile: p, modbus: {port: 502}}\n",
     "modbus.host: modbus_tcp needs a host"),
    ("  - {name: d, protocol: modbus_rtu, profile: p, modbus: {serial: /dev/x}}\n"
     "  - {name: e, protocol: modbus_rtu, profile: p, modbus: {serial: /dev/x, unit_id: 2,"
     " baud: 19200}}\n", "the line settings of one bus must agree"),
    ("  - {name: d, protocol: modbus_rtu, profile: p, modbus: {serial: /dev/x}}\n"
     "  - {name: e, protocol: modbus_rtu, profile: p, modbus: {serial: /dev/x}}\n",
     "modbus.unit_id: 1 is also devices[0]"),
    ("  - {name: d, protocol: snmp, profile: p, snmp: {host: h}}\n",
     "is a Modbus point; protocol snmp needs oid points"),
]


def agent_t(path):
    return subprocess.run([AGENT, "-t", "-c", path], capture_output=True, text=True, timeout=30)


def test_impossible_definitions_are_config_errors_with_line(tmp):
    for i, (point, want) in enumerate(BAD_POINTS):
        path = os.path.join(tmp, "bad%d.yaml" % i)
        with open(path, "w", encoding="utf-8") as f:
            f.write("agent_id: t\nsite: s\ndevices:\n"
                    "  - {name: d, protocol: modbus_tcp, profile: p, modbus: {host: h}}\n"
                    "profiles:\n  - name: p\n    points:\n      - name: x\n        %s\n" % point)
        r = agent_t(path)
        check(r.returncode == 2, (point, r.returncode, r.stderr))
        # The point is at line 8, its keys at lines 9 and 10.
        check(re.search(re.escape(path) + r":(8|9|10): profiles\[0\]\.points\[0\]", r.stderr)
              and want in r.stderr, (point, r.stderr))
    for i, (dev, want) in enumerate(BAD_DEVICES):
        path = os.path.join(tmp, "baddev%d.yaml" % i)
        with open(path, "w", encoding="utf-8") as f:
            f.write("agent_id: t\nsite: s\ndevices:\n%sprofiles:\n  - name: p\n    points:\n"
                    "      - {name: x, modbus: {function: 3, address: 0, type: float32}}\n" % dev)
        r = agent_t(path)
        check(r.returncode == 2 and want in r.stderr and
              re.search(re.escape(path) + r":[45]: devices\[[01]\]", r.stderr),
              (dev, r.returncode, r.stderr))
    r = agent_t(EXAMPLE)
    check(r.returncode == 0, ("example config", r.stderr))


TESTS = [test_pymodbus_every_type_and_order,
         test_impossible_definitions_are_config_errors_with_line]


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="fm-mb-") as tmp:
        for t in TESTS:
            if only and t.__name__ not in only:
                continue
            t0 = time.monotonic()
            t(tmp)
            print("ok %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)


if __name__ == "__main__":
    main()
