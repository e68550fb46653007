#!/usr/bin/env python3
"""fieldmon-agent's Modbus poller against fieldmon-sim.

The simulator serves the register maps of tests/sim/data/modbus/ over Modbus TCP
(an AHU controller, a power meter, a device with every 16/32-bit type in every
byte and word order) and on one RTU bus over a pseudo-terminal (a T/H
transmitter at unit 1, a leak detector at unit 2). The agent polls them with
the example profiles of deploy/agent-modbus-example.yaml, plus a unit id 9 on
the same bus that nobody answers. Checks: every decoded value against the
map, merged reads, exception codes named per point, a dead TCP device and a
silent unit costing only their own timeout, and reconnecting after the
simulator restarts. (Configuration errors: agent_modbus_test.py.)

usage: agent_modbus_sim_test.py PATH/TO/fieldmon-agent   (FM_SIM: fieldmon-sim)
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from fmmodbus import (DATA, check_map_values, example_profiles, profile_from_map, reach,
                      run_once, values)
from fmtest import AgentProc, check

AGENT = None
SIM = os.environ.get("FM_SIM", "")

MAPS = {  # device -> (register map, agent profile, protocol, unit)
    "ddc": ("ahu-ddc.json", "ahu-ddc", "tcp", 1),
    "pm": ("power-meter-sdm120.json", "power-meter-sdm120", "tcp", 3),
    "orders": ("sim-orders.json", "sim-orders", "tcp", 5),
    "th": ("th-transmitter-xymd02.json", "th-transmitter-xymd02", "rtu", 1),
    "leak": ("leak-detector-aqualeak.json", "leak-detector-aqualeak", "rtu", 2),
}


class Sim:
    """fieldmon-sim with the test fleet; TCP ports fixed when given."""

    def __init__(self, tmp, ports=None):
        self.tmp = tmp
        self.ctl_path = os.path.join(tmp, "sim.sock")
        self.ports_file = os.path.join(tmp, "sim.ports")
        if os.path.exists(self.ports_file):
            os.unlink(self.ports_file)
        fleet = os.path.join(tmp, "fleet.yaml")
        with open(fleet, "w", encoding="utf-8") as f:
            f.write("modbus_templates:\n")
            for dev, (m, _, _, _) in MAPS.items():
                f.write("  - {name: %s, file: %s}\n" % (dev, os.path.join(DATA, m)))
            f.write("rtu_buses:\n  - name: bus1\ndevices:\n")
            for dev, (_, _, proto, unit) in MAPS.items():
                f.write("  - {name: %s, protocol: modbus-%s, template: %s, unit_id: %d%s%s}\n" % (
                    dev, proto, dev, unit, ", bus: bus1" if proto == "rtu" else "",
                    ", port: %d" % ports[dev] if ports and dev in ports else ""))
        self.proc = subprocess.Popen([SIM, fleet, "--ports-file", self.ports_file, "--control",
                                      self.ctl_path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.ports_file):
            if self.proc.poll() is not None:
                raise AssertionError("simulator exited: " + self.proc.stderr.read())
            check(time.monotonic() < deadline, "simulator did not write its ports file")
            time.sleep(0.05)
        self.ports, self.bus = {}, None
        with open(self.ports_file, encoding="ascii") as f:
            for line in f:
                w = line.split()
                if w[0] == "bus":
                    self.bus = w[2]
                elif w[1] == "modbus-tcp":
                    self.ports[w[0]] = int(w[3])

    def ctl(self, *args):
        r = subprocess.run([SIM, "ctl", "--control", self.ctl_path] + list(args),
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, ("sim ctl", args, r.stdout, r.stderr))
        return r.stdout

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)


def agent_config(tmp, sim, extra_dev="", interval="1s", name="agent.yaml", ifd="5ms"):
    """Devices for the simulator + the example profiles (which come last in
    the example file) + the sim-orders profile."""
    profiles = example_profiles()
    lines = ["agent_id: test", "site: hq", "modbus: {backoff_max: 1s}", "devices:"]
    for dev, (_, prof, proto, unit) in MAPS.items():
        link = ("host: 127.0.0.1, port: %d" % sim.ports[dev] if proto == "tcp" else
                "serial: %s, baud: 9600, inter_frame_delay: %s" % (sim.bus, ifd))
        lines.append("  - {name: %s, protocol: modbus_%s, profile: %s, interval: %s, "
                     "unreachable_after: 1, modbus: {%s, unit_id: %d, timeout: 400ms, "
                     "reconnect_min: 100ms, reconnect_max: 400ms}}" % (
                         dev, proto, prof, interval, link, unit))
    # A unit id on the bus that nobody answers.
    lines.append("  - {name: ghost, protocol: modbus_rtu, profile: th-transmitter-xymd02, "
                 "interval: %s, modbus: {serial: %s, baud: 9600, unit_id: 9, timeout: 300ms}}"
                 % (interval, sim.bus))
    if extra_dev:
        lines.append(extra_dev)
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n" + profiles + profile_from_map("sim-orders", "sim-orders.json"))
    return path


def once(cfg):
    return run_once(AGENT, cfg)


def check_values(events, dev):
    check_map_values(events, dev, MAPS[dev][0])


# ------------------------------------------------------------------ tests

def test_every_point_type_and_order(tmp, sim):
    rc, ev, err, took = once(agent_config(tmp, sim))
    for dev in MAPS:
        check_values(ev, dev)
        check(reach(ev, dev) == [], (dev, "reported unreachable", err))
    # The silent unit: one unreachable report, --once exits 3.
    g = reach(ev, "ghost")
    check(len(g) == 1 and not g[0]["reachable"] and g[0]["reason"] == "timeout", g)
    check(rc == 3, ("exit status with a silent unit", rc, err))
    # Bit fields: the leak detector's status word, one bool per named bit.
    bits = [e for e in ev if e["device"] == "leak" and e["labels"].get("bit")]
    check(sorted(e["labels"]["bit"] for e in bits) ==
          ["cable_break", "contamination", "leak_detected", "summary_alarm"], bits)
    check(all(e["value"] == 0 and e["text"] == "false" for e in bits), bits)
    # Enum text.
    check(values(ev, "leak")["units"]["text"] == "metres", values(ev, "leak")["units"])
    # The silent unit costs its own timeout, not the other units' polls.
    check(took < 5, ("--once took", took))


def test_merged_reads(tmp, sim):
    pm0 = ("  - {name: pm0, protocol: modbus_tcp, profile: power-meter-sdm120, modbus: "
           "{host: 127.0.0.1, port: %d, unit_id: 3, max_gap: 0}}" % sim.ports["pm"])
    rc, ev, err, _ = once(agent_config(tmp, sim, extra_dev=pm0))
    # AHU: holding 0..41 (holes within max_gap 16) + coils + discrete inputs.
    check("modbus: ddc: 21 points in 3 reads" in err, err)
    # sim-orders: holding 0..47, input 100..110, coils, discrete inputs.
    check("modbus: orders: 18 points in 4 reads" in err, err)
    # Power meter: 0..31, 70..75 and 342 with max_gap 16; with max_gap 0
    # only mapped registers (adjacent 70, 72, 74 still merge).
    check("modbus: pm: 10 points in 3 reads" in err, err)
    check("modbus: pm0: 10 points in 8 reads" in err, err)
    check_values(ev, "pm")
    got, want = values(ev, "pm0"), values(ev, "pm")
    check({k: v["value"] for k, v in got.items()} == {k: v["value"] for k, v in want.items()},
          (got, want))


def test_exceptions_are_named_per_point(tmp, sim):
    cfg = agent_config(tmp, sim)
    for code, name in ((2, "illegal data address"), (6, "server device busy"),
                       (11, "gateway target device failed to respond")):
        sim.ctl("exception", "ddc", str(code))
        rc, ev, err, _ = once(cfg)
        got = values(ev, "ddc")
        check(len(got) == 21, got)
        for e in got.values():
            check(e["quality"] == "device_error" and e["value"] is None, e)
            check(e["detail"] == "modbus exception %02d %s" % (code, name), e)
        check(reach(ev, "ddc") == [], "an exception is an answer: the device is reachable")
        check_values(ev, "pm")
    sim.ctl("clear", "ddc")


def test_dead_tcp_device_and_silent_unit_delay_no_other(tmp, sim):
    sim.ctl("dead", "pm")
    sim.ctl("dead", "leak")
    rc, ev, err, took = once(agent_config(tmp, sim))
    for dev in ("ddc", "orders", "th"):
        check_values(ev, dev)
    for dev in ("pm", "leak"):
        r = reach(ev, dev)
        check(len(r) == 1 and not r[0]["reachable"] and r[0]["reason"] == "timeout", (dev, r))
        check(values(ev, dev) == {}, (dev, "a silent device has no measurements"))
    # Each dead device costs one 400 ms timeout, not one per read; the bus
    # carries th, leak (dead) and ghost (silent) one after another.
    check(took < 3, ("--once took", took))
    sim.ctl("clear", "pm")
    sim.ctl("clear", "leak")


def bus_gaps(sim, delay, seconds_max=30):
    """Runs the agent as a daemon with inter_frame_delay `delay` on the bus
    until the simulator saw 20 gaps between a reply and the next request;
    returns the smallest (microseconds)."""
    cfg = agent_config(sim.tmp, sim, interval="200ms", name="ifd.yaml", ifd=delay)
    sim.ctl("bus", "bus1", "reset")
    agent = AgentProc(AGENT, cfg)
    try:
        deadline = time.monotonic() + seconds_max
        while True:
            w = sim.ctl("bus", "bus1").split()
            stats = dict(zip(w[3::2], (int(x) for x in w[4::2])))
            if stats["gaps"] >= 20:
                return stats["min_gap_us"]
            check(time.monotonic() < deadline, ("too few exchanges on the bus", stats))
            time.sleep(0.3)
    finally:
        agent.stop()


def test_inter_frame_delay_kept_on_the_bus(tmp, sim):
    # The simulator measures from before it writes a reply to after it reads
    # the next request's first byte, so a slow machine can only make the
    # gap larger: this lower bound cannot fail for want of CPU.
    got = bus_gaps(sim, "40ms")
    check(got >= 40000, ("smallest gap on the bus (us) with inter_frame_delay 40ms", got))
    # The measurement does see a master that does not wait.
    got0 = bus_gaps(sim, "0ms")
    check(got0 < 40000, ("smallest gap (us) with no inter_frame_delay", got0))
    print("   smallest gap: %d us with 40 ms configured, %d us with none" % (got, got0))


def test_reconnects_after_simulator_restart(tmp, sim):
    cfg = agent_config(tmp, sim, interval="300ms", name="daemon.yaml")
    agent = AgentProc(AGENT, cfg)
    try:
        agent.wait_for(lambda e: e["device"] == "ddc" and e.get("point") == "supply_air_temp"
                       and e["quality"] == "good", "a first good value")
        ports = dict(sim.ports)
        sim.stop()
        agent.wait_for(lambda e: e["device"] == "ddc" and e["event"] == "reachability"
                       and not e["reachable"], "ddc unreachable while the simulator is down")
        restarted = Sim(tmp, ports={d: ports[d] for d in ("ddc", "pm", "orders")})
        try:
            agent.wait_for(lambda e: e["device"] == "ddc" and e["event"] == "reachability"
                           and e["reachable"], "ddc reachable again", timeout=30)
            agent.wait_for(lambda e: e["device"] == "ddc" and e.get("point") == "fan_run_hours"
                           and e["quality"] == "good", "good values again")
        finally:
            agent.stop()
            restarted.stop()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()


TESTS = [test_every_point_type_and_order, test_merged_reads, test_exceptions_are_named_per_point,
         test_dead_tcp_device_and_silent_unit_delay_no_other, test_inter_frame_delay_kept_on_the_bus,
         test_reconnects_after_simulator_restart]


def run_with_sim(tests, only=()):
    """Runs each test(tmp, sim) against one simulator (the names in only, if given)."""
    check(SIM != "", "FM_SIM must name fieldmon-sim")
    with tempfile.TemporaryDirectory(prefix="fm-mbsim-") as tmp:
        sim = Sim(tmp)
        try:
            for t in tests:
                if only and t.__name__ not in only:
                    continue
                t0 = time.monotonic()
                t(tmp, sim)
                print("ok %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        finally:
            if sim.proc.poll() is None:
                sim.stop()


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    run_with_sim(TESTS, sys.argv[2:])


if __name__ == "__main__":
    main()
