#!/usr/bin/env bash
# bench/alarm-storm: behind one agent that keeps talking, all 500 devices of
# a site become unreachable within one second (their switch died). Measures
# the time from the last reachability event sent (loopback: received) to
# the site ticket committed in PostgreSQL, and counts the tickets opened for
# the site after the group wait has passed: exactly one site ticket with
# all devices attached, nothing per device.
#
#   bench/alarm-storm/run.sh [DEVICES]      (default 500)
#
# Builds with cmake into $FM_BUILD_DIR (default build-bench, Release), starts
# a throwaway PostgreSQL (tests/lib/pg.sh) and a fieldmon-collector on a free
# port, and drives it with fm-faultgen. The rules are the shipped defaults
# with group_wait 3s instead of 30s, so the run proves "nothing per device"
# in seconds. Last line: site_ticket_s=N tickets_opened=N
set -euo pipefail
cd "$(dirname "$0")/../.."
devices="${1:-500}"
# shellcheck source=lib.sh
source bench/alarm-storm/lib.sh
rules="$build/alarm-storm-rules.yaml"
sed 's/^group_wait: 30s/group_wait: 3s/' deploy/rules-default.yaml >"$rules"
storm_start notice "faults: {rules_file: \"$rules\"}"
echo "alarm-storm: $devices devices, collector on port $port, group_wait 3s"
"$root/$build/bench/fm-faultgen" --port "$port" --devices "$devices" --group-wait-ms 3000 storm
