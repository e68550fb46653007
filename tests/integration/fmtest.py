"""Helpers shared by the agent's integration tests: free loopback ports,
fieldmon-agent in the background with its JSON events on a queue, checks."""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait(pred, what, timeout=30, step=0.1):
    """Returns pred()'s first true value, polling every step seconds; fails
    after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for %s" % what)


def run_tests(tests, wanted, *args):
    """Runs each test(*args) whose name is in wanted (all if empty), printing
    ok/FAIL lines; returns how many failed."""
    failed = 0
    for t in tests:
        if wanted and t.__name__ not in wanted:
            continue
        try:
            t(*args)
            print("ok   %s" % t.__name__)
        except Exception as ex:  # report every failing test, then fail
            failed += 1
            print("FAIL %s: %s" % (t.__name__, ex))
    return failed


def agent_cycles(agent, cfg, cycles):
    """Runs agent --once (cycles 1) or --cycles N at log level info; returns
    its exit status, its events and its log."""
    args = [agent, "-c", cfg, "-l", "info"]
    args += ["--once"] if cycles == 1 else ["--cycles", str(cycles)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return r.returncode, events, r.stderr


def scratch_done(tmp, failed):
    """Removes the scratch directory tmp if no test failed (else says where
    it is kept); returns the exit status for that count."""
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("scratch directory kept: %s" % tmp)
    return 1 if failed else 0


class AgentProc:
    """fieldmon-agent running in the background, its events on a queue."""

    def __init__(self, agent, cfg):
        self.proc = subprocess.Popen([agent, "-c", cfg, "-l", "debug"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, f, is_out):
        for line in f:
            if is_out:
                self.q.put(json.loads(line))
            else:
                self.err.append(line)

    def wait_for(self, pred, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            if pred(e):
                return e
        raise AssertionError("timed out waiting for %s; agent log:\n%s" % (what,
                                                                           "".join(self.err)))

    def wait_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.err)):
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for log '%s'; agent log:\n%s" % (
            text, "".join(self.err)))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        check(rc == 0, ("agent exit status after SIGTERM", rc, "".join(self.err)))


# The 20 numeric UPS-MIB and system scalars polled by the fleet test and
# bench/agent-snmp (all present in the simulator's ups-normal data).
UPS20 = ["1.3.6.1.2.1.1.3.0"] + ["1.3.6.1.2.1.33.1.%s.0" % s for s in (
    "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "3.1", "3.2", "4.1", "4.2", "4.3",
    "5.1", "5.2", "6.1", "9.1", "9.2", "9.3", "9.4")]


# The five numeric ifTable columns walked by bench/agent-snmp (with the
# 20 scalars: the fleet of /work/shared/peers.md, 140 values per device).
IF5 = ["1.3.6.1.2.1.2.2.1.%d" % c for c in (8, 10, 14, 16, 20)]
IF_ROWS = 24


def write_bench_snmprec(path, ups_snmprec, extra=()):
    """The simulator's ups-normal data plus an ifTable of IF_ROWS rows and
    the snmprec lines in extra."""
    recs = []
    with open(ups_snmprec, encoding="utf-8") as f:
        recs = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
    recs.append("1.3.6.1.2.1.2.1.0|2|%d" % IF_ROWS)
    for i in range(1, IF_ROWS + 1):
        recs += ["1.3.6.1.2.1.2.2.1.1.%d|2|%d" % (i, i),
                 "1.3.6.1.2.1.2.2.1.2.%d|4|eth%d" % (i, i - 1),
                 "1.3.6.1.2.1.2.2.1.8.%d|2|%d" % (i, 1 if i % 5 else 2),
                 "1.3.6.1.2.1.2.2.1.10.%d|65|%d" % (i, 1000000 * i + 12345),
                 "1.3.6.1.2.1.2.2.1.14.%d|65|%d" % (i, i % 3),
                 "1.3.6.1.2.1.2.2.1.16.%d|65|%d" % (i, 3000000 * i + 54321),
                 "1.3.6.1.2.1.2.2.1.20.%d|65|0" % i]
    recs += list(extra)

    def key(r):
        return tuple(int(x) for x in r.split("|", 1)[0].split("."))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(sorted(recs, key=key)) + "\n")


class Sim:
    """fieldmon-sim serving N SNMPv2c devices on loopback, each on its own
    free port (read back from the ports file): ups-normal devices from the
    simulator's generator, or, with snmprec=FILE, devices serving FILE
    (device_keys: fleet file keys of some of them, by index, e.g.
    {2: "bulk: loop"})."""

    def __init__(self, sim, tmp, n_devices, snmprec=None, device_keys=None):
        self.sim = sim
        self.ctl_path = tmp + "/sim.sock"
        fleet = tmp + "/fleet.yaml"
        ports = tmp + "/sim.ports"
        if snmprec is None:
            subprocess.run([sim, "--generate", str(n_devices), "0", "-o", fleet,
                            "--snmp-templates", "ups-normal"], check=True,
                           stdout=subprocess.DEVNULL)
        else:
            with open(fleet, "w", encoding="ascii") as f:
                f.write("snmp_templates:\n  - {name: bench, file: %s}\ndevices:\n" % snmprec)
                for i in range(1, n_devices + 1):
                    keys = (device_keys or {}).get(i - 1)
                    f.write("  - {name: dev-%05d, protocol: snmp, template: bench%s}\n"
                            % (i, ", " + keys if keys else ""))
        for stale in (ports, self.ctl_path):
            if self._exists(stale):
                os.unlink(stale)
        self.log = open(tmp + "/sim.log", "w")
        self.proc = subprocess.Popen([sim, fleet, "--ports-file", ports, "--control",
                                      self.ctl_path], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while not self._exists(ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fieldmon-sim did not start; see %s/sim.log" % tmp)
            time.sleep(0.1)
        self.devices = []  # (name, port)
        with open(ports, encoding="ascii") as f:
            for line in f:
                w = line.split()
                if len(w) >= 4 and w[1] == "snmp":
                    self.devices.append((w[0], int(w[3])))
        check(len(self.devices) == n_devices, ("ports file", len(self.devices)))

    @staticmethod
    def _exists(path):
        try:
            open(path).close()
            return True
        except OSError:
            return False

    def ctl(self, *args):
        """Runs a control command; returns its output."""
        r = subprocess.run([self.sim, "ctl", "--control", self.ctl_path, *args],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, ("fieldmon-sim ctl", args, r.stdout, r.stderr))
        return r.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def fleet_agent_config(path, devices, interval, extra_snmp="", tables=False):
    """Writes an agent config polling UPS20 (and with tables, IF5) from every
    (name, port)."""
    with open(path, "w", encoding="ascii") as f:
        f.write("agent_id: gw-fleet\nsite: sim\nlog_level: warning\n")
        f.write("snmp: {max_in_flight: 64, backoff_max: 1s, poll_spread: 1}\n")
        f.write("devices:\n")
        for name, port in devices:
            f.write("  - {name: %s, class: ups, profile: ups20, interval: %s, unreachable_after: 1,"
                    " snmp: {host: 127.0.0.1, port: %d, timeout: 1s, retries: 0%s}}\n"
                    % (name, interval, port, extra_snmp))
        f.write("profiles:\n  - name: ups20\n    points:\n")
        for i, o in enumerate(UPS20):
            f.write("      - {name: p%02d, oid: %s}\n" % (i, o))
        for i, o in enumerate(IF5 if tables else []):
            f.write("      - {name: if%d, oid: %s, table: true, index_label: ifIndex}\n" % (i, o))


def agent_metrics(sock):
    """Prometheus text from an agent's metrics unix socket, as a dict of
    name -> value; {} when the agent does not answer."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect(sock)
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        return {}
    finally:
        s.close()
    out = {}
    for line in data.decode().split("\r\n\r\n", 1)[-1].splitlines():
        if line and not line.startswith("#"):
            k, v = line.split()
            out[k] = float(v)
    return out


def run_with_peer(tests, prefix, make_peer):
    """The main of a test script whose tests share one peer: make_peer(tmp)
    returns it (start() and stop()); runs the tests named on the command
    line after the agent (all if none) as test(peer, tmp). The scratch
    directory is removed when all passed, kept otherwise. Returns the exit
    status."""
    wanted = set(sys.argv[2:])
    tmp = tempfile.mkdtemp(prefix=prefix)
    peer = make_peer(tmp)
    failed = 1
    try:
        peer.start()
        failed = run_tests(tests, wanted, peer, tmp)
    finally:
        peer.stop()
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("scratch directory kept: %s" % tmp)
    return 1 if failed else 0
