#!/usr/bin/env python3
"""snmpd pass_persist back end serving records from a snmprec file.

Used by the agent's integration tests so that the real net-snmp snmpd
answers with device data (UPS-MIB values of tests/integration/data) and with
values a test changes while the agent runs (counters about to wrap, long
strings): the file is read again whenever its modification time changes.

Usage (snmpd.conf): pass_persist OID /usr/bin/python3 snmprec_pass.py FILE
Record format: OID|tag|value, tags as in snmpsim: 2 INTEGER, 4 OCTET STRING,
6 OBJECT IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks.
"""
import os
import sys

TYPES = {"2": "integer", "4": "string", "6": "objectid", "64": "ipaddress",
         "65": "counter", "66": "gauge", "67": "timeticks"}


def key(oid):
    return tuple(int(x) for x in oid.strip(".").split("."))


class Data:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.records = []

    def load(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return
        if mtime == self.mtime:
            return
        recs = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                oid, tag, value = line.split("|", 2)
                recs.append((key(oid), TYPES[tag], value))
        recs.sort()
        self.records = recs
        self.mtime = mtime

    def get(self, oid):
        k = key(oid)
        for r in self.records:
            if r[0] == k:
                return r
        return None

    def getnext(self, oid):
        k = key(oid)
        for r in self.records:
            if r[0] > k:
                return r
        return None


def main():
    data = Data(sys.argv[1])
    out = sys.stdout
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "PING":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = sys.stdin.readline().strip()
            data.load()
            rec = data.get(oid) if cmd == "get" else data.getnext(oid)
            if rec is None:
                out.write("NONE\n")
            else:
                out.write(".%s\n%s\n%s\n" % (".".join(map(str, rec[0])), rec[1], rec[2]))
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        elif cmd == "":
            break
        out.flush()


if __name__ == "__main__":
    main()
