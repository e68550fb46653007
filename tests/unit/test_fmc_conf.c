/* Unit tests for fm_conf: loading against a table, defaults, every type, and
 * errors that name file, line and key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_conf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct t_dev {
    int line;
    char *name;
    int64_t port;
    int cls;
    char **tags;
    size_t n_tags;
};

struct t_snmp {
    char *community;
    int64_t timeout_ms;
    uint64_t retries;
};

struct t_root {
    char *agent_id;
    double scale;
    bool tls;
    uint64_t spool_cap;
    struct t_snmp snmp;
    struct t_dev *devices;
    size_t n_devices;
    struct fmc_kv *labels;
    size_t n_labels;
};

static const char *const classes[] = {"ups", "camera", "ddc", NULL};

static int check_no_space(const void *value, char *why, size_t whylen)
{
    const char *s = *(char *const *)value;

    if (s != NULL && strchr(s, ' ') != NULL) {
        snprintf(why, whylen, "must not contain spaces");
        return -EINVAL;
    }
    return 0;
}

static const struct fmc_field dev_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = offsetof(struct t_dev, name),
     .flags = FMC_REQUIRED,
     .check = check_no_space,
     .doc = "device name"},
    {.key = "port",
     .type = FMC_INT,
     .offset = offsetof(struct t_dev, port),
     .def = "161",
     .min = 1,
     .max = 65535,
     .doc = "UDP port"},
    {.key = "class",
     .type = FMC_ENUM,
     .offset = offsetof(struct t_dev, cls),
     .def = "ups",
     .enum_names = classes,
     .doc = "device class"},
    {.key = "tags",
     .type = FMC_STRLIST,
     .offset = offsetof(struct t_dev, tags),
     .count_offset = offsetof(struct t_dev, n_tags),
     .max_items = 3,
     .doc = "tags"},
    {0},
};
static const struct fmc_schema dev_schema = {"device", sizeof(struct t_dev), dev_fields,
                                             offsetof(struct t_dev, line)};

static const struct fmc_field snmp_fields[] = {
    {.key = "community",
     .type = FMC_STR,
     .offset = offsetof(struct t_snmp, community),
     .flags = FMC_SECRET,
     .def = "public",
     .doc = "v2c community"},
    {.key = "timeout",
     .type = FMC_DURATION,
     .offset = offsetof(struct t_snmp, timeout_ms),
     .def = "1s",
     .min = 10,
     .max = 60000,
     .doc = "request timeout"},
    {.key = "retries",
     .type = FMC_UINT,
     .offset = offsetof(struct t_snmp, retries),
     .def = "1",
     .min = 0,
     .max = 10,
     .doc = "retries"},
    {0},
};
static const struct fmc_schema snmp_schema = {"snmp", sizeof(struct t_snmp), snmp_fields,
                                              FMC_NO_LINE};

static const struct fmc_field root_fields[] = {
    {.key = "agent_id",
     .type = FMC_STR,
     .offset = offsetof(struct t_root, agent_id),
     .flags = FMC_REQUIRED,
     .doc = "agent id"},
    {.key = "scale",
     .type = FMC_DOUBLE,
     .offset = offsetof(struct t_root, scale),
     .def = "1.5",
     .min = -10,
     .max = 10,
     .doc = "scale"},
    {.key = "tls",
     .type = FMC_BOOL,
     .offset = offsetof(struct t_root, tls),
     .def = "true",
     .doc = "use TLS"},
    {.key = "spool_cap",
     .type = FMC_SIZE,
     .offset = offsetof(struct t_root, spool_cap),
     .def = "64MiB",
     .min = 1048576,
     .max = 1e12,
     .doc = "spool cap"},
    {.key = "snmp",
     .type = FMC_MAP,
     .offset = offsetof(struct t_root, snmp),
     .sub = &snmp_schema,
     .doc = "SNMP defaults"},
    {.key = "devices",
     .type = FMC_SEQ,
     .offset = offsetof(struct t_root, devices),
     .sub = &dev_schema,
     .count_offset = offsetof(struct t_root, n_devices),
     .doc = "devices"},
    {.key = "labels",
     .type = FMC_STRMAP,
     .offset = offsetof(struct t_root, labels),
     .count_offset = offsetof(struct t_root, n_labels),
     .doc = "labels"},
    {0},
};
static const struct fmc_schema root_schema = {"root", sizeof(struct t_root), root_fields,
                                              FMC_NO_LINE};

static int load(const char *text, struct t_root *r, fmc_doc_t **doc, char *err, size_t errlen)
{
    return fmc_load_string("agent.yaml", text, strlen(text), &root_schema, r, doc, err, errlen);
}

static void test_fmc_loads_values_and_fills_defaults(void **state)
{
    struct t_root r;
    char err[256];
    fmc_doc_t *doc;
    const char *text = "agent_id: gw-1\n"
                       "snmp:\n"
                       "  timeout: 250ms\n"
                       "devices:\n"
                       "  - name: ups-1\n"
                       "    class: camera\n"
                       "    tags: [core, critical]\n"
                       "  - name: ups-2\n"
                       "    port: 0x4000\n"
                       "labels: {room: core, floor: \"2\"}\n";

    (void)state;
    assert_int_equal(load(text, &r, &doc, err, sizeof(err)), 0);
    assert_string_equal(r.agent_id, "gw-1");
    assert_true(r.scale == 1.5);
    assert_true(r.tls);
    assert_int_equal(r.spool_cap, 64u * 1024 * 1024);
    assert_string_equal(r.snmp.community, "public");
    assert_int_equal(r.snmp.timeout_ms, 250);
    assert_int_equal(r.snmp.retries, 1);
    assert_int_equal(r.n_devices, 2);
    assert_string_equal(r.devices[0].name, "ups-1");
    assert_int_equal(r.devices[0].port, 161);
    assert_int_equal(r.devices[0].cls, 1);
    assert_int_equal(r.devices[0].n_tags, 2);
    assert_string_equal(r.devices[0].tags[1], "critical");
    assert_int_equal(r.devices[0].line, 5);
    assert_int_equal(r.devices[1].port, 0x4000);
    assert_int_equal(r.devices[1].cls, 0);
    assert_int_equal(r.devices[1].line, 8);
    assert_int_equal(r.n_labels, 2);
    assert_string_equal(r.labels[1].key, "floor");
    assert_string_equal(r.labels[1].value, "2");
    /* Lines of key paths, for checks made after loading. */
    assert_int_equal(fmc_doc_line(doc, "devices[1].port"), 9);
    assert_int_equal(fmc_doc_line(doc, "snmp.timeout"), 3);
    assert_int_equal(fmc_doc_line(doc, "devices[1].nothing"), 8);
    /* Keys the file wrote, apart from defaults the table filled in. */
    assert_true(fmc_doc_has(doc, "devices[1].port"));
    assert_true(fmc_doc_has(doc, "snmp"));
    assert_false(fmc_doc_has(doc, "devices[0].port"));
    assert_false(fmc_doc_has(doc, "devices[2]"));
    assert_false(fmc_doc_has(doc, "snmp.retries"));
    assert_false(fmc_doc_has(NULL, "snmp"));
    assert_int_equal(fmc_errorf(doc, err, sizeof(err), "devices[1].port", "port %d in use", 7),
                     -EINVAL);
    assert_string_equal(err, "agent.yaml:9: devices[1].port: port 7 in use");
    fmc_doc_free(doc);
    fmc_free(&root_schema, &r);
    assert_null(r.devices);
    assert_null(r.agent_id);
}

/* One row per error a user can make; each must name line and key path. */
static void test_fmc_errors_name_file_line_and_key(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        /* unknown key, reported at the key's own line */
        {"agent_id: a\nsnmp:\n  timeout: 1s\n  retires: 2\n",
         "agent.yaml:4: snmp.retires: unknown key"},
        /* out of range */
        {"agent_id: a\ndevices:\n  - name: x\n    port: 70000\n",
         "agent.yaml:4: devices[0].port: 70000 is not in 1..65535"},
        /* wrong type */
        {"agent_id: a\nscale: fast\n", "agent.yaml:2: scale: \"fast\" is not a number"},
        {"agent_id: a\ntls: maybe\n", "agent.yaml:2: tls: \"maybe\" is not true or false"},
        {"agent_id: a\ndevices: {name: x}\n", "agent.yaml:2: devices: must be a list"},
        {"agent_id: [a]\n", "agent.yaml:1: agent_id: must be a single string value"},
        /* missing required key, at the line of the mapping lacking it */
        {"scale: 1\n", "agent.yaml:1: agent_id: required key missing"},
        {"agent_id: a\ndevices:\n  - port: 5\n",
         "agent.yaml:3: devices[0].name: required key missing"},
        /* enum */
        {"agent_id: a\ndevices:\n  - name: x\n    class: toaster\n",
         "agent.yaml:4: devices[0].class: \"toaster\" is not one of: ups, camera, ddc"},
        /* duration without unit, and out of range */
        {"agent_id: a\nsnmp:\n  timeout: 5\n",
         "agent.yaml:3: snmp.timeout: \"5\" is not a duration (e.g. 500ms, 10s, 5m, 1h, 1d)"},
        {"agent_id: a\nsnmp:\n  timeout: 2m\n",
         "agent.yaml:3: snmp.timeout: 2m is not in 10..60000 ms"},
        /* size */
        {"agent_id: a\nspool_cap: 1KiB\n", "agent.yaml:2: spool_cap: 1KiB is not in "
                                           "1048576..1000000000000 bytes"},
        {"agent_id: a\nspool_cap: lots\n",
         "agent.yaml:2: spool_cap: \"lots\" is not a size (e.g. 4096, 64KiB, 16MiB, 1GiB)"},
        /* key twice */
        {"agent_id: a\nagent_id: b\n", "agent.yaml:2: agent_id: key given twice"},
        /* list too long */
        {"agent_id: a\ndevices:\n  - name: x\n    tags: [a, b, c, d]\n",
         "agent.yaml:4: devices[0].tags: 4 entries, at most 3 allowed"},
        /* custom check */
        {"agent_id: a\ndevices:\n  - name: a b\n",
         "agent.yaml:3: devices[0].name: must not contain spaces"},
        /* negative unsigned */
        {"agent_id: a\nsnmp:\n  retries: -1\n",
         "agent.yaml:3: snmp.retries: \"-1\" is not a non-negative integer"},
        /* a string key given a list */
        {"agent_id: a\nsnmp:\n  community: [x]\n",
         "agent.yaml:3: snmp.community: must be a single string value"},
        /* YAML syntax */
        {"agent_id: a\n  bad: [\n", "agent.yaml:2: YAML syntax error"},
        /* root not a mapping */
        {"- a\n- b\n", "agent.yaml:1: must be a mapping of keys to values"},
        /* null for a number */
        {"agent_id: a\nscale:\n", "agent.yaml:2: scale: needs a value"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_root r;
        char err[256] = "";

        int rc = load(cases[i].text, &r, NULL, err, sizeof(err));
        if (rc != -EINVAL || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc, err, cases[i].want);
        /* On failure nothing is left allocated. */
        assert_null(r.agent_id);
        assert_null(r.devices);
    }
}

static void test_fmc_empty_file_gives_defaults_or_required_error(void **state)
{
    struct t_root r;
    char err[256];

    (void)state;
    assert_int_equal(load("", &r, NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "agent.yaml:1: agent_id: required key missing");
}

static void test_fmc_load_file_reports_missing_file(void **state)
{
    struct t_root r;
    char err[256];

    (void)state;
    assert_int_equal(
        fmc_load_file("/nonexistent/agent.yaml", &root_schema, &r, NULL, err, sizeof(err)),
        -ENOENT);
    assert_string_equal(err, "/nonexistent/agent.yaml: No such file or directory");

    char path[] = "/tmp/fmc-test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "agent_id: z\nbogus: 1\n", 21), 21);
    close(fd);
    assert_int_equal(fmc_load_file(path, &root_schema, &r, NULL, err, sizeof(err)), -EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "%s:2: bogus: unknown key", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_fmc_parses_durations_and_sizes(void **state)
{
    static const struct {
        const char *text;
        int rc;
        int64_t ms;
    } durations[] = {
        {"500ms", 0, 500},     {"10s", 0, 10000},    {"1.5s", 0, 1500},  {"5m", 0, 300000},
        {"1h", 0, 3600000},    {"2d", 0, 172800000}, {"10", -EINVAL, 0}, /* unit required */
        {"-1s", -EINVAL, 0},                                             /* negative */
        {"0.5ms", -EINVAL, 0},                                           /* below 1 ms */
        {"s", -EINVAL, 0},                                               /* no number */
    };
    static const struct {
        const char *text;
        int rc;
        uint64_t bytes;
    } sizes[] = {
        {"4096", 0, 4096},       {"64KiB", 0, 65536},    {"16MiB", 0, 16777216},
        {"1GiB", 0, 1073741824}, {"2GB", 0, 2000000000}, {"500kB", 0, 500000},
        {"-1", -EINVAL, 0},      {"1TB", -EINVAL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        int64_t ms = -1;

        assert_int_equal(fmc_parse_duration(durations[i].text, &ms), durations[i].rc);
        if (durations[i].rc == 0)
            assert_int_equal(ms, durations[i].ms);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t b = 0;

        assert_int_equal(fmc_parse_size(sizes[i].text, &b), sizes[i].rc);
        if (sizes[i].rc == 0)
            assert_int_equal(b, sizes[i].bytes);
    }
}

static void test_fmc_reference_lists_every_key_with_default(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    fmc_print_reference(&root_schema, f, "Agent configuration");
    fclose(f);
    assert_non_null(strstr(buf, "## Agent configuration"));
    assert_non_null(strstr(buf, "| `agent_id` | string | required |  | agent id |"));
    assert_non_null(strstr(buf, "| `snmp.timeout` | duration | `1s` | 10..60000 ms |"));
    assert_non_null(strstr(buf, "### `devices[]`"));
    assert_non_null(strstr(buf, "| `devices[].class` | enum | `ups` | `ups`, `camera`, `ddc` |"));
    assert_non_null(strstr(buf, "| `devices[].port` | integer | `161` | 1..65535 | UDP port |"));
    free(buf);
}

/* A document check in the style of the programs' cross-key rules: the
 * second device must not reuse the first one's name. It allocates a
 * derived member (extra) that the schema's release frees. */
struct t_checked {
    struct t_root root;
    char *extra;
};
static int releases;

static int check_names(const fmc_doc_t *doc, void *obj, char *err, size_t errlen)
{
    struct t_checked *c = obj;

    c->extra = strdup("derived");
    if (c->root.n_devices == 2 && strcmp(c->root.devices[0].name, c->root.devices[1].name) == 0)
        return fmc_errorf(doc, err, errlen, "devices[1].name", "duplicate name '%s'",
                          c->root.devices[1].name);
    return 0;
}

static void release_checked(void *obj)
{
    struct t_checked *c = obj;

    releases++;
    free(c->extra);
    c->extra = NULL;
}

static void test_fmc_root_check_runs_after_the_table_and_frees_on_error(void **state)
{
    const struct fmc_schema checked_schema = {"root", sizeof(struct t_checked), root_fields,
                                              FMC_NO_LINE};
    const struct fmc_root checked = {&checked_schema, check_names, release_checked};
    static const char good[] = "agent_id: a\ndevices:\n  - {name: x}\n"
                               "  - {name: y}\n";
    static const char dup[] = "agent_id: a\ndevices:\n  - {name: x}\n"
                              "  - name: x\n    port: 2\n";
    static const char bad_key[] = "agent_id: a\nnope: 1\n";
    struct t_checked c;
    char err[256];

    releases = 0;
    assert_int_equal(
        fmc_root_load_string(&checked, "a.yaml", good, strlen(good), &c, err, sizeof(err)), 0);
    assert_string_equal(c.extra, "derived");
    fmc_root_free(&checked, &c);
    assert_int_equal(releases, 1);
    assert_null(c.extra);
    /* The check's error names the file, the line of the key, the key; the
     * struct is freed, the check's own allocation included. */
    assert_int_equal(
        fmc_root_load_string(&checked, "a.yaml", dup, strlen(dup), &c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "a.yaml:4: devices[1].name: duplicate name 'x'");
    assert_int_equal(releases, 2);
    assert_null(c.extra);
    assert_null(c.root.devices);
    /* A table error comes first: the check does not run. */
    assert_int_equal(
        fmc_root_load_string(&checked, "a.yaml", bad_key, strlen(bad_key), &c, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "a.yaml:2: nope"));
    assert_null(c.extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmc_loads_values_and_fills_defaults),
        cmocka_unit_test(test_fmc_errors_name_file_line_and_key),
        cmocka_unit_test(test_fmc_empty_file_gives_defaults_or_required_error),
        cmocka_unit_test(test_fmc_load_file_reports_missing_file),
        cmocka_unit_test(test_fmc_parses_durations_and_sizes),
        cmocka_unit_test(test_fmc_reference_lists_every_key_with_default),
        cmocka_unit_test(test_fmc_root_check_runs_after_the_table_and_frees_on_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
