/* collconf: the collector's configuration table, defaults and the checks
 * across keys, with the file:line of the offending key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "collconf.h"

static void test_collconf_defaults_fill_an_almost_empty_file(void **state)
{
    struct collconf c = {0};
    char err[256] = "";

    (void)state;
    assert_int_equal(
        collconf_load_string("c.yaml", "listen: {transport: plain}\n", &c, err, sizeof(err)), 0);
    assert_string_equal(c.listen.address, "0.0.0.0");
    assert_int_equal(c.listen.port, 7300);
    assert_int_equal(c.listen.transport, COLLCONF_PLAIN);
    assert_int_equal(c.limits.max_frame, 4u * 1024 * 1024);
    assert_int_equal(c.limits.hello_timeout_ms, 10000);
    assert_int_equal(c.database.workers, 4);
    assert_int_equal(c.database.queue_max_events, 200000);
    assert_int_equal(c.database.retention_days, 30);
    assert_int_equal(c.database.rollup_5m_days, 90);
    assert_int_equal(c.database.rollup_1h_days, 1830);
    assert_true(c.metrics.enabled);
    assert_int_equal(c.metrics.port, 9310);
    assert_null(c.collector_id);
    collconf_free(&c);
}

static void test_collconf_reports_errors_at_the_key_line(void **state)
{
    static const struct {
        const char *yaml;
        const char *want; /* substring of the error */
    } cases[] = {
        /* tls is the default and needs its files */
        {"collector_id: x\n", "c.yaml:1: listen.cert: required with transport tls"},
        {"listen:\n  transport: tls\n  cert: a\n  key: b\n", "listen.ca: required"},
        /* range from the table */
        {"listen:\n  transport: plain\n  port: 70000\n", "c.yaml:3: listen.port: 70000"},
        /* cross-key check points at the smaller key */
        {"listen: {transport: plain}\ndatabase:\n  reconnect_min: 10s\n  reconnect_max: 1s\n",
         "c.yaml:3: database.reconnect_min: 10000 ms is above reconnect_max"},
        {"listen: {transport: plain}\nlimits:\n  max_frame: 8MiB\n  max_conn_memory: 1MiB\n",
         "c.yaml:4: limits.max_conn_memory"},
        /* rollups outlive raw rows */
        {"listen: {transport: plain}\ndatabase:\n  retention_days: 500\n",
         "database.rollup_5m_days: 90 days is below retention_days (500)"},
        {"listen: {transport: plain}\ndatabase:\n  retention_days: 90\n  rollup_1h_days: 60\n",
         "c.yaml:4: database.rollup_1h_days: 60 days is below retention_days (90)"},
        /* own check callback */
        {"listen: {transport: plain}\nlog_level: loud\n", "c.yaml:2: log_level"},
        /* unknown keys are errors */
        {"listen: {transport: plain}\nlisten_port: 1\n", "c.yaml:2: listen_port"},
        /* enum */
        {"listen: {transport: udp}\n", "listen.transport"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct collconf c = {0};
        char err[256] = "";

        assert_int_equal(collconf_load_string("c.yaml", cases[i].yaml, &c, err, sizeof(err)),
                         -EINVAL);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
        assert_null(c.listen.address); /* freed and zeroed */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collconf_defaults_fill_an_almost_empty_file),
        cmocka_unit_test(test_collconf_reports_errors_at_the_key_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
