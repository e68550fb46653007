/* Unit tests for the alarm state file: every kind of record survives a save
 * and a load, names with any character included; every cut-off, corrupt or
 * foreign file is refused with its fault named; a failed save returns the
 * error and the step, and leaves no temporary file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alarm_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000LL

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fm-alarm-state.XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* One record of each kind; the alarm's names carry a tab, a quote, a
 * newline, a backslash and non-ASCII text, as device data might. */
static void fill(struct alarm_state *st)
{
    Fm__Label l1 = FM__LABEL__INIT, l2 = FM__LABEL__INIT;
    Fm__Label *lp[2] = {&l1, &l2};
    struct alarm_state_rec *r;

    l1.key = "line";
    l1.value = "1";
    l2.key = "row";
    l2.value = "a\tb\"c\nd\\e \xc3\xa9t\xc3\xa9";
    r = alarm_state_add(st, ALARM_STATE_UNREACHABLE, "cam-3", NULL, NULL, 0, NULL);
    r->since_ms = T0 - 37000;
    r->fails = 3;
    r = alarm_state_add(st, ALARM_STATE_COMM, "cam-3", NULL, NULL, 0, "comm_loss");
    r->since_ms = T0 - 40000;
    r->fails = 4;
    r = alarm_state_add(st, ALARM_STATE_RULE, "ups-1", "load", lp, 2, "high_critical");
    r->level = FM__ALARM_LEVEL__ALARM_LEVEL_CRITICAL;
    r->limit = 95.125;
    r->since_ms = T0;
    r = alarm_state_add(st, ALARM_STATE_RULE, "ups-1", "temp", NULL, 0, "low_warning");
    r->level = FM__ALARM_LEVEL__ALARM_LEVEL_WARNING;
    r->limit = -0.1;
    r->since_ms = T0 + 1;
}

static void test_alarm_state_round_trips_every_kind_of_record(void **state)
{
    (void)state;
    struct alarm_state a, b;
    char path[128], tmp[160], why[256];
    const char *step = NULL;

    alarm_state_init(&a);
    alarm_state_init(&b);
    fill(&a);
    path_of(path, sizeof(path), ALARM_STATE_FILE);
    assert_int_equal(alarm_state_save(path, &a, &step), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left behind */
    assert_int_equal(alarm_state_load(path, &b, why, sizeof(why)), 0);
    /* Records come back grouped by kind: unreachable, comm_loss, alarms. */
    assert_int_equal(b.n, 4);
    for (size_t i = 0; i < a.n; i++) {
        const struct alarm_state_rec *x = &a.recs[i], *y = &b.recs[i];

        assert_int_equal(y->kind, x->kind);
        assert_string_equal(y->device, x->device);
        assert_string_equal(y->point, x->point);
        assert_int_equal(y->since_ms, x->since_ms);
        if (x->kind == ALARM_STATE_RULE) {
            assert_string_equal(y->code, x->code);
            assert_int_equal(y->level, x->level);
            assert_true(y->limit == x->limit);
            assert_int_equal(y->n_labels, x->n_labels);
            for (size_t k = 0; k < x->n_labels; k++) {
                assert_string_equal(y->labels[k].key, x->labels[k].key);
                assert_string_equal(y->labels[k].value, x->labels[k].value);
                assert_ptr_equal(y->label_ptrs[k], &y->labels[k]);
            }
        } else {
            assert_int_equal(y->fails, x->fails);
        }
    }
    /* The same set gives the same text: a reload of the file changes nothing. */
    char *ta = alarm_state_format(&a), *tb = alarm_state_format(&b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    alarm_state_clear(&a);
    alarm_state_clear(&b);
    /* An empty set is a valid file too. */
    assert_int_equal(alarm_state_save(path, &a, &step), 0);
    assert_int_equal(alarm_state_load(path, &b, why, sizeof(why)), 0);
    assert_int_equal(b.n, 0);
}

static void test_alarm_state_missing_file_is_a_first_start(void **state)
{
    (void)state;
    struct alarm_state st;
    char path[128], why[256];

    alarm_state_init(&st);
    path_of(path, sizeof(path), "none");
    assert_int_equal(alarm_state_load(path, &st, why, sizeof(why)), -ENOENT);
    assert_int_equal(st.n, 0);
}

/* Every prefix of a good file short of its closing brace is refused: a file
 * cut off by a full disk or a crash never loads half a state. */
static void test_alarm_state_refuses_every_truncation(void **state)
{
    (void)state;
    struct alarm_state st;
    char why[256];
    char *text;
    size_t len;

    alarm_state_init(&st);
    fill(&st);
    text = alarm_state_format(&st);
    alarm_state_clear(&st);
    len = strlen(text);
    assert_true(len > 100 && text[len - 2] == '}' && text[len - 1] == '\n');
    for (size_t cut = 0; cut < len - 1; cut++) {
        int rc = alarm_state_parse(text, cut, &st, why, sizeof(why));

        if (rc != -EINVAL)
            fail_msg("a file cut at %zu of %zu bytes: %d", cut, len, rc);
        assert_int_equal(st.n, 0);
    }
    assert_int_equal(alarm_state_parse(text, len, &st, why, sizeof(why)), 0);
    assert_int_equal(st.n, 4);
    alarm_state_clear(&st);
    free(text);
}

#define HEAD "{\"format\": \"fieldmon-agent alarm state\", \"version\": 1, "
#define DEV(x) "\"unreachable\": [" x "], \"comm_loss\": [], \"alarms\": []}"
#define ALM(x) "\"unreachable\": [], \"comm_loss\": [], \"alarms\": [" x "]}"
#define GOOD_ALARM_START "{\"device\": \"d\", \"point\": \"p\", "

static void test_alarm_state_refuses_corrupt_files_naming_the_fault(void **state)
{
    (void)state;
    static const struct {
        const char *what, *text, *want;
    } cases[] = {
        {"empty file", "", "line 1"},
        {"not JSON", "garbage\n", "'[' or '{' expected"},
        {"an array, not an object", "[]\n", "not an object"},
        {"another format", "{\"format\": \"x\", \"version\": 1, " DEV("") "\n", "format \"x\""},
        {"a later version",
         "{\"format\": \"fieldmon-agent alarm state\", \"version\": 2, " DEV("") "\n", "version 2"},
        {"a missing array", HEAD "\"unreachable\": [], \"comm_loss\": []}\n", "alarms"},
        {"an unknown key", HEAD "\"extra\": 1, " DEV("") "\n", "extra"},
        {"a duplicate key", HEAD "\"version\": 1, " DEV("") "\n", "duplicate"},
        {"trailing garbage", HEAD DEV("") "\n}\n", "end of file expected"},
        {"a record that is not an object", HEAD DEV("1") "\n", "unreachable[0]"},
        {"a missing since_ms", HEAD DEV("{\"device\": \"d\", \"fails\": 1}") "\n", "since_ms"},
        {"since_ms a string",
         HEAD DEV("{\"device\": \"d\", \"since_ms\": \"1\", \"fails\": 1}") "\n", "since_ms"},
        {"a negative since_ms",
         HEAD DEV("{\"device\": \"d\", \"since_ms\": -1, \"fails\": 1}") "\n", "out of range"},
        {"an empty device", HEAD DEV("{\"device\": \"\", \"since_ms\": 1, \"fails\": 1}") "\n",
         "unreachable[0]: device: is empty"},
        {"a NUL in a device",
         HEAD DEV("{\"device\": \"a\\u0000b\", \"since_ms\": 1, \"fails\": 1}") "\n",
         "is not allowed"},
        {"a device name too long",
         HEAD DEV("{\"device\": "
                  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", "
                  "\"since_ms\": 1, \"fails\": 1}") "\n",
         "more than 64"},
        {"an unknown level",
         HEAD ALM(GOOD_ALARM_START "\"labels\": [], \"code\": \"c\", \"level\": \"LOUD\", "
                                   "\"limit\": 1, \"since_ms\": 1}") "\n",
         "unknown level \"LOUD\""},
        {"a label that is not a pair",
         HEAD ALM(GOOD_ALARM_START "\"labels\": [[\"k\"]], \"code\": \"c\", \"level\": "
                                   "\"ALARM_LEVEL_WARNING\", \"limit\": 1, \"since_ms\": 1}") "\n",
         "labels[0]"},
        {"labels not an array",
         HEAD ALM(GOOD_ALARM_START "\"labels\": {}, \"code\": \"c\", \"level\": "
                                   "\"ALARM_LEVEL_WARNING\", \"limit\": 1, \"since_ms\": 1}") "\n",
         "labels: not an array"},
        {"seventeen labels",
         HEAD ALM(GOOD_ALARM_START
                  "\"labels\": [[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\","
                  "\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],"
                  "[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\",\"1\"],[\"a\","
                  "\"1\"],[\"a\",\"1\"]], \"code\": \"c\", \"level\": \"ALARM_LEVEL_WARNING\", "
                  "\"limit\": 1, \"since_ms\": 1}") "\n",
         "at most 16"},
        {"a limit that is not a number",
         HEAD ALM(GOOD_ALARM_START
                  "\"labels\": [], \"code\": \"c\", \"level\": "
                  "\"ALARM_LEVEL_WARNING\", \"limit\": null, \"since_ms\": 1}") "\n",
         "alarms[0]: limit: not a number"},
        {"an empty code",
         HEAD ALM(GOOD_ALARM_START "\"labels\": [], \"code\": \"\", \"level\": "
                                   "\"ALARM_LEVEL_WARNING\", \"limit\": 1, \"since_ms\": 1}") "\n",
         "alarms[0]: code: is empty"},
    };
    char path[128], why[256];

    path_of(path, sizeof(path), "corrupt.state");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alarm_state st;
        int rc;

        alarm_state_init(&st);
        write_text(path, cases[i].text, strlen(cases[i].text));
        why[0] = '\0';
        rc = alarm_state_load(path, &st, why, sizeof(why));
        if (rc != -EINVAL || strstr(why, cases[i].want) == NULL)
            fail_msg("%s: got %d \"%s\", want -EINVAL \"%s\"", cases[i].what, rc, why,
                     cases[i].want);
        assert_int_equal(st.n, 0);
    }
    /* Binary junk with NUL bytes in the middle. */
    static const char junk[] = "{\"format\"\0\xff\xfe garbage";
    struct alarm_state st;

    alarm_state_init(&st);
    write_text(path, junk, sizeof(junk));
    assert_int_equal(alarm_state_load(path, &st, why, sizeof(why)), -EINVAL);
    /* A directory where the file should be. */
    path_of(path, sizeof(path), "adir");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(alarm_state_load(path, &st, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "not a regular file"));
}

static void test_alarm_state_failed_save_returns_the_step_and_leaves_no_temporary(void **state)
{
    (void)state;
    struct alarm_state st;
    char path[128], tmp[160], why[256];
    const char *step = NULL;

    alarm_state_init(&st);
    fill(&st);
    /* The directory does not exist: the temporary file cannot be opened. */
    path_of(path, sizeof(path), "gone/" ALARM_STATE_FILE);
    assert_int_equal(alarm_state_save(path, &st, &step), -ENOENT);
    assert_string_equal(step, "open");
    /* A non-empty directory in the file's place: the rename fails, the
     * temporary file is removed, and what was there stays. */
    path_of(path, sizeof(path), "taken");
    assert_int_equal(mkdir(path, 0700), 0);
    path_of(tmp, sizeof(tmp), "taken/inside");
    write_text(tmp, "x", 1);
    int rc = alarm_state_save(path, &st, &step);
    assert_true(rc == -EISDIR || rc == -ENOTEMPTY || rc == -EEXIST);
    assert_string_equal(step, "rename");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    path_of(tmp, sizeof(tmp), "taken/inside");
    assert_int_equal(access(tmp, F_OK), 0);
    /* A good save over an older file replaces it whole. */
    path_of(path, sizeof(path), "over.state");
    write_text(path, "old", 3);
    assert_int_equal(alarm_state_save(path, &st, &step), 0);
    alarm_state_clear(&st);
    assert_int_equal(alarm_state_load(path, &st, why, sizeof(why)), 0);
    assert_int_equal(st.n, 4);
    alarm_state_clear(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarm_state_round_trips_every_kind_of_record),
        cmocka_unit_test(test_alarm_state_missing_file_is_a_first_start),
        cmocka_unit_test(test_alarm_state_refuses_every_truncation),
        cmocka_unit_test(test_alarm_state_refuses_corrupt_files_naming_the_fault),
        cmocka_unit_test(test_alarm_state_failed_save_returns_the_step_and_leaves_no_temporary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
