#!/usr/bin/env python3
"""fieldmon-agent against net-snmp's real snmpd.

Starts snmpd on a free loopback UDP port with a generated configuration: a
v1/v2c community, an SNMPv3 authPriv user (SHA-256/AES), the UPS-MIB values
of data/ups-normal.snmprec and the test values of data/lab.snmprec served
through pass_persist (snmprec_pass.py), plus snmpd's own system, IF-MIB and
ifXTable (real Counter64 values). Then runs fieldmon-agent and checks the
events it prints.

usage: agent_snmpd_test.py PATH/TO/fieldmon-agent [test-name ...]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from fmtest import AgentProc, check, free_udp_port, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = None
V3 = ("user: fmv3, auth_protocol: sha256, auth_passphrase: authpass123, "
      "priv_protocol: aes, priv_passphrase: privpass123")


class Snmpd:
    """A real snmpd on 127.0.0.1, stopped (and its helpers) by stop()."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.lab = os.path.join(tmp, "lab.snmprec")
        self.big = os.path.join(tmp, "big.snmprec")
        shutil.copy(os.path.join(HERE, "data", "lab.snmprec"), self.lab)
        with open(self.big, "w", encoding="ascii") as f:
            for i in range(1, 11):
                f.write("1.3.6.1.4.1.99998.2.%d.0|4|%s\n" % (i, chr(ord("a") + i) * 3000))
        self.proc = None
        self.port = None

    def start(self):
        passcmd = "/usr/bin/python3 " + os.path.join(HERE, "snmprec_pass.py")
        conf = os.path.join(self.tmp, "snmpd.conf")
        with open(conf, "w", encoding="ascii") as f:
            f.write("rocommunity fmtest 127.0.0.1\n")
            f.write('createUser fmv3 SHA-256 "authpass123" AES "privpass123"\n')
            f.write("rouser fmv3 priv\n")
            f.write("pass_persist .1.3.6.1.2.1.33 %s %s\n" % (
                passcmd, os.path.join(HERE, "data", "ups-normal.snmprec")))
            f.write("pass_persist .1.3.6.1.4.1.99999 %s %s\n" % (passcmd, self.lab))
            f.write("pass_persist .1.3.6.1.4.1.99998 %s %s\n" % (passcmd, self.big))
        env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=os.path.join(self.tmp, "persist"))
        for _ in range(5):  # the port may be taken between probe and bind
            self.port = free_udp_port()
            self.proc = subprocess.Popen(
                ["snmpd", "-f", "-Lf", os.path.join(self.tmp, "snmpd.log"), "-C", "-c", conf,
                 "-p", os.path.join(self.tmp, "snmpd.pid"), "udp:127.0.0.1:%d" % self.port],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.wait_ready():
                return
            self.stop()
        raise RuntimeError("snmpd did not start; see %s/snmpd.log" % self.tmp)

    def wait_ready(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = subprocess.run(["snmpget", "-v2c", "-c", "fmtest", "-t", "0.3", "-r", "0",
                                "127.0.0.1:%d" % self.port, "1.3.6.1.2.1.33.1.2.1.0"],
                               capture_output=True, text=True, env=dict(os.environ, MIBS=""))
            if r.returncode == 0 and "INTEGER" in r.stdout:
                return True
            time.sleep(0.2)
        return False

    def set_value(self, oid, tag, value):
        """Rewrites one record of the lab file (the pass back end rereads it)."""
        lines = []
        with open(self.lab, encoding="ascii") as f:
            for line in f:
                if line.startswith(oid + "|"):
                    line = "%s|%s|%s\n" % (oid, tag, value)
                lines.append(line)
        tmp = self.lab + ".new"
        with open(tmp, "w", encoding="ascii") as f:
            f.writelines(lines)
        os.replace(tmp, self.lab)
        # mtime resolution: make sure the reader sees a change
        st = os.stat(self.lab)
        os.utime(self.lab, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def config(tmp, devices, profile_points, extra=""):
    path = os.path.join(tmp, "agent.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-test\nsite: lab\nsnmp: {poll_spread: 0, backoff_max: 1s}\n")
        f.write(extra)
        f.write("devices:\n")
        for d in devices:
            f.write("  - %s\n" % d)
        f.write("profiles:\n  - name: p\n    points:\n")
        for p in profile_points:
            f.write("      - %s\n" % p)
    return path


def run_once(cfg, *args):
    r = subprocess.run([AGENT, "-c", cfg, "--once", *args], capture_output=True, text=True,
                       timeout=60)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return r.returncode, events, r.stderr


def find(events, device, point, **labels):
    for e in events:
        if e["device"] == device and e.get("point") == point and all(
                e["labels"].get(k) == v for k, v in labels.items()):
            return e
    raise AssertionError("no event for %s %s %s in:\n%s" % (
        device, point, labels, "\n".join(json.dumps(e) for e in events)))


UPS_POINTS = [
    "{name: battery_status, oid: 1.3.6.1.2.1.33.1.2.1.0, type: enum,"
    " enum: {1: unknown, 2: normal, 3: low, 4: depleted}}",
    "{name: battery_voltage, oid: 1.3.6.1.2.1.33.1.2.5.0, unit: V, scale: 0.1}",
    "{name: input_line_bads, oid: 1.3.6.1.2.1.33.1.3.1.0, type: counter}",
    "{name: input_voltage, oid: 1.3.6.1.2.1.33.1.3.3.1.3, table: true, index_label: line,"
    " unit: V}",
    "{name: sys_uptime, oid: 1.3.6.1.2.1.1.3.0, unit: s, scale: 0.01}",
    "{name: sys_descr, oid: 1.3.6.1.2.1.1.1.0, type: text}",
    "{name: if_descr, oid: 1.3.6.1.2.1.2.2.1.2, table: true, index_label: ifIndex, type: text}",
    "{name: if_hc_in, oid: 1.3.6.1.2.1.31.1.1.1.6, table: true, index_label: ifIndex,"
    " type: counter}",
    "{name: lab_gauge, oid: 1.3.6.1.4.1.99999.1.4.0}",
    "{name: lab_int, oid: 1.3.6.1.4.1.99999.1.5.0, unit: degC}",
    "{name: lab_numstr, oid: 1.3.6.1.4.1.99999.1.2.0, numeric_string: true, unit: '%'}",
    "{name: lab_badnum, oid: 1.3.6.1.4.1.99999.1.3.0, numeric_string: true}",
    "{name: lab_oid, oid: 1.3.6.1.4.1.99999.1.6.0, type: text}",
    "{name: lab_ip, oid: 1.3.6.1.4.1.99999.1.7.0, type: text}",
    "{name: lab_col, oid: 1.3.6.1.4.1.99999.3.1.1, table: true}",
    "{name: no_object, oid: 1.3.6.1.2.1.4242.1.0}",
    "{name: no_instance, oid: 1.3.6.1.2.1.33.1.2.99.0}",
]


def check_values(ev, dev):
    e = find(ev, dev, "battery_status")
    check(e["value"] == 2 and e["text"] == "normal" and e["quality"] == "good", e)
    e = find(ev, dev, "battery_voltage")
    check(abs(e["value"] - 273.6) < 1e-9 and e["raw"] == 2736 and e["unit"] == "V", e)
    check(find(ev, dev, "input_line_bads")["value"] == 3, "Counter32")
    e = find(ev, dev, "input_voltage", line="1")
    check(e["value"] == 221 and e["unit"] == "V", e)
    check(find(ev, dev, "sys_uptime")["raw"] > 0, "TimeTicks")
    check(find(ev, dev, "sys_descr")["text"] != "", "sys_descr text")
    check(find(ev, dev, "if_descr", ifIndex="1")["text"] == "lo", "IF-MIB ifDescr.1 is lo")
    e = find(ev, dev, "if_hc_in", ifIndex="1")
    check(e["quality"] == "good" and e["raw"] > 0, ("Counter64 ifHCInOctets.1", e))
    check(find(ev, dev, "lab_gauge")["value"] == 4000000000, "Gauge32 above 2^31")
    check(find(ev, dev, "lab_int")["value"] == -40, "negative INTEGER")
    check(find(ev, dev, "lab_numstr")["value"] == 23, "numeric string")
    e = find(ev, dev, "lab_badnum")
    check(e["quality"] == "decode_error" and e["value"] is None, e)
    check(find(ev, dev, "lab_oid")["text"] == "1.3.6.1.2.1.33.1.6.3.2", "OID value")
    check(find(ev, dev, "lab_ip")["text"] == "10.1.2.3", "IpAddress value")
    rows = {e["labels"]["index"]: e["value"] for e in ev
            if e["device"] == dev and e.get("point") == "lab_col"}
    check(rows == {"5": 11, "17": 12, "230": 13}, ("table rows by index", rows))


def test_v2c_values(sd, tmp):
    cfg = config(tmp, ["{name: ups, class: ups, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                       " community: fmtest}}" % sd.port], UPS_POINTS)
    rc, ev, err = run_once(cfg)
    check(rc == 0, ("exit status", rc, err))
    check_values(ev, "ups")
    check(find(ev, "ups", "no_object")["quality"] in ("no_such_object", "no_such_instance"),
          "missing object")
    check(find(ev, "ups", "no_instance")["quality"] == "no_such_instance", "missing instance")


def test_v3_authpriv_values(sd, tmp):
    cfg = config(tmp, ["{name: ups3, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                       " version: '3', %s}}" % (sd.port, V3)], UPS_POINTS)
    rc, ev, err = run_once(cfg)
    check(rc == 0, ("exit status", rc, err))
    check_values(ev, "ups3")


def test_v1_values_and_nosuchname(sd, tmp):
    cfg = config(tmp, ["{name: ups1, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                       " version: '1', community: fmtest}}" % sd.port],
                 [p for p in UPS_POINTS if "if_hc_in" not in p])  # no Counter64 in v1
    rc, ev, err = run_once(cfg)
    check(rc == 0, ("exit status", rc, err))
    check(find(ev, "ups1", "battery_status")["value"] == 2, "v1 value")
    check(find(ev, "ups1", "input_voltage", line="1")["value"] == 221, "v1 GETNEXT walk")
    check(find(ev, "ups1", "no_instance")["quality"] == "no_such_object", "v1 noSuchName")
    check(find(ev, "ups1", "lab_int")["value"] == -40, "value after the noSuchName point")


def test_v3_wrong_passphrase_fails(sd, tmp):
    cfg = config(tmp, ["{name: bad3, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                       " version: '3', %s, timeout: 300ms, retries: 0}}"
                       % (sd.port, V3.replace("authpass123", "wrongpass123"))], UPS_POINTS[:1])
    rc, ev, err = run_once(cfg)
    check(rc == 3, ("exit status", rc, err))
    r = [e for e in ev if e.get("event") == "reachability"]
    check(len(r) == 1 and r[0]["reachable"] is False, ev)


def test_toobig_is_split(sd, tmp):
    points = ["{name: s%d, oid: 1.3.6.1.4.1.99998.2.%d.0, type: text}" % (i, i)
              for i in range(1, 11)]
    cfg = config(tmp, ["{name: big, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                       " version: '3', %s, max_msg_size: 8000}}" % (sd.port, V3)], points)
    rc, ev, err = run_once(cfg, "-l", "debug")
    check(rc == 0, ("exit status", rc, err))
    for i in range(1, 11):
        e = find(ev, "big", "s%d" % i)
        check(e["quality"] == "good" and e["text"] == chr(ord("a") + i) * 255, ("value", i))
    check("tooBig" in err, "the device answered tooBig and the request was split")


def test_dead_device_does_not_delay_live_one(sd, tmp):
    dead = free_udp_port()
    cfg = config(tmp, [
        "{name: dead, profile: p, snmp: {host: 127.0.0.1, port: %d, timeout: 2s,"
        " retries: 1}}" % dead,
        # engine-id discovery of a dead v3 device must not block the loop either
        "{name: dead3, profile: p, snmp: {host: 127.0.0.1, port: %d, timeout: 2s,"
        " retries: 1, version: '3', %s}}" % (dead, V3),
        "{name: live, profile: p, snmp: {host: 127.0.0.1, port: %d, community: fmtest}}"
        % sd.port], UPS_POINTS[:3])
    t0 = time.time() * 1000
    rc, ev, err = run_once(cfg)
    check(rc == 3, ("exit status with a dead device", rc, err))
    live = [e for e in ev if e["device"] == "live"]
    check(len(live) == 3 and all(e["quality"] == "good" for e in live), live)
    check(max(e["ts"] for e in live) - t0 < 1500, "live device answered before the dead timed out")
    for name in ("dead", "dead3"):
        r = [e for e in ev if e["device"] == name]
        check(len(r) == 1 and r[0]["event"] == "reachability" and not r[0]["reachable"] and
              "timeout after 2 tries" in r[0]["reason"], r)


def test_once_starts_every_device_at_once(sd, tmp):
    """--once polls every SNMP device at once, as the Modbus poller does: no
    start-up spread (the default poll_spread 1 over a 30 s interval would
    hold each first poll for up to 30 s). Asserted by order, from the debug
    log: every device's poll begins before any poll ends."""
    path = os.path.join(tmp, "agent.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-test\nsite: lab\nsnmp: {poll_spread: 1}\ndevices:\n")
        for i in range(3):
            f.write("  - {name: ups%d, profile: p, interval: 30s, snmp: {host: 127.0.0.1,"
                    " port: %d, community: fmtest}}\n" % (i, sd.port))
        f.write("profiles:\n  - name: p\n    points:\n      - %s\n" % UPS_POINTS[0])
    rc, ev, err = run_once(path, "-l", "debug")
    check(rc == 0, ("exit status", rc, err))
    steps = re.findall(r"snmp: (ups\d): poll (begins|ok|failed)", err)
    begins = [i for i, s in enumerate(steps) if s[1] == "begins"]
    ends = [i for i, s in enumerate(steps) if s[1] != "begins"]
    check(sorted(d for d, s in steps if s == "begins") == ["ups0", "ups1", "ups2"] and
          len(ends) == 3, ("one poll of each device", steps))
    check(max(begins) < min(ends), ("a poll ended before every device had begun", steps))
    check(len([e for e in ev if e.get("point") == "battery_status"]) == 3, ev)


def test_counter_wrap_rate_and_device_coming_back(sd, tmp):
    cfg = config(tmp, ["{name: c, profile: p, interval: 1s, unreachable_after: 2,"
                       " snmp: {host: 127.0.0.1, port: %d, community: fmtest, timeout: 200ms,"
                       " retries: 0}}" % sd.port],
                 ["{name: octets, oid: 1.3.6.1.4.1.99999.1.1.0, type: counter, rate: true}"])
    a = AgentProc(AGENT, cfg)
    try:
        first = a.wait_for(lambda e: e.get("point") == "octets", "first counter value")
        check(first["raw"] == 4294967000 and "rate" not in first, first)
        sd.set_value("1.3.6.1.4.1.99999.1.1.0", "65", "200")
        e = a.wait_for(lambda e: e.get("point") == "octets" and e["raw"] == 200, "wrapped value")
        dt = (e["ts"] - first["ts"]) / 1000.0
        expect = (2 ** 32 - 4294967000 + 200) / dt
        check(abs(e["rate"] - expect) < expect * 0.05, ("rate across the wrap", e, expect))
        sd.pause()
        r = a.wait_for(lambda e: e.get("event") == "reachability", "unreachable event")
        check(r["reachable"] is False and r["consecutive_failures"] == 2, r)
        sd.resume()
        r = a.wait_for(lambda e: e.get("event") == "reachability", "reachable event")
        check(r["reachable"] is True, r)
        a.wait_for(lambda e: e.get("point") == "octets" and e["quality"] == "good",
                   "values after coming back")
    finally:
        sd.resume()
        a.stop()


def test_command_line_and_config_errors(sd, tmp):
    good = config(tmp, ["{name: a, profile: p, snmp: {host: 127.0.0.1, port: %d,"
                        " community: fmtest}}" % sd.port], UPS_POINTS[:1])
    r = subprocess.run([AGENT, "-t", "-c", good], capture_output=True, text=True)
    check(r.returncode == 0 and "configuration OK" in r.stdout, r)
    bad = config(tmp, ["{name: a, profile: nope, snmp: {host: 127.0.0.1}}"], UPS_POINTS[:1])
    for args in (["-t", "-c", bad], ["-c", bad, "--once"]):
        r = subprocess.run([AGENT, *args], capture_output=True, text=True)
        check(r.returncode == 2 and
              "agent.yaml:5: devices[0].profile: unknown profile 'nope'" in r.stderr, r)
    r = subprocess.run([AGENT, "-c", os.path.join(tmp, "missing.yaml"), "--once"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "missing.yaml" in r.stderr, r)
    r = subprocess.run([AGENT, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("fieldmon-agent "), r)
    r = subprocess.run([AGENT, "-h"], capture_output=True, text=True)
    check(r.returncode == 0 and "--once" in r.stdout, r)
    r = subprocess.run([AGENT, "--cycles", "0", "-c", good], capture_output=True, text=True)
    check(r.returncode == 2, r)


def failed_poll_gaps(tmp, host, port):
    """Runs a device at host:port that fails every poll (interval 1 s,
    backoff_max 4 s) until four failed polls are logged; returns the gaps
    between the first four and the failure lines."""
    import datetime
    cfg = config(tmp, ["{name: gone, profile: p, interval: 1s, snmp: {host: %s,"
                       " port: %d, timeout: 200ms, retries: 0}}" % (host, port)],
                 UPS_POINTS[:1])
    with open(cfg, encoding="ascii") as f:
        text = f.read().replace("backoff_max: 1s", "backoff_max: 4s")
    with open(cfg, "w", encoding="ascii") as f:
        f.write(text)
    # Each failed poll logs one line: "poll failed" (debug), or the
    # "unreachable" warning for the one that crosses unreachable_after.
    def failed(line):
        return "snmp: gone: poll failed" in line or "snmp: gone (" in line

    a = AgentProc(AGENT, cfg)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(map(failed, list(a.err))) < 4:
            time.sleep(0.1)
    finally:
        a.stop()
    lines = [line for line in a.err if failed(line)]
    stamps = [datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
              for line in lines]
    check(len(stamps) >= 4, ("failed polls seen", a.err))
    gaps = [(b - c).total_seconds() for c, b in zip(stamps, stamps[1:])][:3]
    # The interval doubles after each failure (1 s -> 2 s -> 4 s) and stops at backoff_max.
    print("     backoff gaps %s" % gaps)
    for got, want in zip(gaps, (2.0, 4.0, 4.0)):
        check(abs(got - want) < 0.4, ("backoff gaps", gaps))
    return lines


def test_failing_device_backs_off_to_the_cap(sd, tmp):
    failed_poll_gaps(tmp, "127.0.0.1", free_udp_port())


def test_host_names_resolve_without_blocking(sd, tmp):
    # "localhost" resolves (to 127.0.0.1, preferred over ::1); a .invalid
    # name never does (RFC 6761): that device fails with the resolver's
    # reason and does not hold up the other one.
    cfg = config(tmp, [
        "{name: byname, profile: p, snmp: {host: localhost, port: %d, community: fmtest}}"
        % sd.port,
        "{name: noname, profile: p, snmp: {host: ups.fieldmon.invalid, port: %d,"
        " community: fmtest}}" % sd.port], UPS_POINTS[:2])
    rc, ev, err = run_once(cfg, "-l", "info")
    check(rc == 3, ("exit status", rc, err))
    check(find(ev, "byname", "battery_status")["value"] == 2, "value polled through localhost")
    check("snmp: byname: localhost is 127.0.0.1" in err, err)
    r = [e for e in ev if e.get("event") == "reachability"]
    check(len(r) == 1 and r[0]["device"] == "noname" and not r[0]["reachable"] and
          r[0]["reason"].startswith("cannot resolve host name 'ups.fieldmon.invalid': "), r)
    check(not [e for e in ev if e["device"] == "noname" and e.get("event") == "measurement"],
          "no values from a name that does not resolve")


def test_unresolvable_name_is_retried_with_backoff(sd, tmp):
    lines = failed_poll_gaps(tmp, "gone.fieldmon.invalid", 161)
    check(all("cannot resolve host name 'gone.fieldmon.invalid'" in line for line in lines),
          lines)


TESTS = [test_command_line_and_config_errors, test_v2c_values, test_v3_authpriv_values, test_v1_values_and_nosuchname,
         test_v3_wrong_passphrase_fails, test_toobig_is_split,
         test_dead_device_does_not_delay_live_one,
         test_once_starts_every_device_at_once, test_counter_wrap_rate_and_device_coming_back,
         test_failing_device_backs_off_to_the_cap, test_host_names_resolve_without_blocking,
         test_unresolvable_name_is_retried_with_backoff]


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    wanted = set(sys.argv[2:])
    tmp = tempfile.mkdtemp(prefix="fm-agent-snmpd.")
    sd = Snmpd(tmp)
    failed = 1
    try:
        sd.start()
        failed = run_tests(TESTS, wanted, sd, tmp)
    finally:
        sd.stop()
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("scratch directory kept: %s" % tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
