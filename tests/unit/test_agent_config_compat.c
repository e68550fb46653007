/* Unit tests for the configuration keys of field compatibility: an SNMP
 * device's `bulk`, and a Modbus point's `order` in any case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "mb_decode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HEAD "agent_id: gw-1\nsite: s1\n"
#define SNMP_PROFILE                                                                               \
    "profiles:\n  - name: ups\n    points:\n      - {name: up, oid: 1.3.6.1.2.1.1.3.0}\n"

static void test_agent_config_bulk_defaults_to_true(void **state)
{
    (void)state;
    struct agent_cfg cfg;
    char err[512] = "";
    const char *text =
        HEAD "devices:\n"
             "  - {name: a, profile: ups, snmp: {host: h}}\n"
             "  - {name: b, profile: ups, snmp: {host: h, bulk: false}}\n"
             "  - {name: c, profile: ups, snmp: {host: h, bulk: true}}\n" SNMP_PROFILE;

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load_string("a.yaml", text, &cfg, err, sizeof(err)), 0);
    assert_true(cfg.devices[0].snmp.bulk);
    assert_false(cfg.devices[1].snmp.bulk);
    assert_true(cfg.devices[2].snmp.bulk);
    config_free(&cfg);

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load_string("b.yaml",
                                        HEAD "devices:\n  - {name: a, profile: ups, snmp: "
                                             "{host: h, bulk: sometimes}}\n" SNMP_PROFILE,
                                        &cfg, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "b.yaml:4: devices[0].snmp.bulk"));
}

struct order_case {
    const char *type;
    const char *order; /* NULL: not written */
    int want;          /* enum mb_order, or -1: refused */
};

static const struct order_case order_cases[] = {
    {"float32", NULL, MB_ORDER_ABCD},
    {"float32", "ABCD", MB_ORDER_ABCD},
    {"float32", "cdab", MB_ORDER_CDAB},
    {"float32", "CDAB", MB_ORDER_CDAB},
    {"uint32", "BaDc", MB_ORDER_BADC},
    {"int64", "dcba", MB_ORDER_DCBA},
    {"uint16", "ab", MB_ORDER_ABCD},
    {"int16", "BA", MB_ORDER_BADC},
    {"uint16", "cdab", MB_ORDER_CDAB},
    {"float32", "AB", -1}, /* two letters name a 16-bit order only */
    {"float32", "abdc", -1},
    {"uint16", "", -1},
};

static void test_agent_config_modbus_order_any_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(order_cases) / sizeof(order_cases[0]); i++) {
        const struct order_case *c = &order_cases[i];
        struct agent_cfg cfg;
        char text[512], err[512] = "", extra[64] = "";
        int rc;

        if (c->order != NULL)
            snprintf(extra, sizeof(extra), ", order: '%s'", c->order);
        snprintf(text, sizeof(text),
                 HEAD "profiles:\n  - name: m\n    points:\n"
                      "      - {name: x, modbus: {function: 3, address: 0, type: %s%s}}\n",
                 c->type, extra);
        memset(&cfg, 0, sizeof(cfg));
        rc = config_load_string("m.yaml", text, &cfg, err, sizeof(err));
        if (c->want < 0) {
            if (rc != -EINVAL ||
                strstr(err, "m.yaml:6: profiles[0].points[0]: modbus.order: \"") == NULL)
                fail_msg("%s %s: rc %d, error '%s'", c->type, c->order, rc, err);
            continue;
        }
        if (rc != 0 || cfg.profiles[0].points[0].modbus.order != c->want)
            fail_msg("%s %s: rc %d (%s), order %d, want %d", c->type, c->order, rc, err,
                     rc == 0 ? cfg.profiles[0].points[0].modbus.order : -1, c->want);
        config_free(&cfg);
    }
}

/* What the orders do to one 16-bit register, as docs/modbus.md says: CDAB
 * reads it as sent (like ABCD), DCBA swaps its bytes (like BADC). */
static void test_agent_config_modbus_order_of_16_bit_values(void **state)
{
    (void)state;
    const uint16_t reg = 0x1234;
    const int want[] = {[MB_ORDER_ABCD] = 0x1234,
                        [MB_ORDER_CDAB] = 0x1234,
                        [MB_ORDER_BADC] = 0x3412,
                        [MB_ORDER_DCBA] = 0x3412};
    struct mb_value v;

    for (int o = 0; o < MB_ORDER_COUNT_; o++) {
        assert_int_equal(mb_decode_value(MB_TYPE_UINT16, (enum mb_order)o, -1, &reg, 1, &v), 0);
        assert_int_equal((int)v.raw, want[o]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_config_bulk_defaults_to_true),
        cmocka_unit_test(test_agent_config_modbus_order_any_case),
        cmocka_unit_test(test_agent_config_modbus_order_of_16_bit_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
