/* Unit tests for report by exception (agent/alarm/report.c) and its place
 * in the threshold stage: the deadband, heartbeat, quality and change rules
 * as a table of sequences; percent of span, device overrides, every_poll
 * and the unit defaults from YAML; the value that raises or clears an
 * alarm goes out before the transition even inside the deadband, and so
 * does the value held back before a transition from a tick or failed
 * polls; a reload keeps what each series sent; configuration refusals name
 * the file, the line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_samples.h"
#include "alarm_sink.h"
#include "config.h"
#include "report.h"

#include "fm_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000LL
#define GOOD FM__QUALITY__QUALITY_GOOD
#define TIMEOUT FM__QUALITY__QUALITY_TIMEOUT

/* ------------------------------------------------------------ the rules */

/* One poll of a sequence, written "SECONDS:VALUE": VALUE a number (good),
 * T (timeout, no value), NUMBER=TEXT (good, with a text), rNUMBER (a
 * counter's rate) or - (a counter's first poll: a value, no rate yet). */
static bool judge(const struct report_rule *r, struct report_state *st, const char *tok)
{
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    long t = strtol(tok, (char **)&tok, 10);
    const char *eq;

    assert_int_equal(*tok++, ':');
    m.quality = *tok == 'T' ? TIMEOUT : GOOD;
    m.has_value = m.quality == GOOD;
    m.text = "";
    if (*tok == 'r') {
        m.rate = strtod(tok + 1, NULL);
        m.has_rate = true;
    }
    if (r->on_rate)
        m.value = 1e6 + (double)t; /* the counter itself always moves */
    else if (m.has_value)
        m.value = strtod(tok, NULL);
    eq = strchr(tok, '=');
    if (eq != NULL)
        m.text = (char *)eq + 1;
    return report_judge(r, st, T0 + t * 1000, &m);
}

static void test_report_rules_as_sequences(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        struct report_rule rule;
        const char *steps; /* polls separated by spaces */
        const char *want;  /* 1: sent, 0: held, one per poll */
    } cases[] = {
        {"deadband: judged against the last value SENT, so a slow creep is caught",
         {.deadband = 0.5, .heartbeat_ms = 900000},
         "0:20 10:20.2 20:20.4 30:20.6 40:20.3",
         "10010"},
        {"deadband: a change of exactly the deadband is not enough, either way",
         {.deadband = 0.5, .heartbeat_ms = 900000},
         "0:20 10:20.5 20:19.5 30:19.4",
         "1001"},
        {"deadband: rounding of scaled values does not make the deadband itself enough",
         {.deadband = 0.2, .heartbeat_ms = 900000},
         "0:23.6 10:23.8 20:23.4 30:23.9",
         "1001"},
        {"deadband 0: any change, and only a change",
         {.deadband = 0, .heartbeat_ms = 900000},
         "0:5 10:5 20:6 30:6 40:5.000001",
         "10101"},
        {"heartbeat: due when ts - last sent >= heartbeat, counted from the last sent",
         {.deadband = 1, .heartbeat_ms = 60000},
         "0:20 30:20 60:20 90:20 100:25 150:25 160:25",
         "1010101"},
        {"quality: good -> timeout and timeout -> good are sent, a repeated timeout held",
         {.deadband = 1, .heartbeat_ms = 900000},
         "0:20 10:T 20:T 30:20 40:20",
         "11010"},
        {"quality: a timeout that lasts is repeated by the heartbeat",
         {.deadband = 1, .heartbeat_ms = 60000},
         "0:T 30:T 60:T 61:T",
         "1010"},
        {"enum/bool: every change of value",
         {.mode = REPORT_MODE_CHANGE, .heartbeat_ms = 900000},
         "0:2=normal 10:2=normal 20:3=low 30:3=low 40:2=normal",
         "10101"},
        {"text: every change of text, the value being 0",
         {.mode = REPORT_MODE_CHANGE, .heartbeat_ms = 900000},
         "0:0=fw-1.2 10:0=fw-1.2 20:0=fw-1.3",
         "101"},
        {"counter rate: 10 % of the last rate sent; a rate after none is a change",
         {.mode = REPORT_MODE_RELATIVE, .deadband = 0.10, .heartbeat_ms = 900000, .on_rate = true},
         "0:- 10:r100 20:r105 30:r111 40:r99 50:r0 60:r0 70:r0.001",
         "11011101"},
        {"every poll: everything",
         {.mode = REPORT_MODE_EVERY, .heartbeat_ms = 900000},
         "0:1 10:1 20:T 30:T",
         "1111"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct report_state st;
        char steps[256], got[16] = "";
        size_t k = 0;

        report_state_init(&st);
        snprintf(steps, sizeof(steps), "%s", cases[i].steps);
        for (char *save, *tok = strtok_r(steps, " ", &save); tok != NULL;
             tok = strtok_r(NULL, " ", &save))
            got[k++] = judge(&cases[i].rule, &st, tok) ? '1' : '0';
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got %s, want %s", cases[i].what, got, cases[i].want);
    }
}

static void test_report_default_deadband_by_unit(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        double want;
    } rows[] = {
        {"degC", 0.2}, {"C", 0.2},  {"°C", 0.2}, {"%RH", 1},    {"%", 1},   {"V", 1},
        {"A", 0.1},    {"Hz", 0.1}, {"W", 10},   {"kvar", 0.1}, {"kWh", 1}, {"Pa", 5},
        {"s", 60},     {"h", 1},    {"rpm", 0},  {"", 0},       {NULL, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (report_default_deadband(rows[i].unit) != rows[i].want)
            fail_msg("unit %s: %g, want %g", rows[i].unit ? rows[i].unit : "(none)",
                     report_default_deadband(rows[i].unit), rows[i].want);
    }
}

/* ------------------------------------------------------------ the stage */

static const char *yaml =
    "agent_id: a1\nsite: lab\n"
    "devices:\n"
    "  - {name: d1, profile: p, interval: 10s, snmp: {host: 127.0.0.1},\n"
    "     report: [{point: hum, deadband: 5}, {point: raw, every_poll: true}]}\n"
    "  - {name: d2, profile: p, interval: 10s, snmp: {host: 127.0.0.2}}\n"
    "profiles:\n"
    "  - name: p\n"
    "    points:\n"
    "      - {name: temp, oid: 1.3.6.1.2.1.99.1.1.1.4.1, unit: degC,\n"
    "         report: {deadband: 5},\n"
    "         alarm: {limits: [{dir: high, value: 35}], deadband: 1, on_delay: 0s,\n"
    "                 off_delay: 30s}}\n"
    "      - {name: hum, oid: 1.3.6.1.2.1.99.1.1.1.4.2, unit: \"%RH\",\n"
    "         report: {deadband_pct: 2, span: [0, 50]}}\n"
    "      - {name: load, oid: 1.3.6.1.2.1.33.1.4.4.1.5, table: true, index_label: line,\n"
    "         unit: \"%\", report: {deadband_pct: 5},\n"
    "         alarm: {limits: [{dir: high, value: 80}, {dir: high, level: critical, value: 100}],\n"
    "                 on_delay: 0s}}\n"
    "      - {name: raw, oid: 1.3.6.1.2.1.33.1.2.2.0, unit: V, alarm: {stale_polls: 2,\n"
    "                 limits: [{dir: low, value: 1}]}}\n"
    "      - {name: state, oid: 1.3.6.1.2.1.33.1.4.1.0, type: enum, enum: {2: normal, 5: "
    "battery}}\n";

/* The next sink: records what passed, as "m:<value>" and "a:<code>:<R|C>". */
struct rec {
    event_sink_t sink;
    char ev[64][48];
    int64_t ts[64];
    size_t n;
};

static void on_emit(event_sink_t *s, const Fm__Event *ev)
{
    struct rec *r = (struct rec *)s;

    assert_true(r->n < 64);
    r->ts[r->n] = ev->ts_ms;
    if (ev->kind_case == FM__EVENT__KIND_MEASUREMENT)
        snprintf(r->ev[r->n], sizeof(r->ev[0]), "m:%s:%g%s%s", ev->measurement->point,
                 ev->measurement->value, ev->measurement->text[0] ? ":" : "",
                 ev->measurement->text);
    else if (ev->kind_case == FM__EVENT__KIND_ALARM)
        snprintf(r->ev[r->n], sizeof(r->ev[0]), "a:%s:%s", ev->alarm->code,
                 ev->alarm->state == FM__ALARM_STATE__ALARM_STATE_RAISED ? "R" : "C");
    else
        snprintf(r->ev[r->n], sizeof(r->ev[0]), "other");
    r->n++;
}

struct fx {
    struct agent_cfg cfg;
    struct rec r;
    uv_loop_t loop;
    alarm_sink_t *as;
};

static void fx_start(struct fx *x, const char *text)
{
    char err[512];

    memset(x, 0, sizeof(*x));
    x->r.sink.emit = on_emit;
    if (config_load_string("agent.yaml", text, &x->cfg, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
    uv_loop_init(&x->loop);
    x->as = alarm_sink_create(&x->loop, &x->cfg, &x->r.sink);
}

static void fx_stop(struct fx *x)
{
    alarm_sink_destroy(x->as);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    config_free(&x->cfg);
}

static void measure(struct fx *x, const char *dev, const char *point, const char *line, double v,
                    int64_t ts)
{
    struct agent_sample s;

    agent_sample_point(&s, dev, point, "line", line, v, ts);
    event_sink_emit(alarm_sink_as_sink(x->as), &s.ev);
}

static void measure_enum(struct fx *x, const char *dev, double v, const char *text, int64_t ts)
{
    struct agent_sample s;

    agent_sample_point(&s, dev, "state", NULL, NULL, v, ts);
    s.m.text = (char *)text;
    event_sink_emit(alarm_sink_as_sink(x->as), &s.ev);
}

/* What passed since event `from`, joined with spaces. */
static const char *since(const struct fx *x, size_t from)
{
    static char buf[1024];
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = from; i < x->r.n; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i > from ? " " : "", x->r.ev[i]);
    return buf;
}

static void test_report_stage_applies_keys_overrides_and_defaults(void **state)
{
    (void)state;
    struct fx x;
    size_t n;

    fx_start(&x, yaml);
    /* hum: 2 % of span [0, 50] = 1 on d2; d1's override makes it 5. */
    measure(&x, "d2", "hum", NULL, 40, T0);
    measure(&x, "d2", "hum", NULL, 40.9, T0 + 10000);
    measure(&x, "d2", "hum", NULL, 41.1, T0 + 20000);
    measure(&x, "d1", "hum", NULL, 40, T0);
    measure(&x, "d1", "hum", NULL, 44.0, T0 + 10000);
    measure(&x, "d1", "hum", NULL, 45.1, T0 + 20000);
    assert_string_equal(since(&x, 0), "m:hum:40 m:hum:41.1 m:hum:40 m:hum:45.1");
    /* load: 5 % of the limits' span 80..100 = 1, per table row. */
    n = x.r.n;
    measure(&x, "d2", "load", "1", 50, T0);
    measure(&x, "d2", "load", "2", 50, T0);
    measure(&x, "d2", "load", "1", 50.9, T0 + 10000);
    measure(&x, "d2", "load", "2", 51.1, T0 + 10000);
    assert_string_equal(since(&x, n), "m:load:50 m:load:50 m:load:51.1");
    /* raw: the unit default for V is 1 on d2; every poll on d1. */
    n = x.r.n;
    for (int i = 0; i < 3; i++) {
        measure(&x, "d2", "raw", NULL, 230 + 0.6 * i, T0 + i * 10000);
        measure(&x, "d1", "raw", NULL, 230 + 0.6 * i, T0 + i * 10000);
    }
    assert_string_equal(since(&x, n), "m:raw:230 m:raw:230 m:raw:230.6 m:raw:231.2 m:raw:231.2");
    /* An enum: every change, with its text. */
    n = x.r.n;
    measure_enum(&x, "d2", 2, "normal", T0);
    measure_enum(&x, "d2", 2, "normal", T0 + 10000);
    measure_enum(&x, "d2", 5, "battery", T0 + 20000);
    assert_string_equal(since(&x, n), "m:state:2:normal m:state:5:battery");
    /* What an operator's metrics show. */
    assert_int_equal(alarm_sink_stats(x.as)->polled, 6 + 4 + 6 + 3);
    assert_int_equal(alarm_sink_stats(x.as)->reported, x.r.n);
    fx_stop(&x);
}

static void test_report_sends_the_value_that_raises_or_clears_inside_the_deadband(void **state)
{
    (void)state;
    struct fx x;

    fx_start(&x, yaml);
    /* temp: report deadband 5, limit 35, alarm deadband 1, off-delay 30 s. */
    measure(&x, "d2", "temp", NULL, 33, T0);
    measure(&x, "d2", "temp", NULL, 34, T0 + 10000);   /* held */
    measure(&x, "d2", "temp", NULL, 35.1, T0 + 20000); /* raises: sent first */
    measure(&x, "d2", "temp", NULL, 35.5, T0 + 30000); /* held */
    measure(&x, "d2", "temp", NULL, 33.8, T0 + 40000); /* clear pending: held */
    measure(&x, "d2", "temp", NULL, 33.7, T0 + 70000); /* clears after 30 s: sent first */
    assert_string_equal(since(&x, 0), "m:temp:33 m:temp:35.1 a:high_warning:R m:temp:33.7 "
                                      "a:high_warning:C");
    assert_int_equal(x.r.ts[1], T0 + 20000);
    assert_int_equal(x.r.ts[3], T0 + 70000);
    fx_stop(&x);
}

static void keepalive(uv_timer_t *t)
{
    (void)t;
}

static void test_report_sends_the_held_value_before_a_transition_from_a_tick(void **state)
{
    (void)state;
    struct fx x;
    uv_timer_t t;
    int64_t now = fm_clock_wall_ms();

    fx_start(&x, yaml);
    /* Raised a minute ago; back under the limit since 50 s ago: the
     * off-delay of 30 s has passed, but only the stage's 1 s tick sees it
     * (no new value comes). The value that cleared was held back. */
    measure(&x, "d2", "temp", NULL, 36, now - 60000);
    measure(&x, "d2", "temp", NULL, 33.9, now - 50000);
    assert_string_equal(since(&x, 0), "m:temp:36 a:high_warning:R");
    uv_timer_init(&x.loop, &t);
    uv_timer_start(&t, keepalive, 1500, 0);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    assert_string_equal(since(&x, 0), "m:temp:36 a:high_warning:R m:temp:33.9 a:high_warning:C");
    assert_int_equal(x.r.ts[2], now - 50000);
    uv_close((uv_handle_t *)&t, NULL);
    fx_stop(&x);
}

static void test_report_after_failed_polls_sends_the_held_value_then_the_next(void **state)
{
    (void)state;
    struct fx x;

    fx_start(&x, yaml);
    /* raw on d2: stale after 2 failed polls of the device. */
    measure(&x, "d2", "raw", NULL, 230, T0);
    measure(&x, "d2", "raw", NULL, 230.2, T0 + 10000); /* held */
    alarm_sink_poll_result(x.as, "d2", false, T0 + 20000, "timeout");
    alarm_sink_poll_result(x.as, "d2", false, T0 + 30000, "timeout");
    assert_string_equal(since(&x, 0), "m:raw:230 m:raw:230.2 a:stale:R");
    assert_int_equal(x.r.ts[1], T0 + 10000);
    /* The first value after the failed polls is sent (and clears). */
    measure(&x, "d2", "raw", NULL, 230.2, T0 + 40000);
    assert_string_equal(since(&x, 3), "m:raw:230.2 a:stale:C");
    /* A device that failed one poll: its next value goes out even
     * unchanged, the one after is judged again. */
    alarm_sink_poll_result(x.as, "d2", false, T0 + 50000, "timeout");
    measure(&x, "d2", "raw", NULL, 230.2, T0 + 60000);
    measure(&x, "d2", "raw", NULL, 230.2, T0 + 70000);
    assert_string_equal(since(&x, 5), "m:raw:230.2");
    fx_stop(&x);
}

static void test_report_reload_keeps_what_each_series_sent(void **state)
{
    (void)state;
    struct fx x;
    struct agent_cfg cfg2;
    char err[512];
    size_t n;

    fx_start(&x, yaml);
    measure(&x, "d2", "hum", NULL, 40, T0);
    measure(&x, "d2", "raw", NULL, 230, T0);
    n = x.r.n;
    memset(&cfg2, 0, sizeof(cfg2));
    assert_int_equal(config_load_string("agent.yaml", yaml, &cfg2, err, sizeof(err)), 0);
    alarm_sink_reload(x.as, &cfg2);
    /* Still within their deadbands of what was sent before the reload. */
    measure(&x, "d2", "hum", NULL, 40.5, T0 + 10000);
    measure(&x, "d2", "raw", NULL, 230.5, T0 + 10000);
    assert_string_equal(since(&x, n), "");
    /* A series that never reported starts with its first value. */
    measure(&x, "d2", "load", "7", 10, T0 + 10000);
    assert_string_equal(since(&x, n), "m:load:10");
    fx_stop(&x);
    config_free(&cfg2);
}

static void test_report_config_refusals_name_file_line_and_key(void **state)
{
    (void)state;
#define HEAD "agent_id: a\nsite: s\nprofiles:\n  - name: p\n    points:\n"
#define DEV "devices:\n  - {name: d, profile: p, interval: 1m, snmp: {host: h}"
    static const struct {
        const char *what, *yaml, *want;
    } cases[] = {
        {"percent deadband without a span",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
              "         report: {deadband_pct: 2}}\n",
         "agent.yaml:7: profiles[0].points[0].report.deadband_pct: needs a span"},
        {"percent deadband with one alarm limit only",
         HEAD
         "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, alarm: {limits: [{dir: high, value: 3}]},\n"
         "         report: {deadband_pct: 2}}\n",
         "agent.yaml:7: profiles[0].points[0].report.deadband_pct: needs a span"},
        {"negative deadband",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
              "         report: {deadband: -0.5}}\n",
         "agent.yaml:7: profiles[0].points[0].report.deadband: -0.5 is not in 0..1000000000000"},
        {"both deadbands",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, report: {span: [0, 1],\n"
              "         deadband: 1,\n"
              "         deadband_pct: 2}}\n",
         "agent.yaml:8: profiles[0].points[0].report.deadband_pct: give deadband or "
         "deadband_pct, not both"},
        {"heartbeat of 0",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, report: {heartbeat: 0s}}\n",
         "agent.yaml:6: profiles[0].points[0].report.heartbeat: 0s is not in 1000..604800000 ms"},
        {"profile heartbeat below a device's interval",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
              "         report: {heartbeat: 30s}}\n" DEV "}\n",
         "agent.yaml:7: profiles[0].points[0].report.heartbeat: 30000 ms is below the poll "
         "interval 60000 ms of devices[0] ('d')"},
        {"device heartbeat below its interval",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0}\n" DEV ",\n"
              "     report: [{point: t,\n"
              "               heartbeat: 10s}]}\n",
         "agent.yaml:10: devices[0].report[0].heartbeat: 10000 ms is below the poll interval"},
        {"device override of an unknown point",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0}\n" DEV ",\n"
              "     report: [{point: nope, deadband: 1}]}\n",
         "agent.yaml:9: devices[0].report[0]: point: 'nope' is not in profile p"},
        {"device percent deadband without a span",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0}\n" DEV ",\n"
              "     report: [{point: t, deadband_pct: 1}]}\n",
         "devices[0].report[0].deadband_pct: needs a span"},
        {"a deadband on an enum point",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, type: enum,\n"
              "         report: {deadband: 1}}\n",
         "agent.yaml:7: profiles[0].points[0].report.deadband: enum points send every change"},
        {"a span the wrong way round",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
              "         report: {span: [10, 0], deadband_pct: 1}}\n",
         "agent.yaml:7: profiles[0].points[0].report.span: hi 0 must be above lo 10"},
        {"an unknown report key",
         HEAD "      - {name: t, oid: 1.3.6.1.2.1.1.3.0,\n"
              "         report: {deadbnd: 1}}\n",
         "agent.yaml:7: profiles[0].points[0].report.deadbnd"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct agent_cfg cfg;
        char err[512];

        memset(&cfg, 0, sizeof(cfg));
        assert_int_equal(config_load_string("agent.yaml", cases[i].yaml, &cfg, err, sizeof(err)),
                         -EINVAL);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].what, err, cases[i].want);
    }
    /* And what loads: a written heartbeat at the interval, a default one
     * below a long interval, a percent deadband on a rate counter. */
    struct agent_cfg cfg;
    char err[512];
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(
        config_load_string("agent.yaml",
                           HEAD
                           "      - {name: t, oid: 1.3.6.1.2.1.1.3.0, report: {heartbeat: 1h}}\n"
                           "      - {name: c, oid: 1.3.6.1.2.1.1.4.0, type: counter, rate: true,\n"
                           "         report: {deadband_pct: 20}}\n" DEV "}\n"
                           "  - {name: e, profile: p, interval: 1h, snmp: {host: h}}\n",
                           &cfg, err, sizeof(err)),
        0);
    config_free(&cfg);
#undef HEAD
#undef DEV
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_rules_as_sequences),
        cmocka_unit_test(test_report_default_deadband_by_unit),
        cmocka_unit_test(test_report_stage_applies_keys_overrides_and_defaults),
        cmocka_unit_test(test_report_sends_the_value_that_raises_or_clears_inside_the_deadband),
        cmocka_unit_test(test_report_sends_the_held_value_before_a_transition_from_a_tick),
        cmocka_unit_test(test_report_after_failed_polls_sends_the_held_value_then_the_next),
        cmocka_unit_test(test_report_reload_keeps_what_each_series_sent),
        cmocka_unit_test(test_report_config_refusals_name_file_line_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
