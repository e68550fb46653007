#!/usr/bin/env python3
"""bench/chaos's driver and checker: a fieldmon-sim fleet, two fieldmon-agent
processes at one site, two fieldmon-collector processes on one PostgreSQL,
kill -9 of any of them (PostgreSQL included) and device faults at random for
--duration seconds, then everything restored and the database checked.

Runs under tests/lib/pg.sh's throwaway server (FM_PG_DIR, PGHOST, FM_PG_DSN
in the environment): bench/chaos starts it for the soak, tests/lib/with-pg.sh
for the suite's short version. bench/README.md ("chaos") says what each
figure means and how it is computed; the functions below that compute them
say it again next to the code.

usage: chaos_soak.py --agent BIN --collector BIN --sim BIN [--duration S] [--seed N]
                     [--devices N] [--group-wait S] [--check all|events] [--work DIR]
Last line: kills=N events_lost=N events_doubled=N faults_without_ticket=N
           tickets_doubled=N tickets_not_cleared=N recovery_p99_s=X
"""
import argparse
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from fmtest import agent_metrics, wait  # noqa: E402  (wait raises AssertionError)

SITE = "s1"
# Event tables whose rows carry (agent_key, epoch, seq). Measurements carry
# seq only (schema 024: the narrow row), found through measurement_values.
EVENT_TABLES = ["alarm_events", "device_status", "traps", "agent_status", "spool_overflows"]
# The grade deploy/rules-default.yaml gives each alarm code the fleet's
# profiles can raise (default_grade 3 for any other code). All of them
# open tickets (open_max_grade 3); grade 1 opens without the group wait.
GRADES = {"smoke": 1, "water_leak": 2, "ups_low_battery": 2, "ups_on_battery": 3,
          "temp_high": 3, "unreachable": 3, "comm_loss": 3}
DEFAULT_GRADE = 3
# Device faults through the simulator's control socket: (name, device
# class, ctl arguments after the device name).
FAULTS = [
    ("battery", "ups", ["set", "1.3.6.1.2.1.33.1.4.1.0=5"]),
    ("low-battery", "ups", ["set", "1.3.6.1.2.1.33.1.4.1.0=5", "1.3.6.1.2.1.33.1.2.1.0=3"]),
    ("leak", "env", ["set", "1.3.6.1.2.1.99.1.1.1.4.4=1"]),
    ("smoke", "env", ["set", "1.3.6.1.2.1.99.1.1.1.4.5=1"]),
    ("temp-high", "env", ["set", "1.3.6.1.2.1.99.1.1.1.4.2=412"]),
    ("dead", "*", ["dead"]),
]
T_START = time.time()


def log(msg):
    print("[%7.1f] %s" % (time.time() - T_START, msg), flush=True)


def utc(ts):
    if ts is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(ts)) + ".%03d" % int((ts % 1) * 1000)


class Fail(Exception):
    pass


def stop_proc(proc, timeout):
    """SIGTERM, then its exit status (or "killed" after timeout s)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed after %d s" % timeout
    return proc.returncode


# ------------------------------------------------------------------ PostgreSQL

def q(sql, check=True):
    """Rows of sql as lists of strings (fields split on \\x1f)."""
    r = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-c", sql],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        if check:
            raise Fail("psql: %s: %s" % (sql[:200], r.stderr.strip()))
        return None
    return [line.split("\x1f") for line in r.stdout.splitlines()]


def num(s):
    return None if s in ("", None) else float(s)


class Postgres:
    """The server of tests/lib/pg.sh in $FM_PG_DIR: kill -9 of the postmaster
    and every process of it, restart through pg.sh's fm_pg_restart_server."""

    def __init__(self):
        self.dir = os.environ["FM_PG_DIR"]

    def pids(self):
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                pm = int(f.readline())
        except (OSError, ValueError):
            return []
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pm)], capture_output=True,
                              text=True).stdout.split()
        return [pm] + [int(k) for k in kids]

    def alive(self, pid):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def kill9(self):
        pids = self.pids()
        for p in pids:  # the postmaster first, so it restarts no child
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        wait(lambda: not any(self.alive(p) for p in pids), "PostgreSQL's processes to end", 30)

    def start(self):
        r = subprocess.run(["bash", "-c", 'source "$1/tests/lib/pg.sh" && fm_pg_restart_server',
                            "pg", SRC], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Fail("PostgreSQL did not restart: %s" % r.stderr)


# ------------------------------------------------------------------ processes

class Collector:
    def __init__(self, work, name, dsn, rules):
        self.name, self.dir = name, os.path.join(work, name)
        os.makedirs(self.dir)
        self.cfg, self.log = os.path.join(self.dir, "collector.yaml"), os.path.join(self.dir, "collector.log")
        self.port, self.proc = 0, None
        self.text = ("collector_id: chaos-%s\nlog_level: info\n"
                     "listen: {transport: plain, address: 127.0.0.1, port: %%d}\n"
                     "metrics: {address: 127.0.0.1, port: 0}\n"
                     "database: {dsn: \"%s\"}\nfaults: {rules_file: %s}\n" % (name, dsn, rules))
        self.write()

    def write(self):
        with open(self.cfg, "w") as f:
            f.write(self.text % self.port)

    def start(self):
        mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "a") as lf:
            self.proc = subprocess.Popen([COLLECTOR, "-c", self.cfg], stdout=lf, stderr=lf)

        def bound():
            if self.proc.poll() is not None:
                raise Fail("collector %s exited with %s; see %s" % (self.name, self.proc.returncode,
                                                                     self.log))
            with open(self.log) as f:
                f.seek(mark)
                m = re.search(r"listen: agents on \S+ port (\d+)", f.read())
            return m and int(m.group(1))
        port = wait(bound, "collector %s to listen" % self.name, 60, 0.05)
        if self.port == 0:  # restarts keep the port the agents know
            self.port = port
            self.write()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        return stop_proc(self.proc, 60)


class Agent:
    def __init__(self, work, name, devices, collectors, interval):
        self.name, self.dir = name, os.path.join(work, name)
        os.makedirs(self.dir)
        self.cfg, self.log = os.path.join(self.dir, "agent.yaml"), os.path.join(self.dir, "agent.log")
        self.sock = os.path.join(self.dir, "metrics.sock")
        self.spool = os.path.join(self.dir, "spool")
        self.proc = None
        with open(self.cfg, "w") as f:
            f.write("agent_id: chaos-%s\nsite: %s\nlog_level: info\n" % (name, SITE))
            f.write("collectors: [%s]\n" % ", ".join('"127.0.0.1:%d"' % c.port for c in collectors))
            f.write("spool_dir: %s\n" % self.spool)
            f.write("snmp: {backoff_max: 4s, poll_spread: 1}\n")
            f.write("sender: {transport: plain}\n")
            f.write("status: {interval: 5s, metrics_listen: \"unix:%s\"}\n" % self.sock)
            f.write("devices:\n")
            for name_, cls, port in devices:
                f.write("  - {name: %s, class: %s, profile: %s, interval: %s, unreachable_after: 2,\n"
                        "     comm_loss: {fail_polls: 3, fail_time: 3s, clear_polls: 1},\n"
                        "     snmp: {host: 127.0.0.1, port: %d, timeout: 1s, retries: 1}}\n"
                        % (name_, "env_sensor" if cls == "env" else cls, cls, interval, port))
            f.write(PROFILES)

    def start(self):
        with open(self.log, "a") as lf:
            self.proc = subprocess.Popen([AGENT, "-c", self.cfg], stdout=lf, stderr=lf)

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        return stop_proc(self.proc, 30)

    def metrics(self):
        if self.proc is None or self.proc.poll() is not None:
            return {}
        return agent_metrics(self.sock)

    def epoch(self):
        try:
            with open(os.path.join(self.spool, "epoch")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None


# The profiles of the fleet (the quickstart's, deploy/quickstart-profiles.yaml,
# with delays of 0 so a fault's alarm follows the simulator at once, and no
# stale alarms, so a dead device raises exactly unreachable and comm_loss).
PROFILES = """profiles:
  - name: ups
    points:
      - {name: battery_status, oid: 1.3.6.1.2.1.33.1.2.1.0, type: enum,
         enum: {1: unknown, 2: battery_normal, 3: battery_low, 4: battery_depleted},
         alarm: {stale_polls: 0, states: [{equals: 3, code: ups_low_battery}]}}
      - {name: charge_remaining, oid: 1.3.6.1.2.1.33.1.2.4.0, unit: "%"}
      - {name: output_source, oid: 1.3.6.1.2.1.33.1.4.1.0, type: enum,
         enum: {1: other, 2: none, 3: normal, 4: bypass, 5: battery},
         alarm: {stale_polls: 0, states: [{equals: 5, code: ups_on_battery}]}}
  - name: camera
    points:
      - {name: uptime, oid: 1.3.6.1.2.1.1.3.0, unit: s, scale: 0.01}
      - {name: cpu, oid: 1.3.6.1.4.1.39165.1.7.0, numeric_string: true, unit: "%"}
  - name: env
    points:
      - {name: temperature, oid: 1.3.6.1.2.1.99.1.1.1.4.2, scale: 0.1, unit: degC,
         alarm: {on_delay: 0s, off_delay: 0s, stale_polls: 0,
                 limits: [{dir: high, value: 35, code: temp_high}]}}
      - {name: humidity, oid: 1.3.6.1.2.1.99.1.1.1.4.3, scale: 0.1, unit: "%RH"}
      - {name: water_leak, oid: 1.3.6.1.2.1.99.1.1.1.4.4, type: enum, enum: {1: "yes", 2: "no"},
         alarm: {stale_polls: 0, states: [{equals: 1, code: water_leak}]}}
      - {name: smoke, oid: 1.3.6.1.2.1.99.1.1.1.4.5, type: enum, enum: {1: "yes", 2: "no"},
         alarm: {stale_polls: 0, states: [{equals: 1, code: smoke}]}}
"""


class Sim:
    def __init__(self, work, names):
        self.ctl_path = os.path.join(work, "sim.sock")
        fleet, ports = os.path.join(work, "fleet.yaml"), os.path.join(work, "sim.ports")
        data = os.path.join(SRC, "tests", "sim", "data", "snmp")
        tmpl = {"ups": "ups-normal", "camera": "camera-hik", "env": "env-sensor"}
        with open(fleet, "w") as f:
            f.write("snmp_templates:\n")
            for t in sorted(set(tmpl.values())):
                f.write("  - {name: %s, file: %s/%s.snmprec}\n" % (t, data, t))
            f.write("devices:\n")
            for name, cls in names:
                f.write("  - {name: %s, site: %s, protocol: snmp, template: %s}\n"
                        % (name, SITE, tmpl[cls]))
        self.logf = open(os.path.join(work, "sim.log"), "w")
        self.proc = subprocess.Popen([SIM, fleet, "--ports-file", ports, "--control", self.ctl_path],
                                     stdout=self.logf, stderr=self.logf)
        wait(lambda: os.path.exists(ports), "fieldmon-sim's ports file", 60)
        self.ports = {}
        with open(ports) as f:
            for line in f:
                w = line.split()
                if len(w) >= 4 and w[1] == "snmp":
                    self.ports[w[0]] = int(w[3])

    def ctl(self, *args):
        r = subprocess.run([SIM, "ctl", "--control", self.ctl_path] + list(args),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise Fail("fieldmon-sim ctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.logf.close()


# ------------------------------------------------------------------ the schedule

def make_schedule(seed, duration, devices, gw, interval):
    """Process kills and device faults from two PRNG streams of seed.
    Returns a list of (t, kind, target, arg) sorted by t: kind "kill"
    (arg: seconds down) or "fault" (arg: (fault name, seconds held))."""
    rk, rf = random.Random(seed), random.Random(seed * 7919 + 1)
    targets = ["agent-a", "agent-b", "c1", "c2", "pg", "c1+c2"]
    sched = []
    # The first six kills take every target once (in a seeded order), so
    # even a short run restarts each kind; then targets are drawn at random.
    first = targets[:]
    rk.shuffle(first)
    t = rk.uniform(8, 14)
    while t < duration - 5:
        target = first.pop(0) if first else rk.choice(targets + ["c1", "c2", "agent-a", "agent-b"])
        down = rk.uniform(1, 8) if target == "pg" else rk.uniform(0.5, 5)
        sched.append((t, "kill", target, down))
        t += rk.uniform(8, 20)
    # Device faults: one at a time per device, at most three devices at
    # once (never most of the site), held either clearly shorter than the
    # group wait or clearly longer (the alarm's own edges move by up to one
    # poll interval and back-off).
    busy = {}
    t = rf.uniform(2, 5)
    while t < duration - 5:
        free = [d for d in devices if busy.get(d[0], 0) <= t]
        if len(devices) - len(free) < 3 and free:
            name, cls = rf.choice(free)
            kinds = [f for f in FAULTS if f[1] in (cls, "*")]
            fault = rf.choice(kinds)
            if rf.random() < 0.3:
                hold = rf.uniform(1, max(1.5, gw - 2 * interval - 4))
            else:
                hold = rf.uniform(gw + 2 * interval + 6, gw + 2 * interval + 40)
            hold = min(hold, max(1.0, duration - t))
            sched.append((t, "fault", name, (fault[0], hold)))
            busy[name] = t + hold + 2 * interval + 4  # the clear is seen before the next fault
        t += rf.expovariate(1 / 4.0)
    return sorted(sched, key=lambda s: s[0])


# ------------------------------------------------------------------ the run

class Run:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.kills = 0
        self.recoveries = []  # (what, seconds, drained)
        self.actions = []     # (wall time, text): what the harness did, for the examples
        self.pg = Postgres()
        rules = os.path.join(work, "rules.yaml")
        with open(os.path.join(SRC, "deploy", "rules-default.yaml")) as f:
            text = f.read()
        text = re.sub(r"(?m)^group_wait: 30s", "group_wait: %ds" % args.group_wait, text)
        text = re.sub(r"(?m)^  transitions: 6 ", "  transitions: 1000 ", text)
        if "group_wait: %ds" % args.group_wait not in text or "transitions: 1000" not in text:
            raise Fail("deploy/rules-default.yaml changed: cannot set group_wait and flap")
        with open(rules, "w") as f:
            f.write(text)
        dsn = os.environ["FM_PG_DSN"]
        self.colls = {n: Collector(work, n, dsn, rules) for n in ("c1", "c2")}
        subprocess.run([COLLECTOR, "-c", self.colls["c1"].cfg, "--migrate"], check=True,
                       stdout=subprocess.DEVNULL)
        classes = ["ups", "camera", "env"]
        self.devices = {}
        for a in ("a", "b"):
            self.devices[a] = [("%s-%s-%d" % (a, classes[i % 3], i // 3 + 1), classes[i % 3])
                               for i in range(args.devices)]
        self.sim = Sim(work, self.devices["a"] + self.devices["b"])
        for c in self.colls.values():
            c.start()
        c1, c2 = self.colls["c1"], self.colls["c2"]
        ivl = "%gs" % args.interval
        self.agents = {
            "agent-a": Agent(work, "agent-a", [(n, c, self.sim.ports[n]) for n, c in self.devices["a"]],
                             [c1, c2], ivl),
            "agent-b": Agent(work, "agent-b", [(n, c, self.sim.ports[n]) for n, c in self.devices["b"]],
                             [c2, c1], ivl),
        }
        for a in self.agents.values():
            a.start()
        self.written = {}  # agent -> {epoch: highest written seq seen}

    def note(self, text):
        self.actions.append((time.time(), text))
        log(text)

    def observe(self):
        """Remembers each agent's highest written sequence per epoch."""
        for name, a in self.agents.items():
            m = a.metrics()
            ep = a.epoch()
            if m and ep and "fieldmon_agent_spool_written_seq" in m:
                d = self.written.setdefault(name, {})
                d[ep] = max(d.get(ep, 0), int(m["fieldmon_agent_spool_written_seq"]))

    def backlog_targets(self):
        """Each agent's written sequence now (read from its metrics)."""
        out = {}
        for name, a in self.agents.items():
            m = wait(a.metrics, "metrics of %s" % name, 20)
            out[name] = int(m["fieldmon_agent_spool_written_seq"])
        return out

    def drained(self, targets):
        for name, w in targets.items():
            m = self.agents[name].metrics()
            if not m or int(m.get("fieldmon_agent_acked_seq", 0)) < w:
                return False
        return True

    def procs(self, target):
        """(name, kill9, start) of each process target names ("c1+c2": both collectors)."""
        out = []
        for t in target.split("+"):
            if t == "pg":
                out.append((t, self.pg.kill9, self.pg.start))
            elif t in self.colls:
                out.append((t, self.colls[t].kill9, self.colls[t].start))
            else:
                out.append((t, self.agents[t].kill9, self.agents[t].start))
        return out

    def kill(self, target, down):
        on = ""
        if target[0] == "c":  # which agents it served (PostgreSQL is up: kills never overlap)
            ids = ",".join("'chaos-%s'" % t for t in target.split("+"))
            rows = q("SELECT agent_id, collector_id FROM agents WHERE connected AND collector_id IN"
                     " (%s)" % ids, check=False)
            if rows is not None:
                on = "; agents on it: %s" % (",".join("%s@%s" % tuple(r) for r in rows) or "none")
        self.note("kill -9 %s (down %.1f s%s)" % (target, down, on))
        for name, kill9, _ in self.procs(target):
            kill9()
            self.kills += 1
        return time.monotonic() + down

    def restart(self, target):
        for name, _, start in self.procs(target):
            start()
        self.note("%s restarted" % target)
        if target.startswith("agent"):
            return None
        # Recovery: from the restarted process being up (PostgreSQL
        # accepting connections, the collector listening) until every
        # event each agent had written at that moment is acknowledged,
        # i.e. committed (the agents' metrics: spool_written_seq, acked_seq).
        return (target, time.monotonic(), self.backlog_targets())

    def chaos(self, sched):
        args = self.args
        t0 = time.monotonic()
        end = t0 + args.duration
        pending_restart = None  # (when, target)
        probe = None
        clears = []  # (when, device)
        i = 0
        last_obs = 0
        while True:
            now = time.monotonic()
            if now - last_obs > 1:
                self.observe()
                last_obs = now
            for c in [c for c in clears if c[0] <= now]:
                self.sim.ctl("clear", c[1])
                self.note("device %s healthy" % c[1])
                clears.remove(c)
            if pending_restart and pending_restart[0] <= now:
                probe = self.restart(pending_restart[1]) or probe
                pending_restart = None
            if probe:
                waited = time.monotonic() - probe[1]
                if self.drained(probe[2]) or waited > args.recovery_bound:
                    ok = waited <= args.recovery_bound
                    self.recoveries.append((probe[0], waited, ok))
                    log("recovery after %s restart: %.2f s%s" % (probe[0], waited,
                                                                  "" if ok else " (NOT drained)"))
                    probe = None
            while i < len(sched) and t0 + sched[i][0] <= now:
                t, kind, target, arg = sched[i]
                if kind == "fault":
                    name, hold = arg
                    cmd = next(f for f in FAULTS if f[0] == name)[2]
                    self.sim.ctl(cmd[0], target, *cmd[1:])
                    self.note("device %s fault %s for %.1f s" % (target, name, hold))
                    clears.append((now + hold, target))
                    i += 1
                elif pending_restart or probe:
                    break  # kills wait until the last restart has recovered
                else:
                    pending_restart = (self.kill(target, arg), target)
                    i += 1
            if now >= end and not pending_restart and not probe:
                break
            time.sleep(0.1)
        for c in clears:
            self.sim.ctl("clear", c[1])
        left = [s for s in sched[i:] if s[1] == "kill"]
        if left:
            log("%d kills not done (the run ended while waiting for a recovery)" % len(left))

    def settle(self):
        """Every device healthy, everything delivered, group waits passed."""
        args = self.args
        self.sim.ctl("clear-all")
        self.note("chaos over: every device healthy")
        # The agents see the clears at their next poll (interval, or the
        # 4 s back-off of a dead device).
        time.sleep(2 * args.interval + 5)
        # Events written after this point may still be in a spool when the
        # run stops: the last sequences checked are these targets (and
        # whatever the collectors committed beyond them).
        self.observe()
        targets = self.backlog_targets()
        for name, w in targets.items():
            d = self.written.setdefault(name, {})
            ep = self.agents[name].epoch()
            d[ep] = max(d.get(ep, 0), w)
        try:
            wait(lambda: self.drained(targets), "the agents' backlog to drain", args.recovery_bound)
            self.drain_ok = True
        except AssertionError as ex:
            log(str(ex))
            self.drain_ok = False
        # Pending faults open once their group wait passed; the faults writer
        # commits them in order. Then the ticket tables must stand still.
        time.sleep(args.group_wait + 3)

        def still():
            r = q("SELECT count(*), max(updated_at), (SELECT count(*) FROM ticket_alarms)"
                  " FROM tickets")[0]
            if getattr(self, "_last", None) == r:
                return True
            self._last = r
            return False
        try:
            wait(still, "the tickets to stand still", 60, 3)
        except AssertionError as ex:
            log(str(ex))

    def stop(self):
        for name, c in self.colls.items():
            rc = c.stop()
            if rc != 0:
                log("collector %s: exit status %s on SIGTERM (see its log)" % (name, rc))
        for name, a in self.agents.items():
            rc = a.stop()
            if rc != 0:
                log("%s: exit status %s on SIGTERM (see its log)" % (name, rc))
        self.sim.stop()


# ------------------------------------------------------------------ the checks

def check_events(run):
    """events_lost: per agent and epoch, the sequences 1..N not stored in any
    of the six event tables and not in a range the agent reported dropped
    (spool_overflows), where N is the larger of the highest sequence the
    agent reported written to its spool (its metrics, read during the run
    and after the drain) and what the collector committed (agent_progress).
    events_doubled: rows beyond the first of one (agent, epoch, seq) across
    the six tables.

    A measurement row carries no epoch (schema 024), so measurements are
    counted per (agent, seq): a sequence of an epoch, committed there and in
    none of its other tables or overflow ranges, takes one measurement row of
    that (agent, seq); a row left over is doubled. With one epoch per agent
    this is the exact per-epoch check."""
    lost = doubled = 0
    examples = []
    union = " UNION ALL ".join("SELECT agent_key, epoch, seq FROM %s" % t for t in EVENT_TABLES)
    stored = {}
    for key, ep, seq, n in q("SELECT agent_key, epoch, seq, count(*) FROM (%s) u"
                             " GROUP BY 1, 2, 3" % union):
        stored.setdefault((int(key), int(ep)), {})[int(seq)] = int(n)
    meas = {}
    for key, seq, n in q("SELECT a.agent_key, v.seq, count(*) FROM measurement_values v"
                         " JOIN agents a USING (agent_id) WHERE a.agent_id LIKE 'chaos-%'"
                         " GROUP BY 1, 2"):
        meas.setdefault(int(key), {})[int(seq)] = int(n)
    overflow = {}
    for key, ep, a, b in q("SELECT agent_key, epoch, first_seq, last_seq FROM spool_overflows"):
        overflow.setdefault((int(key), int(ep)), []).append((int(a), int(b)))
    for agent, key, ep, committed in q(
            "SELECT a.agent_id, a.agent_key, p.epoch, p.committed_seq FROM agents a"
            " JOIN agent_progress p USING (agent_id) WHERE a.agent_id LIKE 'chaos-%' ORDER BY 1, 3"):
        key, ep, committed = int(key), int(ep), int(committed)
        written = run.written.get(agent.replace("chaos-", ""), {}).get(ep, 0)
        top = max(committed, written)
        have = dict(stored.get((key, ep), {}))
        pool = meas.setdefault(key, {})
        dropped = sum(b - a + 1 for a, b in overflow.get((key, ep), []))
        missing = []
        for s in range(1, top + 1):
            if s in have or any(a <= s <= b for a, b in overflow.get((key, ep), [])):
                continue
            if s <= committed and pool.get(s, 0) > 0:
                pool[s] -= 1
                have[s] = 1
            else:
                missing.append(s)
        twice = sum(n - 1 for n in have.values() if n > 1)
        log("events %s epoch %d: written %d, committed %d, stored %d, overflow-dropped %d,"
            " missing %d, doubled %d" % (agent, ep, written, committed, len(have), dropped,
                                        len(missing), twice))
        if missing:
            examples.append("%s epoch %d: missing seqs %s%s (committed_seq %d)"
                            % (agent, ep, ranges(missing[:2000]), "..." if len(missing) > 2000 else "",
                               committed))
        if twice:
            examples.append("%s epoch %d: seqs stored twice: %s" % (
                agent, ep, ranges(sorted(s for s, n in have.items() if n > 1))))
        lost += len(missing)
        doubled += twice
    for key, pool in meas.items():
        left = sorted(s for s, n in pool.items() if n > 0)
        if left:
            examples.append("agent_key %d: measurements beyond their sequences: %s"
                            % (key, ranges(left)))
            doubled += sum(pool[s] for s in left)
    return lost, doubled, examples


def ranges(seqs):
    out, start, prev = [], None, None
    for s in seqs:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append("%d-%d" % (start, prev) if prev != start else str(start))
            start = prev = s
    if start is not None:
        out.append("%d-%d" % (start, prev) if prev != start else str(start))
    return ",".join(out[:20]) + (" (+%d ranges)" % (len(out) - 20) if len(out) > 20 else "")


class Episode:
    """One alarm (or unreachability) of one device from its raise to its
    clear, as stored in alarm_events (device_status for unreachable)."""

    def __init__(self, agent, device, code, r, r_recv):
        self.agent, self.device, self.code = agent, device, code
        self.r, self.r_recv = r, r_recv
        self.c = self.c_recv = None

    def __repr__(self):
        return "%s %s %s raised %s (stored %s) cleared %s (stored %s)" % (
            self.agent, self.device, self.code, utc(self.r), utc(self.r_recv), utc(self.c),
            utc(self.c_recv))


def episodes():
    """Episodes from the events in (epoch, seq) order per device and alarm
    (code, point, labels): a raise starts one unless one is open (a second
    raise, e.g. from a restarted agent, continues it), the next clear ends
    it. Reachability: reachable=false starts, reachable=true ends."""
    eps, open_ = [], {}
    for agent, dev, code, point, labels, state, ts, recv in q(
            "SELECT a.agent_id, d.name, e.code, e.point, coalesce(e.labels::text, ''), e.state,"
            " extract(epoch FROM e.ts), extract(epoch FROM e.received_at)"
            " FROM alarm_events e JOIN devices d USING (device_id)"
            " JOIN agents a ON a.agent_key = e.agent_key ORDER BY e.agent_key, e.epoch, e.seq"):
        k = (agent, dev, code, point, labels)
        if state == "raised" and k not in open_:
            open_[k] = Episode(agent, dev, code, float(ts), float(recv))
            eps.append(open_[k])
        elif state == "cleared" and k in open_:
            e = open_.pop(k)
            e.c, e.c_recv = float(ts), float(recv)
    for agent, dev, reach, ts, recv in q(
            "SELECT a.agent_id, d.name, s.reachable, extract(epoch FROM s.ts),"
            " extract(epoch FROM s.received_at) FROM device_status s JOIN devices d USING (device_id)"
            " JOIN agents a ON a.agent_key = s.agent_key ORDER BY s.agent_key, s.epoch, s.seq"):
        k = (agent, dev, "unreachable")
        if reach == "f" and k not in open_:
            open_[k] = Episode(agent, dev, "unreachable", float(ts), float(recv))
            eps.append(open_[k])
        elif reach == "t" and k in open_:
            e = open_.pop(k)
            e.c, e.c_recv = float(ts), float(recv)
    return eps


def tickets():
    t = {}
    for row in q("SELECT ticket_id, dedupe_key, kind, grade, state, extract(epoch FROM first_seen),"
                 " extract(epoch FROM recorded_at), extract(epoch FROM cleared_at), opened_by,"
                 " occurrences FROM tickets ORDER BY ticket_id"):
        t[int(row[0])] = dict(id=int(row[0]), key=row[1], kind=row[2], grade=int(row[3]),
                              state=row[4], first=num(row[5]), opened=num(row[6]),
                              cleared=num(row[7]), by=row[8], occ=int(row[9]), alarms=[])
    for tid, dev, code, state, ts in q("SELECT ticket_id, device, code, state, extract(epoch FROM ts)"
                                       " FROM ticket_alarms WHERE site_id = '%s'"
                                       " ORDER BY ts, ticket_alarm_id" % SITE):
        t[int(tid)]["alarms"].append((dev, code, state, float(ts)))
    return t


def covering(tk, e, end):
    """Tickets recording a raise of e's device and code between e's raise and
    its clear: a ticket_alarms row written when the fault opened, when it
    attached to another fault (root, site), or for a new raise."""
    hi = e.c if e.c is not None else end
    return sorted(t["id"] for t in tk.values()
                  if any(d == e.device and c == e.code and s == "raised" and e.r - 0.002 <= ts <= hi
                         for d, c, s, ts in t["alarms"]))


def check_faults(run, end):
    """faults_without_ticket: episodes of a code graded 1-3 that lasted longer
    than their wait (group wait; 0 for grade 1) plus a margin, with no
    ticket covering them (see covering()). An episode still raised at the
    end (its clear never stored) lasted until the end. Episodes within the
    margin of the wait are not judged (the engine's clock ticks once a
    second and a clear may overtake the tick).
    tickets_doubled: one real problem with two tickets open for it at once:
    (a) one dedupe key with more than one ticket not resolved or closed;
    (b) one device's unreachable and comm_loss, overlapping in time: the
    distinct device tickets (keys device:SITE/DEV/unreachable and
    .../comm_loss) covering that stretch; two or more count one.
    tickets_not_cleared: at the end every device is healthy, so every
    ticket's condition has ended: tickets whose cleared_at is empty."""
    gw, margin = run.args.group_wait, run.args.margin
    eps, tk = episodes(), tickets()
    without, ambiguous, judged = [], 0, 0
    for e in eps:
        grade = GRADES.get(e.code, DEFAULT_GRADE)
        if grade > 3:
            continue
        lasted = (e.c if e.c is not None else end) - e.r
        need = 0 if grade == 1 else gw
        if lasted <= need:
            continue
        if lasted <= need + margin:
            ambiguous += 1
            continue
        judged += 1
        if not covering(tk, e, end):
            without.append(e)
    log("faults: %d episodes, %d needed a ticket, %d within %.0f s of the wait not judged,"
        " %d without a ticket" % (len(eps), judged, ambiguous, margin, len(without)))
    examples = []
    for e in without[:3]:
        examples.append("no ticket: %r, lasted %.1f s" % (e, (e.c or end) - e.r))

    doubled = []
    for key, n in q("SELECT dedupe_key, count(*) FROM tickets WHERE state NOT IN"
                    " ('resolved', 'closed') GROUP BY 1 HAVING count(*) > 1"):
        doubled.append("key %s: %s tickets open" % (key, n))
    by_dev = {}
    for e in eps:
        if e.code in ("unreachable", "comm_loss"):
            by_dev.setdefault((e.agent, e.device), []).append(e)
    for (agent, dev), es in sorted(by_dev.items()):
        es.sort(key=lambda e: e.r)
        spans = []  # stretches where unreachable and/or comm_loss were raised
        for e in es:
            c = e.c if e.c is not None else end
            if spans and e.r <= spans[-1][1] + 0.002:
                spans[-1][1] = max(spans[-1][1], c)
                spans[-1][2].append(e)
            else:
                spans.append([e.r, c, [e]])
        keys = ("device:%s/%s/unreachable" % (SITE, dev), "device:%s/%s/comm_loss" % (SITE, dev))
        for lo, hi, members in spans:
            ids = set()
            for t in tk.values():
                if t["key"] in keys and any(d == dev and c in ("unreachable", "comm_loss") and
                                            s == "raised" and lo - 0.002 <= ts <= hi
                                            for d, c, s, ts in t["alarms"]):
                    ids.add(t["id"])
            if len(ids) > 1:
                doubled.append("device %s (%s) %s .. %s: tickets %s (%s)" % (
                    dev, agent, utc(lo), utc(hi), sorted(ids),
                    ", ".join(tk[i]["key"] for i in sorted(ids))))
    not_cleared = [t for t in tk.values() if t["cleared"] is None]
    still_raised = [e for e in eps if e.c is None]
    log("tickets: %d, doubled problems %d, not cleared %d; episodes still raised in the"
        " database at the end (no clear stored) %d" % (len(tk), len(doubled), len(not_cleared),
                                                       len(still_raised)))
    for e in still_raised[:5]:
        log("  still raised: %r" % e)
    return without, doubled, not_cleared, eps, tk, examples


def describe_ticket(t, eps, end):
    lines = ["ticket %d %s (kind %s, grade %d, state %s, opened_by %s, occurrences %d):"
             " first_seen %s recorded_at %s cleared_at %s"
             % (t["id"], t["key"], t["kind"], t["grade"], t["state"], t["by"], t["occ"],
                utc(t["first"]), utc(t["opened"]), utc(t["cleared"]))]
    for d, c, s, ts in t["alarms"][:12]:
        lines.append("    ticket_alarms: %s %s %s at %s" % (d, c, s, utc(ts)))
    devs = {(d, c) for d, c, s, ts in t["alarms"]}
    for e in eps:
        if (e.device, e.code) in devs:
            lines.append("    episode: %r" % e)
    return "\n".join(lines)


def actions_near(run, lo, hi):
    return ["    %s %s" % (utc(ts), text) for ts, text in run.actions if lo - 5 <= ts <= hi + 5]


def p99(values):
    if not values:
        return 0.0
    v = sorted(values)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def main():
    global AGENT, COLLECTOR, SIM
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--collector", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--devices", type=int, default=12, help="devices per agent")
    ap.add_argument("--interval", type=float, default=2, help="poll interval, s")
    ap.add_argument("--group-wait", type=int, default=10, help="rules' group_wait, s")
    ap.add_argument("--margin", type=float, default=3,
                    help="episodes within this many s past their wait are not judged")
    ap.add_argument("--recovery-bound", type=float, default=90)
    ap.add_argument("--check", choices=["all", "events", "env"], default="all",
                    help="figures that must hold: all, or only events_lost and events_doubled;"
                    " env: all when FM_CHAOS_STRICT=1, else events")
    ap.add_argument("--work", help="scratch directory (kept); default: a new temp dir, removed if"
                    " the run passes")
    args = ap.parse_args()
    AGENT, COLLECTOR, SIM = (os.path.abspath(p) for p in (args.agent, args.collector, args.sim))
    if args.check == "env":
        args.check = "all" if os.environ.get("FM_CHAOS_STRICT") == "1" else "events"
    work = args.work or tempfile.mkdtemp(prefix="fm-chaos.")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    log("chaos: seed %d, %g s, %d devices per agent (2 agents, site %s), 2 collectors,"
        " group_wait %d s, checks: %s; scratch %s" % (args.seed, args.duration, args.devices, SITE,
                                                       args.group_wait, args.check, work))
    run = None
    try:
        run = Run(args, work)
        sched = make_schedule(args.seed, args.duration,
                              run.devices["a"] + run.devices["b"], args.group_wait, args.interval)
        log("schedule (seed %d; replay: the same --seed, --duration, --devices, --interval,"
            " --group-wait):" % args.seed)
        for t, kind, target, arg in sched:
            if kind == "kill":
                print("  t=%6.1f kill -9 %s, down %.1f s" % (t, target, arg))
            else:
                print("  t=%6.1f fault %s on %s for %.1f s" % (t, arg[0], target, arg[1]))
        sys.stdout.flush()
        wait(lambda: len(q("SELECT 1 FROM agents WHERE connected AND agent_id LIKE 'chaos-%'")) == 2,
             "both agents to connect", 60)
        run.chaos(sched)
        run.settle()
        run.stop()
        end = time.time()
        lost, doubled, ev_examples = check_events(run)
        without, tdoubled, not_cleared, eps, tk, f_examples = check_faults(run, end)
    except (Fail, AssertionError, subprocess.CalledProcessError) as ex:
        print("FAIL: %s" % ex)
        if run:
            for p in list(run.colls.values()) + list(run.agents.values()):
                if p.proc and p.proc.poll() is None:
                    p.proc.kill()
            run.sim.proc.kill()
        print("scratch directory kept: %s" % work)
        return 2
    rec = [r[1] for r in run.recoveries]
    rec_p99 = p99(rec)
    log("recoveries (collector or PostgreSQL restart -> every agent's backlog acked): %s"
        % ", ".join("%s %.2f s%s" % (w, s, "" if ok else " NOT drained") for w, s, ok in run.recoveries))
    if not run.drain_ok:
        log("the backlog did not drain after the chaos ended: missing events include the undelivered")

    # One example of each failure, with the harness's actions around it.
    for text in ev_examples[:4]:
        print("EXAMPLE events: %s" % text)
    if without:
        e = without[0]
        print("EXAMPLE faults_without_ticket: %r, lasted %.1f s; harness actions around it:"
              % (e, (e.c or end) - e.r))
        print("\n".join(actions_near(run, e.r, e.c or end)))
        for x in f_examples[1:]:
            print("  another: %s" % x)
    if tdoubled:
        print("EXAMPLE tickets_doubled: %s" % tdoubled[0])
        m = re.search(r"tickets \[(\d+)", tdoubled[0])
        if m:
            t = tk[int(m.group(1))]
            print(describe_ticket(t, eps, end))
            print("\n".join(actions_near(run, t["first"], t["first"] + 30)))
    if not_cleared:
        raised_at_end = {(e.device, e.code) for e in eps if e.c is None}
        agent_side = [t for t in not_cleared
                      if any((d, c) in raised_at_end for d, c, _, _ in t["alarms"])]
        log("tickets not cleared: %d whose every alarm's clear is stored (the collector did not"
            " apply it), %d with an alarm whose clear was never stored (the agent never sent it)"
            % (len(not_cleared) - len(agent_side), len(agent_side)))
        t = not_cleared[0]
        print("EXAMPLE tickets_not_cleared (%d): %s" % (len(not_cleared), describe_ticket(t, eps, end)))
        last = max([ts for _, _, _, ts in t["alarms"]] + [t["first"]])
        print("\n".join(actions_near(run, t["first"], last)))
        print("  all not cleared: %s" % ", ".join("%d %s" % (x["id"], x["key"]) for x in not_cleared))

    figures = dict(kills=run.kills, events_lost=lost, events_doubled=doubled,
                   faults_without_ticket=len(without), tickets_doubled=len(tdoubled),
                   tickets_not_cleared=len(not_cleared))
    if args.check == "all":
        bad = [k for k, v in figures.items() if k != "kills" and v != 0]
        if rec_p99 >= 5:
            bad.append("recovery_p99_s")
    else:
        bad = [k for k in ("events_lost", "events_doubled") if figures[k] != 0]
    if bad:
        print("chaos: FAILED: %s (checks: %s; seed %d; scratch kept: %s)"
              % (", ".join(bad), args.check, args.seed, work))
    elif not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print("kills=%d events_lost=%d events_doubled=%d faults_without_ticket=%d tickets_doubled=%d"
          " tickets_not_cleared=%d recovery_p99_s=%.2f"
          % (run.kills, lost, doubled, len(without), len(tdoubled), len(not_cleared), rec_p99))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
