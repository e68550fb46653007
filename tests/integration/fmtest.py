"""Helpers shared by the agent's integration tests: free loopback ports,
fieldmon-agent in the background with its JSON events on a queue, checks."""
import json
import queue
import signal
import socket
import subprocess
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
