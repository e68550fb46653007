/* Unit tests for rules: the shipped default rule set grades the issue's
 * examples, and rule files with mistakes are refused with file:line:key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RULES FM_SOURCE_DIR "/deploy/rules-default.yaml"

static void test_rules_default_file_loads_with_documented_settings(void **state)
{
    struct rules_conf c = {0};
    char err[512] = "";

    (void)state;
    if (rules_load_file(DEFAULT_RULES, &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.group_wait_ms, 30000);
    assert_int_equal(c.open_max_grade, 3);
    assert_int_equal(c.reopen_within_ms, 24LL * 3600 * 1000);
    assert_int_equal(c.flap.transitions, 6);
    assert_int_equal(c.flap.window_ms, 600000);
    assert_int_equal(c.grade4.count, 3);
    assert_int_equal(c.grade4.grade, 3);
    assert_int_equal(c.n_roots, 1);
    assert_string_equal(c.roots[0].name, "mains");
    assert_non_null(rules_root_of(&c, "ups_on_battery"));
    assert_null(rules_root_of(&c, "ups_low_battery"));
    assert_ptr_equal(rules_follower_of(&c, "ups_low_battery"), &c.roots[0]);
    assert_ptr_equal(rules_follower_of(&c, "temp_high"), &c.roots[0]);
    assert_null(rules_follower_of(&c, "smoke"));
    rules_free(&c);
}

static const struct fmc_kv tags_core[] = {{"room", "core"}};
static const struct fmc_kv tags_critical[] = {{"critical", "true"}, {"room", "a"}};
static const struct fmc_kv tags_area[] = {{"role", "area"}};

struct grade_case {
    const char *what; /* the uplink this row covers */
    int scope;
    const char *cls, *code, *point;
    const struct fmc_kv *tags;
    size_t n_tags;
    int64_t age_ms;
    int grade;
    const char *rule; /* NULL: the default grade */
};

static const struct grade_case grade_cases[] = {
    {"smoke is grade 1", RULES_SCOPE_DEVICE, "env_sensor", "smoke", NULL, NULL, 0, 0, 1,
     "smoke-or-fire"},
    {"fire glob matches fire_panel_alarm", RULES_SCOPE_DEVICE, "ddc", "fire_panel_alarm", NULL,
     NULL, 0, 0, 1, "smoke-or-fire"},
    {"ups on battery is grade 3", RULES_SCOPE_DEVICE, "ups", "ups_on_battery", NULL, NULL, 0, 0, 3,
     "ups-on-battery"},
    {"ups low battery is grade 2", RULES_SCOPE_DEVICE, "ups", "ups_low_battery", NULL, NULL, 0, 0,
     2, "ups-low-battery"},
    {"ups low battery in the core room is grade 1", RULES_SCOPE_DEVICE, "ups", "ups_low_battery",
     NULL, tags_core, 1, 0, 1, "ups-low-battery-core-room"},
    {"camera unreachable is grade 3", RULES_SCOPE_DEVICE, "camera", "unreachable", NULL, NULL, 0, 0,
     3, "camera-unreachable"},
    {"area controller unreachable is grade 2", RULES_SCOPE_DEVICE, "ddc", "unreachable", NULL,
     tags_area, 1, 0, 2, "area-controller-unreachable"},
    {"critical device down 29 min stays grade 3", RULES_SCOPE_DEVICE, "ddc", "unreachable", NULL,
     tags_critical, 2, 29 * 60000, 3, "device-unreachable"},
    {"critical device down 30 min is grade 1", RULES_SCOPE_DEVICE, "ddc", "unreachable", NULL,
     tags_critical, 2, 30 * 60000, 1, "critical-device-down-30m"},
    {"unused port down is grade 4", RULES_SCOPE_DEVICE, "other", "unused_port_down", NULL, NULL, 0,
     0, 4, "unused-port-down"},
    {"site unreachable is grade 2", RULES_SCOPE_SITE, NULL, "unreachable", NULL, NULL, 0, 0, 2,
     "site-unreachable"},
    {"most sites unreachable is grade 1", RULES_SCOPE_SYSTEM, NULL, "unreachable", NULL, NULL, 0, 0,
     1, "most-sites-unreachable"},
    {"a site rule does not grade a device", RULES_SCOPE_DEVICE, "camera", "site_thing", NULL, NULL,
     0, 0, 3, NULL},
    {"unknown code gets the default grade", RULES_SCOPE_DEVICE, "ups", "whatever", NULL, NULL, 0, 0,
     3, NULL},
    {"water leak in the core room is grade 1", RULES_SCOPE_DEVICE, "ddc", "water_leak", NULL,
     tags_core, 1, 0, 1, "water-leak-core-room"},
    {"water leak elsewhere is grade 2", RULES_SCOPE_DEVICE, "ddc", "water_leak", NULL, NULL, 0, 0,
     2, "water-leak"},
    {"threshold code on a temperature point", RULES_SCOPE_DEVICE, "env_sensor", "high_critical",
     "temperature", NULL, 0, 0, 2, "temperature-critical"},
};

static void test_rules_grade_default_examples(void **state)
{
    struct rules_conf c = {0};
    char err[512];

    (void)state;
    if (rules_load_file(DEFAULT_RULES, &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < sizeof(grade_cases) / sizeof(grade_cases[0]); i++) {
        const struct grade_case *gc = &grade_cases[i];
        struct rules_subject s = {gc->scope, gc->cls, gc->code, gc->point, gc->tags, gc->n_tags};
        const struct rule *r = (const struct rule *)1;
        int g = rules_grade(&c, &s, gc->age_ms, &r);

        if (g != gc->grade)
            fail_msg("%s: grade %d, want %d", gc->what, g, gc->grade);
        if (gc->rule == NULL && r != NULL)
            fail_msg("%s: rule %s, want the default", gc->what, r->name);
        if (gc->rule != NULL && (r == NULL || strcmp(r->name, gc->rule) != 0))
            fail_msg("%s: rule %s, want %s", gc->what, r ? r->name : "(default)", gc->rule);
    }
    rules_free(&c);
}

static void test_rules_tag_wildcard_and_point_glob(void **state)
{
    struct rules_conf c = {0};
    char err[512];
    const char *text = "rules:\n"
                       "  - name: any-room\n"
                       "    tags: {room: \"*\"}\n"
                       "    point: \"temp*\"\n"
                       "    grade: 2\n";
    const struct fmc_kv room[] = {{"room", "b"}};
    struct rules_subject s = {RULES_SCOPE_DEVICE, NULL, "x", "temp_inlet", room, 1};

    (void)state;
    assert_int_equal(rules_load_string("r.yaml", text, &c, err, sizeof(err)), 0);
    assert_int_equal(rules_grade(&c, &s, 0, NULL), 2);
    s.n_tags = 0; /* tag missing */
    assert_int_equal(rules_grade(&c, &s, 0, NULL), 3);
    s.n_tags = 1;
    s.point = "humidity"; /* point glob fails */
    assert_int_equal(rules_grade(&c, &s, 0, NULL), 3);
    s.point = NULL; /* no point at all */
    assert_int_equal(rules_grade(&c, &s, 0, NULL), 3);
    rules_free(&c);
}

struct bad_case {
    const char *what;
    const char *text;
    const char *error; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
    {"grade out of range", "rules:\n  - name: a\n    grade: 5\n", "r.yaml:3: rules[0].grade"},
    {"grade missing", "rules:\n  - name: a\n", "r.yaml:2: rules[0].grade"},
    {"unknown key", "rules:\n  - name: a\n    grade: 1\n    sevrity: 2\n",
     "r.yaml:4: rules[0].sevrity"},
    {"duplicate name", "rules:\n  - name: a\n    grade: 1\n  - name: a\n    grade: 2\n",
     "r.yaml:4: rules[1].name: \"a\" is already the name of rules[0]"},
    {"class on a site rule", "rules:\n  - name: a\n    scope: site\n    class: ups\n    grade: 2\n",
     "r.yaml:2: rules[0]: class, point and tags only apply to scope device"},
    {"bad scope", "rules:\n  - name: a\n    scope: planet\n    grade: 2\n",
     "r.yaml:3: rules[0].scope"},
    {"bad duration", "group_wait: 30\n", "r.yaml:1: group_wait"},
    {"root without followers", "roots:\n  - name: m\n    codes: [x]\n    followers: []\n",
     "r.yaml:4: roots[0].followers: needs at least one code"},
    {"flap transitions below 2", "flap:\n  transitions: 1\n", "r.yaml:2: flap.transitions"},
};

static void test_rules_refuse_mistakes_with_file_line_and_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct rules_conf c = {0};
        char err[512] = "";
        int rc = rules_load_string("r.yaml", bad_cases[i].text, &c, err, sizeof(err));

        if (rc != -EINVAL)
            fail_msg("%s: rc %d, want -EINVAL", bad_cases[i].what, rc);
        if (strstr(err, bad_cases[i].error) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad_cases[i].what, err, bad_cases[i].error);
        assert_null(c.rules);
    }
}

static void test_rules_missing_file_is_an_errno(void **state)
{
    struct rules_conf c = {0};
    char err[512] = "";

    (void)state;
    assert_int_equal(rules_load_file("/nonexistent/rules.yaml", &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/rules.yaml"));
}

static void test_rules_reference_lists_every_key(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *keys[] = {"group_wait",       "open_max_grade",      "reopen_within",
                          "flap.transitions", "grade4_aggregate.by", "sites.most_fraction",
                          "roots[].linger",   "rules[].after",       "rules[].tags"};

    (void)state;
    rules_print_reference(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strstr(buf, keys[i]) == NULL)
            fail_msg("reference lacks %s", keys[i]);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_default_file_loads_with_documented_settings),
        cmocka_unit_test(test_rules_grade_default_examples),
        cmocka_unit_test(test_rules_tag_wildcard_and_point_glob),
        cmocka_unit_test(test_rules_refuse_mistakes_with_file_line_and_key),
        cmocka_unit_test(test_rules_missing_file_is_an_errno),
        cmocka_unit_test(test_rules_reference_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
