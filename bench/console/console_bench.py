#!/usr/bin/env python3
"""bench/console's driver (see run.sh): live-feed clients, fault injection,
first-page reads, and the last line of figures."""
import argparse
import http.client
import json
import multiprocessing as mp
import socket
import threading
import time
import urllib.parse

import psycopg2


def now_ms():
    # CLOCK_MONOTONIC is one clock for every process of the machine.
    return time.clock_gettime(time.CLOCK_MONOTONIC) * 1000.0


def sse_worker(url, token, n, ready, stop, out):
    """n live-feed clients in one process: ticket id -> receive times."""
    u = urllib.parse.urlsplit(url)
    socks = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        s.sendall((f"GET /api/v1/events HTTP/1.0\r\nHost: {u.netloc}\r\n"
                   f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        socks.append(s)
    bufs = [b""] * n
    events = [dict() for _ in range(n)]
    pending = [None] * n  # the event name of the block being read
    import selectors
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    headers_done = [False] * n
    ready.put(n)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            t = now_ms()
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            bufs[i] += chunk
            if not headers_done[i]:
                if b"\r\n\r\n" not in bufs[i]:
                    continue
                head, bufs[i] = bufs[i].split(b"\r\n\r\n", 1)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    raise SystemExit(f"events: {head.splitlines()[0].decode()}")
                headers_done[i] = True
            *lines, bufs[i] = bufs[i].split(b"\n")
            for line in lines:
                line = line.rstrip(b"\r")
                if line.startswith(b"event: "):
                    pending[i] = line[7:]
                elif line.startswith(b"data: ") and pending[i] == b"ticket":
                    try:
                        tid = json.loads(line[6:])["id"]
                    except (ValueError, KeyError):
                        continue
                    events[i].setdefault(tid, t)
    out.put(events)


def api_reader(url, token, stop, lat):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    while not stop.is_set():
        t0 = now_ms()
        c.request("GET", "/api/v1/tickets?open=1&limit=100",
                  headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"tickets: {r.status} {body[:200]!r}")
        lat.append(now_ms() - t0)
        time.sleep(0.1)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


def vm_hwm_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()

    procs, nproc = [], 4
    ready, out, stop = mp.Queue(), mp.Queue(), mp.Event()
    share = [a.clients // nproc + (1 if i < a.clients % nproc else 0) for i in range(nproc)]
    for n in share:
        p = mp.Process(target=sse_worker, args=(a.url, a.token, n, ready, stop, out))
        p.start()
        procs.append(p)
    connected = sum(ready.get(timeout=60) for _ in procs)
    time.sleep(1.0)  # let every stream's headers arrive

    lat, api_stop = [], threading.Event()
    reader = threading.Thread(target=api_reader, args=(a.url, a.token, api_stop, lat))
    reader.start()

    db = psycopg2.connect(a.dsn)
    cur = db.cursor()
    sent = {}
    n = int(a.rate * a.seconds)
    t_start = now_ms()
    for i in range(n):
        due = t_start + i * 1000.0 / a.rate
        while now_ms() < due:
            time.sleep(max(0.0, (due - now_ms()) / 1000.0))
        cur.execute("SELECT ticket_id FROM fm_ticket_open(%s, 'device', %s::smallint, %s, "
                    "'dev-1', 'bench_live', %s, 'bench', false, now(), 'bench', '7 days')",
                    (f"live:{i}", 1 + i % 4, f"site-{1 + i % 500:03d}", f"Live fault {i}"))
        tid = cur.fetchone()[0]
        t0 = now_ms()
        db.commit()
        sent[tid] = t0
    time.sleep(3.0)  # the last faults' events
    api_stop.set()
    reader.join()
    stop.set()
    per_client = []
    for _ in procs:
        per_client.extend(out.get(timeout=60))
    for p in procs:
        p.join()

    push, missing = [], 0
    for got in per_client:
        for tid, t0 in sent.items():
            if tid in got:
                push.append(got[tid] - t0)
            else:
                missing += 1
    print(f"console: {len(sent)} faults, {connected} clients, {len(push)} deliveries, "
          f"push p50 {pct(push, 50):.1f} ms, {len(lat)} first-page reads, "
          f"api p50 {pct(lat, 50):.1f} ms")
    print(f"push_p99_ms={pct(push, 99):.1f} api_p99_ms={pct(lat, 99):.1f} "
          f"sse_clients={connected} web_rss_mb={vm_hwm_mb(a.pid):.1f} events_missing={missing}")


if __name__ == "__main__":
    main()
