#!/usr/bin/env python3
"""fieldmon-agent polling a simulated fleet: 200 SNMP devices of which 10
are dead (fieldmon-sim `dead`: no answer). Every live device must be polled
within its interval, every time, while the dead ones time out; each dead
device is reported unreachable once and no live device ever is.

usage: agent_fleet_test.py PATH/TO/fieldmon-agent PATH/TO/fieldmon-sim
"""
import os
import shutil
import sys
import tempfile
import time

from fmtest import UPS20, AgentProc, Sim, check, fleet_agent_config

DEVICES = 200
INTERVAL_S = 2.0
RUN_S = 9.0
SLACK_S = 0.5  # scheduling and response time on a loaded 2-core machine


def main():
    agent, simbin = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="fm-agent-fleet.")
    sim = Sim(simbin, tmp, DEVICES)
    a = None
    ok = False
    try:
        dead = {name for i, (name, _) in enumerate(sim.devices) if i % 20 == 7}
        for name in dead:
            sim.ctl("dead", name)
        cfg = os.path.join(tmp, "agent.yaml")
        fleet_agent_config(cfg, sim.devices, "%gs" % INTERVAL_S)
        t0 = time.time() * 1000
        a = AgentProc(agent, cfg)
        events = []
        end = time.monotonic() + RUN_S
        while time.monotonic() < end:
            try:
                events.append(a.q.get(timeout=0.2))
            except Exception:  # queue.Empty: keep waiting until the end
                pass
        a.stop()

        polls = {}  # device -> timestamps of its polls (first point of each)
        unreachable = {}
        for e in events:
            if e.get("event") == "reachability":
                check(not e["reachable"], ("a device came back that never left", e))
                unreachable[e["device"]] = unreachable.get(e["device"], 0) + 1
            elif e.get("point") == "p00":
                check(e["quality"] == "good", e)
                polls.setdefault(e["device"], []).append(e["ts"])
        check(set(unreachable) == dead and all(n == 1 for n in unreachable.values()),
              ("each dead device reported unreachable once", unreachable))
        check(not (set(polls) & dead), "a dead device produced values")
        live = [n for n, _ in sim.devices if n not in dead]
        worst = 0.0
        for name in live:
            ts = polls.get(name, [])
            # First poll within one interval of the start, then one per interval.
            check(len(ts) >= int(RUN_S / INTERVAL_S) - 1, ("too few polls", name, len(ts)))
            gaps = [(ts[0] - t0) / 1000.0] + [(b - a_) / 1000.0 for a_, b in zip(ts, ts[1:])]
            worst = max(worst, max(gaps))
            check(max(gaps) <= INTERVAL_S + SLACK_S, ("poll late", name, gaps))
        values = sum(1 for e in events if e.get("event") == "measurement")
        print("ok   %d live devices polled every %.1f s (longest gap %.2f s), %d dead "
              "reported once each, %d values" % (len(live), INTERVAL_S, worst, len(dead),
                                                  values))
        check(values >= len(live) * len(UPS20) * (int(RUN_S / INTERVAL_S) - 1), "values")
        ok = True
    finally:
        if a is not None and a.proc.poll() is None:
            a.proc.kill()
        sim.stop()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("scratch directory kept: %s" % tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
