/* Unit tests for the threshold stage as configured from YAML: calibration
 * of the forwarded value (profile and per-device), transitions after the
 * measurement that caused them, per-row state of table points, comm loss
 * from poll outcomes, reload keeping state, and config errors with lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_samples.h"
#include "alarm_sink.h"
#include "config.h"

#include <stdio.h>
#include <string.h>

#define T0 1700000000000LL

static const char *yaml =
    "agent_id: a1\nsite: lab\n"
    "devices:\n"
    "  - {name: ups1, profile: ups, snmp: {host: 127.0.0.1},\n"
    "     comm_loss: {fail_polls: 2, fail_time: 0s, clear_polls: 1},\n"
    "     calibration: [{point: temp, offset: -1.5}]}\n"
    "  - {name: ups2, profile: ups, snmp: {host: 127.0.0.2}}\n"
    "profiles:\n"
    "  - name: ups\n"
    "    points:\n"
    "      - {name: temp, oid: 1.3.6.1.2.1.33.1.2.7.0, unit: C,\n"
    "         alarm: {limits: [{dir: high, value: 35}], on_delay: 0s, off_delay: 0s}}\n"
    "      - {name: load, oid: 1.3.6.1.2.1.33.1.4.4.1.5, table: true, index_label: line,\n"
    "         alarm: {gain: 2, limits: [{dir: high, level: critical, value: 95}],\n"
    "                 on_delay: 0s}}\n"
    "      - {name: plain, oid: 1.3.6.1.2.1.33.1.2.2.0}\n";

/* The next sink: records what passed. */
struct rec {
    event_sink_t sink;
    int kind[32];
    double value[32];
    char code[32][32];
    int state[32];
    size_t n;
};

static void on_emit(event_sink_t *s, const Fm__Event *ev)
{
    struct rec *r = (struct rec *)s;

    assert_true(r->n < 32);
    r->kind[r->n] = ev->kind_case;
    if (ev->kind_case == FM__EVENT__KIND_MEASUREMENT)
        r->value[r->n] = ev->measurement->value;
    if (ev->kind_case == FM__EVENT__KIND_ALARM) {
        snprintf(r->code[r->n], sizeof(r->code[0]), "%s", ev->alarm->code);
        r->state[r->n] = ev->alarm->state;
    }
    r->n++;
}

static void measure(alarm_sink_t *as, const char *dev, const char *point, const char *line,
                    double v, int64_t ts)
{
    struct agent_sample s;

    agent_sample_point(&s, dev, point, "line", line, v, ts);
    event_sink_emit(alarm_sink_as_sink(as), &s.ev);
}

static void test_alarm_sink_calibrates_and_judges_configured_points(void **state)
{
    (void)state;
    struct agent_cfg cfg;
    char err[512];
    struct rec r = {.sink = {.emit = on_emit}};
    uv_loop_t loop;

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load_string("agent.yaml", yaml, &cfg, err, sizeof(err)), 0);
    uv_loop_init(&loop);
    alarm_sink_t *as = alarm_sink_create(&loop, &cfg, &r.sink);

    /* ups1's own calibration: 36.0 reads 34.5, under the limit. */
    measure(as, "ups1", "temp", NULL, 36.0, T0);
    assert_int_equal(r.n, 1);
    assert_true(r.value[0] == 34.5);
    /* ups2 has none: 36.0 raises, after the measurement. */
    measure(as, "ups2", "temp", NULL, 36.0, T0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.kind[1], FM__EVENT__KIND_MEASUREMENT);
    assert_int_equal(r.kind[2], FM__EVENT__KIND_ALARM);
    assert_string_equal(r.code[2], "high_warning");
    /* Table rows are judged apart; the profile's gain 2 applies. */
    measure(as, "ups1", "load", "1", 50, T0);
    measure(as, "ups1", "load", "2", 10, T0);
    assert_int_equal(r.n, 6);
    assert_true(r.value[3] == 100);
    assert_string_equal(r.code[4], "high_critical");
    assert_true(r.value[5] == 20);
    /* A point without an alarm map passes unchanged. */
    measure(as, "ups1", "plain", NULL, 7, T0);
    assert_int_equal(r.n, 7);
    assert_true(r.value[6] == 7);
    /* Comm loss from poll outcomes: ups1 raises after 2 failed polls. */
    alarm_sink_poll_result(as, "ups1", false, T0 + 1, "timeout");
    assert_int_equal(r.n, 7);
    alarm_sink_poll_result(as, "ups1", false, T0 + 2, "timeout");
    assert_int_equal(r.n, 8);
    assert_string_equal(r.code[7], "comm_loss");
    assert_int_equal(r.state[7], FM__ALARM_STATE__ALARM_STATE_RAISED);
    alarm_sink_poll_result(as, "ups1", true, T0 + 3, NULL);
    assert_int_equal(r.state[8], FM__ALARM_STATE__ALARM_STATE_CLEARED);
    size_t n = r.n;

    /* Reload with the same file: ups2's raised limit stays raised. */
    struct agent_cfg cfg2;
    memset(&cfg2, 0, sizeof(cfg2));
    assert_int_equal(config_load_string("agent.yaml", yaml, &cfg2, err, sizeof(err)), 0);
    alarm_sink_reload(as, &cfg2);
    assert_int_equal(r.n, n);
    measure(as, "ups2", "temp", NULL, 36.0, T0 + 10);
    /* Nothing: no second raise, and the reload kept what the series last
     * sent, so the same value is held back (report by exception). */
    assert_int_equal(r.n, n);

    alarm_sink_destroy(as);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    config_free(&cfg);
    config_free(&cfg2);
}

static void test_alarm_config_errors_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *what, *yaml, *want;
    } cases[] = {
        {"warning beyond critical",
         "agent_id: a\nsite: s\ndevices: []\nprofiles:\n  - name: p\n    points:\n"
         "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
         "         alarm: {limits: [{dir: high, value: 40}, {dir: high, level: critical, "
         "value: 35}]}}\n",
         "agent.yaml:8: profiles[0].points[0].alarm: limits[1]: high warning 40 is beyond"},
        {"calibration of an unknown point",
         "agent_id: a\nsite: s\nprofiles:\n  - {name: p, points: [{name: t, oid: "
         "1.3.6.1.2.1.1.3.0}]}\n"
         "devices:\n  - {name: d, profile: p, snmp: {host: h},\n"
         "     calibration: [{point: nope, offset: 1}]}\n",
         "devices[0].calibration[0]: point: 'nope' is not in profile p"},
        {"unknown key in alarm",
         "agent_id: a\nsite: s\ndevices: []\nprofiles:\n  - name: p\n    points:\n"
         "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, alarm: {hysteresis: 1}}\n",
         "agent.yaml:7"},
        {"bad fsync policy", "agent_id: a\nsite: s\nspool: {fsync: sometimes}\n",
         "agent.yaml:3: spool.fsync"},
        {"backoff_max below backoff_min",
         "agent_id: a\nsite: s\nsender: {backoff_min: 10s, backoff_max: 1s}\n",
         "sender.backoff_max: is below sender.backoff_min"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct agent_cfg cfg;
        char err[512];

        memset(&cfg, 0, sizeof(cfg));
        assert_int_not_equal(
            config_load_string("agent.yaml", cases[i].yaml, &cfg, err, sizeof(err)), 0);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].what, err, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarm_sink_calibrates_and_judges_configured_points),
        cmocka_unit_test(test_alarm_config_errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
