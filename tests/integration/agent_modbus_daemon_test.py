#!/usr/bin/env python3
"""fieldmon-agent as a daemon with Modbus devices, streaming to a collector.

The agent polls fieldmon-sim's Modbus TCP devices (an AHU controller, a
power meter, the byte-order device) and two units of an RTU bus on a
pseudo-terminal, spools every event and streams it to
fieldmon-test-receiver (the collector stand-in that writes each event to a
file and only then acks). Checks, at the receiver: every point of every
device arrives with the register map's value; a device whose replies are
garbled goes down and comes back up when they are good again; a silent
unit of the bus goes down while the other unit keeps reporting, and comes
back; every sequence arrives once, in order, from 1.

usage: agent_modbus_daemon_test.py AGENT RECEIVER   (FM_SIM: fieldmon-sim)
"""
import os
import sys
import tempfile
import time

import agent_edge_test as edge
from agent_modbus_sim_test import MAPS, Sim, agent_config
from fmmodbus import load_map
from fmtest import check


def first_values(evs, dev):
    """The first value the receiver got for each of a device's points (the
    word itself: a status word's bit measurements follow it, 0/1). The
    fleet's values do not move, so the first is as good as any."""
    out = {}
    for e in evs:
        if e[2] == "measurement" and e[3][0] == dev and e[3][1] not in out:
            out[e[3][1]] = float(e[3][2])
    return out


def reach_lines(evs, dev):
    return [(e[1], e[3][1]) for e in evs if e[2] == "reachability" and e[3][0] == dev]


def wait(pred, what, timeout=30):
    edge.wait(pred, what, timeout=timeout)


def after(evs, dev, state, seq_min):
    """Sequence of the first reachability `state` of dev after seq_min, or None."""
    for seq, st in reach_lines(evs, dev):
        if seq > seq_min and st == state:
            return seq
    return None


def measured_after(evs, dev, seq_min):
    return any(e[2] == "measurement" and e[3][0] == dev and e[1] > seq_min for e in evs)


def main():
    agent_bin, edge.RECEIVER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    edge.AGENT = agent_bin
    with tempfile.TemporaryDirectory(prefix="fm-mbdaemon-") as tmp:
        sim = Sim(tmp)
        recv = edge.Receiver(tmp, None, tls=False)
        recv.start()
        cfg = agent_config(tmp, sim, interval="300ms", name="daemon.yaml")
        with open(cfg, encoding="utf-8") as f:
            text = f.read()
        text = text.replace("site: hq\n", """site: hq
collectors: ["127.0.0.1:%d"]
spool_dir: %s/spool
sender: {transport: plain, heartbeat: 500ms, dead_after: 3s, backoff_min: 100ms,
         backoff_max: 1s}
""" % (recv.port, tmp), 1)
        # This test watches polling go on through the values themselves:
        # every device reports every poll (report by exception would hold
        # the simulator's steady values back).
        for dev, (m, _, _, _) in MAPS.items():
            every = ", ".join("{point: %s, every_poll: true}" % p["name"]
                              for p in load_map(m)["points"])
            text = text.replace("  - {name: %s, " % dev, "  - {name: %s, report: [%s], "
                                % (dev, every), 1)
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
        agent = edge.Agent(tmp, cfg)
        agent.start()
        try:
            # Every point of every device, with the map's value.
            wait(lambda: all(len(first_values(recv.events(), d)) >= len(load_map(m)["points"])
                             for d, (m, _, _, _) in MAPS.items()), "every point of every device")
            evs = recv.events()
            for dev, (m, _, _, _) in MAPS.items():
                got = first_values(evs, dev)
                for p in load_map(m)["points"]:
                    want = float(p["value"])
                    check(abs(got[p["name"]] - want) <= 1e-3 * abs(want) + 1e-9,
                          (dev, p["name"], got[p["name"]], want))
                check(reach_lines(evs, dev) == [], (dev, "reported unreachable"))
            print("ok   every point of %d devices at the receiver" % len(MAPS), flush=True)

            # A garbled TCP device: down, then up once the replies are good.
            mark = evs[-1][1]
            sim.ctl("garble", "pm", "count")
            wait(lambda: after(recv.events(), "pm", "down", mark), "pm down (garbled)")
            down = after(recv.events(), "pm", "down", mark)
            sim.ctl("clear", "pm")
            wait(lambda: after(recv.events(), "pm", "up", down), "pm up again")
            up = after(recv.events(), "pm", "up", down)
            wait(lambda: measured_after(recv.events(), "pm", up), "pm values again")
            print("ok   garbled pm: down, cleared, up, values", flush=True)

            # A silent unit of the bus: down, the other unit unaffected, up.
            mark = recv.events()[-1][1]
            sim.ctl("dead", "leak")
            wait(lambda: after(recv.events(), "leak", "down", mark), "leak down (silent)")
            down = after(recv.events(), "leak", "down", mark)
            wait(lambda: measured_after(recv.events(), "th", down + 20),
                 "th still reporting while leak is silent")
            sim.ctl("clear", "leak")
            wait(lambda: after(recv.events(), "leak", "up", down), "leak up again")
            print("ok   silent leak: down, th unaffected, up", flush=True)

            agent.stop()
            evs = recv.events()
            edge.seqs_ok(evs)
            print("ok   %d events, sequences 1..%d once each, in order" % (len(evs), evs[-1][1]))
        except Exception:
            print("--- agent log\n" + agent.logtext()[-3000:])
            print("--- receiver log\n" + recv.logtext()[-2000:])
            raise
        finally:
            recv.kill()
            if agent.proc.poll() is None:
                agent.kill()
            if sim.proc.poll() is None:
                sim.stop()


if __name__ == "__main__":
    main()
