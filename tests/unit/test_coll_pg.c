/* Unit tests for pg: the one SQLSTATE classification (a table of states,
 * each row naming the uplink it covers), its errno mapping, one-line reasons,
 * the doubling back-off, the back-off shared by threads (one probe at a
 * time, on an injected clock), and a connect retry that a stop ends
 * without waiting out its back-off and that arriving jobs do not wake. No PostgreSQL is needed: the
 * retry test points at a socket directory where no server listens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fm_clock.h"

static void test_pg_classify_state_sorts_sqlstates_into_retry_reconnect_give_up(void **state)
{
    static const struct {
        const char *sqlstate;
        bool conn_ok;
        enum pg_verdict want;
    } cases[] = {
        {"40001", true, PG_RETRY},      /* serialization_failure */
        {"40P01", true, PG_RETRY},      /* deadlock_detected */
        {"40003", true, PG_RETRY},      /* statement_completion_unknown */
        {"40002", true, PG_GIVE_UP},    /* integrity violation: a retry repeats it */
        {"08006", true, PG_RECONNECT},  /* connection_failure */
        {"08000", true, PG_RECONNECT},  /* connection_exception */
        {"57P01", true, PG_RECONNECT},  /* admin_shutdown */
        {"57P02", true, PG_RECONNECT},  /* crash_shutdown */
        {"53300", true, PG_RECONNECT},  /* too_many_connections */
        {"", true, PG_RECONNECT},       /* libpq failed without the server's word */
        {NULL, true, PG_RECONNECT},     /* no SQLSTATE at all */
        {"23505", false, PG_RECONNECT}, /* any state on a connection that is gone */
        {"40001", false, PG_RECONNECT}, /* a retry needs a live connection */
        {"23505", true, PG_GIVE_UP},    /* unique_violation */
        {"42601", true, PG_GIVE_UP},    /* syntax_error */
        {"22P02", true, PG_GIVE_UP},    /* invalid_text_representation */
        {"X", true, PG_GIVE_UP},        /* a state of our own: the data is at fault */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum pg_verdict v = pg_classify_state(cases[i].sqlstate, cases[i].conn_ok);

        if (v != cases[i].want)
            fail_msg("%s (conn %s): verdict %d, want %d",
                     cases[i].sqlstate ? cases[i].sqlstate : "NULL",
                     cases[i].conn_ok ? "ok" : "bad", (int)v, (int)cases[i].want);
    }
}

static void test_pg_verdict_errno_round_trips(void **state)
{
    (void)state;
    assert_int_equal(pg_verdict_errno(PG_OK), 0);
    assert_int_equal(pg_verdict_errno(PG_RETRY), -EAGAIN);
    assert_int_equal(pg_verdict_errno(PG_RECONNECT), -ENOTCONN);
    assert_int_equal(pg_verdict_errno(PG_GIVE_UP), -EIO);
    for (int v = PG_OK; v <= PG_GIVE_UP; v++)
        assert_int_equal(pg_errno_verdict(pg_verdict_errno((enum pg_verdict)v)), v);
    /* Other errors (a module's own, such as -EPROTO) are permanent. */
    assert_int_equal(pg_errno_verdict(-EPROTO), PG_GIVE_UP);
}

static void test_pg_classify_without_result_uses_the_connection_and_reconnects(void **state)
{
    char why[128], st[6] = "zzzzz";

    (void)state;
    assert_int_equal(pg_classify(NULL, NULL, "copy", why, sizeof(why), st), PG_RECONNECT);
    assert_string_equal(why, "copy: no connection");
    assert_string_equal(st, "");
}

static void test_pg_oneline_joins_lines_and_trims(void **state)
{
    char buf[64];

    (void)state;
    pg_oneline(buf, sizeof(buf), "commit", "ERROR:  could not serialize\nDETAIL:\tx \n\n");
    assert_string_equal(buf, "commit: ERROR: could not serialize DETAIL: x");
    pg_oneline(buf, sizeof(buf), NULL, "a\nb");
    assert_string_equal(buf, "a b");
    /* Truncated at the buffer, still terminated. */
    pg_oneline(buf, 8, "what", "message");
    assert_string_equal(buf, "what: m");
}

/* A log line never ends in an empty reason: libpq's message can be empty
 * (PQresultErrorMessage of a NULL result is ""). */
static void test_pg_oneline_never_gives_an_empty_reason(void **state)
{
    char buf[64];

    (void)state;
    pg_oneline(buf, sizeof(buf), "load maintenance windows", "");
    assert_string_equal(buf, "load maintenance windows: " PG_NO_REASON);
    pg_oneline(buf, sizeof(buf), "connect", " \n\t ");
    assert_string_equal(buf, "connect: " PG_NO_REASON);
    pg_oneline(buf, sizeof(buf), NULL, NULL);
    assert_string_equal(buf, PG_NO_REASON);
}

static void test_pg_backoff_doubles_to_its_cap_and_resets(void **state)
{
    struct pg_backoff b;
    static const uint64_t want[] = {500, 1000, 2000, 4000, 5000, 5000};

    (void)state;
    pg_backoff_init(&b, 500, 5000);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(pg_backoff_next(&b), want[i]);
    pg_backoff_reset(&b);
    assert_int_equal(pg_backoff_next(&b), 500);
    /* A cap below the minimum is the minimum. */
    pg_backoff_init(&b, 300, 10);
    assert_int_equal(pg_backoff_next(&b), 300);
    assert_int_equal(pg_backoff_next(&b), 300);
}

/* The pace on an injected clock: after the first failure of an outage only
 * one thread at a time may attempt (the probe), no sooner than the back-off
 * allows; the others wait, and the wait doubles only with failed probes. */
static void test_pg_pace_one_probe_at_a_time_on_a_doubling_schedule(void **state)
{
    struct pg_pace p;
    bool a, b;

    (void)state;
    assert_int_equal(pg_pace_init(&p, 100, 400), 0);
    /* Reachable: every thread connects at once, none is a probe. */
    assert_int_equal(pg_pace_turn(&p, 1000, &a), 0);
    assert_false(a);
    assert_int_equal(pg_pace_turn(&p, 1000, &b), 0);
    /* Two writers lose their connections together and both fail: the
     * first failure sets the schedule, the second does not double it. */
    assert_int_equal(pg_pace_done(&p, false, false, 1000), 100);
    assert_int_equal(pg_pace_done(&p, false, false, 1010), 90);
    /* Down: nobody attempts before 1100. */
    assert_int_equal(pg_pace_turn(&p, 1050, &a), 50);
    assert_int_equal(pg_pace_turn(&p, 1100, &a), 0);
    assert_true(a);
    /* While the probe runs, the others look again after PG_PACE_POLL_MS. */
    assert_int_equal(pg_pace_turn(&p, 1100, &b), PG_PACE_POLL_MS);
    assert_false(b);
    /* A failed probe doubles the wait, up to the cap. */
    assert_int_equal(pg_pace_done(&p, true, false, 1100), 200);
    assert_int_equal(pg_pace_turn(&p, 1300, &a), 0);
    assert_int_equal(pg_pace_done(&p, true, false, 1300), 400);
    assert_int_equal(pg_pace_turn(&p, 1700, &a), 0);
    assert_int_equal(pg_pace_done(&p, true, false, 1700), 400);
    /* The probe succeeds: every waiting thread may connect now, and the
     * next outage starts again from the minimum. */
    assert_int_equal(pg_pace_turn(&p, 2100, &a), 0);
    assert_true(a);
    assert_int_equal(pg_pace_done(&p, true, true, 2100), 0);
    assert_int_equal(pg_pace_turn(&p, 2100, &b), 0);
    assert_false(b);
    assert_int_equal(pg_pace_done(&p, false, false, 5000), 100);
    pg_pace_destroy(&p);
}

struct retry_probe {
    struct fmq_work q;
    int failures;
    int last_rc;
    uint64_t waits[4];
};

/* Stops the queue at the first failure and asks for one more attempt: the
 * sleep between the two must end at once although the back-off asks for a
 * minute. */
static bool probe_failed(void *arg, const char *why, int rc, uint64_t wait_ms)
{
    struct retry_probe *p = arg;

    assert_non_null(strstr(why, "connect: "));
    p->last_rc = rc;
    if (p->failures < 4)
        p->waits[p->failures] = wait_ms;
    p->failures++;
    if (p->failures == 1)
        fmq_work_stop(&p->q);
    return p->failures < 2;
}

static void test_pg_connect_retry_backs_off_and_a_stop_cuts_the_wait(void **state)
{
    struct retry_probe p = {0};
    struct pg_pace pace;
    struct pg_retry r = {.pace = &pace, .queue = &p.q, .failed = probe_failed, .arg = &p};
    char why[256];
    uint64_t t0;
    PGconn *c;

    (void)state;
    assert_int_equal(fmq_work_init(&p.q), 0);
    assert_int_equal(pg_pace_init(&pace, 60000, 120000), 0);
    t0 = fm_clock_mono_ms();
    c = pg_connect_retry("host=/nonexistent-fieldmon-socket-dir connect_timeout=2", "test", &r, why,
                         sizeof(why));
    assert_null(c);
    assert_int_equal(p.failures, 2);
    assert_int_equal(p.last_rc, -ENOTCONN);
    /* The first failure sets the schedule (a minute); the second, made at
     * once because the queue was stopped, is no probe and leaves it. */
    assert_int_equal(p.waits[0], 60000);
    assert_true(p.waits[1] <= p.waits[0]);
    /* Two refused connects to a missing socket take milliseconds; a
     * back-off slept out would take a minute. */
    assert_true(fm_clock_mono_ms() - t0 < 30000);
    pg_pace_destroy(&pace);
    fmq_work_destroy(&p.q);
}

/* Jobs arriving during a back-off: a writer waiting for its turn is not
 * moved to try again by them. A thread retries on a pace whose next probe
 * is a minute away; the test pushes a thousand nodes onto its queue (as
 * batches arrive), then stops the queue: exactly one attempt happened
 * before the stop. */
struct push_probe {
    struct fmq_work q;
    struct pg_pace pace;
    atomic_int failures;
};

static bool push_failed(void *arg, const char *why, int rc, uint64_t wait_ms)
{
    struct push_probe *p = arg;

    (void)why;
    (void)rc;
    (void)wait_ms;
    return atomic_fetch_add(&p->failures, 1) + 1 < 2 || !fmq_work_stopped(&p->q);
}

static void push_retry_main(void *arg)
{
    struct push_probe *p = arg;
    struct pg_retry r = {.pace = &p->pace, .queue = &p->q, .failed = push_failed, .arg = p};
    char why[256];

    assert_null(
        pg_connect_retry("host=/nonexistent-fieldmon-socket-dir", "test", &r, why, sizeof(why)));
}

static void test_pg_connect_retry_is_not_woken_into_attempts_by_jobs(void **state)
{
    static struct fmq_node nodes[1000];
    struct push_probe p = {0};
    uv_thread_t t;

    (void)state;
    assert_int_equal(fmq_work_init(&p.q), 0);
    assert_int_equal(pg_pace_init(&p.pace, 60000, 60000), 0);
    assert_int_equal(uv_thread_create(&t, push_retry_main, &p), 0);
    /* Bounded: the first attempt fails on a missing socket at once. */
    for (int i = 0; i < 1000 && atomic_load(&p.failures) == 0; i++)
        uv_sleep(10);
    assert_int_equal(atomic_load(&p.failures), 1);
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
        fmq_work_push(&p.q, &nodes[i]);
    uv_sleep(50);
    assert_int_equal(atomic_load(&p.failures), 1);
    fmq_work_stop(&p.q);
    uv_thread_join(&t);
    /* One more attempt after the stop, which gave up. */
    assert_int_equal(atomic_load(&p.failures), 2);
    (void)fmq_work_take(&p.q, 0, SIZE_MAX);
    pg_pace_destroy(&p.pace);
    fmq_work_destroy(&p.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_classify_state_sorts_sqlstates_into_retry_reconnect_give_up),
        cmocka_unit_test(test_pg_verdict_errno_round_trips),
        cmocka_unit_test(test_pg_classify_without_result_uses_the_connection_and_reconnects),
        cmocka_unit_test(test_pg_oneline_joins_lines_and_trims),
        cmocka_unit_test(test_pg_oneline_never_gives_an_empty_reason),
        cmocka_unit_test(test_pg_pace_one_probe_at_a_time_on_a_doubling_schedule),
        cmocka_unit_test(test_pg_backoff_doubles_to_its_cap_and_resets),
        cmocka_unit_test(test_pg_connect_retry_backs_off_and_a_stop_cuts_the_wait),
        cmocka_unit_test(test_pg_connect_retry_is_not_woken_into_attempts_by_jobs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
