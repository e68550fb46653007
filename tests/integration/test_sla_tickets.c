/* Integration test: contract clocks on real tickets (schema 010 + 020/021)
 * in a real PostgreSQL, with the shipped default contract and a clock the
 * test sets.
 *
 * Acceptance: a UPS on battery at a site 80 km away opens a grade-3 ticket
 * whose response, remote, on-site and resolution deadlines are exactly the
 * contract tables'; low battery raises it to grade 2 and the deadlines move,
 * counted from the original opening; a pause moves them again; a late
 * acknowledgement is a breach; a resolved ticket's clocks stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "contract.h"
#include "fm_log.h"
#include "migrate.h"
#include "sla_sched.h"
#include "sla_sync.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONTRACT FM_SOURCE_DIR "/deploy/contract-default.yaml"

static PGconn *db;
static int64_t test_now;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return test_now;
}

/* Local (+08:00) time in November 2026 as Unix seconds (20th = Friday). */
static int64_t nov(int day, int hour, int min)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = day, .tm_hour = hour, .tm_min = min};

    return (int64_t)timegm(&tm) - 8 * 3600;
}

static void exec_or_fail(const char *sql)
{
    PGresult *r = PQexec(db, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Friday 2026-11-20 16:00 +08:00, when the UPS went on battery. */
#define OPEN_TS 1795161600LL

__attribute__((format(printf, 1, 2))) static void execf(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    exec_or_fail(sql);
}

static long long query_ll(const char *sql)
{
    PGresult *r = PQexec(db, sql);
    long long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Deadlines stored on the ticket, as Unix seconds (-1: NULL). */
static void stored(long long id, int64_t out[SLA_KINDS])
{
    static const char *const cols[SLA_KINDS] = {"response_due", "remote_due", "onsite_due",
                                                "resolution_due"};
    char sql[256];

    for (int k = 0; k < SLA_KINDS; k++) {
        snprintf(sql, sizeof(sql),
                 "SELECT extract(epoch FROM %s)::bigint FROM tickets WHERE ticket_id = %lld",
                 cols[k], id);
        out[k] = query_ll(sql);
    }
}

static void round_at(sla_sync_t *y, int64_t now, struct sla_sync_result *res)
{
    char why[512];

    test_now = now;
    if (sla_sync_round(y, db, res, why, sizeof(why)) != 0)
        fail_msg("sync round: %s", why);
}

/* Opens (or joins, raising the grade) the ticket of a fault at ts. */
static long long fault(const char *key, int grade, const char *site, int64_t ts)
{
    char sql[1024];

    snprintf(sql, sizeof(sql),
             "SELECT ticket_id FROM fm_ticket_open('%s', 'device', %d::smallint, '%s', 'ups-1', "
             "'%s', 'UPS on battery', 'ups', false, to_timestamp(%lld), 'test', "
             "interval '1 hour')",
             key, grade, site, grade == 3 ? "on_battery" : "low_battery", (long long)ts);
    return query_ll(sql);
}

static void assert_deadlines(long long id, const int64_t want[SLA_KINDS], const char *when)
{
    int64_t got[SLA_KINDS];

    stored(id, got);
    for (int k = 0; k < SLA_KINDS; k++) {
        if (got[k] != want[k])
            fail_msg("%s: %s deadline %lld, want %lld (diff %lld s)", when, sla_kind_name(k),
                     (long long)got[k], (long long)want[k], (long long)(got[k] - want[k]));
    }
}

static void test_sla_ups_on_battery_80km_then_low_battery(void **state)
{
    struct contract_set set = {0};
    struct sla_sync_result res;
    char err[512];
    sla_sched_t *s;
    sla_sync_t *y;
    long long id;

    (void)state;
    if (contract_set_load_file(DEFAULT_CONTRACT, &set, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    s = sla_sched_create(&set, test_clock, NULL);
    y = sla_sync_create(&set, s);
    exec_or_fail("INSERT INTO sites (site_id, name, distance_km) VALUES ('site-b', 'B', 80)");

    /* Friday 16:00: UPS on battery, grade 3. */
    id = fault("site-b/ups-1/power", 3, "site-b", nov(20, 16, 0));
    round_at(y, nov(20, 16, 1), &res);
    assert_int_equal(res.opened, 1);
    const int64_t g3[SLA_KINDS] = {nov(20, 18, 0), nov(20, 20, 0), nov(21, 16, 0), nov(26, 16, 0)};
    assert_deadlines(id, g3, "grade 3 at opening");
    assert_int_equal(query_ll("SELECT count(*) FROM tickets WHERE sla_contract = 'default'"), 1);

    /* 16:20: low battery raises it to grade 2; counted from 16:00. */
    assert_int_equal(fault("site-b/ups-1/power", 2, "site-b", nov(20, 16, 20)), id);
    round_at(y, nov(20, 16, 21), &res);
    assert_int_equal(res.regraded, 1);
    const int64_t g2[SLA_KINDS] = {nov(20, 18, 0), nov(20, 18, 0), nov(21, 4, 0), nov(25, 16, 0)};
    assert_deadlines(id, g2, "grade 2 after the rise");
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM sla_grade_changes WHERE from_grade = 3 AND to_grade = 2 AND "
             "changed_at = to_timestamp(%lld) AND (before->>'remote') = '2026-11-20T12:00:00Z' "
             "AND (after->>'remote') = '2026-11-20T10:00:00Z'",
             OPEN_TS + 1200);
    assert_int_equal(query_ll(err), 1);
    /* A second round changes nothing. */
    round_at(y, nov(20, 16, 22), &res);
    assert_int_equal(res.regraded + res.opened, 0);
    assert_deadlines(id, g2, "unchanged");

    /* 16:30: paused (site access refused) until 17:30: open deadlines move
     * by the hour, resolution by the hour too (Friday is a working day). */
    execf("INSERT INTO sla_pauses (ticket_id, started_at, reason) VALUES "
          "(%lld, to_timestamp(%lld), 'site access refused')",
          id, OPEN_TS + 1800);
    round_at(y, nov(20, 17, 0), &res);
    const int64_t paused[SLA_KINDS] = {-1, -1, -1, -1};
    assert_deadlines(id, paused, "while paused");
    execf("UPDATE sla_pauses SET ended_at = to_timestamp(%lld) WHERE ticket_id = %lld",
          OPEN_TS + 5400, id);
    round_at(y, nov(20, 17, 31), &res);
    const int64_t resumed[SLA_KINDS] = {nov(20, 19, 0), nov(20, 19, 0), nov(21, 5, 0),
                                        nov(25, 17, 0)};
    assert_deadlines(id, resumed, "after the pause");

    /* Acknowledged at 19:30, after the 19:00 response deadline: breached.
     * The breach is seen at the first round after the deadline. */
    round_at(y, nov(20, 19, 0), &res);
    assert_int_equal(query_ll("SELECT count(*) FROM sla_breaches"), 0);
    execf("UPDATE tickets SET state = 'acknowledged', acknowledged_at = to_timestamp(%lld), "
          "acknowledged_by = 'noc' WHERE ticket_id = %lld",
          OPEN_TS + 12600, id);
    round_at(y, nov(20, 19, 31), &res);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM sla_breaches WHERE clock = 'response' AND grade = 2 AND "
             "deadline = to_timestamp(%lld)",
             OPEN_TS + 10800);
    assert_int_equal(query_ll(err), 1);
    /* Remote (19:00) was not met either. */
    assert_int_equal(query_ll("SELECT count(*) FROM sla_breaches WHERE clock = 'remote'"), 1);
    /* The ladder engaged the field engineer (15 min), emergency team (45)
     * and customer manager (60 min), counted with the pause. */
    assert_int_equal(query_ll("SELECT count(*) FROM ticket_escalations"), 3);
    assert_int_equal(query_ll("SELECT extract(epoch FROM due_at)::bigint FROM ticket_escalations "
                              "WHERE role = 'customer-manager'"),
                     nov(20, 18, 0));

    /* Resolved on site in time: clocks finish, no further breach. */
    execf("UPDATE tickets SET state = 'resolved', on_site_at = to_timestamp(%lld), "
          "resolved_at = to_timestamp(%lld), cause = 'mains', action_taken = 'restored' "
          "WHERE ticket_id = %lld",
          OPEN_TS + 14400, OPEN_TS + 18000, id);
    round_at(y, nov(20, 21, 1), &res);
    assert_int_equal(res.finished, 1);
    assert_int_equal(sla_sched_count(s), 0);
    assert_int_equal(query_ll("SELECT count(*) FROM sla_breaches"), 2);

    sla_sync_destroy(y);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

static void test_sla_ticket_without_contract_gets_no_deadlines(void **state)
{
    const char *text = "contracts:\n  - customer: acme\n    sites: [site-a]\n"
                       "    grades: [{grade: 1, response: 30m}]\n";
    struct contract_set set = {0};
    struct sla_sync_result res;
    char err[256];
    sla_sched_t *s;
    sla_sync_t *y;
    long long other, covered;

    (void)state;
    assert_int_equal(contract_set_load_string("c.yaml", text, strlen(text), &set, err, sizeof(err)),
                     0);
    s = sla_sched_create(&set, test_clock, NULL);
    y = sla_sync_create(&set, s);
    other = fault("site-z/ups-1/power", 3, "site-z", nov(20, 10, 0));
    covered = fault("site-a/ups-1/fire", 1, "site-a", nov(20, 10, 0));
    round_at(y, nov(20, 10, 1), &res);
    assert_int_equal(res.opened, 1);
    const int64_t none[SLA_KINDS] = {-1, -1, -1, -1};
    assert_deadlines(other, none, "site without contract");
    const int64_t acme[SLA_KINDS] = {nov(20, 10, 30), -1, -1, -1};
    assert_deadlines(covered, acme, "site under acme");
    /* When it ends, its clocks settle as not applicable, with the reason. */
    execf("UPDATE tickets SET state = 'resolved', resolved_at = to_timestamp(%lld), cause = 'c', "
          "action_taken = 'a' WHERE ticket_id = %lld",
          (long long)nov(20, 11, 0), other);
    round_at(y, nov(20, 11, 1), &res);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM tickets WHERE ticket_id = %lld AND sla_settled", other);
    assert_int_equal(query_ll(err), 1);
    assert_int_equal(query_ll("SELECT count(*) FROM ticket_clocks WHERE outcome = 'na' AND "
                              "reason = 'no contract covers site \"site-z\"'"),
                     4);
    sla_sync_destroy(y);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

/* Outcome and reason of one settled clock ("" if none). */
static void clock_row(long long id, int visit, const char *clock, char *out, size_t len)
{
    char sql[256];
    PGresult *r;

    snprintf(sql, sizeof(sql),
             "SELECT outcome || ': ' || reason FROM ticket_clocks WHERE ticket_id = %lld AND "
             "visit = %d AND clock = '%s'",
             id, visit, clock);
    r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    snprintf(out, len, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

static void assert_clocks(long long id, int visit, const char *const want[SLA_KINDS])
{
    char got[160];

    for (int k = 0; k < SLA_KINDS; k++) {
        clock_row(id, visit, sla_kind_name(k), got, sizeof(got));
        if (strcmp(got, want[k]) != 0)
            fail_msg("ticket %lld visit %d %s: \"%s\", want \"%s\"", id, visit, sla_kind_name(k),
                     got, want[k]);
    }
}

/* Settling through the database: a ticket resolved while paused, never seen
 * open by the scheduler, keeps its deadlines and settles every clock; a
 * fault that recurs after resolution starts a second visit with clocks of
 * its own while the first visit's stay; a dispatch engages the field
 * engineer so the ladder does not page him. */
static void test_sla_clocks_settle_in_the_database(void **state)
{
    struct contract_set set = {0};
    struct sla_sync_result res;
    char err[512];
    sla_sched_t *s;
    sla_sync_t *y;
    long long a, b, c, d, e;

    (void)state;
    if (contract_set_load_file(DEFAULT_CONTRACT, &set, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    s = sla_sched_create(&set, test_clock, NULL);
    y = sla_sync_create(&set, s);
    exec_or_fail("INSERT INTO sites (site_id, name, distance_km) VALUES ('site-c', 'C', 80)");

    /* A: grade 3 Friday 10:00, paused 11:00, resolved Monday 11:00 while
     * paused (the resolve ends the pause), all before any round. */
    a = fault("site-c/ups-1/a", 3, "site-c", nov(20, 10, 0));
    execf("INSERT INTO sla_pauses (ticket_id, started_at, ended_at, reason) VALUES (%lld, "
          "to_timestamp(%lld), to_timestamp(%lld), 'site access refused')",
          a, (long long)nov(20, 11, 0), (long long)nov(23, 11, 0));
    execf("UPDATE tickets SET state = 'resolved', resolved_at = to_timestamp(%lld), cause = 'c', "
          "action_taken = 'a' WHERE ticket_id = %lld",
          (long long)nov(23, 11, 0), a);
    round_at(y, nov(30, 0, 0), &res);
    /* 72 h of pause: response Mon 12:00, remote Mon 14:00, on-site Tue 10:00,
     * resolution Fri 27 10:00 (4 working days + Fri 11-24 and Mon 0-11). */
    const int64_t da[SLA_KINDS] = {nov(23, 12, 0), nov(23, 14, 0), nov(24, 10, 0), nov(27, 10, 0)};
    assert_deadlines(a, da, "resolved while paused");
    const char *const wa[SLA_KINDS] = {
        "met: resolved", "na: resolved without remote support; remote does not apply",
        "na: resolved remotely; on-site does not apply", "met: resolved"};
    assert_clocks(a, 1, wa);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM tickets WHERE ticket_id = %lld AND sla_settled", a);
    assert_int_equal(query_ll(err), 1);
    assert_null(sla_sched_clock(s, a));

    /* B: grade 3 Tuesday 10:00, acknowledged 10:10, resolved 10:30; the
     * fault recurs 10:50 (within reopen_within): visit 2 from 10:50. */
    b = fault("site-c/cam-1/b", 3, "site-c", nov(24, 10, 0));
    round_at(y, nov(24, 10, 1), &res);
    execf("UPDATE tickets SET state = 'resolved', acknowledged_at = to_timestamp(%lld), "
          "resolved_at = to_timestamp(%lld), cause = 'c', action_taken = 'a' "
          "WHERE ticket_id = %lld",
          (long long)nov(24, 10, 10), (long long)nov(24, 10, 30), b);
    round_at(y, nov(24, 10, 31), &res);
    const char *const wb1[SLA_KINDS] = {
        "met: responded", "na: resolved without remote support; remote does not apply",
        "na: resolved remotely; on-site does not apply", "met: resolved"};
    assert_clocks(b, 1, wb1);
    assert_int_equal(fault("site-c/cam-1/b", 3, "site-c", nov(24, 10, 50)), b);
    assert_int_equal(query_ll("SELECT visit FROM tickets WHERE dedupe_key = 'site-c/cam-1/b'"), 2);
    round_at(y, nov(24, 10, 51), &res);
    const int64_t db2[SLA_KINDS] = {nov(24, 12, 50), nov(24, 14, 50), nov(25, 10, 50),
                                    nov(30, 10, 50)};
    assert_deadlines(b, db2, "second visit");
    round_at(y, nov(24, 13, 0), &res);
    const char *const wb2[SLA_KINDS] = {"breached: deadline passed", "", "", ""};
    assert_clocks(b, 2, wb2);
    assert_clocks(b, 1, wb1);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM ticket_visits WHERE ticket_id = %lld AND visit = 1 AND "
             "acknowledged_at = to_timestamp(%lld) AND reopen_reason = 'fault recurred'",
             b, (long long)nov(24, 10, 10));
    assert_int_equal(query_ll(err), 1);
    assert_int_equal(query_ll("SELECT count(*) FROM ticket_visits"), 1);
    assert_int_equal(query_ll("SELECT count(*) FROM sla_breaches WHERE visit = 2"), 1);

    /* D: resolved and recurred between two rounds: the first visit, archived
     * before the scheduler saw its end, is settled from ticket_visits. */
    d = fault("site-c/ups-2/d", 3, "site-c", nov(26, 10, 0));
    round_at(y, nov(26, 10, 1), &res);
    execf("UPDATE tickets SET state = 'resolved', acknowledged_at = to_timestamp(%lld), "
          "resolved_at = to_timestamp(%lld), cause = 'c', action_taken = 'a' "
          "WHERE ticket_id = %lld",
          (long long)nov(26, 10, 5), (long long)nov(26, 10, 20), d);
    assert_int_equal(fault("site-c/ups-2/d", 3, "site-c", nov(26, 10, 30)), d);
    round_at(y, nov(26, 10, 31), &res);
    assert_clocks(d, 1, wb1);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM ticket_visits WHERE ticket_id = %lld AND sla_settled", d);
    assert_int_equal(query_ll(err), 1);
    assert_int_equal(sla_sched_visit(s, d), 2);
    assert_int_equal(sla_sched_clock(s, d)->opened_at, nov(26, 10, 30));

    /* E: a ticket entered after the fact: the scheduler sees it before its
     * acknowledgement is recorded and finds the response deadline passed;
     * the acknowledgement, recorded with its real time (10:20, within the
     * 12:00 deadline), settles it again as met. A late one stays breached. */
    e = fault("site-c/ups-3/e", 3, "site-c", nov(27, 10, 0));
    round_at(y, nov(28, 0, 0), &res);
    const char *const we1[SLA_KINDS] = {"breached: deadline passed", "breached: deadline passed",
                                        "", ""};
    assert_clocks(e, 1, we1);
    execf("UPDATE tickets SET state = 'acknowledged', acknowledged_at = to_timestamp(%lld), "
          "remote_started_at = to_timestamp(%lld) WHERE ticket_id = %lld",
          (long long)nov(27, 10, 20), (long long)nov(27, 15, 0), e);
    round_at(y, nov(28, 0, 1), &res);
    const char *const we2[SLA_KINDS] = {
        "met: responded", "breached: remote support began after the deadline", "", ""};
    assert_clocks(e, 1, we2);

    /* C: grade 1 Wednesday 10:00, dispatched to "team north" 10:05: the
     * field engineer counts as engaged (engaged_by: dispatch); the
     * emergency team's 30-minute step fires as usual. */
    c = fault("site-c/smoke-1/c", 1, "site-c", nov(25, 10, 0));
    round_at(y, nov(25, 10, 1), &res);
    execf("UPDATE tickets SET state = 'dispatched', acknowledged_at = to_timestamp(%lld), "
          "dispatched_at = to_timestamp(%lld), dispatched_to = 'team north' "
          "WHERE ticket_id = %lld",
          (long long)nov(25, 10, 5), (long long)nov(25, 10, 5), c);
    round_at(y, nov(25, 10, 31), &res);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM ticket_escalations WHERE ticket_id = %lld AND role = "
             "'field-engineer' AND engaged_by = 'dispatch' AND fired_at = to_timestamp(%lld)",
             c, (long long)nov(25, 10, 5));
    assert_int_equal(query_ll(err), 1);
    snprintf(err, sizeof(err),
             "SELECT count(*) FROM ticket_escalations WHERE ticket_id = %lld AND role = "
             "'emergency-team' AND engaged_by IS NULL",
             c);
    assert_int_equal(query_ll(err), 1);

    sla_sync_destroy(y);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

static int setup(void **state)
{
    char why[512];
    int applied;

    (void)state;
    fm_log_init("test_sla_tickets", 2);
    db = PQconnectdb(getenv("FM_PG_DSN") ? getenv("FM_PG_DSN") : "");
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(db));
        return -1;
    }
    if (migrate_apply(db, FM_SCHEMA_DIR, &applied, why, sizeof(why)) != 0) {
        fprintf(stderr, "migrate: %s\n", why);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(db);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sla_ups_on_battery_80km_then_low_battery),
        cmocka_unit_test(test_sla_ticket_without_contract_gets_no_deadlines),
        cmocka_unit_test(test_sla_clocks_settle_in_the_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
