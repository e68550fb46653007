#!/usr/bin/env python3
"""fieldmon-agent against devices that answer GETBULK wrongly.

fieldmon-sim serves the UPS data with a 24-row ifTable; its `bulk` fault
(fleet key and control command) makes a device answer GETBULK truncated (one
repetition whatever max-repetitions asks), empty (no varbinds, no error),
looping (every repetition repeats the first) or with genErr, while its
GETNEXT stays right. The agent must read every row of every column of every
device, switch each such device to GETNEXT once (one log line with the
reason, one GETBULK request in all, remembered over the following polls),
keep walking the healthy device with GETBULK, and walk a `bulk: false`
device with GETNEXT only, several columns per request. The simulator counts
each device's GET, GETNEXT and GETBULK requests (`status DEVICE`).

usage: agent_snmp_bulk_test.py PATH/TO/fieldmon-agent PATH/TO/fieldmon-sim [test ...]
"""
import os
import re
import sys
import tempfile

from fmtest import (IF5, IF_ROWS, UPS20, Sim, agent_cycles, check, run_tests, scratch_done,
                    write_bench_snmprec)

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = None
IFDESCR = "1.3.6.1.2.1.2.2.1.2"
COLUMNS = [IFDESCR] + IF5
# Device index -> (fleet file keys, control fault, agent snmp keys, expected log reason).
HEALTHY, TRUNCATE, EMPTY, LOOP, ERROR, NOBULK = range(6)
DEVICES = {
    HEALTHY: ("", None, "", None),
    TRUNCATE: ("bulk: truncate", None, "", "GETBULK answers stop short (6 of 150 varbinds, "
                                            "not at the end)"),
    EMPTY: ("", "empty", "", "GETBULK answers are empty"),
    LOOP: ("", "loop", "", "GETBULK answers loop (%s.1 after %s.1)" % (IFDESCR, IFDESCR)),
    ERROR: ("", "error", "", "GETBULK answers genErr where GETNEXT does not"),
    NOBULK: ("", None, ", bulk: false", None),
}


def agent_config(tmp, sim):
    path = os.path.join(tmp, "agent.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-bulk\nsite: sim\n")
        f.write("snmp: {poll_spread: 0, backoff_max: 1s}\ndevices:\n")
        for i, (name, port) in enumerate(sim.devices):
            f.write("  - {name: %s, profile: p, interval: 200ms, unreachable_after: 1, snmp: "
                    "{host: 127.0.0.1, port: %d, timeout: 1s, retries: 0%s}}\n"
                    % (name, port, DEVICES[i][2]))
        f.write("profiles:\n  - name: p\n    points:\n")
        for i, o in enumerate(UPS20[:2]):
            f.write("      - {name: p%02d, oid: %s}\n" % (i, o))
        for i, o in enumerate(COLUMNS):
            f.write("      - {name: t%d, oid: %s, table: true, index_label: row%s}\n"
                    % (i, o, ", type: text" if o == IFDESCR else ""))
    return path


def requests(sim, name):
    """The simulator's request counters of a device: {get, getnext, getbulk}."""
    out = sim.ctl("status", name)
    m = re.search(r"^requests get (\d+) getnext (\d+) getbulk (\d+)$", out, re.M)
    check(m is not None, ("status has no request counters", out))
    return dict(zip(("get", "getnext", "getbulk"), map(int, m.groups())))


def run_agent(cfg, cycles):
    return agent_cycles(AGENT, cfg, cycles)


def check_every_row(sim, events, cycles, err):
    for name, _ in sim.devices:
        for c in range(len(COLUMNS)):
            got = [e for e in events if e.get("event") == "measurement" and
                   e.get("device") == name and e.get("point") == "t%d" % c]
            rows = sorted(int(e["labels"]["row"]) for e in got if e["quality"] == "good")
            want = sorted(list(range(1, IF_ROWS + 1)) * cycles)
            check(rows == want and len(got) == len(want),
                  ("%s t%d: rows %s in %d polls" % (name, c, rows, cycles), err))
    r = [e for e in events if e.get("event") == "reachability"]
    check(not r, ("a device was reported (un)reachable", r, err))


def check_fallbacks(sim, err):
    for i, (name, _) in enumerate(sim.devices):
        lines = [line for line in err.splitlines() if "walking with GETNEXT" in line and
                 ": %s:" % name in line]
        why = DEVICES[i][3]
        if why is None:
            check(not lines, ("%s fell back" % name, lines))
        else:
            want = "notice: snmp: %s: %s: walking with GETNEXT" % (name, why)
            check(len(lines) == 1 and lines[0].endswith(want), ("%s: logged once" % name,
                                                                want, lines, err))


def test_once_every_row(sim, tmp):
    before = {name: requests(sim, name) for name, _ in sim.devices}
    rc, ev, err = run_agent(agent_config(tmp, sim), 1)
    check(rc == 0, ("exit status", rc, err))
    check_every_row(sim, ev, 1, err)
    check_fallbacks(sim, err)
    for i, (name, _) in enumerate(sim.devices):
        n = requests(sim, name)
        bulk = n["getbulk"] - before[name]["getbulk"]
        nxt = n["getnext"] - before[name]["getnext"]
        if i == HEALTHY:
            check(bulk > 0 and nxt == 0, (name, "walked with GETBULK only", bulk, nxt))
        elif i == NOBULK:
            # Six columns in each GETNEXT: a row per request, and one more
            # that sees every column end (one request per column would be 150).
            check(bulk == 0 and nxt == IF_ROWS + 1, (name, "GETNEXT, columns batched", bulk,
                                                     nxt))
        else:
            check(bulk == 1 and nxt >= IF_ROWS, (name, "one GETBULK, then GETNEXT", bulk, nxt))


def test_remembered_over_cycles(sim, tmp):
    before = {name: requests(sim, name) for name, _ in sim.devices}
    rc, ev, err = run_agent(agent_config(tmp, sim), 3)
    check(rc == 0, ("exit status", rc, err))
    check_every_row(sim, ev, 3, err)
    check_fallbacks(sim, err)
    check(" bulk_fallbacks=4 " in err, ("summary counts the fallbacks", err))
    for i, (name, _) in enumerate(sim.devices):
        bulk = requests(sim, name)["getbulk"] - before[name]["getbulk"]
        if i == HEALTHY:
            check(bulk >= 3, (name, "GETBULK in every poll", bulk))
        elif i != NOBULK:
            check(bulk == 1, (name, "GETBULK tried once over three polls", bulk))


TESTS = [test_once_every_row, test_remembered_over_cycles]


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    simbin = os.path.abspath(sys.argv[2])
    wanted = set(sys.argv[3:])
    tmp = tempfile.mkdtemp(prefix="fm-agent-bulk.")
    snmprec = os.path.join(tmp, "bulk.snmprec")
    write_bench_snmprec(snmprec, os.path.join(HERE, "..", "sim", "data", "snmp",
                                              "ups-normal.snmprec"))
    sim = Sim(simbin, tmp, len(DEVICES), snmprec=snmprec,
              device_keys={i: d[0] for i, d in DEVICES.items() if d[0]})
    failed = 1
    try:
        for i, (name, _) in enumerate(sim.devices):
            if DEVICES[i][1]:
                sim.ctl("bulk", name, DEVICES[i][1])
        failed = run_tests(TESTS, wanted, sim, tmp)
    finally:
        sim.stop()
    return scratch_done(tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
