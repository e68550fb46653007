/* Unit tests for pg: the one SQLSTATE classification (a table of states,
 * each row naming the uplink it covers), its errno mapping, one-line reasons,
 * the doubling back-off, and a connect retry that a stop ends without
 * waiting out its back-off. No PostgreSQL is needed: the retry test points
 * at a socket directory where no server listens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg.h"

#include <errno.h>
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
    struct pg_retry r = {.queue = &p.q, .failed = probe_failed, .arg = &p};
    char why[256];
    uint64_t t0;
    PGconn *c;

    (void)state;
    assert_int_equal(fmq_work_init(&p.q), 0);
    pg_backoff_init(&r.backoff, 60000, 120000);
    t0 = fm_clock_mono_ms();
    c = pg_connect_retry("host=/nonexistent-fieldmon-socket-dir connect_timeout=2", "test", &r, why,
                         sizeof(why));
    assert_null(c);
    assert_int_equal(p.failures, 2);
    assert_int_equal(p.last_rc, -ENOTCONN);
    assert_int_equal(p.waits[0], 60000);
    assert_int_equal(p.waits[1], 120000);
    /* Two refused connects to a missing socket take milliseconds; a
     * back-off slept out would take a minute. */
    assert_true(fm_clock_mono_ms() - t0 < 30000);
    fmq_work_destroy(&p.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_classify_state_sorts_sqlstates_into_retry_reconnect_give_up),
        cmocka_unit_test(test_pg_verdict_errno_round_trips),
        cmocka_unit_test(test_pg_classify_without_result_uses_the_connection_and_reconnects),
        cmocka_unit_test(test_pg_oneline_joins_lines_and_trims),
        cmocka_unit_test(test_pg_backoff_doubles_to_its_cap_and_resets),
        cmocka_unit_test(test_pg_connect_retry_backs_off_and_a_stop_cuts_the_wait),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
