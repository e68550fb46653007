"""Ticket histories with known answers, through the real collector and
PostgreSQL: each history is entered after the fact with fieldmonctl (a
manual ticket reported at a contract time, then its steps with --at), the
collector settles the clocks, and every clock's end (outcome, deadline,
counting time taken) and every figure of the SLA report for November 2026
(visits, met, breached, n/a, running, % met, median and p90 taken, the
breaches listed, satisfaction, the cancelled and duplicates left out) must
equal the answers worked out by hand below from docs/contracts.md.

Then life goes on "days later" (now, 2026-12-04 or after): a November
ticket is reopened, a new ticket opens and keeps running, the collector
restarts and runs more rounds; the November clocks and report must not
change.

Contract (written here): time zone +08:00, mon-fri, business hours
09:00-17:00, Monday 2026-11-23 a holiday, the seed grades copied from
deploy/contract-default.yaml, bands 50 km 5 h / 100 km 12 h / 400 km 24 h,
beyond 3 days. 2026-11-20 is a Friday, 2026-11-01 a Sunday. Sites: s10
10 km away (first band: the grade's on-site limit), s80 80 km (the larger of
the grade's limit and 12 h), s250 250 km (24 h), s500 500 km (3 days).

Run under tests/lib/with-pg.sh with FM_COLLECTOR, FM_CTL, FM_SOURCE_DIR."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from fmtest import check, wait  # noqa: E402

CTL = os.environ["FM_CTL"]
COLLECTOR = os.environ["FM_COLLECTOR"]
SRC = os.environ["FM_SOURCE_DIR"]
DSN = os.environ["FM_PG_DSN"]

# Each history: how the ticket is opened (grade, site, reported at), its
# steps (command, --at time, arguments), and per visit the end of each clock
# (response, remote, onsite, resolution) as worked out by hand: outcome,
# deadline (local +08:00; "" where the clock has none) and the counting time
# taken to the event ("" where there is no event), and where it is not the
# ticket's grade, the grade the clock was judged under. The comments give
# the arithmetic. A reopened ticket lists its visits.
HISTORIES = [
    dict(name="H1 UPS on battery 80 km away, everything in time, closed",
         open=("3", "s80", "2026-11-20 16:00"),
         steps=[("ack", "2026-11-20 16:30"), ("remote", "2026-11-20 19:10"),
                ("dispatch", "2026-11-20 19:30", "--to", "team north"),
                ("on-site", "2026-11-21 09:00"),
                ("resolve", "2026-11-26 10:00", "--cause", "mains", "--action", "reset"),
                ("close", "2026-11-26 11:00", "--satisfaction", "5")],
         visits=[[("met", "2026-11-20 18:00", "30m"),    # 2 h
                  ("met", "2026-11-20 20:00", "3h10m"),  # 4 h; began 19:10
                  ("met", "2026-11-21 16:00", "17h"),    # max(grade 24 h, band 12 h)
                  # 4 working days: Fri 8 h, Mon holiday, Tue-Thu 72 h, Fri 16 h;
                  # taken Fri 8 h + Tue, Wed 48 h + Thu 10 h
                  ("met", "2026-11-27 16:00", "66h")]],
         satisfaction=[5]),
    dict(name="H2 grade 2 at 10 km fixed remotely in 90 min, no ack recorded",
         open=("2", "s10", "2026-11-20 10:00"),
         steps=[("resolve", "2026-11-20 11:30", "--cause", "config", "--action", "rolled back"),
                ("close", "2026-11-20 12:00", "--satisfaction", "4")],
         visits=[[("met", "2026-11-20 12:00", "1h30m"),  # resolving is the response
                  ("na", "2026-11-20 12:00", ""),        # resolved before remote was due
                  ("na", "2026-11-20 22:00", ""),        # first band: grade's 12 h
                  # 3 working days: Fri 14 h, Mon holiday, Tue, Wed 48 h, Thu 10 h
                  ("met", "2026-11-26 10:00", "1h30m")]],
         satisfaction=[4]),
    dict(name="H3 grade 4 (5x8) opened on Saturday",
         open=("4", "s10", "2026-11-21 10:00"),
         steps=[("ack", "2026-11-25 10:00"),
                ("resolve", "2026-11-27 15:00", "--cause", "filter", "--action", "replaced"),
                ("close", "2026-11-27 16:00", "--satisfaction", "3")],
         # 24 business hours: Tue, Wed, Thu (Mon holiday); taken Tue 8 h + Wed 1 h
         visits=[[("met", "2026-11-26 17:00", "9h"),
                  ("na", "", ""), ("na", "", ""),        # grade 4 has no remote or on-site clock
                  # 5 working days from Tue 00:00: Tue, Wed, Thu, Fri, Mon 30;
                  # taken Tue-Thu 72 h + Fri 15 h
                  ("met", "2026-12-01 00:00", "87h")]],
         satisfaction=[3]),
    dict(name="H4 paused over the weekend and the Monday holiday",
         open=("3", "s80", "2026-11-20 10:00"),
         steps=[("ack", "2026-11-20 10:30"),
                ("pause", "2026-11-20 12:00", "--reason", "site access refused"),
                ("resume", "2026-11-23 12:00"), ("remote", "2026-11-23 13:00"),
                ("dispatch", "2026-11-23 13:30", "--to", "field-engineer"),
                ("on-site", "2026-11-24 09:00"),
                ("resolve", "2026-11-27 20:00", "--cause", "door lock", "--action", "fixed")],
         visits=[[("met", "2026-11-20 12:00", "30m"),    # reached as the pause began
                  ("met", "2026-11-23 14:00", "3h"),     # 2 h before, 2 h after the 72 h pause
                  ("met", "2026-11-24 10:00", "23h"),    # 2 h before, 22 h after; came at 2 + 21
                  # working time: Fri 10-12 (2 h), Tue-Thu 72 h, Fri 22 h;
                  # taken 2 + 72 + Fri 20 h
                  ("met", "2026-11-27 22:00", "94h")]],
         satisfaction=[]),
    dict(name="H5 acknowledged a second before a pause, resolved while paused",
         open=("3", "s80", "2026-11-24 10:00"),
         steps=[("ack", "2026-11-24 11:59:59"),
                ("pause", "2026-11-24 12:00", "--reason", "waiting for customer approval"),
                ("resolve", "2026-11-25 09:00", "--cause", "approved", "--action", "swapped")],
         refused=[(["resume"], 1, "is resolved: cannot resume it")],
         pause_ends="2026-11-25 09:00",                  # the resolution ended the pause
         visits=[[("met", "2026-11-24 12:00", "1h59m59s"),  # met before the pause: stays met
                  ("na", "2026-11-25 11:00", ""),        # 2 h before the pause, 2 h after 09:00
                  ("na", "2026-11-26 07:00", ""),        # 2 h + 22 h
                  # 2 h Tue, Wed 15 h, Thu, Fri, Mon 72 h, Tue Dec 1 7 h;
                  # taken: the 2 h before the pause
                  ("met", "2026-12-01 07:00", "2h")]],
         satisfaction=[]),
    dict(name="H6 raised to grade 2 twenty minutes after opening",
         open=("3", "s80", "2026-11-20 16:00"),
         steps=[("regrade", "2026-11-20 16:20", "--grade", "2", "--reason", "battery low"),
                ("ack", "2026-11-20 16:40"),
                ("dispatch", "2026-11-20 17:00", "--to", "team north"),
                ("on-site", "2026-11-21 03:00"),
                ("resolve", "2026-11-21 05:00", "--cause", "battery", "--action", "replaced")],
         grade=2,
         visits=[[("met", "2026-11-20 18:00", "40m"),     # grade 2 from 16:00: 2 h
                  ("breached", "2026-11-20 18:00", ""),   # 2 h (was 20:00), never started
                  ("met", "2026-11-21 04:00", "11h"),     # max(12 h, 12 h) (was Sat 16:00)
                  # 3 working days: Fri 8 h, Tue, Wed 48 h, Thu 16 h;
                  # taken: Fri 8 h (Saturday does not count)
                  ("met", "2026-11-26 16:00", "8h")]],
         satisfaction=[]),
    dict(name="H7 grade 1 resolved late, over the holiday",
         open=("1", "s10", "2026-11-20 10:00"),
         steps=[("ack", "2026-11-20 10:10"),
                ("dispatch", "2026-11-20 10:15", "--to", "field-engineer"),
                ("on-site", "2026-11-20 11:30"),
                ("resolve", "2026-11-24 12:00", "--cause", "smoke", "--action", "cleaned")],
         visits=[[("met", "2026-11-20 10:30", "10m"),
                  ("breached", "2026-11-20 10:30", ""),   # never started
                  ("met", "2026-11-20 12:00", "1h30m"),   # first band: grade's 2 h
                  # 1 working day: Fri 14 h, Mon holiday, Tue 10 h; resolved
                  # 2 h late, taken Fri 14 h + Tue 12 h
                  ("breached", "2026-11-24 10:00", "26h")]],
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
         visits=[[("met", "2026-11-25 12:00", "5m"), ("met", "2026-11-25 14:00", "20m"),
                  ("na", "2026-11-26 10:00", ""),         # first band: grade's 24 h
                  # 4 working days: Wed 14 h, Thu, Fri, Mon 72 h, Tue 10 h
                  ("met", "2026-12-01 10:00", "40m")],
                 [("met", "2026-11-25 16:00", "0s"),      # the reopening is the response
                  ("breached", "2026-11-25 18:00", ""),   # from 14:00; never started
                  ("met", "2026-11-26 14:00", "2h"),
                  # Wed 10 h, Thu, Fri, Mon 72 h, Tue 14 h; taken Wed 10 h + Thu 9 h
                  ("met", "2026-12-01 14:00", "19h")]],
         satisfaction=[2, 4]),
    dict(name="H9 cancelled: a false alarm",
         open=("2", "s10", "2026-11-26 10:00"),
         steps=[("ack", "2026-11-26 10:10"),
                ("cancel", "2026-11-26 10:30", "--reason", "false alarm")],
         closed_as="cancelled",
         visits=[[("met", "2026-11-26 12:00", "10m"), ("na", "2026-11-26 12:00", ""),
                  ("na", "2026-11-26 22:00", ""),
                  # 3 working days: Thu 14 h, Fri 24 h, Mon 24 h, Tue 10 h
                  ("na", "2026-12-01 10:00", "")]],
         satisfaction=[]),
    dict(name="H10 a duplicate of H1",
         open=("3", "s10", "2026-11-26 11:00"),
         steps=[("duplicate-of", "2026-11-26 11:10", "H1")],
         closed_as="duplicate",
         visits=[[("na", "2026-11-26 13:00", ""), ("na", "2026-11-26 15:00", ""),
                  # 24 h; 4 working days: Thu 13 h, Fri, Mon, Tue 72 h, Wed 11 h
                  ("na", "2026-11-27 11:00", ""), ("na", "2026-12-02 11:00", "")]],
         satisfaction=[]),
    dict(name="H11 grade 2 250 km away opened on Sunday before the holiday",
         open=("2", "s250", "2026-11-22 20:00"),
         steps=[("ack", "2026-11-22 20:30"), ("remote", "2026-11-22 21:00"),
                ("dispatch", "2026-11-22 21:30", "--to", "field-engineer"),
                ("on-site", "2026-11-23 19:00"),
                ("resolve", "2026-11-26 15:00", "--cause", "rectifier", "--action", "replaced"),
                ("close", "2026-11-26 16:00", "--satisfaction", "5")],
         visits=[[("met", "2026-11-22 22:00", "30m"), ("met", "2026-11-22 22:00", "1h"),
                  ("met", "2026-11-23 20:00", "23h"),     # max(grade 12 h, 400 km band 24 h)
                  # opened on a Sunday, Mon a holiday: counting starts Tue 00:00;
                  # 3 working days Tue, Wed, Thu; taken Tue, Wed 48 h + Thu 15 h
                  ("met", "2026-11-27 00:00", "63h")]],
         satisfaction=[5]),
    dict(name="H12 grade 3 500 km away, engineer an hour late",
         open=("3", "s500", "2026-11-25 09:00"),
         steps=[("ack", "2026-11-25 09:30"), ("remote", "2026-11-25 12:00"),
                ("dispatch", "2026-11-25 12:30", "--to", "field-engineer"),
                ("on-site", "2026-11-28 10:00"),
                ("resolve", "2026-11-28 14:00", "--cause", "cable", "--action", "spliced"),
                ("close", "2026-11-28 15:00", "--satisfaction", "1")],
         visits=[[("met", "2026-11-25 11:00", "30m"), ("met", "2026-11-25 13:00", "3h"),
                  # beyond the bands: max(grade 24 h, 3 days) = 72 h; came at 73 h
                  ("breached", "2026-11-28 09:00", "73h"),
                  # Wed 15 h, Thu, Fri, Mon 72 h, Tue 9 h; taken Wed 15 h + Thu,
                  # Fri 48 h (Saturday does not count)
                  ("met", "2026-12-01 09:00", "63h")]],
         satisfaction=[1]),
    dict(name="H13 grade 4 (5x8) opened Friday 16:00, answered late",
         open=("4", "s80", "2026-11-20 16:00"),
         steps=[("ack", "2026-11-26 16:30"),
                ("resolve", "2026-11-30 15:00", "--cause", "fan", "--action", "replaced")],
         # 24 business hours: Fri 1 h, Mon holiday, Tue 8, Wed 8, Thu 7 h;
         # answered 30 min late: 24 h 30 m of business time
         visits=[[("breached", "2026-11-26 16:00", "24h30m"),
                  ("na", "", ""), ("na", "", ""),
                  # 5 working days: Fri 8 h, Tue-Fri 96 h, Mon 30 16 h;
                  # taken 8 + 96 + Mon 15 h
                  ("met", "2026-11-30 16:00", "119h")]],
         satisfaction=[]),
    dict(name="H14 grade 1 in the first half hour of the month (Sunday, the day before in UTC)",
         open=("1", "s10", "2026-11-01 00:30"),
         steps=[("ack", "2026-11-01 00:40"), ("remote", "2026-11-01 00:50"),
                ("resolve", "2026-11-01 01:20", "--cause", "breaker", "--action", "reset"),
                ("close", "2026-11-01 01:30", "--satisfaction", "3")],
         visits=[[("met", "2026-11-01 01:00", "10m"), ("met", "2026-11-01 01:00", "20m"),
                  ("na", "2026-11-01 02:30", ""),         # resolved remotely
                  # opened on a Sunday: 1 working day is Monday 00-24; resolved
                  # on the Sunday: no working time taken
                  ("met", "2026-11-03 00:00", "0s")]],
         satisfaction=[3]),
    dict(name="H15 grade 2 on the month's last evening, resolved by a call",
         open=("2", "s80", "2026-11-30 23:50"),
         steps=[("resolve", "2026-12-01 00:20", "--cause", "user error", "--action", "advised"),
                ("close", "2026-12-01 01:00", "--satisfaction", "4")],
         visits=[[("met", "2026-12-01 01:50", "30m"),     # resolving is the response
                  ("na", "2026-12-01 01:50", ""),
                  ("na", "2026-12-01 11:50", ""),         # max(12 h, 12 h)
                  # Mon 10 m, Tue, Wed 48 h, Thu 23 h 50 m
                  ("met", "2026-12-03 23:50", "30m")]],
         satisfaction=[4]),
    dict(name="H16 grade 3 ten minutes into December: outside the November report",
         open=("3", "s10", "2026-12-01 00:10"),
         steps=[("ack", "2026-12-01 00:20"),
                ("resolve", "2026-12-01 01:00", "--cause", "sensor", "--action", "recalibrated")],
         out_of_range=True,
         visits=[[("met", "2026-12-01 02:10", "10m"), ("na", "2026-12-01 04:10", ""),
                  ("na", "2026-12-02 00:10", ""),
                  # Tue 23 h 50 m, Wed, Thu, Fri 72 h, Mon 7 Dec 10 m
                  ("met", "2026-12-07 00:10", "50m")]],
         satisfaction=[]),
    dict(name="H17 answered under grade 3, raised to grade 1 afterwards",
         open=("3", "s10", "2026-11-24 10:00"),
         steps=[("ack", "2026-11-24 10:45"),
                ("regrade", "2026-11-24 11:00", "--grade", "1", "--reason", "smoke seen"),
                ("dispatch", "2026-11-24 11:05", "--to", "field-engineer"),
                ("on-site", "2026-11-24 11:50"),
                ("resolve", "2026-11-24 15:00", "--cause", "cable fire", "--action", "isolated")],
         grade=1,
         # the response was met at 10:45 under grade 3 (2 h, due 12:00) and
         # stays so; the rest runs on grade 1 from 10:00
         visits=[[("met", "2026-11-24 12:00", "45m", 3),
                  ("breached", "2026-11-24 10:30", ""),   # 30 min: passed when raised
                  ("met", "2026-11-24 12:00", "1h50m"),   # first band: grade's 2 h
                  # 1 working day: Tue 14 h, Wed 10 h; taken 5 h
                  ("met", "2026-11-25 10:00", "5h")]],
         satisfaction=[]),
]
CLOCKS = ["response", "remote", "onsite", "resolution"]
SITES = [("s10", 10), ("s80", 80), ("s250", 250), ("s500", 500)]
REPORT = ["--json", "sla", "--from", "2026-11-01", "--to", "2026-11-30"]
LOCAL = "'YYYY-MM-DD HH24:MI'"


def seconds(span):
    """'3h10m', '1h59m59s', '0s' -> seconds; '' -> None."""
    if not span:
        return None
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", span)
    check(m and span, "bad span %r in the table" % span)
    h, mi, se = (int(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + se


def local(t):
    """'2026-11-20 16:00' in +08:00 -> the same instant as PostgreSQL
    prints it in the report ('2026-11-20T16:00:00+08:00')."""
    return t.replace(" ", "T") + (":00" if len(t) == 16 else "") + "+08:00"


def q(sql):
    return subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def ctl(*args, ok=True):
    p = subprocess.run([CTL, "-a", "tester"] + list(args), capture_output=True, text=True,
                       timeout=60)
    if ok:
        check(p.returncode == 0, "fieldmonctl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


class Collector:
    def __init__(self, cfg, log):
        self.cfg, self.log, self.p = cfg, log, None

    def start(self):
        with open(self.log, "a") as log:
            self.p = subprocess.Popen([COLLECTOR, "-c", self.cfg], stdout=log,
                                      stderr=subprocess.STDOUT)

    def alive(self):
        rc = self.p.poll()
        check(rc is None, "the collector exited with status %s; see %s" % (rc, self.log))
        return True

    def stop(self):
        if self.p:
            self.p.terminate()
            rc = self.p.wait(timeout=30)
            self.p = None
            check(rc == 0, "collector exit status %d after SIGTERM" % rc)

    def kill(self):
        if self.p:
            self.p.kill()
            self.p.wait()
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
            ctl(cmd, str(tid), str(ids[args[0]]), "--at", when)
        else:
            ctl(cmd, str(tid), "--at", when, *args)
    for args, code, msg in h.get("refused", []):
        p = ctl(args[0], str(tid), *args[1:], ok=False)
        check(p.returncode == code and msg in p.stderr,
              "%s: %s gave %d %r" % (h["name"], args, p.returncode, p.stderr))
    return tid


def why_na(h, clock, ids):
    """The reason docs/contracts.md gives for a clock that did not apply."""
    if h.get("closed_as") == "cancelled":
        return "ticket cancelled"
    if h.get("closed_as") == "duplicate":
        return "duplicate of ticket %d" % ids[[s for s in h["steps"]
                                               if s[0] == "duplicate-of"][0][2]]
    if h["open"][0] == "4":
        return "grade 4 has no %s clock" % clock
    if clock == "onsite":
        return "resolved remotely; on-site does not apply"
    return "resolved without remote support; remote does not apply"


def check_clocks(h, tid, ids):
    """Every clock of every visit as the table says: outcome, deadline,
    counting time taken and the grade judged under; why a clock did not
    apply or was breached; a running clock (no row) is a failure."""
    for v, want in enumerate(h["visits"], start=1):
        rows = q("SELECT clock, outcome, coalesce(to_char(due AT TIME ZONE INTERVAL '+08:00', "
                 "%s), ''), coalesce(taken_s::text, ''), grade, reason FROM ticket_clocks "
                 "WHERE ticket_id = %d AND visit = %d" % (LOCAL, tid, v))
        got = {r.split("|")[0]: tuple(r.split("|")[1:]) for r in rows.splitlines()}
        for k, clock in enumerate(CLOCKS):
            outcome, due, taken = want[k][:3]
            t = seconds(taken)
            w = (outcome, due, "" if t is None else str(t), str(clock_grade(h, want[k])))
            check(got.get(clock, ())[:4] == w, "%s visit %d %s: got %s, want %s"
                  % (h["name"], v, clock, got.get(clock), w))
            reason = got[clock][4]
            if outcome == "na":
                w = why_na(h, clock, ids)
                check(reason == w, "%s visit %d %s: n/a because %r, want %r"
                      % (h["name"], v, clock, reason, w))
            elif outcome == "breached":
                ok = reason.endswith(" after the deadline") if t is not None \
                    else reason == "deadline passed"
                check(ok, "%s visit %d %s: breached because %r" % (h["name"], v, clock, reason))


def clock_grade(h, c):
    """The grade a clock (a table entry) was judged under."""
    return c[3] if len(c) > 3 else int(h.get("grade", h["open"][0]))


def check_ticket(h, tid):
    """The ticket's own record: settled, its deadlines kept (a ticket
    resolved while paused keeps them, NULL only where the grade has no such
    clock), a pause ended by the resolution, the right grade and end."""
    cur = h["visits"][-1]
    row = q("SELECT sla_settled, grade, coalesce(closed_as, ''), visit, "
            + ", ".join("coalesce(to_char(%s_due AT TIME ZONE INTERVAL '+08:00', %s), '')"
                        % (c, LOCAL) for c in CLOCKS)
            + " FROM tickets WHERE ticket_id = %d" % tid).split("|")
    want = ["t", str(h.get("grade", h["open"][0])), h.get("closed_as", ""),
            str(len(h["visits"]))] + [c[1] for c in cur]
    # A clock settled under an earlier grade keeps its deadline; the
    # ticket's columns hold the current grade's.
    for k, c in enumerate(cur):
        if clock_grade(h, c) != int(want[1]):
            row[4 + k] = want[4 + k]
    check(row == want, "%s: ticket (settled, grade, closed_as, visit, dues) %s, want %s"
          % (h["name"], row, want))
    if "pause_ends" in h:
        ends = q("SELECT coalesce(to_char(ended_at AT TIME ZONE INTERVAL '+08:00', %s), 'open') "
                 "FROM sla_pauses WHERE ticket_id = %d" % (LOCAL, tid))
        check(ends == h["pause_ends"], "%s: pause ended %s, want %s"
              % (h["name"], ends, h["pause_ends"]))


def percentile(vals, f):
    """PostgreSQL's percentile_cont."""
    if not vals:
        return None
    a = sorted(vals)
    pos = f * (len(a) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return a[lo] + (pos - lo) * (a[hi] - a[lo])


def expected_report(tids, grade=None):
    """The report's figures, computed from the table: per (grade, clock)
    the counts and times taken, the breaches in the report's order
    (deadline, ticket, visit), satisfaction, the visits left out. With
    grade: the clocks judged under it, the visits of that grade."""
    grades, breaches, sats = {}, [], []
    excluded = {"cancelled": 0, "duplicate": 0}
    for h in HISTORIES:
        if h.get("out_of_range"):
            continue
        g = int(h.get("grade", h["open"][0]))
        if "closed_as" in h:
            if grade in (None, g):
                excluded[h["closed_as"]] += len(h["visits"])
            continue
        tid = tids[h["name"]]
        for v, visit in enumerate(h["visits"], start=1):
            for k, c in enumerate(visit):
                outcome, due, taken = c[:3]
                g = clock_grade(h, c)
                if grade not in (None, g):
                    continue
                c = grades.setdefault((g, CLOCKS[k]), {"met": 0, "breached": 0, "na": 0,
                                                        "taken": []})
                c[outcome] += 1
                if seconds(taken) is not None:
                    c["taken"].append(seconds(taken))
                if outcome == "breached":
                    breaches.append((local(due), tid, v, g, CLOCKS[k], taken))
        if grade in (None, int(h.get("grade", h["open"][0]))):
            sats += h["satisfaction"]
    breaches.sort()
    return grades, breaches, sats, excluded


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 0.05


def check_report(when, tids, grade=None):
    d = json.loads(ctl(*REPORT, *(["--grade", str(grade)] if grade else [])).stdout)
    when += " (grade %d)" % grade if grade else ""
    check(d["range"]["from"] == "2026-11-01T00:00:00+08:00" and
          d["range"]["to"] == "2026-12-01T00:00:00+08:00" and d["range"]["tz"] == "+08:00",
          "%s: range %s" % (when, d["range"]))
    grades, breaches, sats, excluded = expected_report(tids, grade)
    got = {(x["grade"], x["clock"]): x for x in d["grades"]}
    check(set(got) == set(grades), "%s: report grades %s, want %s"
          % (when, sorted(got), sorted(grades)))
    for key, want in grades.items():
        x = got[key]
        visits = want["met"] + want["breached"] + want["na"]
        check((x["visits"], x["met"], x["breached"], x["na"], x["running"]) ==
              (visits, want["met"], want["breached"], want["na"], 0),
              "%s: %s: got %s, want %s" % (when, key, x, want))
        decided = want["met"] + want["breached"]
        pct = round(100.0 * want["met"] / decided, 1) if decided else None
        check(close(x["met_pct"], pct), "%s: %s met_pct %s, want %s"
              % (when, key, x["met_pct"], pct))
        for name, f in (("median_s", 0.5), ("p90_s", 0.9)):
            w = percentile(want["taken"], f)
            check(close(x[name], w), "%s: %s %s %s, want %s (of %s)"
                  % (when, key, name, x[name], w, sorted(want["taken"])))
    # Oldest deadline first, then ticket and visit (clocks of one visit due
    # at one instant in any order).
    got_b = [(b["due"], b["id"], b["visit"], b["grade"], b["clock"]) for b in d["breaches"]]
    check([b[:3] for b in got_b] == sorted(b[:3] for b in got_b),
          "%s: breaches out of order: %s" % (when, got_b))
    check(sorted(got_b) == [b[:5] for b in breaches], "%s: breaches %s, want %s"
          % (when, got_b, [b[:5] for b in breaches]))
    for b, want in zip(sorted(d["breaches"], key=lambda b: (b["due"], b["id"], b["visit"],
                                                           b["clock"])), breaches):
        # A breach met late: when, and how late (the event minus the deadline).
        late = None
        if want[5]:
            met = q("SELECT to_char(event_at AT TIME ZONE INTERVAL '+08:00', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"') || '|' || "
                    "extract(epoch FROM event_at - due)::bigint FROM ticket_clocks "
                    "WHERE ticket_id = %d AND visit = %d AND clock = '%s'"
                    % (want[1], want[2], want[4])).split("|")
            late = met[1]
            check(b["met_at"] == met[0], "%s: breach %s met at %s, want %s"
                  % (when, want[:5], b["met_at"], met[0]))
        else:
            check(b["met_at"] is None, "%s: breach %s never met, says %s"
                  % (when, want[:5], b["met_at"]))
        check(close(b["late_s"], late), "%s: breach %s late_s %s, want %s"
              % (when, want[:5], b["late_s"], late))
    avg = round(sum(sats) / len(sats), 2) if sats else None
    check(d["satisfaction"]["n"] == len(sats) and close(d["satisfaction"]["avg"], avg),
          "%s: satisfaction %s, want %s of %d" % (when, d["satisfaction"], avg, len(sats)))
    check(d["excluded"] == excluded, "%s: excluded %s, want %s" % (when, d["excluded"], excluded))
    return d


def write_config(work):
    """The contract: this test's calendar and bands, the seed grades and
    roles of the shipped contract."""
    seed = open(os.path.join(SRC, "deploy/contract-default.yaml")).read()
    grades = seed[seed.index("    grades:\n"):]
    check("grade: 4" in grades and "roles:" in grades, "seed grades not found")
    with open(os.path.join(work, "contract.yaml"), "w") as f:
        f.write("contracts:\n"
                "  - customer: default\n"
                "    onsite_rule: grade-or-distance\n"
                "    distance_bands:\n"
                "      - {max_km: 50, onsite: 5h}\n"
                "      - {max_km: 100, onsite: 12h}\n"
                "      - {max_km: 400, onsite: 24h}\n"
                "    beyond_bands_onsite: 3d\n"
                "    calendar:\n"
                "      time_zone: \"+08:00\"\n"
                "      working_days: mon-fri\n"
                "      business_hours: \"09:00-17:00\"\n"
                "      holidays: [2026-11-23]\n" + grades)
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write('collector_id: hist\nlog_level: info\ndatabase: {dsn: "%s"}\n'
                "listen: {transport: plain, address: 127.0.0.1, port: 0}\n"
                "metrics: {address: 127.0.0.1, port: 0}\n"
                "sla: {contracts: %s/contract.yaml, interval: 200ms}\n" % (DSN, work))
    subprocess.run([COLLECTOR, "-c", cfg, "-t"], check=True, capture_output=True)
    return cfg


def check_all(tids, ids, when):
    for h in HISTORIES:
        check_clocks(h, tids[h["name"]], ids)
    for g in (1, 2, 3, 4):
        check_report(when, tids, g)
    return check_report(when, tids)


def days_later(coll, tids):
    """Life goes on after November: a November ticket reopened now (its
    second visit opens in December), a new ticket that keeps running; the
    collector restarts and runs more rounds, seen by its handling a pause
    and a resume of the running ticket."""
    def until(sql, what):
        wait(lambda: coll.alive() and q(sql) == "t", what, timeout=30)

    h1 = tids[HISTORIES[0]["name"]]
    ctl("reopen", str(h1), "--reason", "the UPS alarms again in December")
    live = int(ctl("open", "--grade", "3", "--title", "live", "--site", "s80").stdout.split()[1]
               .rstrip(":"))
    until("SELECT response_due IS NOT NULL FROM tickets WHERE ticket_id = %d" % live,
          "the running ticket's deadlines")
    until("SELECT count(*) = 1 FROM ticket_clocks WHERE ticket_id = %d AND visit = 2" % h1,
          "the reopened visit's response met by the reopening")
    coll.stop()
    mark = q("SELECT max(published_at) FROM sla_contracts")
    coll.start()
    until("SELECT max(published_at) > '%s' FROM sla_contracts" % mark,
          "the restarted collector to publish its contract")
    ctl("pause", str(live), "--reason", "site access refused")
    until("SELECT remote_due IS NULL FROM tickets WHERE ticket_id = %d" % live,
          "the pause seen by the restarted collector")
    ctl("resume", str(live))
    until("SELECT remote_due IS NOT NULL FROM tickets WHERE ticket_id = %d" % live,
          "the resume seen by the restarted collector")
    return h1, live


def main():
    work = tempfile.mkdtemp(prefix="fm-hist.")
    cfg = write_config(work)
    subprocess.run([COLLECTOR, "-c", cfg, "--migrate"], check=True, capture_output=True)
    q("INSERT INTO sites (site_id, name, distance_km) VALUES "
      + ", ".join("('%s', '%s km', %d)" % (s, km, km) for s, km in SITES))
    coll = Collector(cfg, os.path.join(work, "collector.log"))
    # The collector publishes the contract (its time zone), then stops: the
    # histories are entered after the fact, whole, as an operator would
    # from a paper log (docs/contracts.md: enter them in order, or while the
    # collector is stopped).
    coll.start()
    try:
        wait(lambda: q("SELECT count(*) FROM sla_contracts") == "1", "the contract published")
        coll.stop()
        ids, tids = {}, {}
        for h in HISTORIES:
            tids[h["name"]] = enter(h, ids)
        coll.start()
        n_visits = sum(len(h["visits"]) for h in HISTORIES)
        wait(lambda: coll.alive() and
             q("SELECT count(*) FROM ticket_clocks") == str(4 * n_visits) and
             q("SELECT bool_and(sla_settled) FROM tickets") == "t",
             "every clock settled", timeout=60)
        for h in HISTORIES:
            check_ticket(h, tids[h["name"]])
        first = check_all(tids, ids, "first report")
        h1, live = days_later(coll, tids)
        again = check_all(tids, ids, "report days later, after a restart and more rounds")
        check(again["grades"] == first["grades"] and again["breaches"] == first["breaches"]
              and again["satisfaction"] == first["satisfaction"]
              and again["excluded"] == first["excluded"],
              "the report changed: %s\nthen %s" % (first, again))
        # The December visit and ticket are there, in December's report.
        dec = json.loads(ctl("--json", "sla", "--from", "2026-12-01").stdout)
        running = sum(x["running"] for x in dec["grades"])
        check(running >= 6, "December's report runs %d clocks of ticket %d visit 2 and "
              "ticket %d: %s" % (running, h1, live, dec["grades"]))
        coll.stop()
        print("sla_histories: %d histories, %d visits: every clock and figure as worked out, "
              "also days later" % (len(HISTORIES), n_visits))
    except Exception:
        log = open(os.path.join(work, "collector.log")).read()
        print(log[-3000:])
        print("".join(line + "\n" for line in log.splitlines()
                      if "ERROR: AddressSanitizer" in line or "runtime error" in line
                      or " in sla_" in line)[:3000])
        raise
    finally:
        coll.kill()


if __name__ == "__main__":
    main()
