#!/usr/bin/env bash
# fieldmonctl's SLA report and deadlines on rows with known answers: tickets,
# visits and settled clocks (ticket_clocks) written with SQL as the collector
# would leave them, then every figure of `sla` (counts, % met, median and p90
# of the time taken, breaches, satisfaction, exclusions) checked against the
# answer computed here, in the table, --json and --csv forms; ranges read as
# contract days around midnight +08:00, --tz, --contract and --grade; bad
# input refused in one line. `deadlines` shows each clock's state in the
# contract's zone.
source "$(dirname "$0")/coll_lib.sh"
ctl() { "$FM_CTL" "$@"; }

coll_config "$T/c.yaml"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"

q "INSERT INTO sla_contracts (customer, time_zone, utc_offset_s, reopen_within, published_by)
   VALUES ('default', '+08:00', 28800, '30 days', 'test'), ('acme', 'UTC', 0, '30 days', 'test')"

# tk GRADE STATE OPENED [COLUMN=VALUE ...]: a ticket of the default contract
# opened (first visit) at OPENED; prints its id.
tk() {
    local grade="$1" state="$2" opened="$3" cols="" vals=""
    shift 3
    for kv in "$@"; do
        cols+=", ${kv%%=*}"
        vals+=", ${kv#*=}"
    done
    q "INSERT INTO tickets (dedupe_key, kind, grade, title, first_seen, last_seen, opened_by,
                           state, sla_contract$cols)
       VALUES (md5(random()::text), 'manual', $grade, 'title', '$opened', '$opened', 'test', '$state',
               'default'$vals) RETURNING ticket_id"
}
R=("resolved_at=now()" "cause='c'" "action_taken='a'") # resolved

# clk TICKET VISIT CLOCK GRADE OUTCOME DUE_S EVENT_S TAKEN_S: a settled clock
# of the visit; DUE_S and EVENT_S are seconds after the visit opened (- for
# none).
clk() {
    local due="NULL" ev="NULL" taken="NULL"
    [[ "$6" != - ]] && due="o + interval '$6 seconds'"
    [[ "$7" != - ]] && ev="o + interval '$7 seconds'"
    [[ "$8" != - ]] && taken="$8"
    q "INSERT INTO ticket_clocks (ticket_id, visit, clock, grade, started_at, due, outcome, reason,
                                  event_at, taken_s)
       SELECT $1, $2, '$3', $4, o, $due, '$5', 'test', $ev, $taken
       FROM (SELECT coalesce((SELECT opened_at FROM ticket_visits WHERE ticket_id = $1 AND visit = $2),
                             (SELECT visit_opened_at FROM tickets WHERE ticket_id = $1 AND visit = $2))
                    AS o) x"
}

D=2026-11-20
at10="$D 10:00+08"

# Grade 1, four visits settled, one running.
t1=$(tk 1 closed "$at10" "${R[@]}" "closed_at=now()" satisfaction=5)
clk "$t1" 1 response 1 met 1800 600 600
clk "$t1" 1 remote 1 met 1800 900 900
clk "$t1" 1 onsite 1 met 7200 3000 3000
clk "$t1" 1 resolution 1 met 86400 7200 7200
t2=$(tk 1 closed "$at10" "${R[@]}" "closed_at=now()" satisfaction=3)
clk "$t2" 1 response 1 met 1800 900 900
clk "$t2" 1 remote 1 met 1800 1200 1200
clk "$t2" 1 onsite 1 na - - -
clk "$t2" 1 resolution 1 met 86400 5000 5000
# Remote met late (breached by 600 s), on-site never attended (breached).
t3=$(tk 1 resolved "$at10" "${R[@]}")
clk "$t3" 1 response 1 met 1800 1200 1200
clk "$t3" 1 remote 1 breached 1800 2400 2400
clk "$t3" 1 onsite 1 breached 7200 - -
clk "$t3" 1 resolution 1 met 86400 80000 80000
# Reopened at 14:00: visit 1 (closed, satisfaction 4) is archived; visit 2
# has its response settled and three clocks running.
t4=$(tk 1 acknowledged "$at10" "visit=2" "visit_opened_at='$D 14:00+08'" \
    "acknowledged_at='$D 14:00+08'" "remote_due='$D 14:30+08'" "onsite_due='$D 16:00+08'" \
    "resolution_due='$D 23:00+08'")
q "INSERT INTO ticket_visits (ticket_id, visit, opened_at, grade, resolved_at, closed_at,
                              satisfaction, reopened_at, reopened_by, reopen_reason)
   VALUES ($t4, 1, '$at10', 1, '$D 12:00+08', '$D 13:00+08', 4, '$D 14:00+08', 'test', 'again')"
clk "$t4" 1 response 1 met 1800 1500 1500
clk "$t4" 1 remote 1 met 1800 1700 1700
clk "$t4" 1 onsite 1 met 7200 4000 4000
clk "$t4" 1 resolution 1 met 86400 9000 9000
clk "$t4" 2 response 1 met 1800 300 300
# Grade 4, nothing settled: response and resolution run, remote and on-site
# do not exist for the grade (no deadline, no pause: n/a).
tk 4 open "$at10" "response_due='$D 18:00+08'" "resolution_due='$D 23:00+08'" \
    "sla_updated_at=now()" >/dev/null
# Grade 3, paused: the collector holds the deadlines (NULL); all four run.
t6=$(tk 3 open "$at10")
q "INSERT INTO sla_pauses (ticket_id, started_at, reason) VALUES ($t6, '$D 11:00+08', 'waiting')"
# Cancelled and duplicate: left out of every figure, counted apart.
t7=$(tk 1 closed "$at10" "closed_as='cancelled'" "close_reason='test'" "closed_at=now()")
clk "$t7" 1 response 1 breached 1800 - -
t8=$(tk 1 closed "$at10" "closed_as='duplicate'" "duplicate_of=$t1" "closed_at=now()")
clk "$t8" 1 response 1 met 1800 100 100
# Grade 2 of contract acme (UTC), opened 10:00Z = 18:00+08.
t9=$(tk 2 closed "$D 10:00Z" "${R[@]}" "closed_at=now()" satisfaction=2)
q "UPDATE tickets SET sla_contract = 'acme' WHERE ticket_id = $t9"
clk "$t9" 1 response 2 met 7200 3600 3600
clk "$t9" 1 remote 2 met 7200 3600 3600
clk "$t9" 1 onsite 2 met 43200 20000 20000
clk "$t9" 1 resolution 2 met 259200 30000 30000
# Grade 3 around the contract day's edges (+08:00): a second before, the
# first second, the last second, the first second of the next day.
for opened in "$D 00:00:00+08" "$D 23:59:59+08" "2026-11-19 23:59:59+08" "2026-11-21 00:00:00+08"; do
    e=$(tk 3 resolved "$opened" "${R[@]}")
    clk "$e" 1 response 3 met 7200 60 60
    for k in remote onsite resolution; do clk "$e" 1 "$k" 3 na - - -; done
done

# The day's report, as JSON: every figure against the answer.
ctl --json sla --from "$D" --to "$D" >"$T/day.json" || fail "sla --json"
python3 - "$T/day.json" "$t3" <<'PY' || fail "sla --json figures: $(cat "$T/day.json")"
import json, sys

def pct(xs, p):  # percentile_cont: linear interpolation between ranks
    xs = sorted(xs)
    if not xs:
        return None
    pos = p * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])

# (grade, clock): visits, met, breached, na, running, times taken of met and late-met clocks
want = {
    (1, "response"): (5, 5, 0, 0, 0, [600, 900, 1200, 1500, 300]),
    (1, "remote"): (5, 3, 1, 0, 1, [900, 1200, 2400, 1700]),
    (1, "onsite"): (5, 2, 1, 1, 1, [3000, 4000]),
    (1, "resolution"): (5, 4, 0, 0, 1, [7200, 5000, 80000, 9000]),
    (2, "response"): (1, 1, 0, 0, 0, [3600]),
    (2, "remote"): (1, 1, 0, 0, 0, [3600]),
    (2, "onsite"): (1, 1, 0, 0, 0, [20000]),
    (2, "resolution"): (1, 1, 0, 0, 0, [30000]),
    (3, "response"): (3, 2, 0, 0, 1, [60, 60]),
    (3, "remote"): (3, 0, 0, 2, 1, []),
    (3, "onsite"): (3, 0, 0, 2, 1, []),
    (3, "resolution"): (3, 0, 0, 2, 1, []),
    (4, "response"): (1, 0, 0, 0, 1, []),
    (4, "remote"): (1, 0, 0, 1, 0, []),
    (4, "onsite"): (1, 0, 0, 1, 0, []),
    (4, "resolution"): (1, 0, 0, 0, 1, []),
}
d = json.load(open(sys.argv[1]))
assert d["range"] == {"from": "2026-11-20T00:00:00+08:00", "to": "2026-11-21T00:00:00+08:00",
                      "tz": "+08:00"}, d["range"]
got = [(g["grade"], g["clock"]) for g in d["grades"]]
assert got == list(want), got  # ordered by grade, then response, remote, onsite, resolution
for g in d["grades"]:
    visits, met, breached, na, running, taken = want[(g["grade"], g["clock"])]
    assert (g["visits"], g["met"], g["breached"], g["na"], g["running"]) == \
        (visits, met, breached, na, running), g
    if met + breached:
        assert g["met_pct"] == round(100.0 * met / (met + breached), 1), g
    else:
        assert g["met_pct"] is None, g
    for key, p in (("median_s", 0.5), ("p90_s", 0.9)):
        w = pct(taken, p)
        assert (g[key] is None) if w is None else abs(g[key] - w) < 1e-6, (key, w, g)
# The answers computed above, spelled out for a reader.
r = {(g["grade"], g["clock"]): g for g in d["grades"]}
assert r[(1, "remote")]["met_pct"] == 75.0 and r[(1, "onsite")]["met_pct"] == 66.7
assert r[(1, "remote")]["median_s"] == 1450 and abs(r[(1, "remote")]["p90_s"] - 2190) < 1e-6
assert abs(r[(1, "resolution")]["p90_s"] - 58700) < 1e-6
t3 = int(sys.argv[2])
assert d["breaches"] == [
    {"id": t3, "visit": 1, "grade": 1, "clock": "remote", "due": "2026-11-20T10:30:00+08:00",
     "met_at": "2026-11-20T10:40:00+08:00", "late_s": 600.0},
    {"id": t3, "visit": 1, "grade": 1, "clock": "onsite", "due": "2026-11-20T12:00:00+08:00",
     "met_at": None, "late_s": None},
], d["breaches"]
assert d["satisfaction"] == {"avg": 3.5, "n": 4}, d["satisfaction"]  # 5, 3, 4 (visit 1), 2
assert d["excluded"] == {"cancelled": 1, "duplicate": 1}, d["excluded"]
PY

# The same report for people.
ctl sla --from "$D" --to "$D" >"$T/day.txt" || fail "sla"
for line in \
    "^SLA report: visits opened from 2026-11-20T00:00:00\+08:00 to 2026-11-21T00:00:00\+08:00 \(\+08:00\)$" \
    "^grade +clock +visits +met +breached +n/a +running +met_% +median +p90$" \
    "^1 +remote +5 +3 +1 +0 +1 +75.0 +00:24:10 +00:36:30$" \
    "^1 +onsite +5 +2 +1 +1 +1 +66.7 +00:58:20 +01:05:00$" \
    "^1 +resolution +5 +4 +0 +0 +1 +100.0 +02:15:00 +16:18:20$" \
    "^2 +resolution +1 +1 +0 +0 +0 +100.0 +08:20:00 +08:20:00$" \
    "^3 +remote +3 +0 +0 +2 +1 +- +- +-$" \
    "^$t3 +1 +1 +remote +2026-11-20T10:30:00\+08:00 +2026-11-20T10:40:00\+08:00 +00:10:00$" \
    "^$t3 +1 +1 +onsite +2026-11-20T12:00:00\+08:00 +not met +-$" \
    "^Satisfaction: 3.50 average of 4 closed visits$" \
    "^Excluded: 1 cancelled, 1 duplicate$"; do
    grep -Eq "$line" "$T/day.txt" || fail "sla table lacks /$line/: $(cat "$T/day.txt")"
done

# CSV for spreadsheets: the per-grade rows, the same figures as --json.
ctl sla --from "$D" --to "$D" --csv >"$T/day.csv" || fail "sla --csv"
python3 - "$T/day.csv" "$T/day.json" <<'PY' || fail "sla --csv: $(cat "$T/day.csv")"
import csv, json, sys
raw = open(sys.argv[1], newline="").read()
assert raw.endswith("\r\n"), "RFC 4180 lines end in CRLF"
rows = list(csv.DictReader(raw.splitlines(True)))
grades = json.load(open(sys.argv[2]))["grades"]
assert list(rows[0]) == list(grades[0]), list(rows[0])
assert len(rows) == len(grades) == 16, len(rows)
for row, g in zip(rows, grades):
    for k, v in g.items():
        assert row[k] == ("" if v is None else str(v)) or float(row[k]) == v, (k, row, g)
PY

# --contract reads the range in that contract's zone (acme: UTC) and keeps
# its tickets only; --grade keeps that grade.
ctl --json sla --contract acme --from "$D" --to "$D" >"$T/acme.json" || fail "sla --contract"
python3 - "$T/acme.json" <<'PY' || fail "sla --contract acme: $(cat "$T/acme.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["range"] == {"from": "2026-11-20T00:00:00+00:00", "to": "2026-11-21T00:00:00+00:00",
                      "tz": "UTC"}, d["range"]
assert [(g["grade"], g["visits"], g["met"]) for g in d["grades"]] == [(2, 1, 1)] * 4, d["grades"]
assert d["satisfaction"] == {"avg": 2, "n": 1} and d["breaches"] == [], d
assert d["excluded"] == {"cancelled": 0, "duplicate": 0}, d
PY
ctl sla --contract default --grade 1 --from "$D" --to "$D" --json >"$T/g1.json" ||
    fail "sla --grade"
python3 - "$T/g1.json" <<'PY' || fail "sla --grade 1: $(cat "$T/g1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert {g["grade"] for g in d["grades"]} == {1} and len(d["grades"]) == 4, d["grades"]
assert d["satisfaction"] == {"avg": 4, "n": 3}, d["satisfaction"]  # 5, 3, 4: not acme's 2
assert d["excluded"] == {"cancelled": 1, "duplicate": 1} and len(d["breaches"]) == 2, d
PY

# Contract days: grade 3's response clock counts the day's edge tickets.
g3() { # ARGS...: "visits met" of grade 3's response clock
    ctl --json "$@" | python3 -c '
import json, sys
g = [g for g in json.load(sys.stdin)["grades"] if (g["grade"], g["clock"]) == (3, "response")]
print(*((g[0]["visits"], g[0]["met"]) if g else (0, 0)))'
}
# [00:00+08, 24:00+08): 00:00:00 and 23:59:59 (and the paused t6); not the
# second before or the next day's first.
[[ $(g3 sla --from "$D" --to "$D") == "3 2" ]] || fail "contract day: $(g3 sla --from "$D" --to "$D")"
# A local time is read in the contract's zone; an end is exclusive.
[[ $(g3 sla --from "$D 00:00" --to "$D 23:59:59") == "2 1" ]] || fail "local times"
[[ $(g3 sla --from "2026-11-20T00:00:00+08:00" --to "2026-11-21T00:00:01+08:00") == "4 3" ]] ||
    fail "times with an offset"
# --tz UTC: the UTC day of 2026-11-19 holds 23:59:59+08 (15:59:59Z) and
# 00:00:00+08 (16:00Z) of the contract's days, nothing else.
[[ $(g3 --tz UTC sla --from 2026-11-19 --to 2026-11-19) == "2 2" ]] ||
    fail "--tz UTC: $(g3 --tz UTC sla --from 2026-11-19 --to 2026-11-19)"
# All time: every edge ticket and t6.
[[ $(g3 sla) == "5 4" ]] || fail "all time: $(g3 sla)"
[[ $(ctl sla | head -1) == "SLA report: visits opened from the first to now (+08:00)" ]] ||
    fail "all time title: $(ctl sla | head -1)"

# Refused: one line in the user's words, exit 2 (1 for an unknown contract).
refused() { # STATUS MESSAGE ARGS...: exits STATUS, first stderr line MESSAGE
    local want="$1" msg="$2" rc=0
    shift 2
    ctl "$@" >/dev/null 2>"$T/err" || rc=$?
    [[ $rc == "$want" ]] || fail "$* exited $rc: $(cat "$T/err")"
    [[ $(head -1 "$T/err") == "$msg" ]] || fail "$*: $(cat "$T/err")"
    ! grep -qi "error\|syntax" "$T/err" || fail "$*: a raw SQL message: $(cat "$T/err")"
}
refused 2 "fieldmonctl sla: --from 2026-11-21 --to 2026-11-20: empty or reversed range" \
    sla --from 2026-11-21 --to 2026-11-20
refused 2 "fieldmonctl sla: --from 2026-11-20 10:00 --to 2026-11-20 10:00: empty or reversed range" \
    sla --from "2026-11-20 10:00" --to "2026-11-20 10:00"
refused 2 "fieldmonctl sla: --from \"yesterday-ish\": not a time; give a date (2026-12-04), a local time (\"2026-12-04 08:00\", in +08:00) or one with an offset (2026-12-04T08:00+08:00)" \
    sla --from yesterday-ish
refused 2 "fieldmonctl sla: --grade \"7\": grades are 1 to 4" sla --grade 7
refused 2 "fieldmonctl sla: --csv and --json: choose one" --json sla --csv
refused 1 "fieldmonctl: no contract \"nope\" is published (the collector publishes the contracts it runs when it starts)" \
    sla --contract nope

# deadlines: the open tickets' clocks now, in the contract's zone.
dl1=$(tk 2 acknowledged now "response_due=now() + interval '1 hour 50 minutes 30 seconds'" \
    "remote_due=now() - interval '5 minutes 30 seconds'")
q "UPDATE tickets SET first_seen = now() - interval '10 minutes', opened_at = now() - interval '10 minutes',
   visit_opened_at = now() - interval '10 minutes', last_seen = now() WHERE ticket_id = $dl1"
q "INSERT INTO ticket_clocks (ticket_id, visit, clock, grade, started_at, due, outcome, reason, event_at, taken_s)
   VALUES ($dl1, 1, 'onsite', 2, now() - interval '10 minutes', now() + interval '1 hour', 'met',
           'on site', now(), 600)"
dl2=$(tk 3 open now)
q "INSERT INTO sla_pauses (ticket_id, started_at, reason) VALUES ($dl2, now(), 'site access refused')"
archived=$(tk 3 closed "$at10" "${R[@]}" "closed_at=now()" satisfaction=4 "archived_at=now()" \
    "archived_by='test'")
ctl --json deadlines >"$T/dl.json" || fail "deadlines --json"
ctl --json deadlines --all >"$T/dla.json" || fail "deadlines --all"
python3 - "$T/dl.json" "$T/dla.json" "$dl1" "$dl2" "$t1" "$t3" "$archived" <<'PY' ||
import json, sys
dl, dla = (json.load(open(f)) for f in sys.argv[1:3])
dl1, dl2, t1, t3, archived = map(int, sys.argv[3:])
ids = {t["id"]: t for t in dl}
assert t1 not in ids and t3 not in ids and archived not in ids, sorted(ids)
a = ids[dl1]
assert (a["response"], a["remote"], a["onsite"], a["resolution"], a["paused_for"]) == \
    ("left 1h 50m", "overdue 5m", "met", "-", ""), a
assert a["response_due"].endswith("+08:00") and a["onsite_due"] is not None, a
assert a["resolution_due"] is None, a
b = ids[dl2]
assert [b[k] for k in ("response", "remote", "onsite", "resolution")] == ["paused"] * 4, b
assert b["paused_for"] == "site access refused", b
alls = {t["id"] for t in dla}
assert t1 in alls and t3 in alls and archived not in alls, sorted(alls)
PY
    fail "deadlines: $(cat "$T/dl.json")"
ctl deadlines >"$T/dl.txt" || fail "deadlines"
grep -Eq "^$dl1 +2 +1 +- +acknowledged +default +[0-9-]+T[0-9:]+\+08:00 +left 1h 50m +[0-9-]+T[0-9:]+\+08:00 +overdue 5m " \
    "$T/dl.txt" || fail "deadlines table: $(cat "$T/dl.txt")"
grep -Eq "^$dl2 .*paused.*site access refused$" "$T/dl.txt" || fail "deadlines table: $(cat "$T/dl.txt")"

echo "sla_report: ok"
