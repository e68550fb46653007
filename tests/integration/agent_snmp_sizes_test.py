#!/usr/bin/env python3
"""fieldmon-agent against devices that cannot answer big requests.

fieldmon-sim serves the UPS data with a 24-row ifTable and a column of
long strings; its `toobig` fault makes a device answer tooBig to any
response over a size (GETBULK included: net-snmp's snmpd cuts bulk answers
short instead, so only the simulator shows this), and `drop-big` makes it
lose such answers (the client times out). The agent must split GETs, lower
GETBULK max-repetitions on tooBig and on timed-out walks, read every value
and row, say so once in its log, never report the device unreachable for
it, count a device that fails even with one repetition as failed, and try
the full sizes again once the device can take them.

usage: agent_snmp_sizes_test.py PATH/TO/fieldmon-agent PATH/TO/fieldmon-sim [test ...]
"""
import os
import sys
import tempfile
import time

from fmtest import (IF5, IF_ROWS, UPS20, AgentProc, Sim, agent_cycles, check, run_tests,
                    scratch_done, write_bench_snmprec)

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = None
BIG_COL = "1.3.6.1.4.1.99999.9.1.2"  # three rows of 150-character strings


def write_snmprec(path):
    write_bench_snmprec(path, os.path.join(HERE, "..", "sim", "data", "snmp", "ups-normal.snmprec"),
                        ["%s.%d|4|%s" % (BIG_COL, i, chr(ord("a") + i) * 150) for i in (1, 2, 3)])


def agent_config(tmp, name, port, scalars, tables, snmp_extra="", interval="300ms"):
    path = os.path.join(tmp, "%s.yaml" % name)
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-sizes\nsite: sim\n")
        f.write("snmp: {poll_spread: 0, backoff_max: 1s}\ndevices:\n")
        f.write("  - {name: %s, profile: p, interval: %s, unreachable_after: 1, snmp: {host: "
                "127.0.0.1, port: %d, timeout: 300ms, retries: 0%s}}\n"
                % (name, interval, port, snmp_extra))
        f.write("profiles:\n  - name: p\n    points:\n")
        for i, o in enumerate(scalars):
            f.write("      - {name: p%02d, oid: %s}\n" % (i, o))
        for i, o in enumerate(tables):
            f.write("      - {name: t%d, oid: %s, table: true, index_label: row%s}\n"
                    % (i, o, ", type: text" if o == BIG_COL else ""))
    return path


def run_cycles(cfg, cycles):
    return agent_cycles(AGENT, cfg, cycles)


def measurements(events, point):
    return [e for e in events if e.get("event") == "measurement" and e.get("point") == point]


def check_all_rows(events, n_tables, cycles, err):
    for c in range(n_tables):
        got = measurements(events, "t%d" % c)
        rows = {e["labels"]["row"] for e in got if e["quality"] == "good"}
        check(rows == {str(i) for i in range(1, IF_ROWS + 1)}, ("rows of t%d" % c, rows, err))
        check(len(got) == IF_ROWS * cycles, ("t%d: %d values in %d polls" % (c, len(got), cycles),
                                            err))


def check_no_reachability(events, err):
    r = [e for e in events if e.get("event") == "reachability"]
    check(not r, ("the device was reported (un)reachable", r, err))


def log_count(err, text):
    return sum(1 for line in err.splitlines() if text in line)


def lowered(err, name, why):
    """The max-repetitions values the log says name was lowered to, in order."""
    text = "%s: %s: max-repetitions lowered to " % (name, why)
    return [int(line.split(text, 1)[1]) for line in err.splitlines() if text in line]


def check_halving(err, name, why):
    """From the configured 25, halved step by step, each value logged once;
    returns the last."""
    got = lowered(err, name, why)
    want = [12, 6, 3, 1][:len(got)]
    check(len(got) >= 2 and got == want, ("lowered once per value", got, err))
    return got[-1]


def test_get_split_on_toobig(sim, tmp):
    name, port = sim.devices[0]
    sim.ctl("toobig", name, "250")
    rc, ev, err = run_cycles(agent_config(tmp, name, port, UPS20, []), 1)
    check(rc == 0, ("exit status", rc, err))
    for i in range(len(UPS20)):
        got = measurements(ev, "p%02d" % i)
        check(len(got) == 1 and got[0]["quality"] == "good", ("p%02d" % i, got, err))
    check(log_count(err, "%s: tooBig: varbinds per request lowered to 10" % name) == 1, err)
    check_no_reachability(ev, err)


def bulk_lowered(sim, tmp, dev, fault, why):
    """Three polls of a device with fault at 700 bytes: 25 -> 12 -> 6 ...
    repetitions of 5 columns, each value said once, every row every poll."""
    name, port = sim.devices[dev]
    sim.ctl(fault, name, "700")
    rc, ev, err = run_cycles(agent_config(tmp, name, port, UPS20, IF5), 3)
    check(rc == 0, ("exit status", rc, err))
    check_all_rows(ev, len(IF5), 3, err)
    check_halving(err, name, why)
    check(log_count(err, "lowered") == len(lowered(err, name, why)), err)
    check_no_reachability(ev, err)


def test_bulk_lowered_on_toobig(sim, tmp):
    bulk_lowered(sim, tmp, 1, "toobig", "tooBig")


def test_bulk_lowered_on_big_timeouts(sim, tmp):
    bulk_lowered(sim, tmp, 2, "drop-big", "walk request timed out")


def test_walk_failing_at_one_repetition_fails(sim, tmp):
    # One row of five columns is over 100 bytes: lost even at max-repetitions 1.
    name, port = sim.devices[3]
    sim.ctl("drop-big", name, "100")
    rc, ev, err = run_cycles(agent_config(tmp, name, port, UPS20[:1], IF5), 1)
    check(rc == 3, ("exit status", rc, err))
    r = [e for e in ev if e.get("event") == "reachability"]
    check(len(r) == 1 and not r[0]["reachable"] and r[0]["reason"] ==
          "table walk: timeout after 1 tries with max-repetitions 1", (r, err))
    check(lowered(err, name, "walk request timed out") == [12, 6, 3, 1], err)


def test_column_too_big_even_for_one_row(sim, tmp):
    name, port = sim.devices[4]
    sim.ctl("toobig", name, "150")
    rc, ev, err = run_cycles(agent_config(tmp, name, port, UPS20[:1], IF5 + [BIG_COL]), 1)
    check(rc == 0, ("exit status", rc, err))
    check_all_rows(ev, len(IF5), 1, err)
    big = measurements(ev, "t%d" % len(IF5))
    check(len(big) == 1 and big[0]["quality"] == "device_error" and
          big[0]["detail"] == "tooBig" and big[0]["labels"] == {}, (big, err))
    check_no_reachability(ev, err)


def test_sizes_go_back_up(sim, tmp):
    name, port = sim.devices[5]
    sim.ctl("toobig", name, "700")
    a = AgentProc(AGENT, agent_config(tmp, name, port, UPS20[:1], IF5, interval="100ms"))
    try:
        a.wait_log("%s: tooBig: max-repetitions lowered to 6" % name)
        # 16 good polls later one doubling is tried; the device still refuses it.
        a.wait_log("trying 32 varbinds and 12 repetitions per request again")
        a.wait_log("debug: snmp: %s: tooBig: max-repetitions lowered to 6" % name)
        sim.ctl("clear", name)
        # The wait has doubled (32 polls); then 12 repetitions stick and 16
        # polls later 24 are tried.
        a.wait_log("trying 32 varbinds and 24 repetitions per request again", timeout=30)
        err = "".join(a.err)
        check(log_count(err, "notice: snmp: %s: tooBig: max-repetitions lowered to 6" % name)
              == 1, ("notice once", err))
        seen = 0
        while not a.q.empty():
            e = a.q.get()
            check(e.get("event") != "reachability", ("reachability event", e))
            seen += e.get("event") == "measurement"
        check(seen > 0, "values flowed")
        a.stop()
    finally:
        if a.proc.poll() is None:
            a.proc.kill()


TESTS = [test_get_split_on_toobig, test_bulk_lowered_on_toobig, test_bulk_lowered_on_big_timeouts,
         test_walk_failing_at_one_repetition_fails, test_column_too_big_even_for_one_row,
         test_sizes_go_back_up]


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    simbin = os.path.abspath(sys.argv[2])
    wanted = set(sys.argv[3:])
    tmp = tempfile.mkdtemp(prefix="fm-agent-sizes.")
    snmprec = os.path.join(tmp, "sizes.snmprec")
    write_snmprec(snmprec)
    sim = Sim(simbin, tmp, len(TESTS), snmprec=snmprec)
    failed = 1
    try:
        failed = run_tests(TESTS, wanted, sim, tmp)
    finally:
        sim.stop()
    return scratch_done(tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
