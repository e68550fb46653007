#!/usr/bin/env bash
# fieldmonctl as a user meets it, whatever the command: one line for a
# wrong command or option, an actor required for every change, times read
# and printed in the contract's zone (published by the collector) or --tz,
# and bad times, unknown sites and reversed windows refused in the user's
# words with exit 2 or 1, never PostgreSQL's message.
source "$(dirname "$0")/coll_lib.sh"
unset FM_ACTOR


coll_config "$T/c.yaml" "sla: {contracts: $FM_SOURCE_DIR/deploy/contract-default.yaml, interval: 200ms}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null 2>&1 || fail "migrate"

expect 2 'fieldmonctl: unknown command "tickest" (fieldmonctl --help lists them)' tickest
[[ $(wc -l <"$T/err") == 1 ]] || fail "unknown command printed $(wc -l <"$T/err") lines"
expect 2 "fieldmonctl: which command? (fieldmonctl --help lists them)"
expect 2 'fieldmonctl --tz: "+25:00" is not a UTC offset like +08:00, -05:30 or UTC' --tz +25:00 tickets
expect 2 "fieldmonctl window add: who is acting? give -a NAME or set FM_ACTOR (every change is audited)" \
    window add --for 1h --reason r

# No contract published yet: times are UTC.
q "INSERT INTO sites (site_id, name, distance_km) VALUES ('hq', 'HQ', 5)"
"$FM_CTL" -a noc window add --site hq --start "2026-12-04 08:00" --for 2h --reason "inspection" \
    >/dev/null || fail "window add"
"$FM_CTL" window list --all >"$T/list" || fail "window list"
grep -q "2026-12-04T08:00:00+00:00 *2026-12-04T10:00:00+00:00" "$T/list" || fail "UTC: $(cat "$T/list")"

# The collector publishes the default contract (+08:00): the same window
# now reads 16:00-18:00, and a local time is read in +08:00.
coll_start "$T/c.yaml"
for _ in $(seq 1 100); do
    [[ $(q "SELECT count(*) FROM sla_contracts WHERE customer = 'default' AND time_zone = '+08:00'") == 1 ]] && break
    sleep 0.1
done
[[ $(q "SELECT count(*) FROM sla_contracts") == 1 ]] || fail "contract not published"
coll_stop
"$FM_CTL" window list --all >"$T/list" || fail "window list"
grep -q "2026-12-04T16:00:00+08:00 *2026-12-04T18:00:00+08:00" "$T/list" || fail "+08: $(cat "$T/list")"
"$FM_CTL" --tz -05:30 window list --all >"$T/list" || fail "window list --tz"
grep -q "2026-12-04T02:30:00-05:30" "$T/list" || fail "--tz: $(cat "$T/list")"
"$FM_CTL" -a noc window add --site hq --start 2026-12-05 --end 2026-12-05 --reason "all day" \
    >/dev/null || fail "window add for a contract day"
[[ $(q "SELECT ends_at - starts_at = interval '1 day' AND starts_at = '2026-12-05 00:00+08'
        FROM maintenance_windows WHERE reason = 'all day'") == t ]] ||
    fail "a date as --end is not the end of that contract day"

expect 2 'fieldmonctl window add: --start "2026-13-01": not a time; give a date (2026-12-04), a local time ("2026-12-04 08:00", in +08:00) or one with an offset (2026-12-04T08:00+08:00)' \
    -a noc window add --site hq --start 2026-13-01 --for 1h --reason r
expect 2 'fieldmonctl window add: the window must end after it starts (--start 2026-12-05 10:00, --end 2026-12-05 09:00)' \
    -a noc window add --site hq --start "2026-12-05 10:00" --end "2026-12-05 09:00" --reason r
expect 1 'fieldmonctl: no site "deopt" (sites are those agents report, or that a contract lists)' \
    -a noc window add --site deopt --for 1h --reason r
[[ $(q "SELECT count(*) FROM maintenance_windows") == 2 ]] || fail "a refused window was written"
echo "ctl_cli: ok"
