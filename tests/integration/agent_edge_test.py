#!/usr/bin/env python3
"""fieldmon-agent's alarms, spool and link to the collector, with real processes.

Runs the real agent against net-snmp's snmpd (started as in
agent_snmpd_test.py: UPS and lab values served through pass_persist, which
the tests rewrite while the agent runs) and fieldmon-test-receiver, the
collector stand-in that writes every event to a file, fdatasyncs, and only
then acks. Certificates come from deploy/make-test-certs.sh. Every port is
picked at run time on 127.0.0.1.

usage: agent_edge_test.py AGENT RECEIVER [SIM] [test-name ...]
SIM is fieldmon-sim (tests/sim), for the test that polls the simulator.
Environment: FM_OUTAGE_S  receiver outage of test_outage_ups_on_battery
             (default 8; the acceptance criterion's full length is 60).
             FM_KEEP      keep the scratch directory even when all pass.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from agent_snmpd_test import Snmpd  # noqa: E402  (the same real snmpd set-up)
from fmtest import agent_metrics, check, free_udp_port, wait  # noqa: E402

AGENT = RECEIVER = SIM = None
SOURCE = "1.3.6.1.4.1.99999.9.1.0"   # plays upsOutputSource: 3 normal, 5 battery
TEMP = "1.3.6.1.4.1.99999.9.2.0"     # battery temperature, 0.1 degC
FILLER = "1.3.6.1.4.1.99999.9.3"     # table of filler values for volume


class Fail(Exception):
    pass


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Receiver:
    """fieldmon-test-receiver on a fixed port, restartable, killable."""

    def __init__(self, tmp, certs, port=None, tls=True, mute=False, extra=()):
        self.tmp, self.certs, self.tls, self.mute = tmp, certs, tls, mute
        self.extra = list(extra)
        self.out = os.path.join(tmp, "received.txt")
        self.log = os.path.join(tmp, "receiver.log")
        self.port = port
        self.proc = None

    def start(self):
        for _ in range(5):
            port = self.port or free_tcp_port()
            pf = os.path.join(self.tmp, "recv.port")
            if os.path.exists(pf):
                os.unlink(pf)
            args = [RECEIVER, "--out", self.out, "--listen", "127.0.0.1:%d" % port,
                    "--port-file", pf, "--heartbeat-s", "1"]
            if self.tls:
                args += ["--ca", self.certs + "/ca.crt", "--cert", self.certs + "/collector.crt",
                         "--key", self.certs + "/collector.key"]
            else:
                args += ["--plain"]
            if self.mute:
                args += ["--mute"]
            args += self.extra
            log = open(self.log, "a")
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
            log.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if os.path.exists(pf):
                    self.port = port
                    return
                time.sleep(0.05)
            self.proc.wait()
            if self.port:  # a fixed port that is (briefly) taken: try again
                time.sleep(0.5)
        raise Fail("receiver did not start; see %s" % self.log)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def events(self):
        """Lines of the output file, parsed: (epoch, seq, kind, rest)."""
        if not os.path.exists(self.out):
            return []
        evs = []
        with open(self.out) as f:
            for line in f:
                # The receiver may be writing while we read: a last line
                # without its newline is not there yet.
                if not line.endswith("\n"):
                    break
                p = line.split()
                evs.append((int(p[1]), int(p[2]), p[4], p[5:]))
        return evs

    def logtext(self):
        with open(self.log) as f:
            return f.read()


class Agent:
    def __init__(self, tmp, cfg):
        self.tmp, self.cfg = tmp, cfg
        self.log = os.path.join(tmp, "agent.log")
        self.proc = None

    def start(self):
        log = open(self.log, "a")
        self.proc = subprocess.Popen([AGENT, "-c", self.cfg, "-l", "info"], stdout=log,
                                     stderr=log)
        log.close()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(20)
        check(rc == 0, "agent exit status after SIGTERM: %s; log:\n%s" % (rc, self.logtext()))

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def metrics(self):
        """Prometheus text from the unix socket, as a dict."""
        return agent_metrics(os.path.join(self.tmp, "metrics.sock"))


def write_config(tmp, sd, certs, recv_port, extra_points="", spool="", sender="",
                 interval="200ms", tls=True, ca="ca.crt", cert="agent-1", extra_root=""):
    path = os.path.join(tmp, "agent.yaml")
    transport = ("transport: tls, tls: {ca: %s/%s, cert: %s/%s.crt, key: %s/%s.key}"
                 % (certs, ca, certs, cert, certs, cert)) if tls else "transport: plain"
    with open(path, "w") as f:
        f.write("""agent_id: agent-1
site: lab
snmp: {poll_spread: 0, backoff_max: 1s}
collectors: ["127.0.0.1:%d"]
spool_dir: %s/spool
spool: {fsync: interval, %s}
sender: {%s, heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms, backoff_max: 1s, %s}
status: {interval: 1s, metrics_listen: "unix:%s/metrics.sock"}
%s
devices:
  - {name: ups1, class: ups, profile: ups, interval: %s,
     snmp: {host: 127.0.0.1, port: %d, community: fmtest, timeout: 300ms, retries: 0}}
profiles:
  - name: ups
    points:
      - {name: upsOutputSource, report: {every_poll: true}, oid: %s, type: enum, enum: {3: normal, 5: battery},
         alarm: {states: [{equals: 5, code: ups_on_battery}]}}
      - {name: upsBatteryTemperature, report: {every_poll: true}, oid: %s, scale: 0.1, unit: C,
         alarm: {limits: [{dir: high, level: warning, value: 30}], deadband: 1,
                 on_delay: 0s, off_delay: 0s}}
%s""" % (recv_port, tmp, spool, transport, sender, tmp, extra_root, interval, sd.port, SOURCE,
         TEMP, extra_points))
    return path


def seqs_ok(evs, allow_overflow_gaps=False):
    """Sequences from 1, strictly increasing, one epoch, no gap unless an
    overflow event explains it. Returns the list of sequences."""
    check(evs, "no events arrived")
    epochs = {e[0] for e in evs}
    check(len(epochs) == 1, "events of several epochs: %s" % epochs)
    seqs = [e[1] for e in evs]
    check(len(seqs) == len(set(seqs)), "a sequence arrived twice")
    check(seqs == sorted(seqs), "sequences out of order")
    dropped = set()
    for e in evs:
        if e[2] == "overflow":
            first = int(e[3][2].split("=")[1])
            last = int(e[3][3].split("=")[1])
            dropped.update(range(first, last + 1))
    check(seqs[0] == 1 or (allow_overflow_gaps and 1 in dropped),
          "first sequence is %d" % seqs[0])
    prev = seqs[0]
    for s in seqs[1:]:
        if s != prev + 1:
            missing = set(range(prev + 1, s))
            check(allow_overflow_gaps and missing <= dropped,
                  "gap %d..%d not explained by an overflow" % (prev + 1, s - 1))
        prev = s
    return seqs


def alarms(evs, code):
    return [e[3][3] for e in evs if e[2] == "alarm" and e[3][2] == code]


def caught_up(agent, recv):
    """True once the receiver holds every sequence the agent wrote."""
    m = agent.metrics()
    if not m or m.get("fieldmon_agent_spool_written_seq", 0) == 0:
        return False
    evs = recv.events()
    return evs and evs[-1][1] >= m["fieldmon_agent_spool_written_seq"]


def set_lab(sd, oid, tag, value):
    sd.set_value(oid, tag, value)


# ------------------------------------------------------------------ tests


def test_outage_ups_on_battery(sd, tmp, certs):
    """Receiver down while the UPS goes on battery and back: after it returns,
    every event arrives exactly once per sequence and in order."""
    outage = float(os.environ.get("FM_OUTAGE_S", "8"))
    recv = Receiver(tmp, certs)
    recv.start()
    agent = Agent(tmp, write_config(tmp, sd, certs, recv.port))
    agent.start()
    try:
        wait(lambda: len(recv.events()) > 10, "first events at the receiver")
        recv.kill()
        t0 = time.monotonic()
        time.sleep(min(1.0, outage / 4))
        set_lab(sd, SOURCE, "2", "5")       # on battery while the link is down
        time.sleep(min(2.0, outage / 3))
        set_lab(sd, SOURCE, "2", "3")       # mains back, still down
        time.sleep(max(0.0, outage - (time.monotonic() - t0)))
        m = agent.metrics()
        check(m.get("fieldmon_agent_connected") == 0, "agent still connected: %s" % m)
        check(m["fieldmon_agent_spool_events"] > 0, "nothing held during the outage")
        recv.start()                          # same port, same output file
        wait(lambda: caught_up(agent, recv), "the receiver to catch up", timeout=30)
        agent.stop()
        evs = recv.events()
        seqs_ok(evs)
        check(alarms(evs, "ups_on_battery") == ["raised", "cleared"],
              "ups_on_battery transitions: %s" % alarms(evs, "ups_on_battery"))
        check("session lost" in agent.logtext() or "peer closed" in agent.logtext(),
              "the agent did not log the lost session")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_kill9_midstream_no_gap(sd, tmp, certs):
    """Agent killed with SIGKILL while streaming, then restarted: no sequence
    lost, no gap, no duplicate, same epoch."""
    recv = Receiver(tmp, certs)
    recv.start()
    filler = "      - {name: filler, report: {every_poll: true}, oid: %s, table: true, index_label: row}\n" % FILLER
    agent = Agent(tmp, write_config(tmp, sd, certs, recv.port, extra_points=filler,
                                    interval="100ms"))
    agent.start()
    try:
        wait(lambda: len(recv.events()) > 300, "events streaming")
        agent.kill()
        before = recv.events()[-1][1]
        agent.start()
        wait(lambda: len(recv.events()) > 0 and recv.events()[-1][1] > before + 300,
             "streaming after the restart")
        wait(lambda: caught_up(agent, recv), "the receiver to catch up")
        agent.stop()
        seqs_ok(recv.events())
        check(agent.logtext().count("session up") >= 2, "no second session")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_spool_cap_keeps_every_alarm_transition(sd, tmp, certs):
    """Collector away long enough to overflow a small spool: the oldest
    measurements are dropped and counted, every alarm transition is kept."""
    recv = Receiver(tmp, certs)
    port = free_tcp_port()
    recv.port = port
    filler = "      - {name: filler, report: {every_poll: true}, oid: %s, table: true, index_label: row}\n" % FILLER
    agent = Agent(tmp, write_config(tmp, sd, certs, port, extra_points=filler,
                                    spool="max_size: 96KiB, segment_size: 8KiB",
                                    interval="100ms"))
    agent.start()
    try:
        toggles = 0
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            set_lab(sd, SOURCE, "2", "5" if toggles % 2 == 0 else "3")
            toggles += 1
            time.sleep(0.4)
            m = agent.metrics()
            if toggles >= 6 and toggles % 2 == 0 and \
                    m.get("fieldmon_agent_events_dropped_total", 0) > 0:
                break
        check(agent.metrics().get("fieldmon_agent_events_dropped_total", 0) > 0,
              "the spool never overflowed")
        time.sleep(1.0)  # the last transition is polled and spooled
        recv.start()
        wait(lambda: caught_up(agent, recv), "the receiver to catch up", timeout=30)
        agent.stop()
        evs = recv.events()
        seqs_ok(evs, allow_overflow_gaps=True)
        got = alarms(evs, "ups_on_battery")
        check(got == ["raised", "cleared"] * (toggles // 2),
              "after %d toggles the receiver has %s" % (toggles, got))
        overflow = [e for e in evs if e[2] == "overflow"]
        check(overflow, "no SpoolOverflow event")
        dropped = sum(int(e[3][1].split("=")[1]) for e in overflow)
        check(dropped > 0, "overflow events report nothing dropped")
        check("dropped" in agent.logtext(), "overflow not logged")
        check("not 24 h" in agent.logtext(), "no warning that the cap holds less than a day")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_deadband_oscillation_raises_once_clears_once(sd, tmp, certs):
    """A temperature hovering around its 30 degC limit inside the 1 degC
    deadband raises once and clears once."""
    recv = Receiver(tmp, certs)
    recv.start()
    agent = Agent(tmp, write_config(tmp, sd, certs, recv.port, interval="100ms"))
    agent.start()
    try:
        for v in ["295", "302", "296", "301", "294", "300", "299", "291", "302", "289", "285"]:
            set_lab(sd, TEMP, "2", v)
            time.sleep(0.5)
        time.sleep(0.5)
        wait(lambda: caught_up(agent, recv), "the receiver to catch up")
        agent.stop()
        evs = recv.events()
        seqs_ok(evs)
        check(alarms(evs, "high_warning") == ["raised", "cleared"],
              "high_warning transitions: %s" % alarms(evs, "high_warning"))
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def tls_refused(sd, tmp, certs, ca, cert, agent_pattern, recv_pattern):
    recv = Receiver(tmp, certs)
    recv.start()
    agent = Agent(tmp, write_config(tmp, sd, certs, recv.port, ca=ca, cert=cert))
    agent.start()
    try:
        wait(lambda: re.search(agent_pattern, agent.logtext()) or None,
             "agent log line %r" % agent_pattern, timeout=15)
        wait(lambda: re.search(recv_pattern, recv.logtext()) or None,
             "receiver log line %r" % recv_pattern, timeout=15)
        check(recv.events() == [], "events got through a refused session")
        agent.stop()
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_tls_wrong_ca_refused(sd, tmp, certs):
    """The agent trusts another CA than the collector's: refused, said why."""
    tls_refused(sd, tmp, certs, "other-ca.crt", "rogue-agent-1",
                r"TLS session refused: certificate verify failed: "
                r"(self-signed certificate in certificate chain|unable to get local issuer)",
                r"TLS session refused")


def test_tls_expired_client_cert_refused(sd, tmp, certs):
    """The agent presents an expired certificate: the collector refuses it."""
    tls_refused(sd, tmp, certs, "ca.crt", "expired",
                r"TLS session refused: .*(certificate expired|closed)",
                r"TLS session refused: certificate verify failed: certificate has expired")


def test_tls_no_client_cert_refused(sd, tmp, certs):
    """A client without a certificate (openssl s_client) is refused."""
    recv = Receiver(tmp, certs)
    recv.start()
    try:
        subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % recv.port,
                        "-CAfile", certs + "/ca.crt", "-verify_return_error"],
                       input=b"", capture_output=True, timeout=15)
        wait(lambda: "peer did not return a certificate" in recv.logtext(),
             "the receiver's refusal", timeout=10)
        check("TLS session refused" in recv.logtext(), "no refusal line")
    finally:
        recv.kill()


def test_sighup_keeps_spool_and_alarm_state(sd, tmp, certs):
    """SIGHUP with a changed limit: the agent keeps its epoch, sequences and
    raised alarms; a bad file is refused with its line and changes nothing."""
    recv = Receiver(tmp, certs)
    recv.start()
    cfg = write_config(tmp, sd, certs, recv.port)
    agent = Agent(tmp, cfg)
    set_lab(sd, SOURCE, "2", "5")
    agent.start()
    try:
        wait(lambda: alarms(recv.events(), "ups_on_battery") == ["raised"], "on battery raised")
        with open(cfg) as f:
            good = f.read()
        with open(cfg, "w") as f:
            f.write(good.replace("value: 30}", "value: 31}"))
        agent.signal(signal.SIGHUP)
        wait(lambda: "configuration reloaded" in agent.logtext(), "the reload")
        # The replaced configuration is freed once the poller and the trap
        # receiver built on it are, not kept until exit: three more reloads
        # release three more.
        wait(lambda: "configuration 0 released" in agent.logtext(), "the first release")
        for i in range(3):
            agent.signal(signal.SIGHUP)
            wait(lambda: agent.logtext().count("agent: configuration reloaded:") == i + 2,
                 "reload %d" % (i + 2))
        wait(lambda: "configuration 3 released" in agent.logtext(), "the fourth release")
        check(agent.logtext().count(" released") == 4, "each replaced configuration released once")
        with open(cfg, "w") as f:
            f.write(good + "bogus_key: 1\n")
        agent.signal(signal.SIGHUP)
        wait(lambda: "reload refused" in agent.logtext(), "the refused reload")
        check(re.search(r"agent\.yaml:\d+: bogus_key", agent.logtext()),
              "the refusal does not name the file and line")
        n = len(recv.events())
        wait(lambda: len(recv.events()) > n + 20, "events after the reloads")
        set_lab(sd, SOURCE, "2", "3")
        wait(lambda: alarms(recv.events(), "ups_on_battery") == ["raised", "cleared"],
             "on battery cleared after the reloads")
        wait(lambda: caught_up(agent, recv), "the receiver to catch up")
        agent.stop()
        seqs_ok(recv.events())
        check(any(e[2] == "status" for e in recv.events()), "no status event")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_sighup_applies_spool_cap_and_refuses_spool_dir(sd, tmp, certs):
    """SIGHUP with a smaller spool.max_size applies it at once; what the cap
    removes is counted as dropped exactly (nothing was ever sent: every
    removed event is missing at the receiver afterwards). A changed
    spool_dir refuses the reload, naming the key."""
    recv = Receiver(tmp, certs)
    recv.port = free_tcp_port()     # not started yet: everything stays spooled
    filler = "      - {name: filler, report: {every_poll: true}, oid: %s, table: true, index_label: row}\n" % FILLER
    cfg = write_config(tmp, sd, certs, recv.port, extra_points=filler, interval="100ms",
                       spool="max_size: 1MiB, segment_size: 8KiB")
    agent = Agent(tmp, cfg)
    agent.start()
    try:
        wait(lambda: agent.metrics().get("fieldmon_agent_spool_bytes", 0) > 200 * 1024,
             "200 KiB spooled")
        check(agent.metrics()["fieldmon_agent_events_dropped_total"] == 0, "dropped early")
        with open(cfg) as f:
            good = f.read()
        with open(cfg, "w") as f:
            f.write(good.replace("max_size: 1MiB", "max_size: 64KiB"))
        agent.signal(signal.SIGHUP)
        wait(lambda: agent.metrics().get("fieldmon_agent_spool_cap_bytes") == 65536,
             "the new cap")
        check(agent.metrics()["fieldmon_agent_spool_bytes"] <= 65536 + 16384,
              "the spool is still over the new cap: %s" % agent.metrics())
        check("cap 1.0 MiB -> 0.1 MiB" in agent.logtext(), "the new cap is not logged")
        with open(cfg, "w") as f:
            f.write(good.replace("max_size: 1MiB", "max_size: 64KiB")
                    .replace("spool_dir: %s/spool" % tmp, "spool_dir: %s/elsewhere" % tmp))
        agent.signal(signal.SIGHUP)
        wait(lambda: "spool_dir cannot change while the agent runs" in agent.logtext(),
             "the refused spool_dir")
        check(not os.path.exists(os.path.join(tmp, "elsewhere")), "the new directory was made")
        time.sleep(1.0)
        recv.start()
        wait(lambda: caught_up(agent, recv), "the receiver to catch up", timeout=30)
        m = agent.metrics()
        agent.stop()
        evs = recv.events()
        seqs_ok(evs, allow_overflow_gaps=True)
        missing = m["fieldmon_agent_spool_written_seq"] - len(evs)
        check(missing > 0, "nothing was removed by the smaller cap")
        check(m["fieldmon_agent_events_dropped_total"] == missing,
              "dropped %d, but %d events are missing" %
              (m["fieldmon_agent_events_dropped_total"], missing))
        check(m["fieldmon_agent_spool_unconfirmed_events"] == 0, "events still in doubt")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_dead_collector_detected_and_next_endpoint_used(sd, tmp, certs):
    """The first endpoint accepts but never answers (hung collector): the
    agent gives up on it after dead_after and streams to the second."""
    hung = Receiver(tmp, certs, mute=True)
    hung.out = os.path.join(tmp, "hung.txt")
    hung.start()
    good = Receiver(tmp, certs)
    good.start()
    cfg = write_config(tmp, sd, certs, hung.port)
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace('collectors: ["127.0.0.1:%d"]' % hung.port,
                             'collectors: ["127.0.0.1:%d", "127.0.0.1:%d"]'
                             % (hung.port, good.port)))
    agent = Agent(tmp, cfg)
    agent.start()
    try:
        wait(lambda: len(good.events()) > 5, "events at the second endpoint", timeout=20)
        check("peer presumed dead" in agent.logtext() or "timed out" in agent.logtext(),
              "no dead-peer line")
        agent.stop()
        seqs_ok(good.events())
    finally:
        hung.kill()
        good.kill()
        if agent.proc.poll() is None:
            agent.kill()


def test_inform_acknowledged_once_spooled(sd, tmp, certs):
    """An SNMP inform (net-snmp's snmpinform) is acknowledged once its event
    is in the spool, and the event reaches the collector."""
    recv = Receiver(tmp, certs)
    recv.start()
    port = free_udp_port()
    traps = ("trap_receiver: {enabled: true, listen: \"127.0.0.1:%d\", communities: [fm-traps]}"
             % port)
    cfg = write_config(tmp, sd, certs, recv.port, extra_root=traps)
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text + "    traps:\n      - {oid: 1.3.6.1.2.1.33.2.1, alarm: ups_on_battery, "
                "state: raised}\n")
    agent = Agent(tmp, cfg)
    agent.start()
    try:
        wait(lambda: "trap: receiving on" in agent.logtext(), "the trap receiver")
        r = subprocess.run(["snmpinform", "-v2c", "-c", "fm-traps", "-t", "3", "-r", "1",
                            "127.0.0.1:%d" % port, "", "1.3.6.1.2.1.33.2.1",
                            "1.3.6.1.2.1.33.1.2.2.0", "i", "60"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MIBS=""))
        check(r.returncode == 0, "inform not acknowledged: %s" % r.stderr)
        wait(lambda: any(e[2] == "trap" for e in recv.events()), "the trap at the receiver")
        wait(lambda: caught_up(agent, recv), "the receiver to catch up")
        agent.stop()
        check("informs acknowledged 1" in agent.logtext(), "inform count not logged")
        seqs_ok(recv.events())
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


class Sim:
    """fieldmon-sim serving one UPS (UPS-MIB data of tests/sim/data), its
    informs sent to the agent's trap port."""

    def __init__(self, tmp, trap_port):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "sim.sock")
        data = os.path.join(SRC, "tests", "sim", "data", "snmp")
        self.fleet = os.path.join(tmp, "fleet.yaml")
        with open(self.fleet, "w") as f:
            f.write("""traps: {receiver: "127.0.0.1:%d", community: fm-traps, inform: true,
        timeout: 500ms, retries: 5}
snmp_templates:
  - {name: ups-normal, file: %s/ups-normal.snmprec}
  - {name: ups-onbattery, file: %s/ups-onbattery.snmprec, trap: 1.3.6.1.2.1.33.2.1,
     trap_objects: [1.3.6.1.2.1.33.1.2.2.0]}
devices:
  - {name: ups-sim, site: lab, protocol: snmp, template: ups-normal}
""" % (trap_port, data, data))
        ports = os.path.join(tmp, "sim.ports")
        log = open(os.path.join(tmp, "sim.log"), "a")
        self.proc = subprocess.Popen([SIM, self.fleet, "--ports-file", ports, "--control",
                                      self.sock], stdout=log, stderr=log)
        log.close()
        wait(lambda: os.path.exists(ports), "the simulator's ports file", timeout=15)
        with open(ports) as f:
            self.port = int(f.readline().split()[3])

    def ctl(self, *args):
        r = subprocess.run([SIM, "ctl", "--control", self.sock] + list(args),
                           capture_output=True, text=True, timeout=15)
        check(r.returncode == 0, "fieldmon-sim ctl %s: %s" % (" ".join(args), r.stderr))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_sim_outage_ups_on_battery(sd, tmp, certs):
    """The acceptance run: the agent polls the simulator's UPS (real UPS-MIB
    OIDs) while the receiver is down, the UPS goes on battery (its inform
    arrives too) and back; afterwards every event arrives exactly once per
    sequence and in order, the transitions and the trap among them."""
    if SIM is None:
        raise Fail("no fieldmon-sim given")
    outage = float(os.environ.get("FM_OUTAGE_S", "8"))
    trap_port = free_udp_port()
    sim = Sim(tmp, trap_port)
    recv = Receiver(tmp, certs)
    recv.start()
    cfg = os.path.join(tmp, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("""agent_id: agent-1
site: lab
snmp: {poll_spread: 0, backoff_max: 1s}
collectors: ["127.0.0.1:%d"]
spool_dir: %s/spool
sender: {tls: {ca: %s/ca.crt, cert: %s/agent-1.crt, key: %s/agent-1.key},
         heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms, backoff_max: 1s}
status: {interval: 1s, metrics_listen: "unix:%s/metrics.sock"}
trap_receiver: {enabled: true, listen: "127.0.0.1:%d", communities: [fm-traps]}
devices:
  - {name: ups-sim, class: ups, profile: ups, interval: 250ms,
     snmp: {host: 127.0.0.1, port: %d, community: public, timeout: 300ms, retries: 0}}
profiles:
  - name: ups
    points:
      - {name: upsOutputSource, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.4.1.0, type: enum,
         enum: {3: normal, 5: battery}, alarm: {states: [{equals: 5, code: ups_on_battery}]}}
      - {name: upsEstimatedChargeRemaining, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.2.4.0, unit: "%%",
         alarm: {limits: [{dir: low, value: 90}], on_delay: 0s, off_delay: 0s}}
      - {name: upsBatteryTemperature, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.2.7.0, unit: C}
    traps:
      - {oid: 1.3.6.1.2.1.33.2.1, alarm: ups_on_battery, state: raised}
""" % (recv.port, tmp, certs, certs, certs, tmp, trap_port, sim.port))
    agent = Agent(tmp, cfg)
    agent.start()
    try:
        wait(lambda: len(recv.events()) > 10, "first events at the receiver")
        recv.kill()
        t0 = time.monotonic()
        time.sleep(min(1.0, outage / 4))
        sim.ctl("data", "ups-sim", "ups-onbattery")   # on battery, inform sent
        time.sleep(min(3.0, outage / 2))
        sim.ctl("clear", "ups-sim")                   # mains back
        time.sleep(max(0.0, outage - (time.monotonic() - t0)))
        check(agent.metrics().get("fieldmon_agent_connected") == 0, "agent still connected")
        recv.start()
        wait(lambda: caught_up(agent, recv), "the receiver to catch up", timeout=30)
        agent.stop()
        evs = recv.events()
        seqs_ok(evs)
        check(alarms(evs, "ups_on_battery") == ["raised", "cleared"],
              "ups_on_battery transitions: %s" % alarms(evs, "ups_on_battery"))
        check(alarms(evs, "low_warning") == ["raised", "cleared"],
              "charge low_warning transitions: %s" % alarms(evs, "low_warning"))
        traps = [e for e in evs if e[2] == "trap"]
        check(len(traps) == 1 and traps[0][3][1] == "1.3.6.1.2.1.33.2.1",
              "the on-battery inform: %s" % traps)
        check("informs acknowledged 1" in agent.logtext(), "the inform was not acknowledged")
    finally:
        recv.kill()
        sim.stop()
        if agent.proc.poll() is None:
            agent.kill()


def test_calibration_command_from_the_collector(sd, tmp, certs):
    """The collector's SetCalibration changes the corrected value from then
    on (the raw value stays); one for an unknown point is refused, said why."""
    recv = Receiver(tmp, certs, extra=["--calibrate", "ups1/upsBatteryTemperature/-5/1",
                                       "--calibrate", "ups1/nope/0/1"])
    recv.start()
    agent = Agent(tmp, write_config(tmp, sd, certs, recv.port))
    agent.start()
    try:
        wait(lambda: "command 2: refused: no point nope on device ups1" in recv.logtext(),
             "the refusal of the unknown point")
        check("command 1: ok" in recv.logtext(), "calibration not acknowledged")

        def temps():
            return [e[3] for e in recv.events()
                    if e[2] == "measurement" and e[3][1] == "upsBatteryTemperature"]
        wait(lambda: len(temps()) > 5, "temperatures")
        agent.stop()
        vals = [float(t[2]) for t in temps()]
        raws = {t[3] for t in temps()}
        # 24.5 until the command arrived (the first polls may beat it), then
        # 24.5 - 5 for good.
        first = vals.index(19.5) if 19.5 in vals else len(vals)
        check(set(vals[:first]) <= {24.5} and set(vals[first:]) == {19.5},
              "corrected values %s, want 24.5... then 19.5 (24.5 - 5)" % vals)
        check(raws == {"raw=245"}, "raw values %s" % raws)
        check("calibration set by the collector" in agent.logtext(), "not logged")
    finally:
        recv.kill()
        if agent.proc.poll() is None:
            agent.kill()


TESTS = [test_outage_ups_on_battery, test_kill9_midstream_no_gap,
         test_spool_cap_keeps_every_alarm_transition,
         test_deadband_oscillation_raises_once_clears_once, test_tls_wrong_ca_refused,
         test_tls_expired_client_cert_refused, test_tls_no_client_cert_refused,
         test_sighup_keeps_spool_and_alarm_state,
         test_sighup_applies_spool_cap_and_refuses_spool_dir,
         test_dead_collector_detected_and_next_endpoint_used,
         test_inform_acknowledged_once_spooled, test_sim_outage_ups_on_battery,
         test_calibration_command_from_the_collector]


def main():
    global AGENT, RECEIVER, SIM
    AGENT = os.path.abspath(sys.argv[1])
    RECEIVER = os.path.abspath(sys.argv[2])
    rest = sys.argv[3:]
    if rest and os.path.basename(rest[0]) == "fieldmon-sim":
        SIM = os.path.abspath(rest.pop(0))
    wanted = set(rest)
    base = tempfile.mkdtemp(prefix="fm-agent-edge.")
    certs = os.path.join(base, "certs")
    subprocess.run([os.path.join(SRC, "deploy", "make-test-certs.sh"), certs, "agent-1"],
                   check=True, stdout=subprocess.DEVNULL)
    failed = 0
    for t in TESTS:
        if wanted and t.__name__ not in wanted:
            continue
        tmp = os.path.join(base, t.__name__)
        os.makedirs(tmp)
        sd = Snmpd(tmp)
        with open(sd.lab, "a") as f:
            f.write("%s|2|3\n%s|2|245\n" % (SOURCE, TEMP))
            for i in range(1, 41):
                f.write("%s.%d|2|%d\n" % (FILLER, i, i))
        try:
            sd.start()
            t0 = time.monotonic()
            t(sd, tmp, certs)
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except (Exception, AssertionError) as ex:  # report every failing test, then fail
            failed += 1
            print("FAIL %s: %s" % (t.__name__, ex), flush=True)
            for log in ("agent.log", "receiver.log"):
                p = os.path.join(tmp, log)
                if os.path.exists(p):
                    with open(p) as f:
                        print("--- %s (last 30 lines)\n%s" % (log, "".join(f.readlines()[-30:])))
        finally:
            sd.stop()
    if failed == 0 and not os.environ.get("FM_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
    else:
        print("scratch directory kept: %s" % base)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
