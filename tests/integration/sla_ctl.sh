#!/usr/bin/env bash
# Contract clocks end to end in the real programs: fieldmon-collector with a
# contract file writes deadlines onto tickets, engages the ladder and POSTs
# the webhook to a real receiver; fieldmonctl shows deadlines and time left,
# pauses and resumes the clocks (the collector moves the deadlines), records
# remote support, and reports per grade and clock (sla_report.sh checks the
# report's arithmetic).
source "$(dirname "$0")/coll_lib.sh"
ctl() { "$FM_CTL" -a tester "$@"; }

# wait_for SQL: until the query prints t (10 s at most).
wait_for() {
    for _ in $(seq 1 100); do
        [[ $(q "$1") == t ]] && return 0
        sleep 0.1
    done
    fail "timed out waiting for: $1"
}

python3 "$FM_SOURCE_DIR/tests/lib/webhook_receiver.py" --port 0 --port-file "$T/rport" \
    --log "$T/hooks.log" &
rpid=$!
trap '[[ -n "$COLL_PID" ]] && kill -9 "$COLL_PID" 2>/dev/null; kill "$rpid" 2>/dev/null; true' EXIT
for _ in $(seq 1 100); do [[ -s "$T/rport" ]] && break; sleep 0.1; done
rport=$(cat "$T/rport")

# The shipped contract, with the field engineer's webhook pointing at the receiver.
sed "/name: field-engineer/,/webhooks:/s|webhooks: \[\]|webhooks: [\"http://127.0.0.1:$rport/fe\"]|" \
    "$FM_SOURCE_DIR/deploy/contract-default.yaml" >"$T/contract.yaml"
grep -q "127.0.0.1:$rport/fe" "$T/contract.yaml" || fail "contract webhook not set"

coll_config "$T/c.yaml" \
    "sla: {contracts: $T/contract.yaml, interval: 200ms, notify: {poll: 100ms, backoff_min: 100ms}}"
"$FM_COLLECTOR" -c "$T/c.yaml" -t >/dev/null || fail "-t refused a good config"

# A broken contract file is refused by -t with its file, line and key.
sed 's/role: emergency-team}/role: emergency-tem}/' "$T/contract.yaml" >"$T/bad.yaml"
coll_config "$T/bad.yaml.c" "sla: {contracts: $T/bad.yaml}"
if "$FM_COLLECTOR" -c "$T/bad.yaml.c" -t 2>"$T/bad.log"; then fail "-t accepted a bad contract"; fi
grep -q "bad.yaml:[0-9]*: contracts\[0\].grades\[0\].ladder\[1\].role: role \"emergency-tem\" is not listed under roles" \
    "$T/bad.log" || fail "bad contract message: $(cat "$T/bad.log")"

"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null || fail "migrate"
q "INSERT INTO sites (site_id, name, distance_km) VALUES ('site-a', 'A', 10), ('site-b', 'B', 80)"
# A UPS on battery 80 km away, 5 minutes ago (grade 3); smoke 20 minutes ago (grade 1).
open_fault() { # KEY GRADE SITE MINUTES_AGO
    q "SELECT ticket_id FROM fm_ticket_open('$1', 'device', $2::smallint, '$3', 'dev', 'code',
       'title', 'rule', false, now() - interval '$4 minutes', 'test', interval '1 hour')"
}
ups=$(open_fault ups 3 site-b 5)
smoke=$(open_fault smoke 1 site-a 20)
# A camera down for three hours that nobody answered: response (2 h) breached.
cam=$(open_fault cam 3 site-a 180)

coll_start "$T/c.yaml"
wait_for "SELECT count(*) = 3 FROM tickets WHERE response_due IS NOT NULL"
# Grade 3 at 80 km: response 2 h, remote 4 h, on-site max(24 h, 12 h) from the
# fault (clocks count whole seconds).
opened="date_trunc('second', first_seen)"
[[ $(q "SELECT response_due = $opened + interval '2 hours' AND remote_due = $opened + interval '4 hours'
        AND onsite_due = $opened + interval '24 hours' AND sla_contract = 'default'
        FROM tickets WHERE ticket_id = $ups") == t ]] || fail "grade-3 deadlines"
# Grade 1 at 10 km: on-site is the grade's 2 h.
[[ $(q "SELECT onsite_due = $opened + interval '2 hours' FROM tickets WHERE ticket_id = $smoke") == t ]] ||
    fail "grade-1 on-site deadline"

wait_for "SELECT count(*) = 1 FROM sla_breaches WHERE ticket_id = $cam AND clock = 'response'"
# The smoke ticket's 15-minute step fell due: recorded and POSTed once (the
# camera's field-engineer step and breach notice too: three POSTs in all).
wait_for "SELECT count(*) = 3 FROM notify_outbox WHERE delivered_at IS NOT NULL"
[[ $(q "SELECT role FROM ticket_escalations WHERE ticket_id = $smoke") == field-engineer ]] ||
    fail "escalation not recorded"
for key in "esc-$smoke-field-engineer" "esc-$cam-field-engineer" "breach-$cam-response-field-engineer"; do
    [[ $(grep -c "\"key\": \"fieldmon-$key-0\"" "$T/hooks.log") == 1 ]] ||
        fail "webhook $key: $(cat "$T/hooks.log")"
done
[[ $(wc -l <"$T/hooks.log") == 3 ]] || fail "webhook posted $(wc -l <"$T/hooks.log") times"

ctl deadlines >"$T/dl.out" || fail "deadlines"
grep -Eq "^ *$ups .*left 1h 5[0-9]m" "$T/dl.out" || fail "time left: $(cat "$T/dl.out")"

# Pause: deadlines are suspended, then moved by the paused time on resume.
before=$(q "SELECT extract(epoch FROM remote_due) FROM tickets WHERE ticket_id = $ups")
ctl pause "$ups" --reason "site access refused" | grep -q "ticket $ups: pause" || fail "pause"
wait_for "SELECT remote_due IS NULL FROM tickets WHERE ticket_id = $ups"
ctl deadlines | grep -q "paused.*site access refused" || fail "deadlines do not show the pause"
if ctl pause "$ups" --reason again 2>"$T/p2.err"; then fail "paused twice"; fi
grep -q "paused already" "$T/p2.err" || fail "second pause message: $(cat "$T/p2.err")"
set +e
ctl pause "$ups" 2>/dev/null
[[ $? == 2 ]] || fail "pause without a reason is a usage error"
set -e
sleep 1.2
ctl resume "$ups" >/dev/null || fail "resume"
if ctl resume "$ups" 2>/dev/null; then fail "resumed twice"; fi
wait_for "SELECT remote_due IS NOT NULL FROM tickets WHERE ticket_id = $ups"
moved=$(q "SELECT extract(epoch FROM remote_due) - $before FROM tickets WHERE ticket_id = $ups")
[[ $(q "SELECT $moved >= 1.0 AND $moved < 5") == t ]] || fail "remote deadline moved by $moved s"
[[ $(q "SELECT count(*) FROM ticket_audit WHERE action IN ('pause', 'resume') AND actor = 'tester'") == 2 ]] ||
    fail "pause/resume not audited"

# Remote support and acknowledgement in time: met.
ctl remote "$ups" >/dev/null || fail "remote"
ctl ack "$ups" >/dev/null || fail "ack"
# The camera resolved without an answer: its response clock was breached
# two hours ago and is met late by the resolution (resolving is a response);
# remote and on-site do not apply, resolution is met (the collector settles).
ctl resolve "$cam" --cause "adapter" --action "replaced the adapter" >/dev/null || fail "resolve"
wait_for "SELECT count(*) = 2 FROM ticket_clocks WHERE ticket_id = $ups AND outcome = 'met'"
wait_for "SELECT count(*) = 4 FROM ticket_clocks WHERE ticket_id = $cam"
ctl deadlines | grep -Eq "^ *$ups .* met .* met " || fail "deadlines: $(ctl deadlines)"
ctl sla --from 2000-01-01 >"$T/sla.out" || fail "sla"
for line in "^3 +response +2 +1 +1 +0 +0 +50.0 " "^3 +remote +2 +1 +0 +1 +0 +100.0 " \
    "^$cam +1 +3 +response +[0-9-]+T[0-9:]+\+[0-9:]+ +[0-9-]+T[0-9:]+\+[0-9:]+ +01:0[0-9]:[0-9]{2}$"; do
    grep -Eq "$line" "$T/sla.out" || fail "sla report lacks /$line/: $(cat "$T/sla.out")"
done
ctl --json sla --from 2000-01-01 --to 2100-01-01 >"$T/sla.json" || fail "sla --json"
python3 - "$T/sla.json" "$cam" <<'PY' || fail "sla --json: $(cat "$T/sla.json")"
import json, sys
d = json.load(open(sys.argv[1]))
g = {(x["grade"], x["clock"]): x for x in d["grades"]}
r = g[(3, "response")]
assert (r["visits"], r["met"], r["breached"], r["met_pct"]) == (2, 1, 1, 50.0), r
assert [(b["id"], b["clock"]) for b in d["breaches"]] == [(int(sys.argv[2]), "response")], d
PY
if ctl sla --from yesterday-ish 2>/dev/null; then fail "a bad --from was accepted"; fi

coll_stop
echo "sla_ctl: ok"
