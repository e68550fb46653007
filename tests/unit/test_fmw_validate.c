/* Unit tests for fmwire envelope validation: one row per contract rule, each
 * breaking a valid sample in one way and naming the field it expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmw_samples.h"

#include <math.h>
#include <stdio.h>

static char long_name[FMW_MAX_ID + 2];
static char long_text[FMW_MAX_TEXT + 2];

/* Each mutator breaks one rule of a valid sample. */
typedef void (*mutate_fn)(struct sample *s);

static void m_empty_agent(struct sample *s)
{
    s->hello.agent_id = "";
}
static void m_agent_with_slash(struct sample *s)
{
    s->hello.agent_id = "../etc";
}
static void m_agent_too_long(struct sample *s)
{
    s->hello.agent_id = long_name;
}
static void m_zero_epoch(struct sample *s)
{
    s->hello.epoch = 0;
}
static void m_short_digest(struct sample *s)
{
    s->hello.config_digest.len = 16;
}
static void m_hello_from_1970(struct sample *s)
{
    s->hello.sent_at_ms = 1000;
}
static void m_device_no_name(struct sample *s)
{
    s->dev.name = "";
}
static void m_point_control_char(struct sample *s)
{
    s->pt.name = "temp\n";
}
static void m_batch_empty(struct sample *s)
{
    s->batch.n_events = 0;
}
static void m_seq_zero(struct sample *s)
{
    s->ev[0].seq = 0;
}
static void m_seq_repeats(struct sample *s)
{
    s->ev[3].seq = s->ev[2].seq;
}
static void m_seq_backwards(struct sample *s)
{
    s->ev[4].seq = 5;
}
static void m_ts_far_future(struct sample *s)
{
    s->ev[1].ts_ms = NOW_MS + 2 * FMW_MAX_FUTURE_MS;
}
static void m_ts_missing(struct sample *s)
{
    s->ev[2].ts_ms = 0;
}
static void m_value_nan(struct sample *s)
{
    s->meas.value = NAN;
}
static void m_value_inf(struct sample *s)
{
    s->meas.raw = INFINITY;
}
static void m_quality_unset(struct sample *s)
{
    s->meas.quality = FM__QUALITY__QUALITY_UNSPECIFIED;
}
static void m_text_too_long(struct sample *s)
{
    s->meas.text = long_text;
}
static void m_too_many_labels(struct sample *s)
{
    s->meas.n_labels = FMW_MAX_LABELS + 1;
}
static void m_alarm_no_code(struct sample *s)
{
    s->alarm.code = "";
}
static void m_alarm_no_state(struct sample *s)
{
    s->alarm.state = FM__ALARM_STATE__ALARM_STATE_UNSPECIFIED;
}
static void m_trap_no_oid(struct sample *s)
{
    s->trap.trap_oid = "";
}
static void m_event_no_kind(struct sample *s)
{
    s->ev[2].kind_case = FM__EVENT__KIND__NOT_SET;
}
static void m_overflow_backwards(struct sample *s)
{
    s->overflow.first_seq = 11;
}
static void m_batch_zero_epoch(struct sample *s)
{
    s->batch.epoch = 0;
}

static const struct {
    const char *what; /* the rule */
    int hello;        /* 1: mutate the hello sample, 0: the batch sample */
    mutate_fn mutate;
    const char *path; /* the reason must start with this */
} cases[] = {
    {"agent id required", 1, m_empty_agent, "hello.agent_id: is empty"},
    {"agent id is a plain name", 1, m_agent_with_slash, "hello.agent_id: byte 0x2f"},
    {"agent id length limit", 1, m_agent_too_long, "hello.agent_id: longer than 64"},
    {"epoch non-zero", 1, m_zero_epoch, "hello.epoch"},
    {"digest is SHA-256", 1, m_short_digest, "hello.config_digest: 16 bytes"},
    {"sane hello clock", 1, m_hello_from_1970, "hello.sent_at_ms"},
    {"device name required", 1, m_device_no_name, "hello.inventory.devices[0].name"},
    {"no control bytes", 1, m_point_control_char, "hello.inventory.devices[0].points[0].name"},
    {"batch not empty", 0, m_batch_empty, "batch.events: batch holds no events"},
    {"batch epoch non-zero", 0, m_batch_zero_epoch, "batch.epoch"},
    {"seq from 1", 0, m_seq_zero, "batch.events[0].seq: must not be 0"},
    {"seq strictly increasing", 0, m_seq_repeats, "batch.events[3].seq: 102 is not above 102"},
    {"seq never goes back", 0, m_seq_backwards, "batch.events[4].seq: 5 is not above 103"},
    {"no timestamps from the future", 0, m_ts_far_future, "batch.events[1].ts_ms"},
    {"event timestamp required", 0, m_ts_missing, "batch.events[2].ts_ms"},
    {"finite value", 0, m_value_nan, "batch.events[0].value: not a finite"},
    {"finite raw", 0, m_value_inf, "batch.events[0].value: not a finite"},
    {"quality set", 0, m_quality_unset, "batch.events[0].quality"},
    {"text length limit", 0, m_text_too_long, "batch.events[0].text: longer than 1024"},
    {"label count limit", 0, m_too_many_labels, "batch.events[0].labels: 17 entries"},
    {"alarm code required", 0, m_alarm_no_code, "batch.events[1].code: is empty"},
    {"alarm state set", 0, m_alarm_no_state, "batch.events[1].state"},
    {"trap oid required", 0, m_trap_no_oid, "batch.events[3].trap_oid: is empty"},
    {"event kind set", 0, m_event_no_kind, "batch.events[2]: event has no kind"},
    {"overflow range ordered", 0, m_overflow_backwards, "batch.events[5]: overflow"},
};

static void test_fmw_validate_names_the_field_of_each_broken_rule(void **state)
{
    char why[256];

    (void)state;
    memset(long_name, 'a', sizeof(long_name) - 1);
    memset(long_text, 'x', sizeof(long_text) - 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sample s;

        if (cases[i].hello)
            sample_hello(&s);
        else
            sample_batch(&s);
        assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), 0);
        cases[i].mutate(&s);
        int rc = fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why));
        if (rc != FMW_EINVALID || strncmp(why, cases[i].path, strlen(cases[i].path)) != 0)
            fail_msg("%s: rc %d why \"%s\", want \"%s...\"", cases[i].what, rc, why,
                     cases[i].path);
    }
}

static void test_fmw_validate_rejects_envelope_without_body(void **state)
{
    Fm__Envelope env = FM__ENVELOPE__INIT;
    char why[64];

    (void)state;
    assert_int_equal(fmw_envelope_validate(&env, NOW_MS, why, sizeof(why)), FMW_EINVALID);
    assert_string_equal(why, "envelope: no body");
    assert_string_equal(fmw_envelope_kind(&env), "empty");
}

static void test_fmw_validate_truncates_reason_to_buffer(void **state)
{
    struct sample s;
    char why[8];

    (void)state;
    sample_hello(&s);
    s.hello.agent_id = "";
    assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), FMW_EINVALID);
    assert_int_equal(strlen(why), sizeof(why) - 1);
    assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, NULL, 0), FMW_EINVALID);
}

static void test_fmw_validate_accepts_command_and_rejects_bad_gain(void **state)
{
    struct sample s;
    char why[128];

    (void)state;
    sample_other(&s, FM__ENVELOPE__BODY_COMMAND);
    assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), 0);
    s.cal.gain = NAN;
    assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), FMW_EINVALID);
    assert_string_equal(why, "command.set_calibration.gain: not a finite number");
    s.cal.gain = 1;
    s.cmd.id = 0;
    assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), FMW_EINVALID);
    assert_string_equal(why, "command.id: must not be 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmw_validate_names_the_field_of_each_broken_rule),
        cmocka_unit_test(test_fmw_validate_rejects_envelope_without_body),
        cmocka_unit_test(test_fmw_validate_truncates_reason_to_buffer),
        cmocka_unit_test(test_fmw_validate_accepts_command_and_rejects_bad_gain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
