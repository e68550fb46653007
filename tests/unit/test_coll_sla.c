/* Unit tests for sla and sla_cal: deadlines as the contract tables say,
 * working days over weekends, holidays and make-up days, 5x8 business hours,
 * pauses, and grade changes counted from the original opening.
 *
 * All times are written in the contract's local time (+08:00). 2026-11-20 is
 * a Friday, 2026-11-21/22 the weekend, 2026-11-23 a Monday. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "contract.h"
#include "sla.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONTRACT FM_SOURCE_DIR "/deploy/contract-default.yaml"
#define NONE 0

/* Local (+08:00) date and time of November 2026 to Unix seconds. */
static int64_t nov(int day, int hour, int min)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = day, .tm_hour = hour, .tm_min = min};

    return (int64_t)timegm(&tm) - 8 * 3600;
}

/* The default contract plus a customer with a Monday holiday and a
 * Saturday make-up working day, both in the week after 2026-11-20. */
static const char *const extra_contracts =
    "contracts:\n"
    "  - customer: holiday\n"
    "    distance_bands: [{max_km: 50, onsite: 5h}, {max_km: 100, onsite: 12h}]\n"
    "    calendar: {holidays: [2026-11-23]}\n"
    "    grades:\n"
    "      - {grade: 2, response: 2h, resolution_working_days: 3}\n"
    "      - {grade: 4, support: 5x8, response: 24h, resolution_working_days: 5}\n"
    "  - customer: makeup\n"
    "    calendar: {extra_working_days: [2026-11-21], business_hours: \"08:30-17:30\"}\n"
    "    grades:\n"
    "      - {grade: 2, response: 2h, resolution_working_days: 3}\n"
    "      - {grade: 4, support: 5x8, response: 10h}\n";

struct fixture {
    struct contract_set def, extra;
};

static int setup(void **state)
{
    static struct fixture f;
    char err[256];

    memset(&f, 0, sizeof(f));
    if (contract_set_load_file(DEFAULT_CONTRACT, &f.def, err, sizeof(err)) != 0 ||
        contract_set_load_string("extra.yaml", extra_contracts, strlen(extra_contracts), &f.extra,
                                 err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    contract_set_free(&f->def);
    contract_set_free(&f->extra);
    return 0;
}

static const struct contract *find(void **state, const char *customer)
{
    struct fixture *f = *state;

    if (strcmp(customer, "default") == 0)
        return contract_find(&f->def, customer);
    return contract_find(&f->extra, customer);
}

/* One row per calendar edge: deadlines at opening, no pauses. */
static void test_sla_deadlines_at_opening(void **state)
{
    struct {
        const char *why;
        const char *customer;
        int grade;
        double km;
        int64_t open, want[SLA_KINDS];
    } rows[] = {
        {"UPS on battery 80 km away, Friday afternoon: grade 3, on-site 24 h beats the 12 h "
         "band; resolution 4 working days skips the weekend",
         "default",
         3,
         80,
         nov(20, 16, 0),
         {nov(20, 18, 0), nov(20, 20, 0), nov(21, 16, 0), nov(26, 16, 0)}},
        {"grade 1 within 50 km: the grade's 2 h even though the band says 5 h",
         "default",
         1,
         30,
         nov(20, 10, 0),
         {nov(20, 10, 30), nov(20, 10, 30), nov(20, 12, 0), nov(23, 10, 0)}},
        {"grade 1 at 500 km: beyond the bands, 3 days",
         "default",
         1,
         500,
         nov(20, 10, 0),
         {nov(20, 10, 30), nov(20, 10, 30), nov(23, 10, 0), nov(23, 10, 0)}},
        {"opened on Saturday: resolution starts Monday 00:00 and ends with Wednesday",
         "default",
         2,
         20,
         nov(21, 10, 0),
         {nov(21, 12, 0), nov(21, 12, 0), nov(21, 22, 0), nov(26, 0, 0)}},
        {"grade 4 is 5x8: opened Saturday, 24 business hours = Mon, Tue, Wed 09-17",
         "default",
         4,
         20,
         nov(21, 10, 0),
         {nov(25, 17, 0), NONE, NONE, nov(28, 0, 0)}},
        {"5x8 opened Friday 16:00: 1 h Friday, then Mon, Tue, 7 h Wednesday",
         "default",
         4,
         20,
         nov(20, 16, 0),
         {nov(25, 16, 0), NONE, NONE, nov(27, 16, 0)}},
        {"5x8 opened before business hours on Monday",
         "default",
         4,
         20,
         nov(23, 7, 0),
         {nov(25, 17, 0), NONE, NONE, nov(30, 7, 0)}},
        {"5x8 opened after business hours on Monday",
         "default",
         4,
         20,
         nov(23, 18, 0),
         {nov(26, 17, 0), NONE, NONE, nov(30, 18, 0)}},
        {"holiday Monday: 3 working days from Friday 10:00 end Thursday 10:00",
         "holiday",
         2,
         -1,
         nov(20, 10, 0),
         {nov(20, 12, 0), NONE, NONE, nov(26, 10, 0)}},
        {"holiday Monday under 5x8: Friday 7 h, Tue, Wed, 1 h Thursday",
         "holiday",
         4,
         -1,
         nov(20, 10, 0),
         {nov(26, 10, 0), NONE, NONE, nov(30, 10, 0)}},
        {"make-up Saturday counts: 3 working days from Friday 10:00 end Tuesday 10:00",
         "makeup",
         2,
         -1,
         nov(20, 10, 0),
         {nov(20, 12, 0), NONE, NONE, nov(24, 10, 0)}},
        {"make-up Saturday under 5x8 08:30-17:30: Fri 7 h 30, Sat 2 h 30",
         "makeup",
         4,
         -1,
         nov(20, 10, 0),
         {nov(21, 11, 0), NONE, NONE, NONE}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sla_clock c;

        assert_int_equal(sla_clock_open(&c, find(state, rows[i].customer), rows[i].grade,
                                        rows[i].km, rows[i].open),
                         0);
        for (int k = 0; k < SLA_KINDS; k++) {
            if (c.deadline[k] != rows[i].want[k])
                fail_msg("row %zu (%s): %s deadline %lld, want %lld (diff %lld s)", i, rows[i].why,
                         sla_kind_name(k), (long long)c.deadline[k], (long long)rows[i].want[k],
                         (long long)(c.deadline[k] - rows[i].want[k]));
        }
    }
}

/* Acceptance: UPS on battery at 80 km opens grade 3; low battery 20 min
 * later raises it to grade 2; the deadlines move, counted from the opening. */
static void test_sla_grade_rise_recomputes_from_original_opening(void **state)
{
    struct sla_clock c;
    int64_t open = nov(20, 16, 0);

    assert_int_equal(sla_clock_open(&c, find(state, "default"), 3, 80, open), 0);
    assert_int_equal(sla_clock_regrade(&c, nov(20, 16, 20), 2), 0);
    assert_int_equal(c.grade, 2);
    assert_int_equal(c.deadline[SLA_RESPONSE], nov(20, 18, 0));   /* 2 h */
    assert_int_equal(c.deadline[SLA_REMOTE], nov(20, 18, 0));     /* 2 h, was 4 h */
    assert_int_equal(c.deadline[SLA_ONSITE], nov(21, 4, 0));      /* 12 h, was 24 h */
    assert_int_equal(c.deadline[SLA_RESOLUTION], nov(25, 16, 0)); /* 3 working days, was 4 */
    /* The change is recorded with the deadlines before and after. */
    assert_int_equal(c.n_regrades, 1);
    assert_int_equal(c.regrades[0].at, nov(20, 16, 20));
    assert_int_equal(c.regrades[0].from, 3);
    assert_int_equal(c.regrades[0].to, 2);
    assert_int_equal(c.regrades[0].before[SLA_REMOTE], nov(20, 20, 0));
    assert_int_equal(c.regrades[0].after[SLA_REMOTE], nov(20, 18, 0));
    assert_int_equal(c.regrades[0].before[SLA_RESOLUTION], nov(26, 16, 0));
    assert_int_equal(c.opened_at, open);
    /* A later fall back to grade 3 restores the grade-3 deadlines exactly. */
    assert_int_equal(sla_clock_regrade(&c, nov(20, 19, 0), 3), 0);
    assert_int_equal(c.deadline[SLA_REMOTE], nov(20, 20, 0));
    assert_int_equal(c.deadline[SLA_RESOLUTION], nov(26, 16, 0));
    assert_int_equal(c.n_regrades, 2);
    /* Refusals. */
    assert_int_equal(sla_clock_regrade(&c, nov(20, 19, 0), 3), -EALREADY);
    assert_int_equal(sla_clock_regrade(&c, nov(20, 19, 0), 0), -EINVAL);
    assert_int_equal(sla_clock_regrade(&c, nov(20, 19, 0), 5), -EINVAL);
    assert_int_equal(sla_clock_regrade(&c, open - 1, 1), -EINVAL);
    /* A grade rise to 4 under 5x8: the 5x8 clock from the original opening. */
    assert_int_equal(sla_clock_regrade(&c, nov(23, 10, 0), 4), 0);
    assert_int_equal(c.deadline[SLA_RESPONSE], nov(25, 16, 0));
    assert_int_equal(c.deadline[SLA_ONSITE], 0);
}

/* A pause from Friday noon to Monday noon: 7x24 clocks move by 72 h,
 * the working-day clock only by the working part (Friday and Monday 12 h). */
static void test_sla_pause_spanning_weekend_extends_deadlines(void **state)
{
    struct sla_clock c;

    assert_int_equal(sla_clock_open(&c, find(state, "default"), 3, 80, nov(20, 10, 0)), 0);
    assert_int_equal(c.deadline[SLA_REMOTE], nov(20, 14, 0));
    assert_int_equal(c.deadline[SLA_RESOLUTION], nov(26, 10, 0));
    assert_int_equal(sla_clock_pause(&c, nov(20, 12, 0), "site access refused"), 0);
    assert_true(sla_clock_paused(&c));
    /* Response was due exactly when the pause began: not moved. */
    assert_int_equal(c.deadline[SLA_RESPONSE], nov(20, 12, 0));
    /* The others cannot be reached while paused. */
    assert_int_equal(c.deadline[SLA_REMOTE], SLA_NEVER);
    assert_int_equal(c.deadline[SLA_RESOLUTION], SLA_NEVER);
    /* Time left stands still while paused: 2 h of the 4 h remote clock. */
    assert_int_equal(sla_clock_left(&c, SLA_REMOTE, nov(21, 12, 0)), 2 * 3600);
    assert_int_equal(sla_clock_left(&c, SLA_REMOTE, nov(22, 12, 0)), 2 * 3600);
    assert_int_equal(sla_clock_pause(&c, nov(20, 13, 0), "again"), -EALREADY);
    assert_int_equal(sla_clock_resume(&c, nov(20, 11, 0)), -EINVAL);
    assert_int_equal(sla_clock_resume(&c, nov(23, 12, 0)), 0);
    assert_false(sla_clock_paused(&c));
    assert_int_equal(c.deadline[SLA_REMOTE], nov(23, 14, 0));
    assert_int_equal(c.deadline[SLA_ONSITE], nov(24, 10, 0));
    assert_int_equal(c.deadline[SLA_RESOLUTION], nov(27, 10, 0));
    assert_string_equal(c.pause_reason[0], "site access refused");
    assert_int_equal(c.paused[0].start, nov(20, 12, 0));
    assert_int_equal(c.paused[0].end, nov(23, 12, 0));
    assert_int_equal(sla_clock_resume(&c, nov(23, 13, 0)), -EINVAL);
    /* A pause must not start before the last one ended, nor without a reason. */
    assert_int_equal(sla_clock_pause(&c, nov(23, 11, 0), "x"), -EINVAL);
    assert_int_equal(sla_clock_pause(&c, nov(23, 13, 0), ""), -EINVAL);
    /* A grade change after the pause keeps it: grade 2 remote (2 h) was due
     * at 12:00 exactly, when the pause began. */
    assert_int_equal(sla_clock_regrade(&c, nov(23, 13, 0), 2), 0);
    assert_int_equal(c.deadline[SLA_REMOTE], nov(20, 12, 0));
    assert_int_equal(c.deadline[SLA_ONSITE], nov(23, 22, 0)); /* 2 h + 10 h after resume */
}

static void test_sla_pause_limit_and_second_pause(void **state)
{
    struct sla_clock c;

    assert_int_equal(sla_clock_open(&c, find(state, "default"), 1, 10, nov(20, 10, 0)), 0);
    /* Two pauses of 10 minutes before the 30-minute response deadline. */
    assert_int_equal(sla_clock_pause(&c, nov(20, 10, 5), "waiting for customer approval"), 0);
    assert_int_equal(sla_clock_resume(&c, nov(20, 10, 15)), 0);
    assert_int_equal(sla_clock_pause(&c, nov(20, 10, 20), "site access refused"), 0);
    assert_int_equal(sla_clock_resume(&c, nov(20, 10, 30)), 0);
    assert_int_equal(c.deadline[SLA_RESPONSE], nov(20, 10, 50));
    assert_int_equal(c.n_pauses, 2);
    for (size_t i = c.n_pauses; i < SLA_MAX_PAUSES; i++) {
        assert_int_equal(sla_clock_pause(&c, nov(20, 11, 0) + (int64_t)i * 10, "r"), 0);
        assert_int_equal(sla_clock_resume(&c, nov(20, 11, 0) + (int64_t)i * 10 + 5), 0);
    }
    assert_int_equal(sla_clock_pause(&c, nov(20, 12, 0), "one too many"), -ENOSPC);
}

static void test_sla_left_and_breached(void **state)
{
    struct sla_clock c;

    assert_int_equal(sla_clock_open(&c, find(state, "default"), 1, 10, nov(20, 10, 0)), 0);
    assert_int_equal(sla_clock_left(&c, SLA_RESPONSE, nov(20, 10, 10)), 20 * 60);
    assert_int_equal(sla_clock_left(&c, SLA_RESPONSE, nov(20, 10, 45)), -15 * 60);
    assert_int_equal(sla_clock_left(&c, SLA_RESPONSE, nov(20, 10, 30)), 0);
    /* Met at the deadline is met; one second later is a breach. */
    assert_false(sla_clock_breached(&c, SLA_RESPONSE, nov(20, 10, 30), nov(21, 0, 0)));
    assert_true(sla_clock_breached(&c, SLA_RESPONSE, nov(20, 10, 30) + 1, nov(21, 0, 0)));
    /* Not met yet: breached once now is past the deadline. */
    assert_false(sla_clock_breached(&c, SLA_RESPONSE, 0, nov(20, 10, 29)));
    assert_true(sla_clock_breached(&c, SLA_RESPONSE, 0, nov(20, 10, 31)));
    /* 5x8 time left counts business time. */
    assert_int_equal(sla_clock_open(&c, find(state, "default"), 4, 10, nov(20, 16, 0)), 0);
    assert_int_equal(sla_clock_left(&c, SLA_RESPONSE, nov(21, 12, 0)), 23 * 3600);
    /* A kind the grade does not have. */
    assert_int_equal(sla_clock_left(&c, SLA_ONSITE, nov(21, 12, 0)), 0);
    assert_false(sla_clock_breached(&c, SLA_ONSITE, 0, nov(30, 12, 0)));
    assert_int_equal(sla_clock_open(&c, find(state, "default"), 0, 10, nov(20, 16, 0)), -EINVAL);
}

static void test_sla_cal_between_and_kind_names(void **state)
{
    const struct contract *c = find(state, "holiday");

    (void)state;
    /* Friday 10:00 to Tuesday 10:00 across weekend and the Monday holiday. */
    assert_int_equal(sla_cal_between(&c->calendar, SLA_WIN_WORKING_DAYS, nov(20, 10, 0),
                                     nov(24, 10, 0), NULL, 0),
                     24 * 3600);
    assert_int_equal(
        sla_cal_between(&c->calendar, SLA_WIN_BUSINESS, nov(20, 10, 0), nov(24, 10, 0), NULL, 0),
        8 * 3600);
    assert_int_equal(
        sla_cal_between(&c->calendar, SLA_WIN_ALWAYS, nov(20, 10, 0), nov(20, 9, 0), NULL, 0), 0);
    assert_false(
        sla_cal_is_working_day(&c->calendar, sla_cal_local_day(&c->calendar, nov(23, 0, 0))));
    /* Local day boundaries: 23:59 local Thursday is still Thursday. */
    assert_int_equal(sla_cal_local_day(&c->calendar, nov(19, 23, 59)) + 1,
                     sla_cal_local_day(&c->calendar, nov(20, 0, 0)));
    for (int k = 0; k < SLA_KINDS; k++)
        assert_int_equal(sla_kind_parse(sla_kind_name(k)), k);
    assert_int_equal(sla_kind_parse("lunch"), -EINVAL);
}

/* How each clock of a visit ends: one row per history, every clock's
 * outcome judged at `now` (or at the ticket's end). Default contract,
 * grade 3 at 80 km opened Friday 2026-11-20 10:00: response Fri 12:00,
 * remote Fri 14:00, on-site Sat 10:00, resolution Thu 26 10:00. */
static void test_sla_judge_settles_every_clock(void **state)
{
    enum { R = SLA_RUNNING, M = SLA_MET, B = SLA_BREACHED, N = SLA_NA };
    const struct contract *c = find(state, "default");
    const struct {
        const char *why;
        int64_t ack, remote, onsite, resolved, ended, pause_from, pause_to, now;
        int want[SLA_KINDS];
        const char *reason[SLA_KINDS];
    } rows[] = {
        {"open, nothing done, before any deadline: all running",
         0,
         0,
         0,
         0,
         0,
         0,
         0,
         nov(20, 11, 0),
         {R, R, R, R},
         {"", "", "", ""}},
        {"acknowledged in time, still open: response met, the rest run",
         nov(20, 11, 0),
         0,
         0,
         0,
         0,
         0,
         0,
         nov(20, 13, 0),
         {M, R, R, R},
         {"responded", "", "", ""}},
        {"no response by 12:00: breached while open",
         0,
         0,
         0,
         0,
         0,
         0,
         0,
         nov(20, 12, 1),
         {B, R, R, R},
         {"deadline passed", "", "", ""}},
        {"resolved at 11:30 without ack, remote or visit: response met by the resolution, "
         "remote and on-site not applicable, resolution met; judged days later",
         0,
         0,
         0,
         nov(20, 11, 30),
         0,
         0,
         0,
         nov(30, 0, 0),
         {M, N, N, M},
         {"resolved", "resolved without remote support; remote does not apply",
          "resolved remotely; on-site does not apply", "resolved"}},
        {"resolved at 13:00 without ack: the response deadline (12:00) had passed",
         0,
         0,
         0,
         nov(20, 13, 0),
         0,
         0,
         0,
         nov(30, 0, 0),
         {B, N, N, M},
         {"resolved after the deadline", NULL, NULL, "resolved"}},
        {"acknowledged a moment before a pause that is still open: stays met; the other "
         "deadlines are held by the pause",
         nov(20, 11, 59),
         0,
         0,
         0,
         0,
         nov(20, 12, 0),
         SLA_NEVER,
         nov(25, 0, 0),
         {M, R, R, R},
         {"responded", "", "", ""}},
        {"resolved during an open pause (the resolve ends it): every clock settles, the "
         "late ones against deadlines moved by the pause",
         nov(20, 10, 30),
         0,
         0,
         nov(23, 12, 0),
         0,
         nov(20, 12, 0),
         nov(23, 12, 0),
         nov(30, 0, 0),
         {M, N, N, M},
         {"responded", NULL, NULL, "resolved"}},
        {"engineer on site Saturday 11:00 (deadline 10:00): breached, met late",
         nov(20, 10, 5),
         nov(20, 10, 10),
         nov(21, 11, 0),
         0,
         0,
         0,
         0,
         nov(21, 12, 0),
         {M, M, B, R},
         {"responded", "remote support began",
          "engineer on site after the "
          "deadline",
          ""}},
        {"cancelled at 11:00 after the ack: the rest do not apply",
         nov(20, 10, 30),
         0,
         0,
         0,
         nov(20, 11, 0),
         0,
         0,
         nov(30, 0, 0),
         {M, N, N, N},
         {"responded", "ticket cancelled", "ticket cancelled", "ticket cancelled"}},
        {"resolved the following Friday: resolution breached",
         nov(20, 10, 5),
         nov(20, 10, 10),
         nov(20, 18, 0),
         nov(27, 9, 0),
         0,
         0,
         0,
         nov(30, 0, 0),
         {M, M, M, B},
         {NULL, NULL, NULL, "resolved after the deadline"}},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sla_clock clk;
        struct sla_events ev = {
            .at = {rows[i].ack, rows[i].remote, rows[i].onsite, rows[i].resolved},
            .resolved_at = rows[i].resolved,
            .ended_at = rows[i].ended,
            .ended_why = "ticket cancelled",
        };

        assert_int_equal(sla_clock_open(&clk, c, 3, 80, nov(20, 10, 0)), 0);
        if (rows[i].pause_from != 0) {
            assert_int_equal(sla_clock_pause(&clk, rows[i].pause_from, "site access refused"), 0);
            if (rows[i].pause_to != SLA_NEVER)
                assert_int_equal(sla_clock_resume(&clk, rows[i].pause_to), 0);
        }
        for (int k = 0; k < SLA_KINDS; k++) {
            struct sla_verdict v;

            sla_clock_judge(&clk, (enum sla_kind)k, &ev, rows[i].now, &v);
            if ((int)v.outcome != rows[i].want[k] ||
                (rows[i].reason[k] && strcmp(v.reason, rows[i].reason[k]) != 0))
                fail_msg("%s: %s is %s (%s), want %s (%s)", rows[i].why,
                         sla_kind_name((enum sla_kind)k), sla_outcome_name(v.outcome), v.reason,
                         sla_outcome_name((enum sla_outcome)rows[i].want[k]),
                         rows[i].reason[k] ? rows[i].reason[k] : "any");
            if (v.outcome == SLA_MET)
                assert_true(v.taken_s >= 0);
        }
    }
}

/* Counting time taken: a 5x8 response acknowledged on Monday 10:00 after a
 * Saturday opening took one business hour; a pause does not count. */
static void test_sla_judge_taken_is_counting_time(void **state)
{
    struct sla_clock clk;
    struct sla_verdict v;
    struct sla_events ev = {.at = {nov(23, 10, 0)}};

    assert_int_equal(sla_clock_open(&clk, find(state, "default"), 4, 10, nov(21, 10, 0)), 0);
    sla_clock_judge(&clk, SLA_RESPONSE, &ev, nov(23, 11, 0), &v);
    assert_int_equal(v.outcome, SLA_MET);
    assert_int_equal(v.taken_s, 3600);
    assert_int_equal(v.due, nov(25, 17, 0));

    assert_int_equal(sla_clock_open(&clk, find(state, "default"), 3, 80, nov(20, 10, 0)), 0);
    assert_int_equal(sla_clock_pause(&clk, nov(20, 10, 30), "waiting for approval"), 0);
    assert_int_equal(sla_clock_resume(&clk, nov(20, 11, 30)), 0);
    ev.at[SLA_RESPONSE] = nov(20, 12, 0);
    sla_clock_judge(&clk, SLA_RESPONSE, &ev, nov(20, 12, 0), &v);
    assert_int_equal(v.outcome, SLA_MET); /* due 13:00 after the hour's pause */
    assert_int_equal(v.taken_s, 3600);
    assert_int_equal(v.due, nov(20, 13, 0));
}

/* A response given under grade 3 keeps grade 3's deadline when the grade
 * is raised to 1 afterwards, even if the raise is known before the response
 * is judged (a history entered after the fact). */
static void test_sla_judge_event_under_the_grade_in_force(void **state)
{
    struct sla_clock clk;
    struct sla_verdict v;
    struct sla_events ev = {.at = {nov(24, 10, 45)}};

    assert_int_equal(sla_clock_open(&clk, find(state, "default"), 3, 80, nov(24, 10, 0)), 0);
    assert_int_equal(sla_clock_regrade(&clk, nov(24, 11, 0), 1), 0);
    sla_clock_judge(&clk, SLA_RESPONSE, &ev, nov(30, 0, 0), &v);
    assert_int_equal(v.outcome, SLA_MET);
    assert_int_equal(v.grade, 3);
    assert_int_equal(v.due, nov(24, 12, 0));
    /* Given after the raise: grade 1's 30 minutes, breached. */
    ev.at[SLA_RESPONSE] = nov(24, 11, 5);
    sla_clock_judge(&clk, SLA_RESPONSE, &ev, nov(30, 0, 0), &v);
    assert_int_equal(v.outcome, SLA_BREACHED);
    assert_int_equal(v.grade, 1);
    assert_int_equal(v.due, nov(24, 10, 30));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sla_deadlines_at_opening),
        cmocka_unit_test(test_sla_grade_rise_recomputes_from_original_opening),
        cmocka_unit_test(test_sla_pause_spanning_weekend_extends_deadlines),
        cmocka_unit_test(test_sla_pause_limit_and_second_pause),
        cmocka_unit_test(test_sla_left_and_breached),
        cmocka_unit_test(test_sla_cal_between_and_kind_names),
        cmocka_unit_test(test_sla_judge_settles_every_clock),
        cmocka_unit_test(test_sla_judge_taken_is_counting_time),
        cmocka_unit_test(test_sla_judge_event_under_the_grade_in_force),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
