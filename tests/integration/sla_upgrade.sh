#!/usr/bin/env bash
# Tickets written before clocks were settled (schema 022) are migrated to the
# settled form: the migration gives each its opened time (the first
# observation) and ends the pauses that outlived a resolution; the collector's
# first round after the upgrade settles every clock of every resolved or
# closed ticket, computing deadlines that were lost to a pause, and keeps the
# open ones running.
source "$(dirname "$0")/coll_lib.sh"

mkdir -p "$T/old-schema"
for f in "$FM_SOURCE_DIR"/schema/[0-9]*.sql; do
    n=$(basename "$f")
    ((10#${n%%_*} <= 22)) && cp "$f" "$T/old-schema/"
done
coll_config "$T/old.yaml" "schema_dir: $T/old-schema"
"$FM_COLLECTOR" -c "$T/old.yaml" --migrate >/dev/null 2>&1 || fail "migrate to 22"
[[ $(q "SELECT max(version) FROM schema_migrations") == 22 ]] || fail "not at 22"

# Friday 2026-11-20 10:00 +08:00, 80 km away, grade 3 (default contract:
# response 12:00, remote 14:00, on-site Sat 10:00, resolution Thu 26 10:00).
q "INSERT INTO sites (site_id, name, distance_km) VALUES ('s80', 'S', 80)"
old_ticket() { # KEY STATE [extra columns] [extra values]
    q "INSERT INTO tickets (dedupe_key, kind, grade, site_id, title, state, first_seen, last_seen,
       opened_by, opened_at ${3:-}) VALUES ('$1', 'device', 3, 's80', 't', '$2',
       '2026-11-20 10:00+08', '2026-11-20 10:00+08', 'test', '2026-11-20 10:00:03+08' ${4:-})
       RETURNING ticket_id"
}
# A: resolved Monday 11:00 while paused since Friday 11:00 (the pause was
# left open: the old deadlines are NULL).
a=$(old_ticket a resolved ", resolved_at, cause, action_taken" \
    ", '2026-11-23 11:00+08', 'c', 'a'")
q "INSERT INTO sla_pauses (ticket_id, started_at, reason) VALUES ($a, '2026-11-20 11:00+08', 'x')"
# B: closed, acknowledged 10:20, on site Friday 20:00, resolved Friday 21:00;
# a pause resumed after the resolution (Saturday 09:00) is cut at 21:00.
b=$(old_ticket b closed ", acknowledged_at, on_site_at, resolved_at, cause, action_taken,
    closed_at, satisfaction" ", '2026-11-20 10:20+08', '2026-11-20 20:00+08',
    '2026-11-20 21:00+08', 'c', 'a', '2026-11-21 09:00+08', 5")
q "INSERT INTO sla_pauses (ticket_id, started_at, ended_at, reason) VALUES
   ($b, '2026-11-20 20:30+08', '2026-11-21 09:00+08', 'x')"
# C: still open, nothing done: its clocks keep running after the upgrade.
c=$(old_ticket c open)

coll_config "$T/c.yaml" "sla: {contracts: $FM_SOURCE_DIR/deploy/contract-default.yaml, interval: 200ms}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null 2>&1 || fail "migrate to the newest"
[[ $(q "SELECT count(*) FROM tickets WHERE opened_at = first_seen AND visit = 1
        AND recorded_at = '2026-11-20 10:00:03+08'") == 3 ]] || fail "opened_at/recorded_at"
[[ $(q "SELECT count(*) FROM sla_pauses WHERE ended_at IS NULL") == 0 ]] || fail "open pause kept"
[[ $(q "SELECT ended_at = '2026-11-20 21:00+08' FROM sla_pauses WHERE ticket_id = $b") == t ]] ||
    fail "pause after the resolution not cut"

coll_start "$T/c.yaml"
# Two settled tickets, and the open one's four deadlines long passed.
for _ in $(seq 1 100); do
    [[ $(q "SELECT count(*) FROM tickets WHERE sla_settled") == 2 &&
        $(q "SELECT count(*) FROM ticket_clocks") == 12 ]] && break
    sleep 0.1
done
[[ $(q "SELECT count(*) FROM tickets WHERE sla_settled") == 2 ]] || fail "not settled"
clocks() { q "SELECT string_agg(clock || '=' || outcome, ' ' ORDER BY clock) FROM ticket_clocks
              WHERE ticket_id = $1"; }
# A: 72 h of pause: response Mon 12:00 met by the resolution at 11:00.
[[ $(clocks "$a") == "onsite=na remote=na resolution=met response=met" ]] || fail "A: $(clocks "$a")"
[[ $(q "SELECT response_due = '2026-11-23 12:00+08' FROM tickets WHERE ticket_id = $a") == t ]] ||
    fail "A: deadline lost: $(q "SELECT response_due FROM tickets WHERE ticket_id = $a")"
# B: on site Friday 20:00, before the Saturday 10:00 deadline; remote
# support (due 14:00) never started and the resolution came at 21:00, after
# that deadline: breached.
[[ $(clocks "$b") == "onsite=met remote=breached resolution=met response=met" ]] ||
    fail "B: $(clocks "$b")"
[[ $(clocks "$c") == "onsite=breached remote=breached resolution=breached response=breached" ]] ||
    fail "C: $(clocks "$c")"
[[ $(q "SELECT sla_settled FROM tickets WHERE ticket_id = $c") == f ]] || fail "C settled while open"
coll_stop
echo "sla_upgrade: ok"
