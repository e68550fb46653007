/* Unit tests for the threshold engine: limits with deadband, delays, state
 * and bit rules, staleness, comm loss, calibration, reload, and rules
 * restored raised at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alarm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define T0 1700000000000LL

/* What the engine emitted, copied out of the borrowed events. */
struct rec {
    char code[64];
    int state;
    int level;
    double value, raw, limit;
    int64_t ts, since;
    char device[32], point[32];
};
struct log {
    struct rec r[64];
    size_t n;
};

static void on_event(const Fm__Event *ev, void *ud)
{
    struct log *l = ud;
    struct rec *r;

    assert_int_equal(ev->kind_case, FM__EVENT__KIND_ALARM);
    assert_true(l->n < 64);
    r = &l->r[l->n++];
    snprintf(r->code, sizeof(r->code), "%s", ev->alarm->code);
    snprintf(r->device, sizeof(r->device), "%s", ev->device);
    snprintf(r->point, sizeof(r->point), "%s", ev->alarm->point);
    r->state = ev->alarm->state;
    r->level = ev->alarm->level;
    r->value = ev->alarm->value;
    r->raw = ev->alarm->raw;
    r->limit = ev->alarm->limit;
    r->ts = ev->ts_ms;
    r->since = ev->alarm->since_ms;
}

#define RAISED FM__ALARM_STATE__ALARM_STATE_RAISED
#define CLEARED FM__ALARM_STATE__ALARM_STATE_CLEARED

static void test_alarm_oscillation_inside_deadband_raises_once_clears_once(void **state)
{
    (void)state;
    struct alarm_limit lim = {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 30};
    struct alarm_cfg cfg;
    struct log l = {0};
    /* Hovers around 30 within the 1-degree deadband, then falls below 29. */
    const double seq[] = {29.5, 30.2, 29.6, 30.1, 29.2, 30.0, 29.9, 29.1, 28.9, 29.5, 29.8};

    alarm_cfg_defaults(&cfg);
    cfg.limits = &lim;
    cfg.n_limits = 1;
    cfg.on_delay_ms = 0;
    cfg.off_delay_ms = 0;
    alarm_point_t *p = alarm_point_create(&cfg, "room1", "temp", "C", NULL, 0);
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        alarm_point_sample(p, T0 + (int64_t)i * 1000, seq[i], seq[i], on_event, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.r[0].code, "high_warning");
    assert_int_equal(l.r[0].state, RAISED);
    assert_int_equal(l.r[0].ts, T0 + 1000);
    assert_true(l.r[0].value == 30.2);
    assert_true(l.r[0].limit == 30);
    assert_int_equal(l.r[1].state, CLEARED);
    assert_int_equal(l.r[1].ts, T0 + 8000); /* 28.9 < 30 - 1 */
    assert_int_equal(alarm_point_raised(p), 0);
    alarm_point_destroy(p);
}

/* Delay cases: one row per edge of the on/off-delay machine. */
struct delay_case {
    const char *what;
    double v[6]; /* one sample per 10 s */
    size_t nv;
    size_t want_n;
    int64_t want_ts0; /* offset of the first transition, -1: none */
};

static void test_alarm_on_and_off_delays_hold_transitions(void **state)
{
    (void)state;
    static const struct delay_case cases[] = {
        /* Above for 20 s < 30 s on-delay: nothing. */
        {"short excursion", {31, 31, 31, 25, 25, 25}, 6, 0, -1},
        /* Above from t=0 through t=30: raised at t=30, since t=0. */
        {"held excursion", {31, 31, 31, 31, 31, 31}, 6, 1, 30000},
        /* Excursion interrupted at 10 s restarts the delay at 20 s. */
        {"interrupted excursion", {31, 25, 31, 31, 31, 31}, 6, 1, 50000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alarm_limit lim = {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_CRITICAL, .value = 30};
        struct alarm_cfg cfg;
        struct log l = {0};

        alarm_cfg_defaults(&cfg);
        cfg.limits = &lim;
        cfg.n_limits = 1;
        alarm_point_t *p = alarm_point_create(&cfg, "d", "t", "C", NULL, 0);
        for (size_t k = 0; k < cases[i].nv; k++)
            alarm_point_sample(p, T0 + (int64_t)k * 10000, cases[i].v[k], cases[i].v[k], on_event,
                               &l);
        assert_int_equal(l.n, cases[i].want_n);
        if (cases[i].want_ts0 >= 0) {
            assert_int_equal(l.r[0].ts, T0 + cases[i].want_ts0);
            assert_int_equal(l.r[0].level, FM__ALARM_LEVEL__ALARM_LEVEL_CRITICAL);
            assert_string_equal(l.r[0].code, "high_critical");
        }
        alarm_point_destroy(p);
    }
}

static void test_alarm_off_delay_finishes_on_tick(void **state)
{
    (void)state;
    struct alarm_limit lim = {.dir = ALARM_DIR_LOW, .level = ALARM_LVL_WARNING, .value = 18};
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.limits = &lim;
    cfg.n_limits = 1;
    cfg.on_delay_ms = 0;
    cfg.off_delay_ms = 30000;
    alarm_point_t *p = alarm_point_create(&cfg, "d", "t", "C", NULL, 0);
    alarm_point_sample(p, T0, 17, 17, on_event, &l);
    assert_int_equal(l.n, 1);
    alarm_point_sample(p, T0 + 1000, 18.5, 18.5, on_event, &l); /* inside deadband */
    alarm_point_sample(p, T0 + 2000, 19.5, 19.5, on_event, &l); /* out: off-delay starts */
    alarm_point_tick(p, T0 + 31000, on_event, &l);
    assert_int_equal(l.n, 1);
    alarm_point_tick(p, T0 + 32000, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.r[1].state, CLEARED);
    assert_int_equal(l.r[1].since, T0 + 2000);
    alarm_point_destroy(p);
}

static void test_alarm_state_rule_raises_on_battery_at_once(void **state)
{
    (void)state;
    struct alarm_state_rule st = {.equals = 5, .code = "ups_on_battery"};
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.states = &st;
    cfg.n_states = 1;
    alarm_point_t *p = alarm_point_create(&cfg, "ups1", "upsOutputSource", "", NULL, 0);
    alarm_point_sample(p, T0, 3, 3, on_event, &l);
    alarm_point_sample(p, T0 + 5000, 5, 5, on_event, &l);
    alarm_point_sample(p, T0 + 10000, 5, 5, on_event, &l);
    alarm_point_sample(p, T0 + 15000, 3, 3, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.r[0].code, "ups_on_battery");
    assert_string_equal(l.r[0].device, "ups1");
    assert_string_equal(l.r[0].point, "upsOutputSource");
    assert_int_equal(l.r[0].level, FM__ALARM_LEVEL__ALARM_LEVEL_STATE);
    assert_int_equal(l.r[0].ts, T0 + 5000);
    assert_int_equal(l.r[1].state, CLEARED);
    assert_int_equal(l.r[1].ts, T0 + 15000);
    alarm_point_destroy(p);
}

static void test_alarm_bit_rules_follow_their_bits(void **state)
{
    (void)state;
    struct alarm_bit_rule bits[] = {
        {.bit = 0, .set = true, .code = "leak"},
        {.bit = 1, .set = true, .code = "cable_break"},
        {.bit = 3, .set = false, .code = "summary_off"}, /* raised while bit 3 is 0 */
    };
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.bits = bits;
    cfg.n_bits = 3;
    alarm_point_t *p = alarm_point_create(&cfg, "leak1", "status", "", NULL, 0);
    alarm_point_sample(p, T0, 8, 8, on_event, &l); /* 0b1000: nothing */
    assert_int_equal(l.n, 0);
    alarm_point_sample(p, T0 + 1, 9, 9, on_event, &l); /* 0b1001: leak */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].code, "leak");
    alarm_point_sample(p, T0 + 2, 2, 2, on_event, &l); /* 0b0010: -leak +break +summary_off */
    assert_int_equal(l.n, 4);
    assert_string_equal(l.r[1].code, "leak");
    assert_int_equal(l.r[1].state, CLEARED);
    assert_string_equal(l.r[2].code, "cable_break");
    assert_string_equal(l.r[3].code, "summary_off");
    assert_int_equal(alarm_point_raised(p), 2);
    alarm_point_destroy(p);
}

static void test_alarm_stale_after_failed_polls_and_silence(void **state)
{
    (void)state;
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.stale_after_ms = 60000;
    alarm_point_t *p = alarm_point_create(&cfg, "d", "hum", "%RH", NULL, 0);
    alarm_point_sample(p, T0, 40, 40, on_event, &l);
    alarm_point_fail(p, T0 + 1000, on_event, &l);
    alarm_point_fail(p, T0 + 2000, on_event, &l);
    assert_int_equal(l.n, 0);
    alarm_point_fail(p, T0 + 3000, on_event, &l); /* third failure */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].code, "stale");
    assert_int_equal(l.r[0].level, FM__ALARM_LEVEL__ALARM_LEVEL_COMM);
    alarm_point_sample(p, T0 + 4000, 41, 41, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.r[1].state, CLEARED);
    /* Silence: no poll result at all for 60 s. */
    alarm_point_tick(p, T0 + 63999, on_event, &l);
    assert_int_equal(l.n, 2);
    alarm_point_tick(p, T0 + 64000, on_event, &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.r[2].state, RAISED);
    alarm_point_destroy(p);
}

/* A rule restored raised at start (the saved state of the last run) says
 * nothing while its condition holds and clears through its off-delay once
 * it is gone; a restored `stale` stays raised through ticks and failures
 * until a good sample. */
static void test_alarm_restored_rules_start_raised_and_clear_as_usual(void **state)
{
    (void)state;
    struct alarm_limit lim = {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 30};
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.limits = &lim;
    cfg.n_limits = 1;
    cfg.off_delay_ms = 20000;
    cfg.stale_after_ms = 60000;
    alarm_point_t *p = alarm_point_create(&cfg, "d", "t", "C", NULL, 0);
    assert_int_equal(alarm_point_restore(p, "high_critical", T0 - 5000), -ENOENT);
    assert_int_equal(alarm_point_restore(p, "high_warning", T0 - 5000), 0);
    assert_int_equal(alarm_point_restore(p, "stale", T0 - 4000), 0);
    assert_int_equal(alarm_point_raised(p), 2);
    /* Nothing fresh yet: ticks and failed polls change nothing. */
    alarm_point_tick(p, T0 + 120000, on_event, &l);
    alarm_point_fail(p, T0 + 121000, on_event, &l);
    assert_int_equal(l.n, 0);
    /* Still above the limit: stale clears, the limit is not raised again. */
    alarm_point_sample(p, T0 + 122000, 31, 31, on_event, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].code, "stale");
    assert_int_equal(l.r[0].state, CLEARED);
    /* Back below limit - deadband: cleared after the off-delay. */
    alarm_point_sample(p, T0 + 130000, 20, 20, on_event, &l);
    assert_int_equal(l.n, 1);
    alarm_point_sample(p, T0 + 150000, 20, 20, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.r[1].code, "high_warning");
    assert_int_equal(l.r[1].state, CLEARED);
    assert_true(l.r[1].value == 20);
    alarm_point_destroy(p);
}

static void test_alarm_comm_restored_clears_after_clear_polls(void **state)
{
    (void)state;
    struct alarm_comm_cfg cfg;
    struct log l = {0};
    struct alarm_state st;

    alarm_comm_cfg_defaults(&cfg);
    alarm_comm_t *c = alarm_comm_create(&cfg, "ups1");
    alarm_comm_restore(c, T0 - 60000, 4);
    assert_true(alarm_comm_raised(c));
    alarm_comm_poll(c, false, T0, "timeout", on_event, &l); /* still failing: no raise */
    alarm_comm_poll(c, true, T0 + 10000, NULL, on_event, &l);
    assert_int_equal(l.n, 0);
    alarm_state_init(&st);
    alarm_comm_save(c, &st);
    assert_int_equal(st.n, 1);
    assert_int_equal(st.recs[0].since_ms, T0 - 60000);
    alarm_state_clear(&st);
    alarm_comm_poll(c, true, T0 + 20000, NULL, on_event, &l); /* clear_polls: 2 */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].code, "comm_loss");
    assert_int_equal(l.r[0].state, CLEARED);
    alarm_comm_save(c, &st);
    assert_int_equal(st.n, 0);
    alarm_comm_destroy(c);
}

static void test_alarm_comm_loss_needs_polls_and_time(void **state)
{
    (void)state;
    struct alarm_comm_cfg cfg;
    struct log l = {0};

    alarm_comm_cfg_defaults(&cfg);
    alarm_comm_t *c = alarm_comm_create(&cfg, "ups1");
    /* Polled every 10 s: 3 failures come after 20 s, raise waits for 60 s. */
    for (int i = 0; i <= 5; i++)
        alarm_comm_poll(c, false, T0 + i * 10000, "timeout", on_event, &l);
    assert_int_equal(l.n, 0);
    alarm_comm_poll(c, false, T0 + 60000, "timeout", on_event, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].code, "comm_loss");
    assert_int_equal(l.r[0].since, T0);
    assert_true(alarm_comm_raised(c));
    /* One good poll, a failure, then two good polls clear it. */
    alarm_comm_poll(c, true, T0 + 70000, NULL, on_event, &l);
    alarm_comm_poll(c, false, T0 + 80000, "timeout", on_event, &l);
    alarm_comm_poll(c, true, T0 + 90000, NULL, on_event, &l);
    assert_int_equal(l.n, 1);
    alarm_comm_poll(c, true, T0 + 100000, NULL, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.r[1].state, CLEARED);
    /* A failure streak broken by a good poll starts over. */
    alarm_comm_poll(c, false, T0 + 200000, "x", on_event, &l);
    alarm_comm_poll(c, false, T0 + 230000, "x", on_event, &l);
    alarm_comm_poll(c, true, T0 + 240000, NULL, on_event, &l);
    alarm_comm_poll(c, false, T0 + 300000, "x", on_event, &l);
    assert_int_equal(l.n, 2);
    alarm_comm_destroy(c);
}

static void test_alarm_calibration_corrects_before_limits_and_keeps_raw(void **state)
{
    (void)state;
    struct alarm_limit lim = {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 27};
    struct alarm_cfg cfg;
    struct log l = {0};

    alarm_cfg_defaults(&cfg);
    cfg.limits = &lim;
    cfg.n_limits = 1;
    cfg.on_delay_ms = 0;
    cfg.cal_offset = 1.5;
    alarm_point_t *p = alarm_point_create(&cfg, "d", "t", "C", NULL, 0);
    /* 25.6 reads 27.1 after the +1.5 correction. */
    assert_true(fabs(alarm_point_sample(p, T0, 256, 25.6, on_event, &l) - 27.1) < 1e-9);
    assert_int_equal(l.n, 1);
    assert_true(l.r[0].raw == 256);
    assert_true(fabs(l.r[0].value - 27.1) < 1e-9);
    assert_int_equal(alarm_point_set_calibration(p, 0, 0), -EINVAL);
    assert_int_equal(alarm_point_set_calibration(p, -1.5, 1), 0);
    alarm_point_sample(p, T0 + 1000, 256, 25.6, on_event, &l);
    assert_int_equal(l.n, 1); /* 24.1 is clear, but the 30 s off-delay runs */
    alarm_point_destroy(p);
}

static void test_alarm_reload_keeps_state_and_clears_removed_rules(void **state)
{
    (void)state;
    struct alarm_limit lim = {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 30};
    struct alarm_state_rule st = {.equals = 5, .code = "ups_on_battery"};
    struct alarm_cfg a, b;
    struct log l = {0};

    alarm_cfg_defaults(&a);
    a.limits = &lim;
    a.n_limits = 1;
    a.on_delay_ms = 0;
    a.states = &st;
    a.n_states = 1;
    b = a;
    b.n_states = 0; /* the reload drops the state rule */
    /* The state rule is raised, the limit is not. */
    alarm_point_t *p = alarm_point_create(&a, "d", "t", "", NULL, 0);
    alarm_point_sample(p, T0, 5, 5, on_event, &l);
    assert_int_equal(l.n, 1);
    /* Reload without the state rule: it is cleared with an event. */
    alarm_point_set_cfg(p, &b, T0 + 5, on_event, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.r[1].code, "ups_on_battery");
    assert_int_equal(l.r[1].state, CLEARED);
    /* The limit survives reloads with its state: raised once, not again. */
    alarm_point_sample(p, T0 + 10, 31, 31, on_event, &l);
    assert_int_equal(l.n, 3);
    alarm_point_set_cfg(p, &a, T0 + 15, on_event, &l);
    alarm_point_sample(p, T0 + 20, 31, 31, on_event, &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(alarm_point_raised(p), 1);
    alarm_point_destroy(p);
}

static void test_alarm_cfg_check_rejects_contradictions(void **state)
{
    (void)state;
    struct alarm_limit dup[] = {
        {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 30},
        {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 31},
    };
    struct alarm_limit inverted[] = {
        {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 40},
        {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_CRITICAL, .value = 35},
    };
    struct alarm_bit_rule bit = {.bit = 64, .set = true, .code = "x"};
    struct alarm_cfg cfg;
    char why[160];

    alarm_cfg_defaults(&cfg);
    assert_int_equal(alarm_cfg_check(&cfg, why, sizeof(why)), 0);
    cfg.limits = dup;
    cfg.n_limits = 2;
    assert_int_equal(alarm_cfg_check(&cfg, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "used twice"));
    cfg.limits = inverted;
    assert_int_equal(alarm_cfg_check(&cfg, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "beyond the critical limit"));
    cfg.n_limits = 0;
    cfg.bits = &bit;
    cfg.n_bits = 1;
    assert_int_equal(alarm_cfg_check(&cfg, why, sizeof(why)), -EINVAL);
    cfg.n_bits = 0;
    cfg.cal_gain = 0;
    assert_int_equal(alarm_cfg_check(&cfg, why, sizeof(why)), -EINVAL);
}

static void test_alarm_automatic_deadband_by_unit_and_span(void **state)
{
    (void)state;
    struct alarm_limit lims[] = {
        {.dir = ALARM_DIR_HIGH, .level = ALARM_LVL_WARNING, .value = 242},
        {.dir = ALARM_DIR_LOW, .level = ALARM_LVL_WARNING, .value = 198},
    };
    struct alarm_cfg cfg;

    alarm_cfg_defaults(&cfg);
    assert_true(alarm_deadband(&cfg, "C") == 1.0);
    assert_true(alarm_deadband(&cfg, "%RH") == 3.0);
    assert_true(alarm_deadband(&cfg, "V") == 0.0); /* no limits */
    cfg.limits = lims;
    cfg.n_limits = 2;
    assert_true(fabs(alarm_deadband(&cfg, "V") - 0.88) < 1e-9); /* 2 % of 44 */
    cfg.n_limits = 1;
    assert_true(fabs(alarm_deadband(&cfg, "V") - 4.84) < 1e-9); /* 2 % of 242 */
    cfg.deadband = 0.5;
    assert_true(alarm_deadband(&cfg, "C") == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarm_oscillation_inside_deadband_raises_once_clears_once),
        cmocka_unit_test(test_alarm_on_and_off_delays_hold_transitions),
        cmocka_unit_test(test_alarm_off_delay_finishes_on_tick),
        cmocka_unit_test(test_alarm_state_rule_raises_on_battery_at_once),
        cmocka_unit_test(test_alarm_bit_rules_follow_their_bits),
        cmocka_unit_test(test_alarm_stale_after_failed_polls_and_silence),
        cmocka_unit_test(test_alarm_restored_rules_start_raised_and_clear_as_usual),
        cmocka_unit_test(test_alarm_comm_restored_clears_after_clear_polls),
        cmocka_unit_test(test_alarm_comm_loss_needs_polls_and_time),
        cmocka_unit_test(test_alarm_calibration_corrects_before_limits_and_keeps_raw),
        cmocka_unit_test(test_alarm_reload_keeps_state_and_clears_removed_rules),
        cmocka_unit_test(test_alarm_cfg_check_rejects_contradictions),
        cmocka_unit_test(test_alarm_automatic_deadband_by_unit_and_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
