/* Unit tests for mb_plan: tables of point sets with the reads they must
 * produce, the protocol limits, and the point checks behind config errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mb_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAXP 8

struct plan_case {
    const char *what; /* the uplink this row covers */
    struct mb_plan_limits lim;
    size_t n;
    struct mb_plan_point pts[MAXP];
    size_t n_reads;
    struct mb_plan_read reads[MAXP];
    struct mb_plan_slot slots[MAXP];
};

static const struct plan_case cases[] = {
    {"adjacent registers merge into one read",
     {0, 0, 0},
     3,
     {{3, 0, 1}, {3, 1, 1}, {3, 2, 2}},
     1,
     {{3, 0, 4}},
     {{0, 0}, {0, 1}, {0, 2}}},
    {"a hole within max_gap is read across",
     {10, 0, 0},
     2,
     {{3, 0, 1}, {3, 11, 1}},
     1,
     {{3, 0, 12}},
     {{0, 0}, {0, 11}}},
    {"a hole over max_gap splits the read",
     {9, 0, 0},
     2,
     {{3, 0, 1}, {3, 11, 1}},
     2,
     {{3, 0, 1}, {3, 11, 1}},
     {{0, 0}, {1, 0}}},
    {"max_gap 0 never reads an unmapped register",
     {0, 0, 0},
     2,
     {{4, 0, 1}, {4, 2, 1}},
     2,
     {{4, 0, 1}, {4, 2, 1}},
     {{0, 0}, {1, 0}}},
    {"different functions never share a read",
     {100, 0, 0},
     4,
     {{1, 0, 1}, {2, 0, 1}, {3, 0, 1}, {4, 0, 1}},
     4,
     {{1, 0, 1}, {2, 0, 1}, {3, 0, 1}, {4, 0, 1}},
     {{0, 0}, {1, 0}, {2, 0}, {3, 0}}},
    {"unsorted input is sorted by address, slots follow their points",
     {10, 0, 0},
     3,
     {{3, 40, 2}, {3, 30, 1}, {3, 0, 1}},
     2,
     {{3, 0, 1}, {3, 30, 12}},
     {{1, 10}, {1, 0}, {0, 0}}},
    {"125 registers fit in one read, the 126th starts another",
     {0, 0, 0},
     2,
     {{3, 0, 124}, {3, 124, 2}},
     2,
     {{3, 0, 124}, {3, 124, 2}},
     {{0, 0}, {1, 0}}},
    {"exactly 125 registers in one read",
     {0, 0, 0},
     2,
     {{3, 0, 123}, {3, 123, 2}},
     1,
     {{3, 0, 125}},
     {{0, 0}, {0, 123}}},
    {"max_span below the protocol limit",
     {10, 4, 0},
     3,
     {{3, 0, 2}, {3, 2, 2}, {3, 4, 2}},
     2,
     {{3, 0, 4}, {3, 4, 2}},
     {{0, 0}, {0, 2}, {1, 0}}},
    {"2000 coils in one read",
     {0, 0, 0},
     2,
     {{1, 0, 1999}, {1, 1999, 1}},
     1,
     {{1, 0, 2000}},
     {{0, 0}, {0, 1999}}},
    {"bit span limit applies to discrete inputs",
     {10, 0, 8},
     3,
     {{2, 0, 1}, {2, 7, 1}, {2, 8, 1}},
     2,
     {{2, 0, 8}, {2, 8, 1}},
     {{0, 0}, {0, 7}, {1, 0}}},
    {"overlapping points share words (bit fields of one status word)",
     {0, 0, 0},
     3,
     {{3, 30, 1}, {3, 30, 1}, {3, 29, 2}},
     1,
     {{3, 29, 2}},
     {{0, 1}, {0, 1}, {0, 0}}},
    {"a point inside a wider one does not extend the read",
     {0, 0, 0},
     2,
     {{3, 10, 4}, {3, 11, 1}},
     1,
     {{3, 10, 4}},
     {{0, 0}, {0, 1}}},
    {"last register of the address space",
     {0, 0, 0},
     2,
     {{4, 65533, 2}, {4, 65535, 1}},
     1,
     {{4, 65533, 3}},
     {{0, 0}, {0, 2}}},
};

static void test_mb_plan_cases(void **state)
{
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct plan_case *pc = &cases[c];
        struct mb_plan plan;

        if (mb_plan_build(pc->pts, pc->n, &pc->lim, &plan) != 0)
            fail_msg("%s: build failed", pc->what);
        if (plan.n_reads != pc->n_reads)
            fail_msg("%s: %zu reads, want %zu", pc->what, plan.n_reads, pc->n_reads);
        for (size_t i = 0; i < pc->n_reads; i++) {
            const struct mb_plan_read *g = &plan.reads[i], *w = &pc->reads[i];
            if (g->function != w->function || g->address != w->address || g->count != w->count)
                fail_msg("%s: read %zu is fc%u @%u x%u, want fc%u @%u x%u", pc->what, i,
                         g->function, g->address, g->count, w->function, w->address, w->count);
        }
        assert_int_equal(plan.n_slots, pc->n);
        for (size_t i = 0; i < pc->n; i++) {
            if (plan.slots[i].read != pc->slots[i].read ||
                plan.slots[i].offset != pc->slots[i].offset)
                fail_msg("%s: point %zu in read %u +%u, want %u +%u", pc->what, i,
                         plan.slots[i].read, plan.slots[i].offset, pc->slots[i].read,
                         pc->slots[i].offset);
        }
        mb_plan_free(&plan);
    }
}

static void test_mb_plan_fifty_registers_is_one_read(void **state)
{
    struct mb_plan_point pts[50];
    struct mb_plan_limits lim = {0, 0, 0};
    struct mb_plan plan;

    for (int i = 0; i < 50; i++)
        pts[i] = (struct mb_plan_point){3, (uint16_t)(49 - i), 1};
    assert_int_equal(mb_plan_build(pts, 50, &lim, &plan), 0);
    assert_int_equal(plan.n_reads, 1);
    assert_int_equal(plan.reads[0].count, 50);
    assert_int_equal(plan.slots[0].offset, 49);
    mb_plan_free(&plan);
    mb_plan_free(&plan); /* freeing twice is harmless: the plan was zeroed */
    assert_int_equal(mb_plan_build(pts, 0, &lim, &plan), 0);
    assert_int_equal(plan.n_reads, 0);
    mb_plan_free(NULL);
}

struct bad_case {
    const char *what;
    struct mb_plan_point pt;
    const char *why_part;
};

static const struct bad_case bad[] = {
    {"function 5 is a write", {5, 0, 1}, "function must be"},
    {"function 0", {0, 0, 1}, "function must be"},
    {"zero count", {3, 0, 0}, "at least 1"},
    {"126 registers", {3, 0, 126}, "125 registers"},
    {"2001 coils", {1, 0, 2001}, "2000 bits"},
    {"float32 at the last register", {3, 65535, 2}, "address space"},
};

static void test_mb_plan_rejects_impossible_points(void **state)
{
    struct mb_plan_limits lim = {0, 0, 0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        struct mb_plan plan;

        assert_int_equal(mb_plan_check_point(&bad[i].pt, &why), -EINVAL);
        if (why == NULL || strstr(why, bad[i].why_part) == NULL)
            fail_msg("%s: reason '%s'", bad[i].what, why ? why : "(none)");
        assert_int_equal(mb_plan_build(&bad[i].pt, 1, &lim, &plan), -EINVAL);
        assert_int_equal(plan.n_reads, 0);
        assert_null(plan.reads);
    }
}

static void test_mb_plan_rejects_point_wider_than_max_span(void **state)
{
    struct mb_plan_point pt = {3, 0, 4};
    struct mb_plan_limits lim = {0, 2, 0};
    struct mb_plan plan;
    const char *why = NULL;

    assert_int_equal(mb_plan_check_point(&pt, &why), 0);
    assert_null(why);
    assert_int_equal(mb_plan_build(&pt, 1, &lim, &plan), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb_plan_cases),
        cmocka_unit_test(test_mb_plan_fifty_registers_is_one_read),
        cmocka_unit_test(test_mb_plan_rejects_impossible_points),
        cmocka_unit_test(test_mb_plan_rejects_point_wider_than_max_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
