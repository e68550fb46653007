#!/usr/bin/env python3
"""fieldmon-agent's SNMPv3 against net-snmp's real snmpd, snmptrap and
snmpinform: every auth x priv combination snmpd supports.

- Polling: snmpd on loopback with one v3 user per combination (6 auth x 6
  priv, 6 authNoPriv, 1 noAuthNoPriv); fieldmon-agent --once polls one device
  per user and gets good values; md5 and des are warned once per device.
- Refused credentials: unknown user, wrong auth key, wrong auth protocol,
  wrong priv key, wrong priv protocol (the Blumenthal and the Reeder key
  extension of AES-256 with SHA-1), unsupported security level, access
  denied at a lower level: each gives its own per-device reason.
- A device reboot (snmpd stopped and started again on the same persistent
  directory: the same engine id, engineBoots one higher) resumes polling in
  the daemon without operator action: after downtime (unreachable, then
  reachable again), and between two polls (time window resynchronised).
- Trap receiver: a v3 inform with every combination is acknowledged; a v3
  trap with each auth and each priv protocol arrives.

usage: agent_snmpv3_test.py PATH/TO/fieldmon-agent [test-name ...]
"""
import json
import os
import re
import subprocess
import sys
import time

from fmtest import AgentProc, check, free_udp_port, run_with_peer

AGENT = None
AUTH = [("md5", "MD5"), ("sha1", "SHA"), ("sha224", "SHA-224"), ("sha256", "SHA-256"),
        ("sha384", "SHA-384"), ("sha512", "SHA-512")]
PRIV = [("des", "DES"), ("aes128", "AES"), ("aes192", "AES-192"), ("aes256", "AES-256"),
        ("aes192c", "AES-192-C"), ("aes256c", "AES-256-C")]
APASS, PPASS = "authpass123", "privpass123"
SYSUPTIME, BOOTS = "1.3.6.1.2.1.1.3.0", "1.3.6.1.6.3.10.2.1.2.0"
NOT_IN_TIME_WINDOWS = "1.3.6.1.6.3.15.1.1.2.0"
ENV = dict(os.environ, MIBS="")


def users():
    """(user, auth, priv) of every combination: priv None for authNoPriv."""
    out = [("u_%s_%s" % (a, p), a, p) for a, _ in AUTH for p, _ in PRIV]
    out += [("u_%s" % a, a, None) for a, _ in AUTH]
    return out + [("u_none", None, None)]


def token(names, name):
    return dict(names)[name]


class Snmpd:
    """A real snmpd on 127.0.0.1 with the users above; restart() keeps its
    persistent directory (engine id, engineBoots) and port."""

    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "snmpd.conf")
        with open(self.conf, "w", encoding="ascii") as f:
            for u, a, p in users():
                if a is None:
                    f.write("createUser %s\nrouser %s noauth\n" % (u, u))
                elif p is None:
                    f.write('createUser %s %s "%s"\nrouser %s auth\n' % (u, token(AUTH, a),
                                                                         APASS, u))
                else:
                    f.write('createUser %s %s "%s" %s "%s"\nrouser %s priv\n' % (
                        u, token(AUTH, a), APASS, token(PRIV, p), PPASS, u))
        self.proc = None
        self.port = None

    def start(self):
        persist = os.path.join(self.dir, "persist")
        for _ in range(5):  # the port may be taken between probe and bind
            self.port = self.port or free_udp_port()
            self.proc = subprocess.Popen(
                ["snmpd", "-f", "-Lf", os.path.join(self.dir, "snmpd.log"), "-p",
                 os.path.join(self.dir, "snmpd.pid"), "udp:127.0.0.1:%d" % self.port],
                # Not -C, which would skip the persistent file too: this
                # directory's snmpd.conf, then engineBoots and the engine id
                # from the persistent directory (a path of its own).
                env=dict(ENV, SNMPCONFPATH="%s:%s" % (self.dir, persist),
                         SNMP_PERSISTENT_DIR=persist),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.get(BOOTS, "u_sha256") is not None:
                return
            self.stop()
            self.port = None
        raise RuntimeError("snmpd did not start; see %s/snmpd.log" % self.dir)

    def get(self, oid, user, tries=75):
        """The value of oid read as user (authNoPriv), or None."""
        for _ in range(tries):
            if self.proc.poll() is not None:
                return None
            r = subprocess.run(["snmpget", "-v3", "-l", "authNoPriv", "-u", user, "-a",
                                "SHA-256", "-A", APASS, "-Oqv", "-t", "0.3", "-r", "0",
                                "127.0.0.1:%d" % self.port, oid],
                               capture_output=True, text=True, env=ENV)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.strip()
            time.sleep(0.2)
        return None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # snmpd saves engineBoots on the way out
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def creds(user, auth, priv, apass=APASS, ppass=PPASS):
    s = "user: %s" % user
    if auth:
        s += ", auth_protocol: %s, auth_passphrase: %s" % (auth, apass)
    if priv:
        s += ", priv_protocol: %s, priv_passphrase: %s" % (priv, ppass)
    return s


def config(tmp, port, devices, extra=""):
    """devices: (name, creds); each polls sysUpTime.0 and sysDescr.0."""
    path = os.path.join(tmp, "agent.yaml")
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-test\nsite: lab\nsnmp: {poll_spread: 0, backoff_max: 1s}\n")
        f.write(extra)
        f.write("devices:\n")
        for name, c, more in devices:
            f.write("  - {name: %s, profile: p%s, snmp: {host: 127.0.0.1, port: %d,"
                    " version: '3', timeout: 300ms, retries: 1, %s}}\n" % (name, more, port, c))
        f.write("profiles:\n  - name: p\n    points:\n"
                "      - {name: uptime, oid: %s, scale: 0.01, unit: s}\n"
                "      - {name: descr, oid: 1.3.6.1.2.1.1.1.0, type: text}\n" % SYSUPTIME)
    return path


def run_once(cfg):
    r = subprocess.run([AGENT, "-c", cfg, "--once"], capture_output=True, text=True, timeout=90)
    return r.returncode, [json.loads(x) for x in r.stdout.splitlines() if x.strip()], r.stderr


def test_poll_every_combination(sd, tmp):
    devs = [(u, creds(u, a, p), "") for u, a, p in users()]
    rc, ev, err = run_once(config(tmp, sd.port, devs))
    check(rc == 0, ("exit status", rc, err))
    for u, _, _ in devs:
        got = {e["point"]: e for e in ev if e["device"] == u and e.get("event") == "measurement"}
        check(set(got) == {"uptime", "descr"} and
              all(e["quality"] == "good" for e in got.values()) and got["uptime"]["raw"] > 0 and
              got["descr"]["text"] != "", ("values of", u, got, err))
    # One warning per weak protocol per device, naming its key.
    n_md5 = sum(1 for _, a, _ in users() if a == "md5")
    n_des = sum(1 for _, _, p in users() if p == "des")
    check(len(re.findall(r"devices\[\d+\]\.snmp\.auth_protocol: md5: HMAC-MD5 is a broken hash",
                         err)) == n_md5, ("md5 warnings", err))
    check(len(re.findall(r"devices\[\d+\]\.snmp\.priv_protocol: des: DES has a 56-bit key",
                         err)) == n_des, ("des warnings", err))
    check(err.count("warning: config:") == n_md5 + n_des, err)
    print("     %d devices, %d md5 and %d des warnings" % (len(devs), n_md5, n_des))


# (what is wrong, the device's credentials in the config, expected reason)
WRONG = [
    ("unknown user", creds("nobody", "sha256", "aes128"),
     "SNMPv3: unknown user 'nobody': the device has no such user"),
    ("wrong auth key", creds("u_sha256_aes128", "sha256", "aes128", apass="wrongpass123"),
     "SNMPv3: wrong digest: auth_passphrase or auth_protocol (sha256) differs from the "
     "device's"),
    ("wrong auth protocol", creds("u_sha256_aes128", "sha512", "aes128"),
     "SNMPv3: wrong digest: auth_passphrase or auth_protocol (sha512) differs from the "
     "device's"),
    ("wrong priv key", creds("u_sha256_aes128", "sha256", "aes128", ppass="wrongpriv123"),
     "SNMPv3: no answer to encrypted requests after 2 tries, though the device answered engine "
     "id discovery: wrong priv_passphrase or priv_protocol (aes128)?"),
    # SHA-1 keys are 20 bytes: AES-256 extends them, Blumenthal's way or
    # Reeder's, and the two keys differ.
    ("Blumenthal for Reeder", creds("u_sha1_aes256c", "sha1", "aes256"),
     "SNMPv3: no answer to encrypted requests after 2 tries, though the device answered engine "
     "id discovery: wrong priv_passphrase or priv_protocol (aes256)?"),
    # AES ciphertext is no DES ciphertext: snmpd reports the decryption error.
    ("wrong priv protocol", creds("u_sha256_des", "sha256", "aes128"),
     "SNMPv3: decryption error: priv_passphrase or priv_protocol (aes128) differs from the "
     "device's"),
    ("privacy the user has not", creds("u_sha256", "sha256", "aes128"),
     "SNMPv3: unsupported security level: the device's user 'u_sha256' has no privacy"),
    ("authentication the user has not", creds("u_none", "sha256", None),
     "SNMPv3: unsupported security level: the device's user 'u_none' has no authentication"),
    ("level below the access rule", creds("u_sha256_aes128", "sha256", None),
     "SNMPv3: authorizationError: the device's access rules refuse user 'u_sha256_aes128' at "
     "authNoPriv"),
]


def test_wrong_credentials_give_their_reason(sd, tmp):
    # One run each: net-snmp keeps one set of keys per user and engine id.
    for what, c, want in WRONG:
        rc, ev, err = run_once(config(tmp, sd.port, [("dev", c, "")]))
        r = [e for e in ev if e.get("event") == "reachability"]
        check(rc == 3 and len(r) == 1 and not r[0]["reachable"] and
              r[0]["reason"].startswith(want), (what, rc, ev, err))
        check("snmp: dev (127.0.0.1:%d): unreachable: %s" % (sd.port, want) in err, (what, err))
        check(not [e for e in ev if e.get("event") == "measurement"], (what, ev))


def uptime(e):
    return e.get("point") == "uptime" and e["quality"] == "good"


def test_reboot_after_downtime_resumes(sd, tmp):
    cfg = config(tmp, sd.port, [("ups", creds("u_sha512_aes256", "sha512", "aes256"),
                                 ", interval: 1s, unreachable_after: 2")])
    boots = int(sd.get(BOOTS, "u_sha256"))
    a = AgentProc(AGENT, cfg)
    try:
        a.wait_for(uptime, "a first value")
        sd.stop()
        r = a.wait_for(lambda e: e.get("event") == "reachability", "unreachable while down")
        check(not r["reachable"], r)
        sd.start()
        check(int(sd.get(BOOTS, "u_sha256")) == boots + 1, "engineBoots one higher")
        r = a.wait_for(lambda e: e.get("event") == "reachability", "reachable after the reboot")
        check(r["reachable"], r)
        a.wait_for(uptime, "a value after the reboot")
    finally:
        a.stop()


def test_reboot_between_polls_resyncs(sd, tmp):
    """snmpd restarts between two polls: the next request carries the old
    engineBoots, the device answers notInTimeWindow, and net-snmp
    resynchronises within that poll; no poll fails."""
    cfg = config(tmp, sd.port, [("ups", creds("u_sha1_aes256", "sha1", "aes256"),
                                 ", interval: 5s, unreachable_after: 1")])
    boots = int(sd.get(BOOTS, "u_sha256"))
    a = AgentProc(AGENT, cfg)
    try:
        first = a.wait_for(uptime, "a first value")
        a.wait_log("snmp: ups: poll ok")
        sd.stop()
        sd.start()
        check(int(sd.get(BOOTS, "u_sha256")) == boots + 1, "engineBoots one higher")
        up_ms = time.time() * 1000
        e = a.wait_for(lambda e: e.get("point") == "uptime" or e.get("event") == "reachability",
                       "the next poll", timeout=15)
        check(e.get("point") == "uptime" and e["quality"] == "good" and e["ts"] > up_ms,
              ("the first poll after the reboot", e, first))
        check(not [x for x in a.err if "poll failed" in x or "unreachable" in x], a.err)
        # The restarted snmpd counted the agent's request with the old boots.
        check(int(sd.get(NOT_IN_TIME_WINDOWS, "u_sha256")) >= 1, "usmStatsNotInTimeWindows")
    finally:
        a.stop()


ENGINE = "0x8000000001020399"


def test_traps_and_informs_every_combination(sd, tmp):
    port = free_udp_port()
    dest = "127.0.0.1:%d" % port
    lines = ["trap_receiver:\n  enabled: true\n  listen: %s\n  users:\n" % dest]
    for u, a, p in users():
        lines.append("    - {%s, engine_id: '%s'}\n" % (
            creds(u, a or "none", p or "none"), ENGINE))
    cfg = config(tmp, free_udp_port(), [("idle", creds("u_sha256", "sha256", None),
                                         ", interval: 1h")], "".join(lines))
    a = AgentProc(AGENT, cfg)
    try:
        a.wait_log("trap: receiving on")

        def send(cmd, u, au, pr, value):
            level = "authPriv" if pr else "authNoPriv" if au else "noAuthNoPriv"
            args = [cmd, "-v3", "-u", u, "-l", level]
            if au:
                args += ["-a", token(AUTH, au), "-A", APASS]
            if pr:
                args += ["-x", token(PRIV, pr), "-X", PPASS]
            if cmd == "snmptrap":
                args += ["-e", ENGINE]
            else:
                args += ["-t", "2", "-r", "1"]
            args += [dest, "", "1.3.6.1.4.1.99999.0.%d" % value,
                     "1.3.6.1.4.1.99999.1", "s", u]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30, env=ENV)
            check(r.returncode == 0, ("%s not sent or not acknowledged" % cmd, u, r.stderr))
            e = a.wait_for(lambda e: e.get("event") == "trap", "%s from %s" % (cmd, u))
            check(e["version"] == 3 and e["inform"] == (cmd == "snmpinform") and
                  e["varbinds"][-1]["value"] == u, (cmd, u, e))

        for i, (u, au, pr) in enumerate(users()):
            send("snmpinform", u, au, pr, i)
        # Traps: each auth and each priv protocol once.
        for i, (u, au, pr) in enumerate(users()):
            if au and pr and (AUTH.index((au, token(AUTH, au))) ==
                              PRIV.index((pr, token(PRIV, pr)))):
                send("snmptrap", u, au, pr, 100 + i)
        a.stop()
        log = "".join(a.err)
        n = len(users())
        check("received %d, informs acknowledged %d, dropped 0" % (n + len(AUTH), n) in log, log)
    finally:
        if a.proc.poll() is None:
            a.proc.kill()


TESTS = [test_poll_every_combination, test_wrong_credentials_give_their_reason,
         test_reboot_after_downtime_resumes, test_reboot_between_polls_resyncs,
         test_traps_and_informs_every_combination]


def main():
    global AGENT
    AGENT = os.path.abspath(sys.argv[1])
    return run_with_peer(TESTS, "fm-agent-snmpv3.", lambda tmp: Snmpd(tmp, "device"))


if __name__ == "__main__":
    sys.exit(main())
