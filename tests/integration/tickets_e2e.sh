#!/usr/bin/env bash
# Fault grading end to end: fm-faultgen plays agents (the agent side of the
# wire contract) at a real fieldmon-collector on a real PostgreSQL and checks
# the tickets: UPS on battery rising on low battery and recording the clear,
# a killed agent's site, smoke, flapping, a maintenance window, a storm of
# unreachable devices behind a live agent, two collectors on one database,
# and a bad rules file refused by -t.
source "$(dirname "$0")/coll_lib.sh"
# coll_start reads the log right after starting the collector in the
# background; create it first so that read never races the redirection.
: >>"$T/collector.log"

# The shipped rules with a 2 s group wait, so the test does not wait 30 s.
rules="$T/rules.yaml"
sed 's/^group_wait: 30s/group_wait: 2s/' "$FM_SOURCE_DIR/deploy/rules-default.yaml" >"$rules"
grep -q '^group_wait: 2s' "$rules" || fail "could not shorten group_wait in the test rules"
faults="faults: {rules_file: \"$rules\", agent_lost_after: 1s, windows_reload: 200ms}"

# A bad rules file is refused by -t with its line and key.
printf 'rules:\n  - name: x\n    grade: 9\n' >"$T/bad-rules.yaml"
coll_config "$T/bad.yaml" "faults: {rules_file: \"$T/bad-rules.yaml\"}"
if "$FM_COLLECTOR" -c "$T/bad.yaml" -t 2>"$T/bad.log"; then fail "-t accepted a bad rules file"; fi
grep -q "bad-rules.yaml:3: rules\[0\].grade" "$T/bad.log" || fail "no line named: $(cat "$T/bad.log")"

coll_config "$T/c1.yaml" "$faults"
"$FM_COLLECTOR" -c "$T/c1.yaml" -t >/dev/null || fail "-t refused the test config"
"$FM_COLLECTOR" -c "$T/c1.yaml" --migrate >/dev/null || fail "migrate"
coll_start "$T/c1.yaml"
P1=$COLL_PORT
PID1=$COLL_PID

fg() { "$FM_FAULTGEN" --port "$P1" --group-wait-ms 2000 --lost-ms 1000 "$@" || fail "fm-faultgen $*"; }
fg ups
# A transient error never drops a batch: PostgreSQL refuses the next 20
# ticket inserts with serialization_failure, more than tickets_apply's own
# five attempts and more than the three tries after which a batch was once
# dropped. The fault writer runs the batch again until it is written (the
# smoke ticket below), and counts the runs.
retries0=$(metric faults_write_retries)
q "CREATE SEQUENCE fm_test_fail;
   CREATE FUNCTION fm_test_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
     IF nextval('fm_test_fail') <= 20 THEN
       RAISE EXCEPTION 'test: refused' USING ERRCODE = 'serialization_failure';
     END IF; RETURN NEW; END \$\$;
   CREATE TRIGGER fm_test_fail BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION fm_test_fail()"
fg smoke
[[ "$(q "SELECT last_value FROM fm_test_fail")" -gt 20 ]] || fail "the refusing trigger was not reached"
retries=$(metric faults_write_retries)
(( retries - retries0 >= 3 )) || fail "faults_write_retries went from $retries0 to $retries"
[[ "$(metric faults_write_given_up)" == 0 ]] || fail "a batch was given up"
grep -q "faults: write .* actions: .*test: refused.*; retrying" "$T/collector.log" ||
    fail "the retries are not logged"
q "DROP TRIGGER fm_test_fail ON tickets; DROP FUNCTION fm_test_fail(); DROP SEQUENCE fm_test_fail"
fg flap
fg window
fg --devices 20 dead
fg --devices 200 storm
# Batches back to back: the collector commits several in one transaction.
fg --devices 300 --burst --site fg-burst storm

# A second collector on the same database; two agents of one site, one at
# each, report the same faults at the same moment.
sed 's/^collector_id: test-collector$/collector_id: test-collector-2/' "$T/c1.yaml" >"$T/c2.yaml"
COLL_PID=""
coll_start "$T/c2.yaml"
P2=$COLL_PORT
"$FM_FAULTGEN" --port "$P1" --port2 "$P2" --devices 30 dual || fail "fm-faultgen dual"

# Every ticket the collectors opened is audited with its collector as actor.
n=$(q "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM ticket_audit a
       WHERE a.ticket_id = t.ticket_id AND a.action = 'open' AND a.actor LIKE 'collector:%')")
[[ "$n" == 0 ]] || fail "$n tickets without an open audit row"

coll_stop
COLL_PID=$PID1
coll_stop
grep -q "faults: stopped:" "$T/collector.log" || fail "no faults summary at shutdown"
echo "tickets_e2e: ok"
