#!/usr/bin/env python3
"""fieldmon-sim's `garble` fault, read with a raw Modbus client.

For a Modbus TCP device and for two units of an RTU bus on a pty, each mode
is compared byte for byte with the device's good reply: only the named field
changes (on RTU the CRC is recomputed, except in mode crc). Also: modes a
framing lacks are refused, `status` shows the fault, `clear` restores good
replies, and a garbled unit leaves the other unit of its bus alone. Last,
the bus's gap counters (command `bus`).

usage: garble_test.py   (FM_SIM: fieldmon-sim; fleet tests/sim/fleets/test.yaml)
"""
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

SIM = os.environ["FM_SIM"]
FLEET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sim", "fleets",
                     "test.yaml")
FAILS = []


def check(name, got, want):
    if got == want:
        print("ok   %s" % name)
    else:
        print("FAIL %s: got %r, want %r" % (name, got, want))
        FAILS.append(name)


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


class Tcp:
    def __init__(self, port):
        self.port, self.tid = port, 0x1200

    def read(self, unit, fc, addr, count):
        """One request on a fresh connection; every byte that came back."""
        self.tid += 1
        req = struct.pack(">HHHBBHH", self.tid, 0, 6, unit, fc, addr, count)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req)
            return self.tid, drain(s.fileno(), s.recv)


def drain(fd, recv):
    """Bytes until 300 ms of silence (at most 5 s)."""
    out, deadline = b"", time.monotonic() + 5
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.3)
        if not r:
            break
        chunk = recv(512)
        if not chunk:
            break
        out += chunk
    return out


class Rtu:
    def __init__(self, pty):
        self.fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        attrs = termios.tcgetattr(self.fd)
        attrs[3] = 0  # lflag: raw
        attrs[0] = 0
        attrs[1] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def read(self, unit, fc, addr, count):
        termios.tcflush(self.fd, termios.TCIFLUSH)
        req = struct.pack(">BBHH", unit, fc, addr, count)
        os.write(self.fd, req + crc16(req))
        return drain(self.fd, lambda n: os.read(self.fd, n))


def ctl(ctl_path, *args):
    r = subprocess.run([SIM, "ctl", "--control", ctl_path] + list(args), capture_output=True,
                       text=True, timeout=20)
    return r.returncode, r.stdout + r.stderr


def tcp_cases(tcp, ahu, ctl_path):
    """pm-tcp: 10 input registers at 0; ahu: 2 coils at 0, an exception."""
    tid, good = tcp.read(3, 4, 0, 10)
    check("tcp good reply: MBAP + fc 4 + 20 bytes", (len(good), good[7], good[8]), (29, 4, 20))
    check("tcp good reply echoes the transaction id", struct.unpack(">H", good[:2])[0], tid)
    body = good[9:]

    def mbap(t, n, unit=3):
        return struct.pack(">HHHB", t, 0, n, unit)

    want = {
        # byte count 2 less than the 20 data bytes; MBAP length covers them all
        "count": lambda t: mbap(t, 23) + bytes([4, 18]) + body,
        # 9 registers, everything agreeing
        "short": lambda t: mbap(t, 21) + bytes([4, 18]) + body[:18],
        # 10 data bytes of 20, byte count still 20, MBAP length of the cut frame
        "truncated": lambda t: mbap(t, 13) + bytes([4, 20]) + body[:10],
        # MBAP length 2 less than the 23 bytes that follow
        "length": lambda t: mbap(t, 21) + bytes([4, 20]) + body,
        "tid": lambda t: mbap(t + 1, 23) + bytes([4, 20]) + body,
        "function": lambda t: mbap(t, 23) + bytes([3, 20]) + body,
        "unit": lambda t: mbap(t, 23, unit=4) + bytes([4, 20]) + body,
    }
    for mode, build in want.items():
        rc, out = ctl(ctl_path, "garble", "pm-tcp", mode)
        check("ctl garble pm-tcp %s" % mode, rc, 0)
        tid, got = tcp.read(3, 4, 0, 10)
        check("tcp %s" % mode, got.hex(), build(tid).hex())
    rc, out = ctl(ctl_path, "status", "pm-tcp")
    check("status names the fault", "garble=unit" in out, True)
    rc, out = ctl(ctl_path, "garble", "pm-tcp", "crc")
    check("crc refused on a TCP device", (rc, "not for modbus-tcp" in out), (1, True))
    rc, out = ctl(ctl_path, "garble", "pm-tcp", "bogus")
    check("unknown mode refused", (rc, "unknown mode 'bogus'" in out), (1, True))
    ctl(ctl_path, "garble", "ahu", "short")
    _, got = ahu.read(1, 1, 0, 2)
    check("tcp short on coils: one byte fewer", (got[7], got[8], len(got)), (1, 0, 9))
    ctl(ctl_path, "exception", "ahu", "2")
    ctl(ctl_path, "garble", "ahu", "function")
    _, got = ahu.read(1, 3, 0, 1)
    check("garbled exception keeps its bit: 0x83 becomes 0x84", got[7:].hex(), "8402")
    ctl(ctl_path, "clear", "ahu")
    ctl(ctl_path, "clear", "pm-tcp")
    tid, got = tcp.read(3, 4, 0, 10)
    check("tcp cleared: good reply again", got[2:], good[2:])


def rtu_cases(rtu, ctl_path):
    """th-1 (unit 1) and pm-1 (unit 3) on bus-a: 2 input registers of th-1 at 1."""
    good = rtu.read(1, 4, 1, 2)
    check("rtu good reply: unit 1, fc 4, 4 bytes, CRC", (len(good), good[:3].hex(),
                                                         crc16(good[:-2]) == good[-2:]),
          (9, "010404", True))
    data = good[3:7]

    def frame(b):
        return (b + crc16(b)).hex()

    want = {
        "count": frame(bytes([1, 4, 2]) + data),
        "short": frame(bytes([1, 4, 2]) + data[:2]),
        "truncated": frame(bytes([1, 4, 4]) + data[:2]),
        "function": frame(bytes([1, 3, 4]) + data),
        "unit": frame(bytes([2, 4, 4]) + data),
        "crc": (good[:-1] + bytes([good[-1] ^ 0x5A])).hex(),
    }
    for mode, w in want.items():
        rc, _ = ctl(ctl_path, "garble", "th-1", mode)
        check("ctl garble th-1 %s" % mode, rc, 0)
        check("rtu %s" % mode, rtu.read(1, 4, 1, 2).hex(), w)
        other = rtu.read(3, 4, 0, 2)
        check("rtu %s: unit 3 on the same bus unaffected" % mode,
              (len(other), other[:3].hex(), crc16(other[:-2]) == other[-2:]), (9, "030404", True))
    for mode in ("tid", "length"):
        rc, out = ctl(ctl_path, "garble", "th-1", mode)
        check("%s refused on an RTU device" % mode, (rc, "not for modbus-rtu" in out), (1, True))
    ctl(ctl_path, "clear", "th-1")
    check("rtu cleared: good reply again", rtu.read(1, 4, 1, 2), good)
    # Bus counters: this client waits for 300 ms of silence after each reply
    # before it asks again, so no gap can be shorter.
    rc, out = ctl(ctl_path, "bus", "bus-a", "reset")
    w = out.split()
    stats = dict(zip(w[3::2], (int(x) for x in w[4::2])))
    check("bus counters: every reply but the last followed by a request",
          (rc, stats["replies"] >= 10, stats["gaps"] == stats["replies"] - 1), (0, True, True))
    check("bus: smallest gap at least the client's 300 ms", stats["min_gap_us"] >= 300000, True)
    rc, out = ctl(ctl_path, "bus", "bus-a")
    check("bus reset", out.split()[3:], ["replies", "0", "gaps", "0", "min_gap_us", "-1"])
    rc, out = ctl(ctl_path, "bus", "nope")
    check("unknown bus refused", (rc, "no rtu bus 'nope'" in out), (1, True))


def main():
    with tempfile.TemporaryDirectory(prefix="fm-garble-") as tmp:
        ports_file, ctl_path = os.path.join(tmp, "ports"), os.path.join(tmp, "ctl")
        log = open(os.path.join(tmp, "sim.log"), "w")
        proc = subprocess.Popen([SIM, FLEET, "--ports-file", ports_file, "--control", ctl_path],
                                stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(ports_file):
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("fieldmon-sim did not start")
                time.sleep(0.05)
            ports = {}
            with open(ports_file) as f:
                for line in f:
                    w = line.split()
                    ports[w[1] if w[0] == "bus" else w[0]] = w[2] if w[0] == "bus" else w[3]
            tcp_cases(Tcp(int(ports["pm-tcp"])), Tcp(int(ports["ahu"])), ctl_path)
            rtu_cases(Rtu(ports["bus-a"]), ctl_path)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
            if FAILS:
                with open(os.path.join(tmp, "sim.log")) as f:
                    sys.stderr.write(f.read()[-3000:])
    print("%d failed" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
