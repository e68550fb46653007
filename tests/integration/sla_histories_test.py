"""Ticket histories with known answers, through the real collector and
PostgreSQL: each history is entered after the fact with fieldmonctl (a
manual ticket reported at a contract time, then its steps with --at), the
collector settles the clocks, and every clock's outcome and deadline, and
every figure of the SLA report, must equal the answers worked out by hand
below from docs/contracts.md. The report is run again after the collector
has run more rounds and restarted: the same figures.

Contract: the shipped default (+08:00, mon-fri, business hours 09-17) with
Monday 2026-11-23 a holiday. 2026-11-20 is a Friday. Sites: s10 10 km away
(first band: the grade's on-site limit), s80 80 km away (the larger of the
grade's limit and the 12 h band).

Run under tests/lib/with-pg.sh with FM_COLLECTOR, FM_CTL, FM_SOURCE_DIR."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from fmtest import check, wait  # noqa: E402

CTL = os.environ["FM_CTL"]
COLLECTOR = os.environ["FM_COLLECTOR"]
SRC = os.environ["FM_SOURCE_DIR"]
DSN = os.environ["FM_PG_DSN"]

# Each history: how the ticket is opened, its steps (command, time, args),
# and per clock (response, remote, onsite, resolution) the expected outcome
# and deadline (local +08:00, "" where the clock has none), with the
# arithmetic. A reopened ticket lists its visits.
HISTORIES = [
    dict(name="H1 UPS on battery 80 km away, everything in time, closed",
         open=("3", "s80", "2026-11-20 16:00"),
         steps=[("ack", "2026-11-20 16:30"), ("remote", "2026-11-20 19:10"),
                ("dispatch", "2026-11-20 19:30", "--to", "team north"),
                ("on-site", "2026-11-21 09:00"),
                ("resolve", "2026-11-26 10:00", "--cause", "mains", "--action", "reset"),
                ("close", "2026-11-26 11:00", "--satisfaction", "5")],
         visits=[[("met", "2026-11-20 18:00"),   # 2 h
                  ("met", "2026-11-20 20:00"),   # 4 h
                  ("met", "2026-11-21 16:00"),   # max(grade 24 h, band 12 h)
                  # 4 working days: Fri 8 h, Mon holiday, Tue-Thu 72 h, Fri 16 h
                  ("met", "2026-11-27 16:00")]],
         satisfaction=[5]),
    dict(name="H2 grade 2 at 10 km fixed remotely in 90 min, no ack recorded",
         open=("2", "s10", "2026-11-20 10:00"),
         steps=[("resolve", "2026-11-20 11:30", "--cause", "config", "--action", "rolled back"),
                ("close", "2026-11-20 12:00", "--satisfaction", "4")],
         visits=[[("met", "2026-11-20 12:00"),   # resolving is the response
                  ("na", "2026-11-20 12:00"),    # resolved before remote was due
                  ("na", "2026-11-20 22:00"),    # first band: grade's 12 h
                  # 3 working days: Fri 14 h, Mon holiday, Tue, Wed 48 h, Thu 10 h
                  ("met", "2026-11-26 10:00")]],
         satisfaction=[4]),
    dict(name="H3 grade 4 (5x8) opened on Saturday",
         open=("4", "s10", "2026-11-21 10:00"),
         steps=[("ack", "2026-11-25 10:00"),
                ("resolve", "2026-11-27 15:00", "--cause", "filter", "--action", "replaced"),
                ("close", "2026-11-27 16:00", "--satisfaction", "3")],
         visits=[[("met", "2026-11-26 17:00"),   # 24 business hours: Tue, Wed, Thu (Mon holiday)
                  ("na", ""), ("na", ""),        # grade 4 has no remote or on-site clock
                  # 5 working days from Tue 00:00: Tue, Wed, Thu, Fri, Mon 30
                  ("met", "2026-12-01 00:00")]],
         satisfaction=[3]),
    dict(name="H4 paused over the weekend and the Monday holiday",
         open=("3", "s80", "2026-11-20 10:00"),
         steps=[("ack", "2026-11-20 10:30"),
                ("pause", "2026-11-20 12:00", "--reason", "site access refused"),
                ("resume", "2026-11-23 12:00"), ("remote", "2026-11-23 13:00"),
                ("dispatch", "2026-11-23 13:30", "--to", "field-engineer"),
                ("on-site", "2026-11-24 09:00"),
                ("resolve", "2026-11-27 20:00", "--cause", "door lock", "--action", "fixed")],
         visits=[[("met", "2026-11-20 12:00"),   # reached as the pause began
                  ("met", "2026-11-23 14:00"),   # 2 h before, 2 h after the 72 h pause
                  ("met", "2026-11-24 10:00"),   # 2 h before, 22 h after
                  # working time: Fri 10-12 (2 h), Tue-Thu 72 h, Fri 22 h
                  ("met", "2026-11-27 22:00")]],
         satisfaction=[]),
    dict(name="H5 acknowledged a minute before a pause, resolved while paused",
         open=("3", "s80", "2026-11-24 10:00"),
         steps=[("ack", "2026-11-24 11:59"),
                ("pause", "2026-11-24 12:00", "--reason", "waiting for customer approval"),
                ("resolve", "2026-11-25 09:00", "--cause", "approved", "--action", "swapped")],
         refused=[(["resume"], 1, "is resolved: cannot resume it")],
         visits=[[("met", "2026-11-24 12:00"),   # met before the pause: stays met
                  ("na", "2026-11-25 11:00"),    # 2 h before the pause, 2 h after its end 09:00
                  ("na", "2026-11-26 07:00"),    # 2 h + 22 h
                  # 2 h Tue, Wed 15 h, Thu, Fri, Mon 72 h, Tue Dec 1 7 h
                  ("met", "2026-12-01 07:00")]],
         satisfaction=[]),
    dict(name="H6 raised to grade 2 twenty minutes after opening",
         open=("3", "s80", "2026-11-20 16:00"),
         steps=[("regrade", "2026-11-20 16:20", "--grade", "2", "--reason", "battery low"),
                ("ack", "2026-11-20 16:40"),
                ("dispatch", "2026-11-20 17:00", "--to", "team north"),
                ("on-site", "2026-11-21 03:00"),
                ("resolve", "2026-11-21 05:00", "--cause", "battery", "--action", "replaced")],
         grade=2,
         visits=[[("met", "2026-11-20 18:00"),      # grade 2 from 16:00: 2 h
                  ("breached", "2026-11-20 18:00"),  # 2 h, never started
                  ("met", "2026-11-21 04:00"),      # max(12 h, 12 h)
                  # 3 working days: Fri 8 h, Tue, Wed 48 h, Thu 16 h
                  ("met", "2026-11-26 16:00")]],
         satisfaction=[]),
    dict(name="H7 grade 1 resolved late, over the holiday",
         open=("1", "s10", "2026-11-20 10:00"),
         steps=[("ack", "2026-11-20 10:10"),
                ("dispatch", "2026-11-20 10:15", "--to", "field-engineer"),
                ("on-site", "2026-11-20 11:30"),
                ("resolve", "2026-11-24 12:00", "--cause", "smoke", "--action", "cleaned")],
         visits=[[("met", "2026-11-20 10:30"),
                  ("breached", "2026-11-20 10:30"),
                  ("met", "2026-11-20 12:00"),       # first band: grade's 2 h
                  # 1 working day: Fri 14 h, Mon holiday, Tue 10 h
                  ("breached", "2026-11-24 10:00")]],
         satisfaction=[]),
    dict(name="H8 closed, then reopened: two visits with clocks of their own",
         open=("3", "s10", "2026-11-25 10:00"),
         steps=[("ack", "2026-11-25 10:05"), ("remote", "2026-11-25 10:20"),
                ("resolve", "2026-11-25 10:40", "--cause", "switch", "--action", "restarted"),
                ("close", "2026-11-25 11:00", "--satisfaction", "2"),
                ("reopen", "2026-11-25 14:00", "--reason", "alarm again"),
                ("dispatch", "2026-11-25 14:30", "--to", "team north"),
                ("on-site", "2026-11-25 16:00"),
                ("resolve", "2026-11-26 09:00", "--cause", "switch PSU", "--action", "replaced"),
                ("close", "2026-11-26 10:00", "--satisfaction", "4")],
         visits=[[("met", "2026-11-25 12:00"), ("met", "2026-11-25 14:00"),
                  ("na", "2026-11-26 10:00"),        # first band: grade's 24 h
                  # 4 working days: Wed 14 h, Thu, Fri, Mon 72 h, Tue 10 h
                  ("met", "2026-12-01 10:00")],
                 [("met", "2026-11-25 16:00"),       # the reopening is the response
                  ("breached", "2026-11-25 18:00"),  # from 14:00; never started
                  ("met", "2026-11-26 14:00"),
                  ("met", "2026-12-01 14:00")]],
         satisfaction=[2, 4]),
    dict(name="H9 cancelled: a false alarm",
         open=("2", "s10", "2026-11-26 10:00"),
         steps=[("ack", "2026-11-26 10:10"),
                ("cancel", "2026-11-26 10:30", "--reason", "false alarm")],
         closed_as="cancelled",
         visits=[[("met", "2026-11-26 12:00"), ("na", "2026-11-26 12:00"),
                  ("na", "2026-11-26 22:00"),
                  # 3 working days: Thu 14 h, Fri 24 h, Mon 24 h, Tue 10 h
                  ("na", "2026-12-01 10:00")]],
         satisfaction=[]),
    dict(name="H10 a duplicate of H1",
         open=("3", "s10", "2026-11-26 11:00"),
         steps=[("duplicate-of", "2026-11-26 11:10", "H1")],
         closed_as="duplicate",
         visits=[[("na", "2026-11-26 13:00"), ("na", "2026-11-26 15:00"),
                  ("na", "2026-11-27 11:00"), ("na", "2026-12-02 11:00")]],
         satisfaction=[]),
]
CLOCKS = ["response", "remote", "onsite", "resolution"]


def q(sql):
    return subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def ctl(*args, ok=True):
    p = subprocess.run([CTL, "-a", "tester"] + list(args), capture_output=True, text=True)
    if ok:
        check(p.returncode == 0, "fieldmonctl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


class Collector:
    def __init__(self, cfg, log):
        self.cfg, self.log, self.p = cfg, log, None

    def start(self):
        self.p = subprocess.Popen([COLLECTOR, "-c", self.cfg], stdout=open(self.log, "a"),
                                  stderr=subprocess.STDOUT)

    def stop(self):
        if self.p:
            self.p.terminate()
            self.p.wait(timeout=30)
            self.p = None


def enter(h, ids):
    grade, site, at = h["open"]
    out = ctl("open", "--grade", grade, "--title", h["name"], "--site", site,
              "--reported-at", at).stdout
    tid = int(out.split()[1].rstrip(":"))
    ids[h["name"].split()[0]] = tid
    for step in h["steps"]:
        cmd, when, args = step[0], step[1], list(step[2:])
        if cmd == "duplicate-of":
            args = [str(ids[args[0]])]
            ctl(cmd, str(tid), *args, "--at", when)
        else:
            ctl(cmd, str(tid), "--at", when, *args)
    for args, code, msg in h.get("refused", []):
        p = ctl(args[0], str(tid), *args[1:], ok=False)
        check(p.returncode == code and msg in p.stderr,
              "%s: %s gave %d %r" % (h["name"], args, p.returncode, p.stderr))
    return tid


def check_clocks(h, tid):
    for v, want in enumerate(h["visits"], start=1):
        rows = q("SELECT clock, outcome, coalesce(to_char(due AT TIME ZONE INTERVAL '+08:00', "
                 "'YYYY-MM-DD HH24:MI'), '') FROM ticket_clocks WHERE ticket_id = %d AND "
                 "visit = %d" % (tid, v))
        got = {r.split("|")[0]: tuple(r.split("|")[1:]) for r in rows.splitlines()}
        for k, clock in enumerate(CLOCKS):
            check(got.get(clock) == want[k], "%s visit %d %s: got %s, want %s"
                  % (h["name"], v, clock, got.get(clock), want[k]))


def expected_report():
    """The report's figures, computed from the table."""
    grades, breaches, sats = {}, 0, []
    excluded = {"cancelled": 0, "duplicate": 0}
    for h in HISTORIES:
        if "closed_as" in h:
            excluded[h["closed_as"]] += 1
            continue
        g = h.get("grade", int(h["open"][0]))
        for visit in h["visits"]:
            for k, (outcome, _) in enumerate(visit):
                c = grades.setdefault((g, CLOCKS[k]), {"met": 0, "breached": 0, "na": 0})
                c[outcome] += 1
                breaches += outcome == "breached"
        sats += h["satisfaction"]
    return grades, breaches, sats, excluded


def check_report(when):
    p = ctl("--json", "sla", "--from", "2026-11-01", "--to", "2026-11-30")
    d = json.loads(p.stdout)
    grades, n_breaches, sats, excluded = expected_report()
    got = {(x["grade"], x["clock"]): x for x in d["grades"]}
    check(set(got) == set(grades), "%s: report grades %s, want %s" % (when, sorted(got),
                                                                     sorted(grades)))
    for key, want in grades.items():
        x = got[key]
        check((x["met"], x["breached"], x["na"], x["running"]) ==
              (want["met"], want["breached"], want["na"], 0),
              "%s: %s: got %s, want %s" % (when, key, x, want))
        decided = want["met"] + want["breached"]
        pct = round(100.0 * want["met"] / decided, 1) if decided else None
        check(x["met_pct"] == pct, "%s: %s met_pct %s, want %s" % (when, key, x["met_pct"], pct))
    check(len(d["breaches"]) == n_breaches, "%s: %d breaches listed, want %d"
          % (when, len(d["breaches"]), n_breaches))
    avg = round(sum(sats) / len(sats), 2)
    check(d["satisfaction"]["n"] == len(sats) and
          abs(float(d["satisfaction"]["avg"]) - avg) < 0.01,
          "%s: satisfaction %s, want %.2f of %d" % (when, d["satisfaction"], avg, len(sats)))
    check(d["excluded"] == excluded, "%s: excluded %s, want %s" % (when, d["excluded"], excluded))


def main():
    work = tempfile.mkdtemp(prefix="fm-hist.")
    contract = open(os.path.join(SRC, "deploy/contract-default.yaml")).read()
    contract = contract.replace("      holidays: []", "      holidays: [2026-11-23]")
    check("2026-11-23" in contract, "holiday not set")
    with open(os.path.join(work, "contract.yaml"), "w") as f:
        f.write(contract)
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write('collector_id: hist\nlog_level: info\ndatabase: {dsn: "%s"}\n'
                "listen: {transport: plain, address: 127.0.0.1, port: 0}\n"
                "metrics: {address: 127.0.0.1, port: 0}\n"
                "sla: {contracts: %s/contract.yaml, interval: 200ms}\n" % (DSN, work))
    subprocess.run([COLLECTOR, "-c", cfg, "--migrate"], check=True, capture_output=True)
    q("INSERT INTO sites (site_id, name, distance_km) VALUES ('s10', 'near', 10), "
      "('s80', 'far', 80)")
    coll = Collector(cfg, os.path.join(work, "collector.log"))
    # The collector publishes the contract (its time zone), then stops: the
    # histories are entered after the fact, whole, as an operator would
    # from a paper log.
    coll.start()
    wait(lambda: q("SELECT count(*) FROM sla_contracts") == "1", "the contract published")
    coll.stop()
    ids, tids = {}, {}
    try:
        for h in HISTORIES:
            tids[h["name"]] = enter(h, ids)
        coll.start()
        n_visits = sum(len(h["visits"]) for h in HISTORIES)
        wait(lambda: q("SELECT count(*) FROM ticket_clocks") == str(4 * n_visits),
             "every clock settled", timeout=60)
        for h in HISTORIES:
            check_clocks(h, tids[h["name"]])
        check_report("first report")
        time.sleep(1)  # more rounds
        coll.stop()
        coll.start()
        time.sleep(1)
        for h in HISTORIES:
            check_clocks(h, tids[h["name"]])
        check_report("report after more rounds and a restart")
        print("sla_histories: %d histories, %d visits: every clock and figure as worked out"
              % (len(HISTORIES), n_visits))
    except Exception:
        print(open(os.path.join(work, "collector.log")).read()[-3000:])
        raise
    finally:
        coll.stop()


if __name__ == "__main__":
    main()
