#!/usr/bin/env python3
"""Three real fieldmon-agent processes poll a real snmpd and stream into a
real fieldmon-collector over mutual TLS, with PostgreSQL from with-pg.sh.

The UPS goes on battery and back (alarm transitions), the collector is
killed with SIGKILL mid-stream and restarted on the same port. Then, per
agent: the collector committed at least everything the agent had written
to its spool, and the rows for sequences 1..committed, summed over every
event table, are exactly that many distinct sequences: nothing lost,
nothing doubled.

usage: coll_agents_snmpd.py AGENT COLLECTOR   (under tests/lib/with-pg.sh)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from agent_snmpd_test import Snmpd  # noqa: E402  (the real snmpd set-up)
from fmtest import agent_metrics as metrics, wait  # noqa: E402

SOURCE = "1.3.6.1.4.1.99999.9.1.0"  # plays upsOutputSource: 3 normal, 5 battery
TEMP = "1.3.6.1.4.1.99999.9.2.0"
FILLER = "1.3.6.1.4.1.99999.9.3"
AGENTS = 3
TABLES = ["alarm_events", "device_status", "traps", "agent_status",
          "spool_overflows"]


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def q(sql):
    r = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    check(r.returncode == 0, "psql: %s: %s" % (sql, r.stderr))
    return r.stdout.strip()


class Collector:
    def __init__(self, tmp, cfg):
        self.cfg, self.log = cfg, os.path.join(tmp, "collector.log")
        self.proc, self.port = None, None

    def start(self):
        mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        log = open(self.log, "a")
        self.proc = subprocess.Popen([COLLECTOR, "-c", self.cfg], stdout=log, stderr=log)
        log.close()

        def bound():
            with open(self.log) as f:
                f.seek(mark)
                m = re.search(r"listen: agents on \S+ port (\d+)", f.read())
            check(self.proc.poll() is None, "collector exited; see %s" % self.log)
            return m and int(m.group(1))
        self.port = wait(bound, "the collector to listen", 20)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        check(self.proc.wait(30) == 0, "collector exit status after SIGTERM")


def agent_config(tmp, name, certs, port, snmp_port):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    fillers = "".join("      - {name: filler%d, oid: %s.%d}\n" % (i, FILLER, i)
                      for i in range(1, 21))
    path = os.path.join(d, "agent.yaml")
    with open(path, "w") as f:
        f.write("""agent_id: %(name)s
site: site-%(name)s
snmp: {poll_spread: 0, backoff_max: 1s}
collectors: ["127.0.0.1:%(port)d"]
spool_dir: %(d)s/spool
spool: {fsync: interval}
sender: {transport: tls, tls: {ca: %(certs)s/ca.crt, cert: %(certs)s/%(name)s.crt, key: %(certs)s/%(name)s.key},
         heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms, backoff_max: 1s}
status: {interval: 1s, metrics_listen: "unix:%(d)s/metrics.sock"}
devices:
  - {name: ups1, class: ups, profile: ups, interval: 200ms,
     snmp: {host: 127.0.0.1, port: %(snmp)d, community: fmtest, timeout: 300ms, retries: 0}}
profiles:
  - name: ups
    points:
      - {name: upsOutputSource, oid: %(src)s, type: enum, enum: {3: normal, 5: battery},
         alarm: {states: [{equals: 5, code: ups_on_battery}]}}
      - {name: upsBatteryTemperature, oid: %(temp)s, scale: 0.1, unit: C}
%(fillers)s""" % dict(name=name, port=port, d=d, certs=certs, snmp=snmp_port, src=SOURCE,
                      temp=TEMP, fillers=fillers))
    return path, os.path.join(d, "metrics.sock"), os.path.join(d, "agent.log")


def run(tmp, certs):
    cfg = os.path.join(tmp, "collector.yaml")
    with open(cfg, "w") as f:
        f.write("""collector_id: snmpd-e2e
listen: {transport: tls, address: 127.0.0.1, port: 0, cert: %(c)s/collector.crt,
         key: %(c)s/collector.key, ca: %(c)s/ca.crt}
metrics: {address: 127.0.0.1, port: 0}
database: {dsn: "%(dsn)s", reconnect_min: 100ms, reconnect_max: 1s}
""" % dict(c=certs, dsn=os.environ["FM_PG_DSN"]))
    subprocess.run([COLLECTOR, "-c", cfg, "--migrate"], check=True, stdout=subprocess.DEVNULL)
    coll = Collector(tmp, cfg)
    coll.start()
    # Restarts must find the same port.
    with open(cfg) as f:
        text = f.read().replace("port: 0, cert", "port: %d, cert" % coll.port)
    with open(cfg, "w") as f:
        f.write(text)

    sd = Snmpd(tmp)
    with open(sd.lab, "a") as f:
        f.write("%s|2|3\n%s|2|245\n" % (SOURCE, TEMP))
        for i in range(1, 21):
            f.write("%s.%d|2|%d\n" % (FILLER, i, i))
    sd.start()
    agents = []
    try:
        for i in range(1, AGENTS + 1):
            path, sock, log = agent_config(tmp, "agent-%d" % i, certs, coll.port, sd.port)
            with open(log, "a") as lf:
                p = subprocess.Popen([AGENT, "-c", path, "-l", "info"], stdout=lf, stderr=lf)
            agents.append((p, sock, log, "agent-%d" % i))
        wait(lambda: q("SELECT count(*) FROM agent_progress WHERE committed_seq > 0") == str(AGENTS),
             "all agents to commit something")
        time.sleep(1.5)
        sd.set_value(SOURCE, 2, 5)  # on battery
        time.sleep(1.5)
        before = q("SELECT sum(committed_seq) FROM agent_progress")
        coll.kill()
        print("collector killed with %s events committed" % before, flush=True)
        time.sleep(1)
        coll.start()
        time.sleep(1.5)
        sd.set_value(SOURCE, 2, 3)  # back on mains
        time.sleep(1.5)

        # Everything each agent wrote by now must get committed.
        for p, sock, log, name in agents:
            m = wait(lambda: metrics(sock), "metrics of %s" % name, 10)
            written = int(m.get("fieldmon_agent_spool_written_seq", 0))
            check(written > 0, "%s wrote nothing" % name)
            wait(lambda: int(q("SELECT coalesce(max(committed_seq), 0) FROM agent_progress"
                               " WHERE agent_id = '%s'" % name) or 0) >= written,
                 "%s: seq %d committed" % (name, written), 30)
        for p, sock, log, name in agents:
            p.terminate()
            check(p.wait(20) == 0, "%s exit status after SIGTERM" % name)
        agents = []

        for i in range(1, AGENTS + 1):
            name = "agent-%d" % i
            key = q("SELECT agent_key FROM agents WHERE agent_id = '%s'" % name)
            epoch, committed = q("SELECT epoch, committed_seq FROM agent_progress"
                                 " WHERE agent_id = '%s'" % name).split("|")
            # Measurements carry no epoch (schema 024): the agent has one.
            parts = " UNION ALL ".join(
                ["SELECT seq FROM measurement_values WHERE agent_id = '%s' AND seq <= %s"
                 % (name, committed)] +
                ["SELECT seq FROM %s WHERE agent_key = %s AND epoch = %s AND seq <= %s"
                 % (t, key, epoch, committed) for t in TABLES])
            total, distinct = q("SELECT count(*), count(DISTINCT seq) FROM (%s) s" % parts).split("|")
            dropped = q("SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM spool_overflows"
                        " WHERE agent_key = %s" % key)
            print("%s: committed %s, rows %s, distinct %s, overflow %s"
                  % (name, committed, total, distinct, dropped), flush=True)
            check(total == distinct, "%s: %s rows for %s sequences" % (name, total, distinct))
            check(int(total) == int(committed) - int(dropped),
                  "%s: %s rows for sequences 1..%s" % (name, total, committed))
            alarms = q("SELECT string_agg(state, ',' ORDER BY seq) FROM alarm_events a"
                       " WHERE agent_key = %s AND code = 'ups_on_battery'" % key)
            check(alarms == "raised,cleared", "%s: ups_on_battery transitions: %s" % (name, alarms))
            meas = q("SELECT count(*) FROM measurement_values WHERE agent_id = '%s'"
                     " AND point = 'upsBatteryTemperature' AND value = 24.5" % name)
            check(int(meas) > 0, "%s: no battery temperature of 24.5 C stored" % name)
        coll.stop()
    finally:
        for p, sock, log, name in agents:
            p.kill()
            p.wait()
        if coll.proc and coll.proc.poll() is None:
            coll.proc.kill()
        sd.stop()


def main():
    global AGENT, COLLECTOR
    AGENT, COLLECTOR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="fm-coll-snmpd.")
    certs = os.path.join(tmp, "certs")
    subprocess.run([os.path.join(SRC, "deploy", "make-test-certs.sh"), certs] +
                   ["agent-%d" % i for i in range(1, AGENTS + 1)],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        run(tmp, certs)
    except (Exception, AssertionError) as ex:
        print("FAIL: %s" % ex)
        for root, _, files in os.walk(tmp):
            for fn in files:
                if fn.endswith(".log") and fn != "snmpd.log":
                    with open(os.path.join(root, fn)) as f:
                        print("--- %s (last 20 lines)\n%s"
                              % (os.path.join(root, fn), "".join(f.readlines()[-20:])))
        print("scratch directory kept: %s" % tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("coll_agents_snmpd: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
