"""Helpers of the agent's Modbus integration tests: register maps
(tests/sim/data/modbus/*.json), profiles written from them, `--once` runs and
checks of the values the agent printed against the maps."""
import json
import os
import subprocess
import time

from fmtest import check

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "sim", "data", "modbus")
EXAMPLE = os.path.join(ROOT, "deploy", "agent-modbus-example.yaml")


def load_map(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return json.load(f)


def example_profiles():
    """The profiles of deploy/agent-modbus-example.yaml (they come last)."""
    with open(EXAMPLE, encoding="utf-8") as f:
        example = f.read()
    return example[example.index("\nprofiles:\n") + 1:]


def profile_from_map(name, map_file):
    """A profile (YAML list item under `profiles:`) read from a register map."""
    out = ["  - name: %s" % name, "    points:"]
    for p in load_map(map_file)["points"]:
        out.append("      - name: %s" % p["name"])
        if p["type"] == "bool":
            out.append("        type: bool")
        if p.get("scale", 1) != 1:
            out.append("        scale: %r" % p["scale"])
        order = {"AB": "ABCD", "BA": "BADC"}.get(p.get("byte_order", "AB"), p.get("byte_order"))
        if p["function"] <= 2:
            # Coils and discrete inputs: bool is the default, left out on purpose.
            out.append("        modbus: {function: %d, address: %d}" % (p["function"], p["address"]))
        else:
            out.append("        modbus: {function: %d, address: %d, type: %s, order: %s}" % (
                p["function"], p["address"], p["type"], order))
    return "\n".join(out) + "\n"


def run_once(agent, cfg, *extra):
    """Runs `fieldmon-agent --once`: (exit status, events, log, seconds)."""
    t0 = time.monotonic()
    r = subprocess.run([agent, "-c", cfg, "--once", "-l", "debug"] + list(extra),
                       capture_output=True, text=True, timeout=60)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    return r.returncode, events, r.stderr, time.monotonic() - t0


def values(events, dev):
    """A device's unlabelled measurements by point name."""
    return {e["point"]: e for e in events
            if e["device"] == dev and e["event"] == "measurement" and not e["labels"]}


def reach(events, dev):
    return [e for e in events if e["device"] == dev and e["event"] == "reachability"]


def check_map_values(events, dev, map_file):
    """Every point of the map was reported good with the map's value
    (1e-3 relative for floats, as the maps were checked)."""
    got = values(events, dev)
    for p in load_map(map_file)["points"]:
        e = got.get(p["name"])
        check(e is not None, (dev, p["name"], "no measurement"))
        check(e["quality"] == "good", (dev, p["name"], e))
        want = float(p["value"])
        check(abs(e["value"] - want) <= 1e-3 * abs(want) + 1e-9, (dev, p["name"], e, want))
