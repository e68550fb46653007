/* Unit tests for poll_end, the end of a poll that the SNMP and the Modbus
 * pollers share: back-off doubles to the cap and resets on success; with
 * --cycles no device is backed off; --once makes one failure unreachable;
 * transitions emit one Reachability event each; the outcome callback sees
 * every poll; the rounds report "all done" once, after the last device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll_health.h"

#include <stdio.h>
#include <string.h>

struct rec_sink {
    event_sink_t base; /* first: the sink pointer is the struct pointer */
    int reach_events;
    bool last_reachable;
};

static void rec_emit(event_sink_t *s, const Fm__Event *ev)
{
    struct rec_sink *r = (struct rec_sink *)s;

    if (ev->kind_case == FM__EVENT__KIND_REACHABILITY) {
        r->reach_events++;
        r->last_reachable = ev->reachability->reachable;
    }
}

struct outcomes {
    int n, failed;
    char last_reason[64];
};

static void on_outcome(const char *device, bool ok, int64_t ts_ms, const char *reason, void *arg)
{
    struct outcomes *o = arg;

    o->n++;
    o->failed += !ok;
    snprintf(o->last_reason, sizeof(o->last_reason), "%s", reason);
}

static int where_calls;

static void where(const void *dev, char *buf, size_t len)
{
    where_calls++;
    snprintf(buf, len, "%s", (const char *)dev);
}

struct fixture {
    struct rec_sink sink;
    struct poll_counts counts;
    struct outcomes out;
    struct poll_owner o;
};

static void setup(struct fixture *f, unsigned cycles, size_t devs)
{
    memset(f, 0, sizeof(*f));
    f->sink.base.emit = rec_emit;
    poll_owner_init(&f->o, "test", &f->sink.base, cycles, 8000, &f->counts, where, devs);
    f->o.outcome = on_outcome;
    f->o.outcome_arg = &f->out;
    where_calls = 0;
}

static unsigned end(struct fixture *f, struct poll_health *h, uint32_t *done, bool ok, uint64_t now)
{
    static const struct device_cfg cfg = {
        .name = "ups-1", .interval_ms = 1000, .unreachable_after = 3};
    struct poll_result r = {.ok = ok,
                            .cfg = &cfg,
                            .dev = "10.0.0.5:161",
                            .reason = ok ? "" : "timeout",
                            .ts_ms = 1700000000000};

    return poll_end(&f->o, h, done, &r, now);
}

static void test_poll_end_backs_off_to_the_cap_and_resets_on_success(void **state)
{
    (void)state;
    struct fixture f;
    struct poll_health h;
    uint32_t done = 0;
    /* Interval after each failure: doubles, capped at backoff_max (8 s). */
    const int64_t want[] = {2000, 4000, 8000, 8000};

    setup(&f, 0, 1);
    poll_health_init(&h, 1000);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(end(&f, &h, &done, false, 0), POLL_END_AGAIN);
        assert_int_equal(h.interval_ms, want[i]);
    }
    /* The third failure made it unreachable, named once by where. */
    assert_false(h.reachable);
    assert_int_equal(where_calls, 1);
    assert_int_equal(f.sink.reach_events, 1);
    assert_false(f.sink.last_reachable);
    assert_int_equal(end(&f, &h, &done, true, 0), POLL_END_AGAIN);
    assert_int_equal(h.interval_ms, 1000);
    assert_true(h.reachable);
    assert_int_equal(f.sink.reach_events, 2);
    assert_true(f.sink.last_reachable);
    assert_int_equal(f.counts.polls_failed, 4);
    assert_int_equal(f.counts.polls_ok, 1);
    assert_int_equal(f.out.n, 5);
    assert_int_equal(f.out.failed, 4);
    assert_string_equal(f.out.last_reason, "");
    assert_int_equal(done, 5);
    poll_rounds_free(&f.o.rounds);
}

static void test_poll_end_with_cycles_polls_a_dead_device_every_round(void **state)
{
    (void)state;
    struct fixture f;
    struct poll_health h;
    uint32_t done = 0;

    setup(&f, 3, 1);
    poll_health_init(&h, 1000);
    poll_rounds_begin(&f.o.rounds, 0, 100);
    assert_int_equal(end(&f, &h, &done, false, 300), POLL_END_AGAIN);
    assert_int_equal(h.interval_ms, 1000); /* not backed off */
    poll_rounds_begin(&f.o.rounds, 1, 1100);
    assert_int_equal(end(&f, &h, &done, false, 1500), POLL_END_AGAIN);
    assert_int_equal(h.interval_ms, 1000);
    poll_rounds_begin(&f.o.rounds, 2, 2100);
    /* The last round of the only device: nothing more, all done. Rounds:
     * 0.2 s, 0.4 s, 0.1 s from the first due time to the last end. */
    assert_int_equal(end(&f, &h, &done, false, 2200), POLL_END_ALL_DONE);
    assert_int_equal(f.counts.rounds, 3);
    assert_true(f.counts.max_cycle_s > 0.39 && f.counts.max_cycle_s < 0.41);
    assert_true(f.counts.sum_cycle_s > 0.69 && f.counts.sum_cycle_s < 0.71);
    poll_rounds_free(&f.o.rounds);
}

static void test_poll_end_once_makes_one_failure_unreachable(void **state)
{
    (void)state;
    struct fixture f;
    struct poll_health h;
    uint32_t done = 0;

    setup(&f, 1, 2);
    poll_health_init(&h, 1000);
    /* First of two devices: not yet all done. */
    assert_int_equal(end(&f, &h, &done, false, 10), 0);
    assert_false(h.reachable);
    assert_int_equal(f.sink.reach_events, 1);
    poll_health_init(&h, 1000);
    done = 0;
    assert_int_equal(end(&f, &h, &done, true, 20), POLL_END_ALL_DONE);
    poll_rounds_free(&f.o.rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_end_backs_off_to_the_cap_and_resets_on_success),
        cmocka_unit_test(test_poll_end_with_cycles_polls_a_dead_device_every_round),
        cmocka_unit_test(test_poll_end_once_makes_one_failure_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
