#!/usr/bin/env bash
# docs/simulator.md carries the fleet file reference exactly as
# `fieldmon-sim --reference` prints it from the key table.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
doc="$here/../../../docs/simulator.md"
if diff <("$FM_SIM" --reference | sed 1d) <(sed -n '/^## Fleet file reference/,$p' "$doc" | tail -n +5); then
    echo "ok   docs/simulator.md reference is current"
else
    echo "FAIL docs/simulator.md: regenerate its reference with fieldmon-sim --reference"
    exit 1
fi
