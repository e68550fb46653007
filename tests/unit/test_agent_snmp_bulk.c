/* Unit tests for snmp_bulk: which GETBULK answers of a table walk are
 * wrong (loop, empty, short) and which are right, as a table of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "snmp_bulk.h"

#include <string.h>

/* ifDescr and ifOperStatus, and rows of them. */
#define A 1, 3, 6, 1, 2, 1, 2, 2, 1, 2
#define B 1, 3, 6, 1, 2, 1, 2, 2, 1, 8
#define MAXVB 40

struct name {
    oid v[16];
    size_t len;
};

struct vb_spec {
    struct name n;
    size_t val_len;
    bool end;
};

struct bulk_case {
    const char *what;
    struct name asked[2];
    size_t n_asked;
    unsigned max_rep;
    struct vb_spec vb[MAXVB];
    size_t n_vb;
    /* With rows > 0, vb is rows A.1..A.rows of val_len 8 instead. */
    size_t rows;
    enum snmp_bulk_verdict want;
    size_t want_at;
};

#define N(...)                                                                                     \
    {                                                                                              \
        {__VA_ARGS__}, sizeof((oid[]){__VA_ARGS__}) / sizeof(oid)                                  \
    }
#define VB(...)                                                                                    \
    {                                                                                              \
        N(__VA_ARGS__), 8, false                                                                   \
    }
#define END(...)                                                                                   \
    {                                                                                              \
        N(__VA_ARGS__), 0, true                                                                    \
    }

static const struct bulk_case cases[] = {
    {"two full rounds",
     {N(A), N(B)},
     2,
     2,
     {VB(A, 1), VB(B, 1), VB(A, 2), VB(B, 2)},
     4,
     0,
     SNMP_BULK_OK,
     0},
    {"a repeater leaves its column for the next one",
     {N(A)},
     1,
     2,
     {VB(A, 9), VB(B, 1)},
     2,
     0,
     SNMP_BULK_OK,
     0},
    {"stops early at the end of the MIB view",
     {N(A)},
     1,
     5,
     {VB(A, 1), END(A, 1)},
     2,
     0,
     SNMP_BULK_OK,
     0},
    {"endOfMibView repeats the last name",
     {N(A, 3)},
     1,
     3,
     {END(A, 3), END(A, 3), END(A, 3)},
     3,
     0,
     SNMP_BULK_OK,
     0},
    {"cut at a size limit (30 rows, over 484 bytes)",
     {N(A)},
     1,
     100,
     {{{{0}, 0}, 0, false}},
     0,
     30,
     SNMP_BULK_OK,
     0},
    {"short but one big value", {N(A)}, 1, 25, {{N(A, 1), 400, false}}, 1, 0, SNMP_BULK_OK, 0},
    {"one round of 25 asked", {N(A), N(B)}, 2, 25, {VB(A, 1), VB(B, 1)}, 2, 0, SNMP_BULK_SHORT, 0},
    {"less than one round", {N(A), N(B)}, 2, 1, {VB(A, 1)}, 1, 0, SNMP_BULK_SHORT, 0},
    {"no varbinds", {N(A)}, 1, 10, {{{{0}, 0}, 0, false}}, 0, 0, SNMP_BULK_EMPTY, 0},
    {"the same OID again", {N(A)}, 1, 3, {VB(A, 1), VB(A, 1), VB(A, 1)}, 3, 0, SNMP_BULK_LOOP, 1},
    {"the name asked again", {N(A, 4)}, 1, 3, {VB(A, 4)}, 1, 0, SNMP_BULK_LOOP, 0},
    {"going backwards", {N(A, 5)}, 1, 2, {VB(A, 3), VB(A, 4)}, 2, 0, SNMP_BULK_LOOP, 0},
    {"the second repeater gets the first one's rows",
     {N(A), N(B)},
     2,
     2,
     {VB(A, 1), VB(A, 2), VB(A, 3), VB(A, 4)},
     4,
     0,
     SNMP_BULK_LOOP,
     1},
    {"a loop is found before shortness",
     {N(A)},
     1,
     25,
     {VB(A, 1), VB(A, 1)},
     2,
     0,
     SNMP_BULK_LOOP,
     1},
};

static void test_agent_snmp_bulk_verdicts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bulk_case *c = &cases[i];
        oid_t asked[2];
        const oid_t *ap[2] = {&asked[0], &asked[1]};
        struct snmp_bulk_vb vb[MAXVB];
        oid rows[MAXVB][11];
        struct snmp_bulk_result r;
        size_t n = c->rows ? c->rows : c->n_vb;

        for (size_t j = 0; j < c->n_asked; j++) {
            memcpy(asked[j].v, c->asked[j].v, c->asked[j].len * sizeof(oid));
            asked[j].len = c->asked[j].len;
        }
        for (size_t k = 0; k < n; k++) {
            if (c->rows) {
                const oid a[] = {A};

                memcpy(rows[k], a, sizeof(a));
                rows[k][10] = k + 1;
                vb[k] = (struct snmp_bulk_vb){rows[k], 11, 8, false};
            } else {
                vb[k] = (struct snmp_bulk_vb){c->vb[k].n.v, c->vb[k].n.len, c->vb[k].val_len,
                                              c->vb[k].end};
            }
        }
        if (snmp_bulk_check(ap, c->n_asked, c->max_rep, vb, n, &r) != c->want ||
            r.verdict != c->want || (c->want == SNMP_BULK_LOOP && r.at != c->want_at))
            fail_msg("case '%s': verdict %d at %zu, want %d at %zu", c->what, r.verdict, r.at,
                     c->want, c->want_at);
    }
}

static void test_agent_snmp_bulk_why_names_the_oids(void **state)
{
    (void)state;
    oid_t asked = {{A, 3}, 11};
    const oid_t *ap[1] = {&asked};
    const oid row[] = {A, 3};
    struct snmp_bulk_vb vb[2] = {{row, 11, 8, false}, {row, 11, 8, false}};
    struct snmp_bulk_result r;
    char why[256];

    assert_int_equal(snmp_bulk_check(ap, 1, 5, vb, 2, &r), SNMP_BULK_LOOP);
    assert_int_equal(r.at, 0);
    snmp_bulk_why(&r, vb, why, sizeof(why));
    assert_string_equal(why,
                        "GETBULK answers loop (1.3.6.1.2.1.2.2.1.2.3 after 1.3.6.1.2.1.2.2.1.2.3)");

    asked.len = 10;
    assert_int_equal(snmp_bulk_check(ap, 1, 5, vb, 1, &r), SNMP_BULK_SHORT);
    snmp_bulk_why(&r, vb, why, sizeof(why));
    assert_string_equal(why, "GETBULK answers stop short (1 of 5 varbinds, not at the end)");

    assert_int_equal(snmp_bulk_check(ap, 1, 5, vb, 0, &r), SNMP_BULK_EMPTY);
    snmp_bulk_why(&r, vb, why, sizeof(why));
    assert_string_equal(why, "GETBULK answers are empty");
}

static void test_agent_snmp_bulk_sizes_and_error_names(void **state)
{
    (void)state;
    const oid row[] = {A, 1};
    const oid big[] = {1, 3, 6, 1, 4, 1, 99999, 1};
    char buf[32];

    /* 10 bytes of name + 2, 8 of value + 2, sequence header 2. */
    assert_int_equal(snmp_bulk_vb_bytes(row, 11, 8), 24);
    /* 99999 takes three base-128 bytes: 9 bytes of name. */
    assert_int_equal(snmp_bulk_vb_bytes(big, 8, 0), 2 + 9 + 2 + 2);
    /* A value of 200 bytes has a 3-byte header, and so has the sequence. */
    assert_int_equal(snmp_bulk_vb_bytes(row, 11, 200), 3 + 12 + 3 + 200);
    assert_string_equal(snmp_bulk_err_name(5, buf, sizeof(buf)), "genErr");
    assert_string_equal(snmp_bulk_err_name(13, buf, sizeof(buf)), "resourceUnavailable");
    assert_string_equal(snmp_bulk_err_name(42, buf, sizeof(buf)), "error-status 42");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_snmp_bulk_verdicts),
        cmocka_unit_test(test_agent_snmp_bulk_why_names_the_oids),
        cmocka_unit_test(test_agent_snmp_bulk_sizes_and_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
