/* Unit tests for ladder: the S1 table-16 steps fall due at 15/30/45/60
 * minutes with the right roles, a role is engaged once per ticket across
 * grade changes, pauses hold the ladder, and 5x8 grades climb it in business
 * hours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ladder.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONTRACT FM_SOURCE_DIR "/deploy/contract-default.yaml"
#define MIN 60

static struct contract_set set;

static int setup(void **state)
{
    char err[256];

    (void)state;
    if (contract_set_load_file(DEFAULT_CONTRACT, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    contract_set_free(&set);
    return 0;
}

/* Local (+08:00) time in November 2026 (2026-11-20 is a Friday). */
static int64_t nov(int day, int hour, int min)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = day, .tm_hour = hour, .tm_min = min};

    return (int64_t)timegm(&tm) - 8 * 3600;
}

/* Advances a test clock minute by minute over the first 70 minutes of a
 * grade-1 (smoke alarm) ticket, firing what is due as a scheduler would. */
static void test_ladder_smoke_alarm_engages_roles_at_15_30_45_60(void **state)
{
    static const struct {
        int minute;
        const char *role;
    } want[] = {
        {15, "field-engineer"},
        {30, "emergency-team"},
        {45, "customer-manager"},
        {60, "service-centre-manager"},
    };
    struct sla_clock c;
    const char *fired[8];
    size_t n_fired = 0, w = 0;
    int64_t open = nov(20, 22, 3);

    (void)state;
    assert_int_equal(sla_clock_open(&c, contract_find(&set, "site-a"), 1, 10, open), 0);
    assert_int_equal(ladder_next(&c, fired, n_fired), open + 15 * MIN);
    for (int m = 0; m <= 70; m++) {
        struct ladder_due due[8];
        size_t n = ladder_due(&c, open + m * MIN, fired, n_fired, due, 8);

        for (size_t i = 0; i < n; i++) {
            assert_true(w < 4);
            if (m != want[w].minute || strcmp(due[i].step->role, want[w].role) != 0)
                fail_msg("minute %d: %s due, want %s at %d", m, due[i].step->role, want[w].role,
                         want[w].minute);
            assert_int_equal(due[i].due_at, open + want[w].minute * MIN);
            fired[n_fired++] = due[i].step->role;
            w++;
        }
    }
    assert_int_equal(w, 4);
    assert_int_equal(ladder_next(&c, fired, n_fired), SLA_NEVER);
}

/* Grade 3 at 15 min engages the field engineer; a rise to grade 2 at 50 min
 * makes the grade-2 45-minute step (emergency team) due at once, and the
 * field engineer is not engaged twice. */
static void test_ladder_grade_rise_fires_passed_steps_once(void **state)
{
    struct sla_clock c;
    struct ladder_due due[8];
    const char *fired[8];
    size_t n_fired = 0, n;
    int64_t open = nov(20, 10, 0);

    (void)state;
    assert_int_equal(sla_clock_open(&c, contract_find(&set, "x"), 3, 80, open), 0);
    n = ladder_due(&c, open + 15 * MIN, fired, n_fired, due, 8);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].step->role, "field-engineer");
    fired[n_fired++] = due[0].step->role;
    assert_int_equal(ladder_due(&c, open + 50 * MIN, fired, n_fired, due, 8), 0);
    assert_int_equal(ladder_next(&c, fired, n_fired), open + 60 * MIN);

    assert_int_equal(sla_clock_regrade(&c, open + 50 * MIN, 2), 0);
    n = ladder_due(&c, open + 50 * MIN, fired, n_fired, due, 8);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].step->role, "emergency-team");
    assert_int_equal(due[0].due_at, open + 45 * MIN);
    fired[n_fired++] = due[0].step->role;
    assert_int_equal(ladder_next(&c, fired, n_fired), open + 60 * MIN);
    n = ladder_due(&c, open + 60 * MIN, fired, n_fired, due, 8);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].step->role, "customer-manager");
    /* At most max results are returned. */
    assert_int_equal(sla_clock_regrade(&c, open + 61 * MIN, 1), 0);
    n_fired = 0;
    assert_int_equal(ladder_due(&c, open + 61 * MIN, fired, n_fired, due, 2), 2);
}

static void test_ladder_holds_while_paused(void **state)
{
    struct sla_clock c;
    struct ladder_due due[8];
    int64_t open = nov(20, 10, 0);

    (void)state;
    assert_int_equal(sla_clock_open(&c, contract_find(&set, "x"), 1, 10, open), 0);
    assert_int_equal(sla_clock_pause(&c, open + 10 * MIN, "waiting for customer approval"), 0);
    assert_int_equal(ladder_next(&c, NULL, 0), SLA_NEVER);
    assert_int_equal(ladder_due(&c, open + 600 * MIN, NULL, 0, due, 8), 0);
    assert_int_equal(sla_clock_resume(&c, open + 100 * MIN), 0);
    /* 10 minutes counted before the pause: the 15-minute step is due 5 later. */
    assert_int_equal(ladder_next(&c, NULL, 0), open + 105 * MIN);
}

static void test_ladder_5x8_grade_climbs_in_business_hours(void **state)
{
    struct sla_clock c;
    struct ladder_due due[8];

    (void)state;
    /* Grade 4 (5x8) opened on Saturday: first step Monday 09:15. */
    assert_int_equal(sla_clock_open(&c, contract_find(&set, "x"), 4, 10, nov(21, 10, 0)), 0);
    assert_int_equal(ladder_next(&c, NULL, 0), nov(23, 9, 15));
    assert_int_equal(ladder_due(&c, nov(23, 9, 14), NULL, 0, due, 8), 0);
    assert_int_equal(ladder_due(&c, nov(23, 9, 15), NULL, 0, due, 8), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_smoke_alarm_engages_roles_at_15_30_45_60),
        cmocka_unit_test(test_ladder_grade_rise_fires_passed_steps_once),
        cmocka_unit_test(test_ladder_holds_while_paused),
        cmocka_unit_test(test_ladder_5x8_grade_climbs_in_business_hours),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
