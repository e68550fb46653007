#!/usr/bin/env bash
# bench/alarm-storm/restore.sh: what rebuilding a site from PostgreSQL costs
# when its agent says Hello (collector start, failover). A site of DEVICES
# devices gets HISTORY alarm transitions spread over the last year (raise
# and clear pairs, one alarm in 50 left raised) written straight into
# alarm_events; then its agent connects and the collector's log gives the
# time from the Hello to the site restored, the transitions replayed and the
# tickets the replay needed. Run 3 times; the median is printed.
#
#   bench/alarm-storm/restore.sh [HISTORY] [DEVICES]   (default 200000 500)
#
# Builds a Release tree in $FM_BUILD_DIR (default build-bench), starts a
# throwaway PostgreSQL (tests/lib/pg.sh) and fieldmon-collector. Last line:
# restore_ms=N history_rows=N devices=N transitions_replayed=N
set -euo pipefail
cd "$(dirname "$0")/../.."
history="${1:-200000}"
devices="${2:-500}"
# shellcheck source=lib.sh
source bench/alarm-storm/lib.sh
storm_start info
# The agent: says Hello with DEVICES cameras, stays a second, leaves.
fg() { "$root/$build/bench/fm-faultgen" --port "$port" --devices "$devices" --site fg-restore \
    hello >/dev/null 2>&1 || true; }
# First visit: the agent and its devices exist.
fg
psql -XAtq -v ON_ERROR_STOP=1 <<SQL
INSERT INTO alarm_events (ts, device_id, code, state, level, agent_key, epoch, seq)
SELECT now() - interval '365 days' * (1 - g::double precision / $history),
       d.device_id, 'temp_high',
       CASE WHEN g % 2 = 0 OR g % 100 = 99 THEN 'raised' ELSE 'cleared' END, 'warning',
       a.agent_key, 999, g
FROM generate_series(1, $history) g
JOIN LATERAL (SELECT device_id FROM devices dd JOIN agents aa USING (agent_id)
              WHERE aa.site_id = 'fg-restore' AND dd.name <> ''
              ORDER BY device_id OFFSET (g % $devices) LIMIT 1) d ON true
JOIN agents a ON a.site_id = 'fg-restore';
ANALYZE alarm_events;
SQL
times=()
for _ in 1 2 3; do
    n=$(grep -c "faults: site fg-restore restored in" "$dir/collector.log" || true)
    fg
    line=$(grep "faults: site fg-restore restored in" "$dir/collector.log" | sed -n "$((n + 1))p")
    times+=("$(sed -n 's/.*restored in \([0-9]*\) ms.*/\1/p' <<<"$line")")
    replayed=$(sed -n 's/.* ms: [0-9]* devices, \([0-9]*\) transitions.*/\1/p' <<<"$line")
done
echo "restore: ${times[*]} ms for $history stored transitions of $devices devices"
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
echo "restore_ms=$median history_rows=$history devices=$devices transitions_replayed=$replayed"
