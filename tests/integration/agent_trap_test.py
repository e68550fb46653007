#!/usr/bin/env python3
"""fieldmon-agent's trap receiver against net-snmp's real snmptrap and
snmpinform: v1 and v2c traps, v2c and v3 informs (acknowledged), v3 traps;
profile trap maps; device matching by source (of a device configured by
host name, whose name the poller resolved) and by agent address; wrong
community, failed v3 authentication, a v3 trap signed with a device's
polling credentials (which net-snmp's shared USM table would accept),
garbage and oversize datagrams dropped, counted and logged once per source.

usage: agent_trap_test.py PATH/TO/fieldmon-agent
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

from fmtest import AgentProc, check, free_udp_port

ENGINE = "0x8000000001020304"
V3 = ["-u", "fmtrap", "-l", "authPriv", "-a", "SHA-256", "-A", "authpass123", "-x", "AES",
      "-X", "privpass123"]
ON_BATTERY = ["1.3.6.1.2.1.33.2.1", "1.3.6.1.2.1.33.1.2.2.0", "i"]
# ups-3 is polled over v3 as user fmtrap (the trap user's name) on its own
# engine id with its own passphrases: not a trap user.
DEV_ENGINE = "0x80000000010203ff"
DEV_V3 = ["-u", "fmtrap", "-l", "authPriv", "-a", "SHA-256", "-A", "devauth123", "-x", "AES",
          "-X", "devpriv123"]


def config(tmp, port, dead):
    path = os.path.join(tmp, "agent.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("""agent_id: gw-test
site: lab
snmp: {poll_spread: 0}
trap_receiver:
  enabled: true
  listen: 127.0.0.1:%d
  communities: [fm-traps]
  max_packet: 4KiB
  users:
    - {user: fmtrap, auth_protocol: sha256, auth_passphrase: authpass123,
       priv_protocol: aes, priv_passphrase: privpass123, engine_id: "%s"}
devices:
  - {name: ups-1, class: ups, profile: ups, interval: 1h,
     snmp: {host: localhost, port: %d, timeout: 100ms, retries: 0}}
  - {name: ups-2, class: ups, profile: ups, interval: 1h,
     snmp: {host: 127.0.0.2, port: %d, timeout: 100ms, retries: 0}}
  - {name: ups-3, class: ups, profile: ups, interval: 1h,
     snmp: {host: 127.0.0.3, port: %d, timeout: 100ms, retries: 0, version: '3', user: fmtrap,
            auth_protocol: sha256, auth_passphrase: devauth123, priv_protocol: aes,
            priv_passphrase: devpriv123, engine_id: "%s"}}
profiles:
  - name: ups
    points:
      - {name: battery_status, oid: 1.3.6.1.2.1.33.1.2.1.0}
    traps:
      - {oid: 1.3.6.1.2.1.33.2.1, alarm: ups_on_battery, state: raised}
      - {oid: 1.3.6.1.4.1.99999.0.17, alarm: vendor_fault, state: event}
""" % (port, ENGINE, dead, dead, dead, DEV_ENGINE))
    return path


def send(*args):
    env = dict(os.environ, MIBS="")
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30, env=env)
    return r.returncode, r.stderr


def is_trap(e):
    return e.get("event") == "trap"


def main():
    agent = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="fm-agent-trap.")
    port = free_udp_port()
    dest = "127.0.0.1:%d" % port
    a = AgentProc(agent, config(tmp, port, free_udp_port()))
    ok = False
    try:
        a.wait_log("trap: receiving on")
        # ups-1 is configured by name: traps from 127.0.0.1 are its once its
        # first poll has resolved the name.
        a.wait_log("snmp: ups-1: localhost is 127.0.0.1")

        rc, err = send("snmptrap", "-v2c", "-c", "fm-traps", dest, "", *ON_BATTERY, "180")
        check(rc == 0, err)
        e = a.wait_for(is_trap, "v2c trap")
        check(e["device"] == "ups-1" and e["version"] == 2 and not e["inform"], e)
        check(e["trap_oid"] == "1.3.6.1.2.1.33.2.1" and e["alarm"] == "ups_on_battery" and
              e["alarm_state"] == "raised", e)
        vb = {v["oid"]: v for v in e["varbinds"]}
        check(vb["1.3.6.1.2.1.33.1.2.2.0"] == {"oid": "1.3.6.1.2.1.33.1.2.2.0",
                                                "type": "INTEGER", "value": "180"}, vb)
        print("ok   v2c trap, matched by source to a device configured by host name")

        rc, err = send("snmpinform", "-v2c", "-c", "fm-traps", "-t", "2", "-r", "1", dest, "",
                       *ON_BATTERY, "181")
        check(rc == 0, ("v2c inform not acknowledged", err))
        e = a.wait_for(is_trap, "v2c inform")
        check(e["inform"] and e["version"] == 2 and e["device"] == "ups-1", e)
        print("ok   v2c inform acknowledged")

        rc, err = send("snmptrap", "-v3", "-e", ENGINE, *V3, dest, "", *ON_BATTERY, "182")
        check(rc == 0, err)
        e = a.wait_for(is_trap, "v3 trap")
        check(e["version"] == 3 and not e["inform"] and e["alarm"] == "ups_on_battery", e)
        print("ok   v3 trap")

        rc, err = send("snmpinform", "-v3", *V3, "-t", "2", "-r", "1", dest, "", *ON_BATTERY,
                       "183")
        check(rc == 0, ("v3 inform not acknowledged", err))
        e = a.wait_for(is_trap, "v3 inform")
        check(e["version"] == 3 and e["inform"], e)
        print("ok   v3 inform acknowledged")

        rc, err = send("snmptrap", "-v1", "-c", "fm-traps", dest, "1.3.6.1.4.1.99999",
                       "127.0.0.2", "6", "17", "", "1.3.6.1.4.1.99999.1", "s", "fan 2 failed")
        check(rc == 0, err)
        e = a.wait_for(is_trap, "v1 trap")
        check(e["version"] == 1 and e["trap_oid"] == "1.3.6.1.4.1.99999.0.17", e)
        check(e["device"] == "ups-2" and e["alarm"] == "vendor_fault", ("agent-addr", e))
        check(e["varbinds"][0]["value"] == "fan 2 failed", e)
        print("ok   v1 trap matched by agent address")

        rc, err = send("snmptrap", "-v2c", "-c", "fm-traps", dest, "", *ON_BATTERY, "184",
                       "1.3.6.1.6.3.18.1.3.0", "a", "127.0.0.2")
        check(rc == 0, err)
        e = a.wait_for(is_trap, "v2c trap with snmpTrapAddress.0")
        check(e["device"] == "ups-2", ("snmpTrapAddress.0 names the device", e))
        print("ok   v2c trap matched by snmpTrapAddress.0")

        # Bad input: none of these may become an event.
        for _ in range(2):
            send("snmptrap", "-v2c", "-c", "wrong", dest, "", *ON_BATTERY, "1")
        bad = list(V3)
        bad[bad.index("authpass123")] = "wrongpass123"
        send("snmptrap", "-v3", "-e", ENGINE, *bad, dest, "", *ON_BATTERY, "1")
        # Authenticates against the poller's USM entry for ups-3: refused.
        send("snmptrap", "-v3", "-e", DEV_ENGINE, *DEV_V3, dest, "", *ON_BATTERY, "1")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"\x30\x03garbage", ("127.0.0.1", port))
        s.sendto(b"\x30" * 5000, ("127.0.0.1", port))
        s.close()
        rc, err = send("snmptrap", "-v2c", "-c", "fm-traps", dest, "", *ON_BATTERY, "185")
        check(rc == 0, err)
        e = a.wait_for(is_trap, "a good trap after the bad ones")
        vb = {v["oid"]: v["value"] for v in e["varbinds"]}
        check(vb["1.3.6.1.2.1.33.1.2.2.0"] == "185", ("bad input became an event", e))
        print("ok   bad input dropped, receiver still working")
        a.stop()
        log = "".join(a.err)
        check("dropped 6 (oversize datagram 1, malformed packet 1, wrong community 2, "
              "SNMPv3 authentication failed 1, SNMPv3 user not accepted from this engine id 1)"
              in log, ("drop counters", log))
        check(log.count("dropped:") == 1, ("one log line per source per minute", log))
        check("received 7, informs acknowledged 2" in log, ("receive counters", log))
        print("ok   drops counted by reason and logged once per source")
        ok = True
    finally:
        if a.proc.poll() is None:
            a.proc.kill()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("scratch directory kept: %s" % tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
