#!/usr/bin/env python3
"""fieldmon-agent against malformed Modbus responses (fieldmon-sim's garble
fault), with --once and as a daemon.

Each garble mode on a Modbus TCP device (pm) and on one unit of the RTU bus
(leak, unit 2) must be reported as a failed poll with the reason named
(protocol error, CRC error, or a timeout where nothing tells the end of an
RTU frame), produce no measurement read from the broken reply, leave the
other devices and the other unit of the bus (th, unit 1) with their good
values, and the device must answer again on the next poll once the fault is
cleared. The binaries are the sanitizer build's: a read past a reply's end
aborts the agent, which the exit status shows.

usage: agent_modbus_garble_test.py PATH/TO/fieldmon-agent   (FM_SIM: fieldmon-sim)
"""
import os
import sys

from agent_modbus_sim_test import MAPS, agent_config, run_with_sim
from fmmodbus import check_map_values, reach, run_once, values
from fmtest import AgentProc, check

# mode -> reason the agent reports for a device whose every reply is garbled.
TCP = {
    "count": "protocol error: byte count does not match the count requested",
    "short": "protocol error: byte count does not match the count requested",
    "truncated": "protocol error: byte count does not match the response length",
    "length": "protocol error: byte count does not match the response length",
    "tid": "protocol error: transaction id does not match the request",
    "function": "protocol error: function code does not match the request",
    "unit": "protocol error: answer from another unit id",
}
# RTU has no length field: libmodbus frames a reply by its byte count, so a
# byte count 2 short puts data bytes where the CRC should be (CRC error), and
# a cut reply is waited on until the timeout, as on any RTU master.
RTU = {
    "count": "CRC error",
    "short": "protocol error: wrong function code, length or byte count",
    "truncated": "timeout",
    "function": "protocol error: wrong function code, length or byte count",
    "unit": "protocol error: answer from another unit id",
    "crc": "CRC error",
}
OTHERS = {"pm": ("ddc", "orders", "th"), "leak": ("ddc", "pm", "th")}


def test_once_reports_each_mode(agent, tmp, sim):
    cfg = agent_config(tmp, sim)
    for dev, modes in (("pm", TCP), ("leak", RTU)):
        for mode, reason in modes.items():
            sim.ctl("garble", dev, mode)
            rc, ev, err, _ = run_once(agent, cfg)
            what = (dev, mode, rc, err[-2000:])
            check(rc == 3, ("exit status: 3 when a device did not answer", what))
            r = reach(ev, dev)
            check(len(r) == 1 and not r[0]["reachable"] and r[0]["reason"] == reason,
                  ("reachability", r, what))
            check(values(ev, dev) == {}, ("no value from a garbled reply", what))
            for other in OTHERS[dev]:
                check_map_values(ev, other, MAPS[other][0])
                check(reach(ev, other) == [], (other, "unaffected", what))
            sim.ctl("clear", dev)
            # The next poll answers again.
            rc, ev, err, _ = run_once(agent, cfg)
            check_map_values(ev, dev, MAPS[dev][0])
            check(reach(ev, dev) == [], ("recovered", dev, mode, err[-2000:]))
            print("ok   %s garble %s: %s" % (dev, mode, reason), flush=True)


def test_daemon_goes_unreachable_and_back(agent, tmp, sim):
    cfg = agent_config(tmp, sim, interval="300ms", name="daemon.yaml")
    a = AgentProc(agent, cfg)
    try:
        for dev, mode, point in (("pm", "tid", "voltage"), ("leak", "crc", "status"),
                                 ("pm", "length", "voltage")):
            a.wait_for(lambda e: e["device"] == dev and e.get("point") == point
                       and e["quality"] == "good", "%s good before the fault" % dev)
            sim.ctl("garble", dev, mode)
            want = (TCP if dev == "pm" else RTU)[mode]
            e = a.wait_for(lambda e: e["device"] == dev and e["event"] == "reachability"
                           and not e["reachable"], "%s unreachable (%s)" % (dev, mode))
            check(e["reason"] == want, (dev, mode, e))
            sim.ctl("clear", dev)
            a.wait_for(lambda e: e["device"] == dev and e["event"] == "reachability"
                       and e["reachable"], "%s reachable again" % dev)
            e = a.wait_for(lambda e: e["device"] == dev and e.get("point") == point,
                           "%s value after the fault" % dev)
            check(e["quality"] == "good", e)
            print("ok   daemon: %s garble %s, unreachable, cleared, reachable" % (dev, mode),
                  flush=True)
        # The other unit of the bus kept answering throughout.
        a.wait_for(lambda e: e["device"] == "th" and e.get("point") == "temperature"
                   and e["quality"] == "good", "th good")
    finally:
        if a.proc.poll() is None:
            a.stop()


def main():
    agent = os.path.abspath(sys.argv[1])
    run_with_sim([lambda tmp, sim, t=t: t(agent, tmp, sim) for t in
                  (test_once_reports_each_mode, test_daemon_goes_unreachable_and_back)])


if __name__ == "__main__":
    main()
