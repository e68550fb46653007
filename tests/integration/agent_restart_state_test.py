#!/usr/bin/env python3
"""fieldmon-agent remembers what it raised across a kill -9 (alarms.state).

The real agent polls two UPSes served by fieldmon-sim and streams to
fieldmon-test-receiver (the collector stand-in of agent_edge_test.py, which
writes every event it commits to a file). One UPS goes on battery (a state
alarm), the other falls silent (unreachable, comm_loss); the agent reports
both and is killed with SIGKILL; both UPSes recover while it is down; the
restarted agent must send the clear, the comm_loss clear and the reachable
event, and never a second raise. Then the silent case again, still silent
at the restart: the new poller's unreachable report must not reach the
collector a second time, and the recovery must. Last, --once must neither
read nor write the state file.

usage: agent_restart_state_test.py AGENT RECEIVER SIM
Environment: FM_KEEP  keep the scratch directory even when all pass.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import agent_edge_test as edge  # noqa: E402  (Receiver, Agent, seqs_ok)
from fmtest import check, wait  # noqa: E402

SIM = None


class Sim(edge.Sim):
    """fieldmon-sim serving two UPSes (UPS-MIB data of tests/sim/data); ctl
    and stop as agent_edge_test's."""

    def __init__(self, tmp):  # pylint: disable=super-init-not-called
        self.sock = os.path.join(tmp, "sim.sock")
        data = os.path.join(SRC, "tests", "sim", "data", "snmp")
        fleet = os.path.join(tmp, "fleet.yaml")
        with open(fleet, "w") as f:
            f.write("""snmp_templates:
  - {name: ups-normal, file: %s/ups-normal.snmprec}
  - {name: ups-onbattery, file: %s/ups-onbattery.snmprec}
devices:
  - {name: ups-a, site: lab, protocol: snmp, template: ups-normal}
  - {name: ups-b, site: lab, protocol: snmp, template: ups-normal}
""" % (data, data))
        ports = os.path.join(tmp, "sim.ports")
        log = open(os.path.join(tmp, "sim.log"), "a")
        self.proc = subprocess.Popen([SIM, fleet, "--ports-file", ports, "--control", self.sock],
                                     stdout=log, stderr=log)
        log.close()
        wait(lambda: os.path.exists(ports), "the simulator's ports file", timeout=15)
        self.port = {}
        with open(ports) as f:
            for line in f:
                p = line.split()
                self.port[p[0]] = int(p[3])


def write_config(tmp, certs, recv_port, sim):
    path = os.path.join(tmp, "agent.yaml")
    devs = "".join(
        """  - {name: %s, class: ups, profile: ups, interval: 250ms, unreachable_after: 2,
     comm_loss: {fail_polls: 2, fail_time: 0s, clear_polls: 2},
     snmp: {host: 127.0.0.1, port: %d, community: public, timeout: 200ms, retries: 0}}
""" % (name, sim.port[name]) for name in ("ups-a", "ups-b"))
    with open(path, "w") as f:
        f.write("""agent_id: agent-1
site: lab
snmp: {poll_spread: 0, backoff_max: 1s}
collectors: ["127.0.0.1:%d"]
spool_dir: %s/spool
sender: {tls: {ca: %s/ca.crt, cert: %s/agent-1.crt, key: %s/agent-1.key},
         heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms, backoff_max: 500ms}
status: {interval: 1s, metrics_listen: "unix:%s/metrics.sock"}
devices:
%sprofiles:
  - name: ups
    points:
      - {name: upsOutputSource, oid: 1.3.6.1.2.1.33.1.4.1.0, type: enum,
         enum: {3: normal, 5: battery}, alarm: {states: [{equals: 5, code: ups_on_battery}]}}
""" % (recv_port, tmp, certs, certs, certs, tmp, devs))
    return path


def transitions(evs, dev):
    """The device's alarm and reachability transitions, in sequence order:
    ("ups_on_battery", "raised"), ("reach", "down"), ..."""
    out = []
    for e in evs:
        if e[2] == "alarm" and e[3][0] == dev:
            out.append((e[3][2], e[3][3]))
        elif e[2] == "reachability" and e[3][0] == dev:
            out.append(("reach", e[3][1]))
    return out


def test_kill9_then_recovery_while_down_is_reported(tmp, certs):
    sim = edge_recv = agent = None
    try:
        sim = Sim(tmp)
        edge_recv = edge.Receiver(tmp, certs)
        edge_recv.start()
        cfg = write_config(tmp, certs, edge_recv.port, sim)
        state = os.path.join(tmp, "spool", "alarms.state")
        agent = edge.Agent(tmp, cfg)
        agent.start()
        wait(lambda: any(e[2] == "measurement" for e in edge_recv.events()), "first measurements")
        check("no saved alarm state (first start)" in agent.logtext(), "first start not logged")

        # 1. Both report their fault; the agent is killed; both recover meanwhile.
        sim.ctl("data", "ups-a", "ups-onbattery")
        sim.ctl("dead", "ups-b")
        wait(lambda: transitions(edge_recv.events(), "ups-a") == [("ups_on_battery", "raised")]
             and set(transitions(edge_recv.events(), "ups-b")) ==
             {("reach", "down"), ("comm_loss", "raised")}, "the raises at the receiver")
        agent.kill()
        sim.ctl("clear", "ups-a")
        sim.ctl("clear", "ups-b")
        with open(state) as f:
            saved = f.read()
        check('"ups-a"' in saved and '"ups_on_battery"' in saved and saved.count('"ups-b"') == 2,
              "the state file after the kill:\n%s" % saved)
        agent.start()
        wait(lambda: transitions(edge_recv.events(), "ups-a")[-1:] ==
             [("ups_on_battery", "cleared")], "ups-a's clear after the restart")
        wait(lambda: ("comm_loss", "cleared") in transitions(edge_recv.events(), "ups-b"),
             "ups-b's comm_loss clear after the restart")
        check("restored from the last run: 1 raised alarms, 1 comm_loss, 1 unreachable devices"
              in agent.logtext(), "the restore was not logged")
        ta = transitions(edge_recv.events(), "ups-a")
        tb = transitions(edge_recv.events(), "ups-b")
        check(ta == [("ups_on_battery", "raised"), ("ups_on_battery", "cleared")],
              "ups-a: %s" % ta)
        check(sorted(tb[:2]) == [("comm_loss", "raised"), ("reach", "down")] and
              tb[2:] == [("reach", "up"), ("comm_loss", "cleared")], "ups-b: %s" % tb)

        # 2. ups-b silent again, and still silent when the agent comes back:
        # the new poller finds it unreachable, the collector hears it once.
        sim.ctl("dead", "ups-b")
        wait(lambda: transitions(edge_recv.events(), "ups-b")[-2:] in
             ([("reach", "down"), ("comm_loss", "raised")],
              [("comm_loss", "raised"), ("reach", "down")]), "ups-b down again")
        agent.kill()
        downs = agent.logtext().count("ups-b (127.0.0.1:%d): unreachable" % sim.port["ups-b"])
        agent.start()
        wait(lambda: agent.logtext().count("ups-b (127.0.0.1:%d): unreachable"
                                           % sim.port["ups-b"]) > downs,
             "the restarted poller to find ups-b unreachable")
        wait(lambda: edge.caught_up(agent, edge_recv), "the receiver to catch up")
        check(transitions(edge_recv.events(), "ups-b")[4:] in
              ([("reach", "down"), ("comm_loss", "raised")],
               [("comm_loss", "raised"), ("reach", "down")]),
              "ups-b after a restart while still down: %s"
              % transitions(edge_recv.events(), "ups-b"))
        sim.ctl("clear", "ups-b")
        wait(lambda: transitions(edge_recv.events(), "ups-b")[-1:] == [("comm_loss", "cleared")],
             "ups-b's recovery")
        check(transitions(edge_recv.events(), "ups-b")[6:] ==
              [("reach", "up"), ("comm_loss", "cleared")],
              "ups-b: %s" % transitions(edge_recv.events(), "ups-b"))
        wait(lambda: edge.caught_up(agent, edge_recv), "the receiver to catch up")
        agent.stop()
        edge.seqs_ok(edge_recv.events())
        check(transitions(edge_recv.events(), "ups-a") ==
              [("ups_on_battery", "raised"), ("ups_on_battery", "cleared")],
              "ups-a at the end: %s" % transitions(edge_recv.events(), "ups-a"))

        # 3. --once neither reads nor writes the state file.
        sim.ctl("dead", "ups-b")
        with open(state, "w") as f:
            f.write("not json: --once must not look\n")
        before = os.stat(state).st_mtime_ns
        r = subprocess.run([edge.AGENT, "--once", "-c", cfg], capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 3, "--once with a dead device: exit %d\n%s" % (r.returncode,
                                                                            r.stderr))
        check("alarms.state" not in r.stderr, "--once read the state file:\n%s" % r.stderr)
        check(os.stat(state).st_mtime_ns == before, "--once wrote the state file")
        os.unlink(state)
        r = subprocess.run([edge.AGENT, "--once", "-c", cfg], capture_output=True, text=True,
                           timeout=60)
        check(not os.path.exists(state), "--once created the state file")
    finally:
        if agent is not None and agent.proc.poll() is None:
            agent.kill()
        if edge_recv is not None:
            edge_recv.kill()
        if sim is not None:
            sim.stop()


def main():
    global SIM
    edge.AGENT = os.path.abspath(sys.argv[1])
    edge.RECEIVER = os.path.abspath(sys.argv[2])
    SIM = edge.SIM = os.path.abspath(sys.argv[3])
    base = tempfile.mkdtemp(prefix="fm-agent-restart-state.")
    certs = os.path.join(base, "certs")
    subprocess.run([os.path.join(SRC, "deploy", "make-test-certs.sh"), certs, "agent-1"],
                   check=True, stdout=subprocess.DEVNULL)
    failed = 0
    for t in [test_kill9_then_recovery_while_down_is_reported]:
        tmp = os.path.join(base, t.__name__)
        os.makedirs(tmp)
        t0 = time.monotonic()
        try:
            t(tmp, certs)
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except (Exception, AssertionError) as ex:  # report, then fail
            failed += 1
            print("FAIL %s: %s" % (t.__name__, ex), flush=True)
            for log in ("agent.log", "receiver.log", "sim.log"):
                p = os.path.join(tmp, log)
                if os.path.exists(p):
                    with open(p) as f:
                        print("--- %s (last 40 lines)\n%s" % (log, "".join(f.readlines()[-40:])))
    if failed == 0 and not os.environ.get("FM_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
    else:
        print("scratch directory kept: %s" % base)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
