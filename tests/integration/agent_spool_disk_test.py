#!/usr/bin/env python3
"""fieldmon-agent on a full disk: its spool directory on a small tmpfs that
the test fills to the last byte while the agent polls fieldmon-sim's UPS and
streams to fieldmon-test-receiver.

While the disk is full the agent keeps polling, refuses (and counts) the
measurements that no longer fit its write buffer, holds the alarm
transitions in memory, and does not acknowledge an SNMP inform whose event
could not be written. When space returns, the held transitions are written
first and every one reaches the receiver, in order, with no sequence gap.

The tmpfs needs root (the suite runs as root); if it cannot be mounted the
test says why and exits 77 (ctest: skipped). It is always unmounted.

usage: agent_spool_disk_test.py AGENT RECEIVER SIM
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import agent_edge_test as edge  # noqa: E402  (Receiver, Agent, Sim, checks)
from fmtest import check, free_udp_port, wait  # noqa: E402

TMPFS_SIZE = "1m"


def fill(path):
    """Writes zeros to path until the file system refuses; returns bytes."""
    n = 0
    chunk = b"\0" * 4096
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
                n += len(chunk)
            except OSError:
                break
        # Whatever is left below a page.
        for size in (1024, 128, 16, 1):
            try:
                while True:
                    f.write(b"\0" * size)
                    n += size
            except OSError:
                pass
    return n


def metric(agent, name):
    return agent.metrics().get(name, 0)


def run(base):
    mnt = os.path.join(base, "disk")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("skip: cannot mount a %s tmpfs on %s: %s" % (TMPFS_SIZE, mnt, r.stderr.strip()))
        return 77
    try:
        return full_disk(base, mnt)
    finally:
        subprocess.run(["umount", "-l", mnt])


def full_disk(tmp, mnt):
    trap_port = free_udp_port()
    sim = edge.Sim(tmp, trap_port)
    recv = edge.Receiver(tmp, None, tls=False)
    recv.start()
    cfg = os.path.join(tmp, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("""agent_id: agent-1
site: lab
snmp: {poll_spread: 0, backoff_max: 1s}
collectors: ["127.0.0.1:%d"]
spool_dir: %s/spool
spool: {max_size: 512KiB, segment_size: 64KiB, write_buffer: 4KiB, hold_size: 64KiB}
sender: {transport: plain, heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms,
         backoff_max: 1s}
status: {interval: 1s, metrics_listen: "unix:%s/metrics.sock"}
trap_receiver: {enabled: true, listen: "127.0.0.1:%d", communities: [fm-traps]}
devices:
  - {name: ups-sim, class: ups, profile: ups, interval: 100ms,
     snmp: {host: 127.0.0.1, port: %d, community: public, timeout: 300ms, retries: 0}}
profiles:
  - name: ups
    points:
      - {name: upsOutputSource, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.4.1.0, type: enum,
         enum: {3: normal, 5: battery}, alarm: {states: [{equals: 5, code: ups_on_battery}]}}
      - {name: upsEstimatedChargeRemaining, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.2.4.0, unit: "%%"}
      - {name: upsBatteryTemperature, report: {every_poll: true}, oid: 1.3.6.1.2.1.33.1.2.7.0, unit: C}
""" % (recv.port, mnt, tmp, trap_port, sim.port))
    agent = edge.Agent(tmp, cfg)
    agent.start()
    fillers = []
    try:
        wait(lambda: len(recv.events()) > 20, "first events at the receiver")
        # Fill the disk. Acks still arriving free segments, so top it up
        # until the agent's writes fail for good.
        errors0 = metric(agent, "fieldmon_agent_spool_write_errors_total")

        def disk_full():
            p = os.path.join(mnt, "filler.%d" % len(fillers))
            fillers.append(p)
            fill(p)
            time.sleep(0.3)
            return metric(agent, "fieldmon_agent_spool_write_errors_total") > errors0 and \
                metric(agent, "fieldmon_agent_spool_held_events") > 0
        wait(disk_full, "the agent's writes to fail on the full disk", timeout=20, step=0.2)
        polls0 = metric(agent, "fieldmon_agent_polls_ok_total")
        written0 = metric(agent, "fieldmon_agent_spool_written_seq")

        # Three on-battery episodes while nothing can be written; the first
        # comes with an inform that must not be acknowledged.
        for _ in range(3):
            sim.ctl("data", "ups-sim", "ups-onbattery")
            time.sleep(0.8)
            sim.ctl("clear", "ups-sim")
            time.sleep(0.8)
        wait(lambda: metric(agent, "fieldmon_agent_events_refused_total") > 0,
             "measurements refused once the write buffer is full")
        check(metric(agent, "fieldmon_agent_polls_ok_total") > polls0 + 20,
              "the agent stopped polling on the full disk")
        check(metric(agent, "fieldmon_agent_spool_written_seq") == written0,
              "something was written to the full disk")
        held = metric(agent, "fieldmon_agent_spool_held_events")
        check(held > 0, "no events held in memory")
        log = agent.logtext()
        check(log.count("write: No space left on device") == 1,
              "the full disk should be logged once, got:\n%s" %
              "\n".join(l for l in log.splitlines() if "spool:" in l and "No space" in l))
        check("/spool/" in log and "write: No space left on device" in log,
              "the failed write is not logged with its path")
        check("inform not acknowledged" in log,
              "an inform was acknowledged although its event was not written")

        # Space returns.
        for p in fillers:
            os.unlink(p)
        wait(lambda: edge.caught_up(agent, recv), "the receiver to catch up", timeout=30)
        check("writing and syncing again" in agent.logtext(), "recovery not logged")
        agent.stop()
        evs = recv.events()
        seqs = edge.seqs_ok(evs)   # from 1, no gap, no duplicate, in order
        got = edge.alarms(evs, "ups_on_battery")
        check(got == ["raised", "cleared"] * 3, "ups_on_battery transitions: %s" % got)
        after = [e[1] for e in evs if e[2] == "alarm"]
        check(min(after) > written0, "transitions during the full disk were written before it")
        check(len(seqs) == evs[-1][1], "sequence count")
        status = agent.logtext()
        check("refused" in status, "refusals not logged")
        print("held %d events, receiver got %d in order" % (held, len(seqs)))
        return 0
    finally:
        recv.kill()
        sim.stop()
        if agent.proc.poll() is None:
            agent.kill()


def main():
    edge.AGENT = os.path.abspath(sys.argv[1])
    edge.RECEIVER = os.path.abspath(sys.argv[2])
    edge.SIM = os.path.abspath(sys.argv[3])
    base = tempfile.mkdtemp(prefix="fm-agent-disk.")
    rc = 1
    try:
        rc = run(base)
        if rc == 0:
            print("ok   agent_spool_disk")
    except (Exception, AssertionError) as ex:
        print("FAIL agent_spool_disk: %s" % ex)
        for log in ("agent.log", "receiver.log"):
            p = os.path.join(base, log)
            if os.path.exists(p):
                with open(p) as f:
                    print("--- %s (last 40 lines)\n%s" % (log, "".join(f.readlines()[-40:])))
        rc = 1
    finally:
        if rc == 1 or os.environ.get("FM_KEEP"):
            print("scratch directory kept: %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
