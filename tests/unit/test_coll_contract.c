/* Unit tests for contract: the shipped default contract carries the seed
 * tables, every mistake a contract author can make is refused with file,
 * line and key, and the on-site rule combines grade and distance limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "contract.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H (3600LL * 1000)
#define M (60LL * 1000)
#define DEFAULT_CONTRACT FM_SOURCE_DIR "/deploy/contract-default.yaml"

static void test_contract_default_file_has_the_seed_tables(void **state)
{
    static const struct {
        int grade;
        int support;
        int64_t response, remote, onsite, days;
        size_t n_ladder;
    } want[] = {
        {1, CONTRACT_7X24, 30 * M, 30 * M, 2 * H, 1, 4}, /* S1 tables 11-13; grade-1 days chosen */
        {2, CONTRACT_7X24, 2 * H, 2 * H, 12 * H, 3, 3},  /* S0: 3 working days */
        {3, CONTRACT_7X24, 2 * H, 4 * H, 24 * H, 4, 2},  /* S0: 4 working days */
        {4, CONTRACT_5X8, 24 * H, 0, 0, 5, 1},           /* S0: 24 h, 5x8, 5 working days */
    };
    struct contract_set set = {0};
    char err[256] = "";
    const struct contract *c;

    (void)state;
    assert_int_equal(contract_set_load_file(DEFAULT_CONTRACT, &set, err, sizeof(err)), 0);
    c = contract_find(&set, "any-customer");
    assert_non_null(c);
    assert_string_equal(c->customer, "default");
    assert_int_equal(c->calendar.utc_offset_s, 8 * 3600);
    assert_int_equal(c->calendar.weekday_mask, 0x3e); /* mon-fri */
    assert_int_equal(c->calendar.day_start_s, 9 * 3600);
    assert_int_equal(c->calendar.day_end_s, 17 * 3600);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct contract_grade *g = contract_grade(c, want[i].grade);

        assert_non_null(g);
        assert_int_equal(g->support, want[i].support);
        assert_int_equal(g->response_ms, want[i].response);
        assert_int_equal(g->remote_ms, want[i].remote);
        assert_int_equal(g->onsite_ms, want[i].onsite);
        assert_int_equal(g->resolution_days, want[i].days);
        assert_int_equal(g->n_ladder, want[i].n_ladder);
    }
    /* S1 table 16: the ladder is diagonal. */
    const struct contract_grade *g1 = contract_grade(c, 1);
    assert_int_equal(g1->ladder[0].after_ms, 15 * M);
    assert_string_equal(g1->ladder[0].role, "field-engineer");
    assert_int_equal(g1->ladder[1].after_ms, 30 * M);
    assert_string_equal(g1->ladder[1].role, "emergency-team");
    assert_int_equal(g1->ladder[2].after_ms, 45 * M);
    assert_string_equal(g1->ladder[2].role, "customer-manager");
    assert_int_equal(g1->ladder[3].after_ms, 60 * M);
    assert_string_equal(g1->ladder[3].role, "service-centre-manager");
    const struct contract_grade *g3 = contract_grade(c, 3);
    assert_int_equal(g3->ladder[1].after_ms, 60 * M);
    assert_string_equal(g3->ladder[1].role, "emergency-team");
    /* S1 table 14 bands. */
    assert_int_equal(c->n_bands, 3);
    assert_int_equal(c->bands[1].onsite_ms, 12 * H);
    assert_int_equal(c->beyond_bands_onsite_ms, 72 * H);
    contract_set_free(&set);
}

/* The on-site limit: the domain proposal and the three other rules. */
static void test_contract_onsite_combines_grade_and_distance(void **state)
{
    static const struct {
        const char *rule;
        int grade;
        double km;
        int64_t want;
    } cases[] = {
        {"grade-or-distance", 1, 30, 2 * H},    /* first band: the grade limit even if shorter */
        {"grade-or-distance", 1, 50, 2 * H},    /* band edge is inclusive */
        {"grade-or-distance", 1, 50.5, 12 * H}, /* just past the first band: 12 h band wins */
        {"grade-or-distance", 3, 80, 24 * H},   /* grade 24 h > band 12 h */
        {"grade-or-distance", 2, 80, 12 * H},   /* equal */
        {"grade-or-distance", 3, 500, 72 * H},  /* beyond the last band: 3 days */
        {"grade-or-distance", 2, -1, 12 * H},   /* distance unknown: grade limit */
        {"grade-or-distance", 4, 80, 0},        /* grade without on-site commitment */
        {"grade", 1, 500, 2 * H},
        {"distance", 3, 30, 5 * H},
        {"max", 1, 30, 5 * H},
        {"max", 3, 30, 24 * H},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], err[256] = "";
        struct contract_set set = {0};

        snprintf(text, sizeof(text),
                 "contracts:\n"
                 "  - customer: c\n"
                 "    onsite_rule: %s\n"
                 "    distance_bands:\n"
                 "      - {max_km: 50, onsite: 5h}\n"
                 "      - {max_km: 100, onsite: 12h}\n"
                 "      - {max_km: 400, onsite: 24h}\n"
                 "    grades:\n"
                 "      - {grade: 1, response: 30m, onsite: 2h}\n"
                 "      - {grade: 2, response: 2h, onsite: 12h}\n"
                 "      - {grade: 3, response: 2h, onsite: 24h}\n"
                 "      - {grade: 4, response: 24h}\n",
                 cases[i].rule);
        assert_int_equal(
            contract_set_load_string("c.yaml", text, strlen(text), &set, err, sizeof(err)), 0);
        const struct contract *c = contract_find(&set, "c");
        assert_int_equal(contract_onsite_ms(c, contract_grade(c, cases[i].grade), cases[i].km),
                         cases[i].want);
        contract_set_free(&set);
    }
}

static void test_contract_find_falls_back_to_default(void **state)
{
    const char *text = "contracts:\n"
                       "  - customer: acme\n"
                       "  - customer: default\n";
    struct contract_set set = {0};
    char err[256];

    (void)state;
    assert_int_equal(contract_set_load_string("c.yaml", text, strlen(text), &set, err, sizeof(err)),
                     0);
    assert_string_equal(contract_find(&set, "acme")->customer, "acme");
    assert_string_equal(contract_find(&set, "other")->customer, "default");
    assert_string_equal(contract_find(&set, NULL)->customer, "default");
    assert_null(contract_grade(contract_find(&set, "acme"), 1));
    contract_set_free(&set);

    text = "contracts:\n  - customer: acme\n    sites: [site-a]\n  - customer: default\n";
    assert_int_equal(contract_set_load_string("c.yaml", text, strlen(text), &set, err, sizeof(err)),
                     0);
    assert_string_equal(contract_for_site(&set, "site-a")->customer, "acme");
    assert_string_equal(contract_for_site(&set, "site-b")->customer, "default");
    assert_string_equal(contract_for_site(&set, NULL)->customer, "default");
    contract_set_free(&set);

    text = "contracts:\n  - customer: acme\n";
    assert_int_equal(contract_set_load_string("c.yaml", text, strlen(text), &set, err, sizeof(err)),
                     0);
    assert_null(contract_find(&set, "other"));
    assert_null(contract_for_site(&set, "site-b"));
    contract_set_free(&set);
}

/* Every mistake names file, line and key path. */
static void test_contract_errors_name_line_and_key(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        /* ladder names a role that does not exist */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 1\n        ladder:\n"
         "          - {after: 15m, role: boss}\n",
         "c.yaml:6: contracts[0].grades[0].ladder[0].role: role \"boss\" is not listed under "
         "roles"},
        /* a role engaged by a step that does not exist */
        {"contracts:\n  - customer: a\n    roles:\n      - name: fe\n"
         "        engaged_by: [dispatch, arrive]\n",
         "c.yaml:5: contracts[0].roles[0].engaged_by[1]: \"arrive\" is not a ticket step "
         "(acknowledge, dispatch, remote, on-site)"},
        /* grade listed twice */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 2\n      - grade: 2\n",
         "c.yaml:5: contracts[0].grades[1].grade: grade 2 listed twice"},
        /* grade out of range */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 5\n",
         "c.yaml:4: contracts[0].grades[0].grade: 5 is not in 1..4"},
        /* bad time zone */
        {"contracts:\n  - customer: a\n    calendar:\n      time_zone: Asia/Shanghai\n",
         "c.yaml:4: contracts[0].calendar.time_zone: \"Asia/Shanghai\" is not UTC or a fixed "
         "offset like +08:00"},
        /* bad holiday date, pointing at the item */
        {"contracts:\n  - customer: a\n    calendar:\n      holidays:\n        - 2026-01-01\n"
         "        - 2026-02-30\n",
         "c.yaml:6: contracts[0].calendar.holidays[1]: \"2026-02-30\" is not a date "
         "(YYYY-MM-DD)"},
        {"contracts:\n  - customer: a\n    calendar:\n      extra_working_days: [26-1-1]\n",
         "c.yaml:4: contracts[0].calendar.extra_working_days[0]: \"26-1-1\" is not a date "
         "(YYYY-MM-DD)"},
        /* bad working days */
        {"contracts:\n  - customer: a\n    calendar:\n      working_days: monday-friday\n",
         "c.yaml:4: contracts[0].calendar.working_days: \"monday-friday\" is not a day range "
         "(mon-fri) or list (mon,tue,thu)"},
        /* business hours backwards */
        {"contracts:\n  - customer: a\n    calendar:\n      business_hours: \"17:00-09:00\"\n",
         "c.yaml:4: contracts[0].calendar.business_hours: \"17:00-09:00\" is not HH:MM-HH:MM "
         "with the end after the start"},
        /* bands out of order */
        {"contracts:\n  - customer: a\n    distance_bands:\n      - {max_km: 100, onsite: 12h}\n"
         "      - {max_km: 50, onsite: 5h}\n",
         "c.yaml:5: contracts[0].distance_bands[1].max_km: 50 must be greater than the band "
         "before (100)"},
        /* webhook not a URL */
        {"contracts:\n  - customer: a\n    roles:\n      - name: x\n        webhooks: "
         "[ftp://h/]\n",
         "c.yaml:5: contracts[0].roles[0].webhooks[0]: \"ftp://h/\" is not an http:// or "
         "https:// URL"},
        /* role twice */
        {"contracts:\n  - customer: a\n    roles:\n      - name: x\n      - name: x\n",
         "c.yaml:5: contracts[0].roles[1].name: role \"x\" listed twice"},
        /* customer twice */
        {"contracts:\n  - customer: a\n  - customer: a\n",
         "c.yaml:3: contracts[1].customer: customer \"a\" has a contract already"},
        /* ladder out of order */
        {"contracts:\n  - customer: a\n    roles: [{name: x}, {name: y}]\n    grades:\n"
         "      - grade: 1\n        ladder:\n          - {after: 30m, role: x}\n"
         "          - {after: 15m, role: y}\n",
         "c.yaml:8: contracts[0].grades[0].ladder[1].after: steps must be in ascending order of "
         "time"},
        /* same role twice in a ladder */
        {"contracts:\n  - customer: a\n    roles: [{name: x}]\n    grades:\n"
         "      - grade: 1\n        ladder:\n          - {after: 15m, role: x}\n"
         "          - {after: 30m, role: x}\n",
         "c.yaml:8: contracts[0].grades[0].ladder[1].role: role \"x\" already engaged at an "
         "earlier step"},
        /* unknown key (typo) */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 1\n        respons: 1h\n",
         "c.yaml:5: contracts[0].grades[0].respons: unknown key"},
        /* duration without unit */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 1\n        response: 30\n",
         "c.yaml:5: contracts[0].grades[0].response: \"30\" is not a duration (e.g. 500ms, 10s, "
         "5m, 1h, 1d)"},
        /* support mode */
        {"contracts:\n  - customer: a\n    grades:\n      - grade: 1\n        support: 24x7\n",
         "c.yaml:5: contracts[0].grades[0].support: \"24x7\" is not one of: 7x24, 5x8"},
        /* customer name */
        {"contracts:\n  - customer: \"a b\"\n",
         "c.yaml:2: contracts[0].customer: \"a b\": use letters, digits, '-', '_' and '.' only"},
        /* a site under two customers */
        {"contracts:\n  - customer: a\n    sites: [s1, s2]\n  - customer: b\n    sites: [s3, s2]\n",
         "c.yaml:5: contracts[1].sites[1]: site \"s2\" is already covered by customer \"a\""},
        /* no contracts key */
        {"{}\n", "c.yaml:1: contracts: required key missing"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct contract_set set = {0};
        char err[512] = "";
        assert_int_equal(contract_set_load_string("c.yaml", cases[i].text, strlen(cases[i].text),
                                                  &set, err, sizeof(err)),
                         -EINVAL);
        if (strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu: got  %s\n want %s", i, err, cases[i].want);
        assert_null(set.contracts);
    }
}

static void test_contract_missing_file_is_reported(void **state)
{
    struct contract_set set = {0};
    char err[256] = "";

    (void)state;
    assert_int_equal(contract_set_load_file("/nonexistent/contract.yaml", &set, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "/nonexistent/contract.yaml: No such file or directory");
}

static void test_contract_parse_date_edges(void **state)
{
    static const struct {
        const char *text;
        int rc;
        int64_t day;
    } cases[] = {
        {"1970-01-01", 0, 0},        {"2026-11-20", 0, 20777},   /* a Friday */
        {"2024-02-29", 0, 19782},    {"2023-02-29", -EINVAL, 0}, /* not a leap year */
        {"2000-02-29", 0, 11016},    {"2026-13-01", -EINVAL, 0}, {"2026-1-01", -EINVAL, 0},
        {"2026-01-01x", -EINVAL, 0}, {"1969-12-31", -EINVAL, 0}, {"", -EINVAL, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t day = -1;

        assert_int_equal(contract_parse_date(cases[i].text, &day), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(day, cases[i].day);
    }
}

/* docs/contracts.md carries the key reference printed from the table. */
static void test_contract_docs_list_every_key(void **state)
{
    char *ref = NULL, *doc = NULL;
    size_t ref_len = 0, doc_len = 0;
    FILE *m = open_memstream(&ref, &ref_len);
    FILE *f = fopen(FM_SOURCE_DIR "/docs/contracts.md", "r");

    (void)state;
    assert_non_null(m);
    assert_non_null(f);
    contract_print_reference(m);
    fclose(m);
    assert_int_equal(getdelim(&doc, &doc_len, '\0', f) > 0, 1);
    fclose(f);
    bool found = strstr(doc, ref) != NULL;

    free(ref);
    free(doc);
    if (!found)
        fail_msg("docs/contracts.md does not contain the current key reference; regenerate it "
                 "with contract_print_reference");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_default_file_has_the_seed_tables),
        cmocka_unit_test(test_contract_onsite_combines_grade_and_distance),
        cmocka_unit_test(test_contract_find_falls_back_to_default),
        cmocka_unit_test(test_contract_errors_name_line_and_key),
        cmocka_unit_test(test_contract_missing_file_is_reported),
        cmocka_unit_test(test_contract_parse_date_edges),
        cmocka_unit_test(test_contract_docs_list_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
