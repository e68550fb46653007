#!/usr/bin/env python3
"""fieldmon-agent over IPv6, on ::1 only.

- fieldmon-sim serving an SNMP device and a Modbus TCP device on ::1: the
  agent polls them (hosts written 0:0:0:0:0:0:0:1 and [::1]) with the right
  values, and a notification the simulator sends to the agent's receiver on
  [::1] is matched to the device polled at that address.
- net-snmp's snmpd listening on udp6:[::1]:PORT, polled by the agent.
- net-snmp's snmptrap and snmpinform to the receiver on [::1]: matched to
  the device configured by its IPv6 address in long form, informs
  acknowledged (snmpinform exits 0 only then).
- The link to the collector: collectors ["[::1]:PORT"] reaches
  fieldmon-test-receiver listening on [::1].
- Malformed addresses refused by `-t` with file:line: key and the reason.

usage: agent_ipv6_test.py PATH/TO/fieldmon-agent PATH/TO/fieldmon-sim
       PATH/TO/fieldmon-test-receiver [test-name ...]
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from fmmodbus import DATA as MB_DATA, check_map_values, profile_from_map, run_once, values
import fmtest
from fmtest import AgentProc, check, run_tests, wait

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UPS_REC = os.path.join(ROOT, "tests", "sim", "data", "snmp", "ups-normal.snmprec")
AGENT = SIM = RECEIVER = None
ON_BATTERY = "1.3.6.1.2.1.33.2.1"
# UPS-MIB scalars and their values in ups-normal.snmprec.
UPS_POINTS = {"battery_status": ("1.3.6.1.2.1.33.1.2.1.0", 2),
              "charge": ("1.3.6.1.2.1.33.1.2.4.0", 100),
              "runtime": ("1.3.6.1.2.1.33.1.2.3.0", 62)}
PM_MAP = "power-meter-sdm120.json"


def free_port6(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET6, kind)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ups_profile():
    out = ["  - name: ups", "    points:"]
    for name, (oid, _) in UPS_POINTS.items():
        out.append("      - {name: %s, oid: %s}" % (name, oid))
    out.append("    traps:\n      - {oid: %s, alarm: ups_on_battery, state: raised}" % ON_BATTERY)
    return "\n".join(out) + "\n"


def check_ups_values(events, dev):
    got = values(events, dev)
    for name, (_, want) in UPS_POINTS.items():
        check(name in got and got[name]["quality"] == "good" and got[name]["value"] == want,
              (dev, name, got.get(name)))


def send(*args):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MIBS=""))
    return r.returncode, r.stdout + r.stderr


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def with_agent(cfg, body):
    """Runs body(agent) with fieldmon-agent on cfg, then stops the agent
    (and checks its exit status) or, if body failed, ends it."""
    a = AgentProc(AGENT, cfg)
    try:
        body(a)
    except Exception:
        stop(a.proc)
        raise
    a.stop()


class Sim(fmtest.Sim):
    """fieldmon-sim on ::1: ups6 (SNMP) and pm6 (Modbus TCP, unit 3),
    notifications to [::1]:trap_port (ctl and stop as fmtest.Sim)."""

    def __init__(self, tmp, trap_port):  # pylint: disable=super-init-not-called
        self.sim = SIM
        self.ctl_path = os.path.join(tmp, "sim.sock")
        ports = os.path.join(tmp, "sim.ports")
        fleet = os.path.join(tmp, "fleet.yaml")
        for stale in (ports, self.ctl_path):
            if os.path.exists(stale):
                os.unlink(stale)
        with open(fleet, "w", encoding="ascii") as f:
            f.write('address: "::1"\n')
            f.write('traps: {receiver: "[::1]:%d", community: fm-traps}\n' % trap_port)
            f.write("snmp_templates:\n  - {name: ups, file: %s}\n" % UPS_REC)
            f.write("modbus_templates:\n  - {name: pm, file: %s}\n"
                    % os.path.join(MB_DATA, PM_MAP))
            f.write("devices:\n  - {name: ups6, protocol: snmp, template: ups}\n"
                    "  - {name: pm6, protocol: modbus-tcp, template: pm, unit_id: 3}\n")
        self.log = open(os.path.join(tmp, "sim.log"), "w")
        self.proc = subprocess.Popen([SIM, fleet, "--ports-file", ports, "--control",
                                      self.ctl_path], stdout=self.log, stderr=self.log)
        wait(lambda: os.path.exists(ports) or self.proc.poll() is not None, "sim ports file")
        check(self.proc.poll() is None, "fieldmon-sim exited; see %s/sim.log" % tmp)
        self.addr, self.port = {}, {}
        with open(ports, encoding="ascii") as f:
            for line in f:
                w = line.split()
                self.addr[w[0]], self.port[w[0]] = w[2], int(w[3])


def test_sim_polled_and_trap_matched_over_ipv6(tmp):
    trap_port = free_port6()
    sim = Sim(tmp, trap_port)
    try:
        check(sim.addr == {"ups6": "::1", "pm6": "::1"}, ("bound on ::1", sim.addr))
        cfg = os.path.join(tmp, "agent.yaml")
        with open(cfg, "w", encoding="ascii") as f:
            f.write("agent_id: gw-v6\nsite: lab\nsnmp: {poll_spread: 0}\n")
            f.write('trap_receiver: {enabled: true, listen: "[::1]:%d", communities: [fm-traps]}\n'
                    % trap_port)
            f.write("devices:\n")
            f.write('  - {name: ups6, class: ups, profile: ups, interval: 1h, snmp: '
                    '{host: "0:0:0:0:0:0:0:1", port: %d, timeout: 500ms, retries: 1}}\n'
                    % sim.port["ups6"])
            f.write('  - {name: pm6, protocol: modbus_tcp, class: power_meter, profile: pm, '
                    'interval: 1h, modbus: {host: "[::1]", port: %d, unit_id: 3, '
                    'timeout: 500ms}}\n' % sim.port["pm6"])
            f.write("profiles:\n" + ups_profile() + profile_from_map("pm", PM_MAP))
        rc, ev, err, _ = run_once(AGENT, cfg)
        check(rc == 0, ("--once over IPv6", rc, err))
        check_ups_values(ev, "ups6")
        check_map_values(ev, "pm6", PM_MAP)

        def trap_from_sim(agent):
            agent.wait_log("trap: receiving on [::1]:%d" % trap_port)
            agent.wait_for(lambda e: e.get("device") == "ups6" and e.get("event") ==
                           "measurement", "first poll of ups6")
            sim.ctl("trap", "ups6", ON_BATTERY, UPS_POINTS["battery_status"][0])
            e = agent.wait_for(lambda e: e.get("event") == "trap", "the simulator's trap")
            check(e["device"] == "ups6" and e["alarm"] == "ups_on_battery", e)
            check(e["source"] == "[::1]:%d" % sim.port["ups6"], ("source [::1]:port", e))
        with_agent(cfg, trap_from_sim)
    finally:
        sim.stop()


def snmpd_conf(tmp):
    conf = os.path.join(tmp, "snmpd.conf")
    passcmd = "/usr/bin/python3 " + os.path.join(HERE, "snmprec_pass.py")
    with open(conf, "w", encoding="ascii") as f:
        f.write("rocommunity6 fmtest ::1\n")
        f.write("pass_persist .1.3.6.1.2.1.33 %s %s\n" % (passcmd, UPS_REC))
    return conf


def test_snmpd_on_udp6_polled(tmp):
    conf = snmpd_conf(tmp)
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=os.path.join(tmp, "persist"))
    proc, port = None, None
    for _ in range(5):  # the port may be taken between probe and bind
        port = free_port6()
        proc = subprocess.Popen(["snmpd", "-f", "-Lf", os.path.join(tmp, "snmpd.log"), "-C",
                                 "-c", conf, "-p", os.path.join(tmp, "snmpd.pid"),
                                 "udp6:[::1]:%d" % port], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = False
        deadline = time.monotonic() + 15
        while not ready and proc.poll() is None and time.monotonic() < deadline:
            rc, out = send("snmpget", "-v2c", "-c", "fmtest", "-t", "0.3", "-r", "0",
                           "udp6:[::1]:%d" % port, UPS_POINTS["charge"][0])
            ready = rc == 0 and "INTEGER" in out
            time.sleep(0 if ready else 0.2)
        if ready:
            break
        stop(proc)
        proc = None
    check(proc is not None, "snmpd did not start on udp6; see %s/snmpd.log" % tmp)
    try:
        cfg = os.path.join(tmp, "snmpd-agent.yaml")
        with open(cfg, "w", encoding="ascii") as f:
            f.write("agent_id: gw-v6\nsite: lab\ndevices:\n")
            f.write("  - {name: ups-bare, class: ups, profile: ups, snmp: {host: \"::1\", "
                    "port: %d, community: fmtest, timeout: 500ms, retries: 1}}\n" % port)
            f.write("  - {name: ups-brackets, class: ups, profile: ups, snmp: {host: \"[::1]\", "
                    "port: %d, community: fmtest, timeout: 500ms, retries: 1}}\n" % port)
            f.write("profiles:\n" + ups_profile())
        rc, ev, err, _ = run_once(AGENT, cfg)
        check(rc == 0, ("--once against snmpd on udp6", rc, err))
        check_ups_values(ev, "ups-bare")
        check_ups_values(ev, "ups-brackets")
    finally:
        stop(proc)


def test_snmptrap_and_snmpinform_to_ipv6_receiver(tmp):
    port = free_port6()
    dest = "udp6:[::1]:%d" % port
    cfg = os.path.join(tmp, "trap-agent.yaml")
    with open(cfg, "w", encoding="ascii") as f:
        f.write("agent_id: gw-v6\nsite: lab\nsnmp: {poll_spread: 0}\n")
        f.write('trap_receiver: {enabled: true, listen: "[::1]:%d", communities: [fm-traps]}\n'
                % port)
        # Polled nowhere useful (interval 1h, a dead port); matched by address.
        f.write("devices:\n  - {name: ups-v4, class: ups, profile: ups, interval: 1h, "
                "snmp: {host: 127.0.0.1, port: %d, timeout: 100ms, retries: 0}}\n" % free_port6())
        f.write("  - {name: ups-v6, class: ups, profile: ups, interval: 1h, snmp: "
                "{host: \"0:0:0:0:0:0:0:1\", port: %d, timeout: 100ms, retries: 0}}\n"
                % free_port6())
        f.write("profiles:\n" + ups_profile())

    def traps_and_informs(a):
        a.wait_log("trap: receiving on [::1]:%d" % port)
        rc, out = send("snmptrap", "-v2c", "-c", "fm-traps", dest, "", ON_BATTERY,
                       UPS_POINTS["battery_status"][0], "i", "3")
        check(rc == 0, out)
        e = a.wait_for(lambda e: e.get("event") == "trap", "v2c trap over IPv6")
        check(e["device"] == "ups-v6" and not e["inform"] and e["alarm"] == "ups_on_battery", e)
        check(re.fullmatch(r"\[::1\]:\d+", e["source"]) is not None, e)
        rc, out = send("snmpinform", "-v2c", "-c", "fm-traps", "-t", "2", "-r", "1", dest, "",
                       ON_BATTERY)
        check(rc == 0, ("inform over IPv6 not acknowledged", out))
        e = a.wait_for(lambda e: e.get("event") == "trap", "v2c inform over IPv6")
        check(e["device"] == "ups-v6" and e["inform"], e)
        # A receiver on [::1] is IPv6 only: an IPv4 inform gets no answer.
        rc, out = send("snmpinform", "-v2c", "-c", "fm-traps", "-t", "0.5", "-r", "0",
                       "udp:127.0.0.1:%d" % port, "", ON_BATTERY)
        check(rc != 0, ("an IPv4 inform to [::1] answered", out))
    with_agent(cfg, traps_and_informs)


def test_link_to_collector_over_ipv6(tmp):
    out = os.path.join(tmp, "received.txt")
    pf = os.path.join(tmp, "recv.port")
    recv = subprocess.Popen([RECEIVER, "--out", out, "--listen", "[::1]:0", "--port-file", pf,
                             "--plain", "--heartbeat-s", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sim = Sim(tmp, free_port6())
    try:
        wait(lambda: os.path.exists(pf) or recv.poll() is not None, "receiver port file")
        check(recv.poll() is None, "fieldmon-test-receiver did not listen on [::1]")
        with open(pf, encoding="ascii") as f:
            port = int(f.read())
        cfg = os.path.join(tmp, "link-agent.yaml")
        with open(cfg, "w", encoding="ascii") as f:
            f.write("agent_id: gw-v6\nsite: lab\nsnmp: {poll_spread: 0}\n")
            f.write('collectors: ["[::1]:%d"]\nspool_dir: %s/spool\n' % (port, tmp))
            f.write("sender: {transport: plain, backoff_min: 100ms, backoff_max: 1s}\n")
            f.write("devices:\n  - {name: ups6, class: ups, profile: ups, interval: 1s, snmp: "
                    "{host: \"::1\", port: %d, timeout: 500ms}}\n" % sim.port["ups6"])
            f.write("profiles:\n" + ups_profile())
        def received():
            if not os.path.exists(out):
                return None
            with open(out, encoding="ascii") as f:
                return [line for line in f if " measurement ups6 battery_status 2 " in line]
        with_agent(cfg, lambda a: wait(received, "a measurement at the receiver on [::1]",
                                       timeout=30))
    finally:
        sim.stop()
        stop(recv)


BAD = [  # (key line, the path and reason the agent must print)
    ('snmp: {host: "fe80::1::2", port: 161}', 'devices[0].snmp.host: \'fe80::1::2\' is not a '
     'valid IPv6 address'),
    ('snmp: {host: "[::1", port: 161}', "devices[0].snmp.host: '[::1' has a bracket without "
     "its pair"),
    ('snmp: {host: "2001:db8::1%eth0"}', "devices[0].snmp.host: '2001:db8::1%eth0' has a zone"),
    ('snmp: {host: "10.0.0.300"}', "devices[0].snmp.host: '10.0.0.300' is not a valid IPv4"),
    ('modbus: {host: "[::1]:502", unit_id: 1}',
     "devices[0].modbus.host: '[::1]:502' has a port after the address"),
]


def test_malformed_addresses_refused_at_load(tmp):
    for i, (dev, want) in enumerate(BAD):
        path = os.path.join(tmp, "bad%d.yaml" % i)
        with open(path, "w", encoding="ascii") as f:
            f.write("agent_id: gw\nsite: lab\ndevices:\n"
                    "  - name: d1\n    class: ups\n    profile: p\n    %s\n"
                    "profiles:\n  - name: p\n    points:\n"
                    "      - {name: x, oid: 1.3.6.1.2.1.1.3.0, modbus: {function: 3, "
                    "address: 0}}\n" % dev)
        r = subprocess.run([AGENT, "-t", "-c", path], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2, (dev, r.returncode, r.stdout, r.stderr))
        check("%s:7: %s" % (path, want) in r.stderr, (dev, "wanted", want, "got", r.stderr))
    path = os.path.join(tmp, "badlisten.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw\nsite: lab\ntrap_receiver:\n  enabled: true\n"
                "  listen: \"::1:162\"\n")
    r = subprocess.run([AGENT, "-t", "-c", path], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2, r.stderr)
    check("%s:5: trap_receiver.listen: '::1:162' has an IPv6 address without brackets: write "
          "it as [address]:port, e.g. [::1]:162" % path in r.stderr, r.stderr)


TESTS = [test_sim_polled_and_trap_matched_over_ipv6, test_snmpd_on_udp6_polled,
         test_snmptrap_and_snmpinform_to_ipv6_receiver, test_link_to_collector_over_ipv6,
         test_malformed_addresses_refused_at_load]


def main():
    global AGENT, SIM, RECEIVER
    AGENT, SIM, RECEIVER = (os.path.abspath(p) for p in sys.argv[1:4])
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
    except OSError as ex:
        print("skip: no IPv6 loopback (%s)" % ex)
        return 77
    tmp = tempfile.mkdtemp(prefix="fm-agent-ipv6.")
    failed = run_tests(TESTS, sys.argv[4:], tmp)
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept %s" % tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
