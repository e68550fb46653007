#!/usr/bin/env python3
"""A webhook receiver for tests: the real HTTP peer fieldmon's notifier talks to.

Listens on 127.0.0.1, accepts JSON POSTs, and appends one JSON line per
request to --log: {"path", "key" (the Idempotency-Key header), "dup" (key seen
before), "body" (parsed JSON)}. Answers 200 (also to a repeated key, as an
idempotent receiver does), or 500 to the first --fail-first requests, or 400
if the body is not JSON or the key is missing. Writes the port it bound to
--port-file once it is listening. Stops on SIGTERM.

  webhook_receiver.py --port 0 --port-file P --log L [--fail-first N]
"""
import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()

    lock = threading.Lock()
    seen = set()
    state = {"failures_left": args.fail_first}
    log = open(args.log, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def answer(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            key = self.headers.get("Idempotency-Key")
            with lock:
                if state["failures_left"] > 0:
                    state["failures_left"] -= 1
                    self.answer(500)
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.answer(400)
                    return
                if not key or self.headers.get("Content-Type") != "application/json":
                    self.answer(400)
                    return
                dup = key in seen
                seen.add(key)
                log.write(json.dumps({"path": self.path, "key": key, "dup": dup,
                                      "body": body}) + "\n")
                log.flush()
            self.answer(200)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
