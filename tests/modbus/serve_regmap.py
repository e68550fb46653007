#!/usr/bin/python3
"""Serves fieldmon register maps (tests/sim/data/modbus/*.json, schema
modbus-regmap/1) over Modbus TCP with pymodbus, a Modbus implementation
fieldmon did not write, for interoperability tests.

Each --map FILE[:UNIT] becomes one unit id (the file's unit_id unless given).
Only mapped addresses exist (sparse blocks), so a read across an unmapped
address gets exception 02 (illegal data address), as strict devices answer.

Binds 127.0.0.1 on the given port (default 0: the kernel picks a free one),
prints "port=N" on stdout once listening, and runs until stdin reaches EOF
or it gets SIGTERM.

Usage: serve_regmap.py --map tests/sim/data/modbus/ahu-ddc.json:1 [--map ...]
"""
import argparse
import asyncio
import json
import logging
import signal
import sys

from pymodbus.datastore import (ModbusServerContext, ModbusSlaveContext,
                                ModbusSparseDataBlock)
from pymodbus.server.async_io import ModbusTcpServer

TABLES = {1: "co", 2: "di", 3: "hr", 4: "ir"}


def load_unit(spec):
    path, _, unit = spec.partition(":")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    blocks = {name: {} for name in TABLES.values()}
    for pt in doc["points"]:
        table = blocks[TABLES[pt["function"]]]
        for i, word in enumerate(pt["raw"]):
            table[pt["address"] + i] = word
    ctx = ModbusSlaveContext(zero_mode=True,
                             **{k: ModbusSparseDataBlock(v) for k, v in blocks.items()})
    return int(unit) if unit else int(doc["unit_id"]), ctx


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--map", action="append", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    units = dict(load_unit(m) for m in args.map)
    context = ModbusServerContext(slaves=units, single=False)
    server = ModbusTcpServer(context, address=("127.0.0.1", args.port))
    task = asyncio.ensure_future(server.serve_forever())
    await server.serving
    print(f"port={server.server.sockets[0].getsockname()[1]}", flush=True)

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(0))
    loop.add_reader(sys.stdin.fileno(),
                    lambda: sys.stdin.buffer.read1(4096) or done.done() or done.set_result(0))
    await done
    await server.shutdown()
    task.cancel()


if __name__ == "__main__":
    logging.disable(logging.ERROR)  # pymodbus logs every exception it sends
    asyncio.run(main())
