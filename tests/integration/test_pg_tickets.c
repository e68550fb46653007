/* Integration test against a real PostgreSQL (tests/lib/with-pg.sh): the
 * correlation engine's actions applied by the ticket store, the acceptance
 * cases of grading and correlation at the database, operator steps with
 * their audit rows, and two writers racing on one database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "migrate.h"
#include "tickets.h"
#include "tickets_ops.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RULES FM_SOURCE_DIR "/deploy/rules-default.yaml"

static PGconn *connect_db(void)
{
    PGconn *c = PQconnectdb("dbname=fieldmon");

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static char *q1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s (%d rows)", sql, PQresultErrorMessage(r), PQntuples(r));
    v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

#define ASSERT_Q(c, sql, want)                                                                     \
    do {                                                                                           \
        char *v_ = q1((c), (sql));                                                                 \
        if (strcmp(v_, (want)) != 0)                                                               \
            fail_msg("%s: got '%s', want '%s'", (sql), v_, (want));                                \
        free(v_);                                                                                  \
    } while (0)

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One engine + batch + connection, like one collector. */
struct fx {
    struct rules_conf rules;
    tickets_batch_t *batch;
    corr_t *e;
    PGconn *c;
    struct tickets_result res;
};

static int setup(void **state)
{
    static int migrated;
    struct fx *f = calloc(1, sizeof(*f));
    char why[512];

    f->c = connect_db();
    if (!migrated) {
        if (migrate_apply(f->c, FM_SCHEMA_DIR, NULL, why, sizeof(why)) != 0)
            fail_msg("migrate: %s", why);
        migrated = 1;
    }
    exec_ok(f->c, "SET client_min_messages = warning");
    exec_ok(f->c, "TRUNCATE tickets, maintenance_windows, suppressed_alarms, ticket_audit"
                  " RESTART IDENTITY CASCADE");
    if (rules_load_file(DEFAULT_RULES, &f->rules, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    f->batch = tickets_batch_create();
    f->e = corr_create(&f->rules, tickets_batch_cb, f->batch);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    corr_destroy(f->e);
    tickets_batch_destroy(f->batch);
    rules_free(&f->rules);
    PQfinish(f->c);
    free(f);
    return 0;
}

static void flush(struct fx *f)
{
    char why[512];

    if (tickets_apply(f->c, f->batch, "collector:test", f->rules.reopen_within_ms, &f->res, why,
                      sizeof(why)) != 0)
        fail_msg("apply: %s", why);
    tickets_batch_clear(f->batch);
}

static void test_ups_on_battery_then_low_battery_one_ticket_rising_to_grade_2(void **state)
{
    struct fx *f = *state;
    int64_t t = now_ms();
    const struct corr_device_info ups = {"ups1", "ups", NULL, NULL, 0};

    corr_inventory(f->e, "s1", &ups, 1, t);
    corr_alarm(f->e, "s1", "ups1", "ups_on_battery", NULL, true, t, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || min(grade) || ':' || min(kind) FROM tickets",
             "1:3:root");
    corr_alarm(f->e, "s1", "ups1", "ups_low_battery", NULL, true, t + 60000, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || min(grade) FROM tickets", "1:2");
    ASSERT_Q(f->c,
             "SELECT string_agg(coalesce(old_grade::text, '-') || '>' || new_grade, ','"
             " ORDER BY ts) FROM ticket_grades",
             "->3,3>2");
    ASSERT_Q(f->c, "SELECT count(*) FROM ticket_audit WHERE action = 'grade'", "1");
    corr_alarm(f->e, "s1", "ups1", "ups_low_battery", NULL, false, t + 70000, 0);
    corr_alarm(f->e, "s1", "ups1", "ups_on_battery", NULL, false, t + 80000, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT (cleared_at IS NOT NULL)::text || ':' || state FROM tickets",
             "true:open");
    ASSERT_Q(f->c, "SELECT string_agg(code || '/' || state, ',' ORDER BY ts) FROM ticket_alarms",
             "ups_on_battery/raised,ups_low_battery/raised,ups_low_battery/cleared,"
             "ups_on_battery/cleared");
}

static void test_site_dead_is_one_grade_2_ticket_with_devices_attached(void **state)
{
    struct fx *f = *state;
    struct corr_device_info devs[50];
    char names[50][16];
    int64_t t = now_ms();

    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof(names[i]), "cam%02d", i);
        devs[i] = (struct corr_device_info){names[i], "camera", NULL, NULL, 0};
    }
    corr_inventory(f->e, "s7", devs, 50, t);
    for (int i = 0; i < 50; i++)
        corr_reach(f->e, "s7", names[i], false, t + i * 10);
    flush(f);
    corr_tick(f->e, t + 60000);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || min(kind) || ':' || min(grade) FROM tickets",
             "1:site:2");
    ASSERT_Q(f->c, "SELECT count(*) FROM ticket_devices WHERE detached_at IS NULL", "50");

    /* Agent lost at another site: one more site ticket with its devices. */
    corr_inventory(f->e, "s8", devs, 3, t);
    corr_agent(f->e, "s8", true, t + 1000);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) FROM tickets WHERE dedupe_key = 'site:s8' AND grade = 2", "1");
    ASSERT_Q(f->c,
             "SELECT count(*) FROM ticket_devices d JOIN tickets t USING (ticket_id)"
             " WHERE t.dedupe_key = 'site:s8'",
             "3");
}

static void test_smoke_opens_grade_1_ticket(void **state)
{
    struct fx *f = *state;

    corr_alarm(f->e, "s1", "env1", "smoke", "smoke", true, now_ms(), 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT grade || ':' || title FROM tickets", "1:s1/env1: smoke");
}

static void test_flapping_temperature_is_one_ticket_marked_flapping(void **state)
{
    struct fx *f = *state;
    int64_t t = now_ms();

    for (int i = 0; i < 12; i++) {
        corr_alarm(f->e, "s1", "env1", "temp_high", "temperature", i % 2 == 0, t + i * 1000, 0);
        flush(f);
    }
    ASSERT_Q(f->c, "SELECT count(*) || ':' || bool_and(flapping) FROM tickets", "1:true");
    ASSERT_Q(f->c, "SELECT count(*) FROM ticket_alarms", "7");
}

static void test_alarm_inside_maintenance_window_is_recorded_without_ticket(void **state)
{
    struct fx *f = *state;
    struct corr_window *w;
    size_t n;
    long long id;
    char why[512];
    int64_t t = now_ms();

    assert_int_equal(tickets_window_add(f->c, "alice", "s1", "cam*", t - 1000, t + 3600000,
                                        "quarterly inspection", &id, why, sizeof(why)),
                     0);
    assert_int_equal(tickets_load_windows(f->c, &w, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 1);
    corr_set_windows(f->e, w, n, t);
    tickets_windows_free(w, n);
    corr_reach(f->e, "s1", "cam1", false, t);
    corr_tick(f->e, t + 60000);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) FROM tickets", "0");
    ASSERT_Q(f->c, "SELECT window_id || ':' || device || ':' || code FROM suppressed_alarms",
             "1:cam1:unreachable");
    ASSERT_Q(f->c, "SELECT actor || ':' || action FROM ticket_audit", "alice:window_add");

    /* Cancelled, the window no longer loads; the alarm then counts. */
    assert_int_equal(tickets_window_cancel(f->c, "alice", id, why, sizeof(why)), 0);
    assert_int_equal(tickets_window_cancel(f->c, "alice", id, why, sizeof(why)), -ENOENT);
    assert_int_equal(tickets_load_windows(f->c, &w, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 0);
    corr_set_windows(f->e, w, n, t + 61000);
    corr_tick(f->e, t + 91000);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || min(dedupe_key) FROM tickets",
             "1:device:s1/cam1/unreachable");
    /* A window that ends before it starts is refused. */
    assert_int_equal(
        tickets_window_add(f->c, "alice", "s1", NULL, t, t, "x", &id, why, sizeof(why)), -EINVAL);
}

static void test_operator_steps_are_checked_and_audited(void **state)
{
    struct fx *f = *state;
    struct tickets_op op = {.actor = "bob"};
    char why[512];

    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, now_ms(), 0);
    flush(f);
    op.ticket_id = 1;
    /* Close before resolve: refused with the state named. */
    op.satisfaction = 5;
    assert_int_equal(tickets_step(f->c, TICKETS_CLOSE, &op, why, sizeof(why)), -EPERM);
    assert_string_equal(why, "ticket 1 is open: cannot close it");
    assert_int_equal(tickets_step(f->c, TICKETS_ACK, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_ACK, &op, why, sizeof(why)), -EPERM);
    assert_int_equal(tickets_step(f->c, TICKETS_DISPATCH, &op, why, sizeof(why)), -EINVAL);
    op.dispatched_to = "team-north";
    assert_int_equal(tickets_step(f->c, TICKETS_DISPATCH, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_ON_SITE, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_RESOLVE, &op, why, sizeof(why)), -EINVAL);
    op.cause = "detector dusty";
    op.action = "cleaned detector, tested loop";
    op.prevention = "quarterly cleaning";
    assert_int_equal(tickets_step(f->c, TICKETS_RESOLVE, &op, why, sizeof(why)), 0);
    op.satisfaction = 6;
    assert_int_equal(tickets_step(f->c, TICKETS_CLOSE, &op, why, sizeof(why)), -EINVAL);
    op.satisfaction = 4;
    op.confirmed = true;
    op.confirmed_by = "customer duty officer";
    assert_int_equal(tickets_step(f->c, TICKETS_CLOSE, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT state || ':' || satisfaction || ':' || customer_confirmed || ':' ||"
             " dispatched_to || ':' || cause FROM tickets",
             "closed:4:true:team-north:detector dusty");
    ASSERT_Q(f->c,
             "SELECT string_agg(actor || '/' || action, ',' ORDER BY audit_id) FROM ticket_audit",
             "collector:test/open,bob/acknowledge,bob/dispatch,bob/on-site,bob/resolve,bob/close");
    ASSERT_Q(f->c, "SELECT detail->>'cause' FROM ticket_audit WHERE action = 'resolve'",
             "detector dusty");
    op.ticket_id = 99;
    assert_int_equal(tickets_step(f->c, TICKETS_ACK, &op, why, sizeof(why)), -ENOENT);
    op.actor = "";
    assert_int_equal(tickets_step(f->c, TICKETS_ACK, &op, why, sizeof(why)), -EINVAL);
}

static void test_recurrence_after_resolution_reopens_within_the_limit(void **state)
{
    struct fx *f = *state;
    struct tickets_op op = {.actor = "bob", .ticket_id = 1, .cause = "c", .action = "a"};
    char why[512];
    int64_t t = now_ms();

    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, t, 0);
    corr_alarm(f->e, "s1", "env1", "smoke", NULL, false, t + 1000, 0);
    flush(f);
    assert_int_equal(tickets_step(f->c, TICKETS_RESOLVE, &op, why, sizeof(why)), 0);
    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, t + 2000, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || min(state) || ':' || min(reopen_count) FROM tickets",
             "1:open:1");
    ASSERT_Q(f->c, "SELECT count(*) FROM ticket_audit WHERE action = 'reopen'", "1");

    /* Resolved long ago (beyond reopen_within): a new ticket. */
    corr_alarm(f->e, "s1", "env1", "smoke", NULL, false, t + 3000, 0);
    flush(f);
    assert_int_equal(tickets_step(f->c, TICKETS_RESOLVE, &op, why, sizeof(why)), 0);
    exec_ok(f->c, "UPDATE tickets SET resolved_at = now() - interval '2 days'");
    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, t + 4000, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT string_agg(ticket_id || state, ',' ORDER BY ticket_id) FROM tickets",
             "1resolved,2open");
    /* The customer is not satisfied, but the fault has a newer open ticket. */
    op.reason = "customer not satisfied";
    assert_int_equal(tickets_step(f->c, TICKETS_REOPEN, &op, why, sizeof(why)), -EEXIST);
    assert_string_equal(why, "the fault already has open ticket 2: work on that one");
}

static void test_manual_ticket_is_opened_and_audited(void **state)
{
    struct fx *f = *state;
    struct tickets_manual m = {.actor = "carol",
                               .grade = 4,
                               .site = "s1",
                               .title = "customer asks for a config change",
                               .caller = "duty officer Zhang",
                               .contact = "+86 10 5555 0100",
                               .description = "wants the camera recording schedule changed"};
    long long id = 0;
    char why[512];

    exec_ok(f->c, "INSERT INTO sites (site_id) VALUES ('s1') ON CONFLICT DO NOTHING");
    exec_ok(f->c, "SELECT 1");
    m.reported_at = (double)(now_ms() / 1000 - 3600);
    assert_int_equal(tickets_open_manual(f->c, &m, &id, why, sizeof(why)), 0);
    assert_true(id > 0);
    ASSERT_Q(f->c,
             "SELECT kind || ':' || grade || ':' || opened_by || ':' || caller || ':' || "
             "(now() - opened_at > interval '59 minutes') || ':' || (opened_at = first_seen) FROM "
             "tickets",
             "manual:4:carol:duty officer Zhang:true:true");
    m.grade = 5;
    assert_int_equal(tickets_open_manual(f->c, &m, &id, why, sizeof(why)), -EINVAL);
    m.grade = 3;
    m.site = "deopt";
    assert_int_equal(tickets_open_manual(f->c, &m, &id, why, sizeof(why)), -ENOENT);
    assert_string_equal(why, "no site \"deopt\" (sites are those agents report, or that a contract "
                             "lists)");
    m.site = "s1";
    m.reported_at = (double)(now_ms() / 1000 + 3600);
    assert_int_equal(tickets_open_manual(f->c, &m, &id, why, sizeof(why)), -ERANGE);
}

/* The workflow beyond the plain steps: times recorded after the fact and
 * their checks, notes, pauses ended by the resolution, regrades, reopening
 * as a new visit with the first visit kept, cancelling, duplicates merging
 * alarms, archiving. */
static void test_workflow_visits_and_closing_without_repair(void **state)
{
    struct fx *f = *state;
    struct tickets_op op = {.actor = "bob", .ticket_id = 1};
    double t0 = (double)(now_ms() / 1000) - 7200; /* the fault, two hours ago */
    char why[512];

    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, (int64_t)t0 * 1000, 0);
    corr_alarm(f->e, "s1", "env2", "smoke", NULL, true, (int64_t)t0 * 1000, 0);
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) FROM tickets", "2");
    /* Acknowledged 10 minutes after the fault, recorded now. */
    op.at = t0 + 600;
    assert_int_equal(tickets_step(f->c, TICKETS_ACK, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT (acknowledged_at = to_timestamp(extract(epoch FROM first_seen)::bigint + 600))"
             " FROM tickets WHERE ticket_id = 1",
             "t");
    ASSERT_Q(f->c, "SELECT (detail ? 'at') FROM ticket_audit WHERE action = 'acknowledge'", "t");
    /* Dispatched before it was acknowledged, or in the future: refused. */
    op.dispatched_to = "field-engineer";
    op.at = t0 + 300;
    assert_int_equal(tickets_step(f->c, TICKETS_DISPATCH, &op, why, sizeof(why)), -ERANGE);
    assert_non_null(strstr(why, "is before it was acknowledged"));
    op.at = t0 + 10 * 3600;
    assert_int_equal(tickets_step(f->c, TICKETS_DISPATCH, &op, why, sizeof(why)), -ERANGE);
    assert_non_null(strstr(why, "is in the future"));
    /* A note changes nothing but the record. */
    op.at = 0;
    op.note = "called the site, guard on the way";
    assert_int_equal(tickets_step(f->c, TICKETS_NOTE, &op, why, sizeof(why)), 0);
    op.note = NULL;
    ASSERT_Q(f->c, "SELECT state FROM tickets WHERE ticket_id = 1", "acknowledged");
    /* Paused, regraded, resolved while paused: the pause ends at the resolution. */
    op.reason = "site access refused";
    op.at = t0 + 1200;
    assert_int_equal(tickets_step(f->c, TICKETS_PAUSE, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_PAUSE, &op, why, sizeof(why)), -EPERM);
    op.grade = 1;
    op.reason = "fire brigade called";
    assert_int_equal(tickets_step(f->c, TICKETS_REGRADE, &op, why, sizeof(why)), -EPERM);
    assert_string_equal(why, "ticket 1 is grade 1 already");
    op.grade = 2;
    op.reason = "steam from the kettle, no fire";
    op.at = t0 + 1300;
    assert_int_equal(tickets_step(f->c, TICKETS_REGRADE, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT grade || ':' || (SELECT string_agg(coalesce(old_grade::text, '-') || '>' || "
             "new_grade || '/' || actor, ',' ORDER BY ts) FROM ticket_grades WHERE ticket_id = 1) "
             "FROM tickets WHERE ticket_id = 1",
             "2:->1/collector:test,1>2/bob");
    op.cause = "dust";
    op.action = "cleaned";
    op.at = t0 + 1800;
    assert_int_equal(tickets_step(f->c, TICKETS_RESOLVE, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT count(*) FROM sla_pauses WHERE ticket_id = 1 AND ended_at = "
             "(SELECT resolved_at FROM tickets WHERE ticket_id = 1)",
             "1");
    assert_int_equal(tickets_step(f->c, TICKETS_RESUME, &op, why, sizeof(why)), -EPERM);
    /* Reopened: visit 2 acknowledged by the reopening; visit 1 kept. */
    op.reason = "alarm again after the visit";
    op.at = 0;
    assert_int_equal(tickets_step(f->c, TICKETS_REOPEN, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT t.visit || ':' || t.state || ':' || (t.resolved_at IS NULL) || ':' || "
             "v.cause || ':' || (v.acknowledged_at = to_timestamp(extract(epoch FROM "
             "t.first_seen)::bigint + 600)) || ':' || v.reopen_reason FROM tickets t JOIN "
             "ticket_visits v USING (ticket_id) WHERE t.ticket_id = 1",
             "2:acknowledged:true:dust:true:alarm again after the visit");
    /* Cancelled: closed without repair; cannot be cancelled twice. */
    op.reason = "customer withdrew the request";
    assert_int_equal(tickets_step(f->c, TICKETS_CANCEL, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_CANCEL, &op, why, sizeof(why)), -EPERM);
    ASSERT_Q(f->c, "SELECT state || ':' || closed_as FROM tickets WHERE ticket_id = 1",
             "closed:cancelled");
    /* The second smoke ticket duplicates ticket 1? Not a cancelled one. */
    op.ticket_id = 2;
    op.other = 1;
    assert_int_equal(tickets_step(f->c, TICKETS_DUPLICATE, &op, why, sizeof(why)), -EPERM);
    op.other = 2;
    assert_int_equal(tickets_step(f->c, TICKETS_DUPLICATE, &op, why, sizeof(why)), -EINVAL);
    /* Ticket 1 reopened (within the period) and the second merged into it. */
    op.ticket_id = 1;
    op.reason = "cancelled by mistake";
    assert_int_equal(tickets_step(f->c, TICKETS_REOPEN, &op, why, sizeof(why)), 0);
    op.ticket_id = 2;
    op.other = 1;
    assert_int_equal(tickets_step(f->c, TICKETS_DUPLICATE, &op, why, sizeof(why)), 0);
    ASSERT_Q(f->c,
             "SELECT string_agg(device || '/' || code, ',' ORDER BY device) FROM ticket_alarms "
             "WHERE ticket_id = 1",
             "env1/smoke,env2/smoke");
    ASSERT_Q(f->c, "SELECT closed_as || ':' || duplicate_of FROM tickets WHERE ticket_id = 2",
             "duplicate:1");
    /* Archived: only closed tickets; once. */
    assert_int_equal(tickets_step(f->c, TICKETS_ARCHIVE, &op, why, sizeof(why)), 0);
    assert_int_equal(tickets_step(f->c, TICKETS_ARCHIVE, &op, why, sizeof(why)), -EPERM);
    op.ticket_id = 1;
    assert_int_equal(tickets_step(f->c, TICKETS_ARCHIVE, &op, why, sizeof(why)), -EPERM);
    ASSERT_Q(f->c,
             "SELECT string_agg(action, ',' ORDER BY audit_id) FROM ticket_audit WHERE actor = "
             "'bob'",
             "acknowledge,note,pause,grade,resolve,reopen,cancel,reopen,merge,duplicate,archive");
}

/* Two collectors on one database receive the same faults at the same time
 * (an agent failing over mid-storm): never two open tickets for one key. */
struct racer {
    int idx;
    int64_t t;
    struct tickets_result res;
    char why[512];
    int rc;
};

static pthread_barrier_t race_start;

static void *race(void *arg)
{
    struct racer *r = arg;
    struct rules_conf rules = {0};
    tickets_batch_t *b = tickets_batch_create();
    PGconn *c = PQconnectdb("dbname=fieldmon");
    corr_t *e;

    rules_load_file(DEFAULT_RULES, &rules, r->why, sizeof(r->why));
    e = corr_create(&rules, tickets_batch_cb, b);
    pthread_barrier_wait(&race_start);
    for (int round = 0; round < 40 && r->rc == 0; round++) {
        char dev[32];

        for (int k = 0; k < 5; k++) {
            snprintf(dev, sizeof(dev), "d%d", round * 5 + k);
            corr_alarm(e, "race", dev, "smoke", NULL, true, r->t + round, 0);
        }
        r->rc = tickets_apply(c, b, r->idx ? "collector:b" : "collector:a", 86400000, &r->res,
                              r->why, sizeof(r->why));
        tickets_batch_clear(b);
    }
    corr_destroy(e);
    tickets_batch_destroy(b);
    rules_free(&rules);
    PQfinish(c);
    return NULL;
}

static void test_two_collectors_never_open_two_tickets_for_one_fault(void **state)
{
    struct fx *f = *state;
    struct racer r[2] = {{.idx = 0}, {.idx = 1}};
    pthread_t th[2];

    r[0].t = r[1].t = now_ms();
    pthread_barrier_init(&race_start, NULL, 2);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&race_start);
    for (int i = 0; i < 2; i++)
        if (r[i].rc != 0)
            fail_msg("writer %d: %s", i, r[i].why);
    ASSERT_Q(f->c, "SELECT count(*) || ':' || count(DISTINCT dedupe_key) FROM tickets", "200:200");
    assert_int_equal(r[0].res.opened + r[1].res.opened, 200);
    assert_int_equal(r[0].res.joined + r[1].res.joined, 200);
    ASSERT_Q(f->c, "SELECT max(occurrences) || ':' || min(occurrences) FROM tickets", "2:2");
    /* The index itself refuses a second open ticket. */
    PGresult *res = PQexec(f->c, "INSERT INTO tickets (dedupe_key, kind, grade, title, first_seen,"
                                 " last_seen, opened_by) VALUES ('device:race/d0/smoke', 'device',"
                                 " 1, 'dup', now(), now(), 'x')");
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505");
    PQclear(res);
}

static void test_failed_apply_rolls_back_the_whole_batch(void **state)
{
    struct fx *f = *state;
    char why[512];

    corr_alarm(f->e, "s1", "env1", "smoke", NULL, true, now_ms(), 0);
    exec_ok(f->c, "ALTER TABLE ticket_alarms ADD CONSTRAINT no_smoke CHECK (code <> 'smoke')");
    assert_int_equal(tickets_apply(f->c, f->batch, "collector:test", 1000, NULL, why, sizeof(why)),
                     -EIO);
    assert_non_null(strstr(why, "no_smoke"));
    exec_ok(f->c, "ALTER TABLE ticket_alarms DROP CONSTRAINT no_smoke");
    ASSERT_Q(f->c, "SELECT count(*) FROM tickets", "0");
    /* The same batch applies once the cause is gone. */
    flush(f);
    ASSERT_Q(f->c, "SELECT count(*) FROM tickets", "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_ups_on_battery_then_low_battery_one_ticket_rising_to_grade_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_dead_is_one_grade_2_ticket_with_devices_attached,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_smoke_opens_grade_1_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flapping_temperature_is_one_ticket_marked_flapping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_alarm_inside_maintenance_window_is_recorded_without_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_steps_are_checked_and_audited, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recurrence_after_resolution_reopens_within_the_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_workflow_visits_and_closing_without_repair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_manual_ticket_is_opened_and_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_collectors_never_open_two_tickets_for_one_fault,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_apply_rolls_back_the_whole_batch, setup,
                                        teardown),
    };
    if (getenv("PGHOST") == NULL) {
        fprintf(stderr, "test_pg_tickets: PGHOST not set; run under tests/lib/with-pg.sh\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
