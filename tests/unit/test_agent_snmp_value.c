/* Unit tests for SNMP value decoding, counter rates, numeric OIDs and the
 * JSON form of measurements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "oid.h"
#include "sink_json.h"
#include "snmp_value.h"

#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <math.h>
#include <string.h>

/* cmocka 1.1 has no double comparison. */
#define assert_double_equal(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static struct point_cfg point(int type, double scale, double offset, bool numstr)
{
    struct point_cfg p;

    memset(&p, 0, sizeof(p));
    p.name = "p";
    p.type = type;
    p.scale = scale;
    p.offset = offset;
    p.numeric_string = numstr;
    return p;
}

static void decode_long(const struct point_cfg *p, unsigned char t, long v, struct snmp_value *o)
{
    snmp_value_decode(p, t, &v, sizeof(v), o);
}

static void test_agent_value_numbers_by_syntax(void **state)
{
    (void)state;
    struct point_cfg g = point(POINT_TYPE_GAUGE, 0.1, 0, false);
    struct point_cfg c = point(POINT_TYPE_COUNTER, 1, 0, false);
    struct snmp_value o;
    struct counter64 c64 = {.high = 0x1, .low = 0x2};

    decode_long(&g, ASN_INTEGER, -405, &o); /* negative INTEGER, scaled */
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_GOOD);
    assert_true(o.has_value);
    assert_double_equal(o.raw, -405, 0);
    assert_double_equal(o.value, -40.5, 1e-9);
    decode_long(&g, ASN_GAUGE, (long)4000000000UL, &o); /* Gauge32 above 2^31 */
    assert_double_equal(o.raw, 4000000000.0, 0);
    decode_long(&c, ASN_COUNTER, (long)0xffffffffUL, &o); /* Counter32 top */
    assert_int_equal(o.counter_bits, 32);
    assert_true(o.counter == 0xffffffffULL);
    decode_long(&g, ASN_TIMETICKS, 8640000, &o); /* TimeTicks: not a counter */
    assert_int_equal(o.counter_bits, 0);
    assert_double_equal(o.value, 864000, 1e-6);
    snmp_value_decode(&c, ASN_COUNTER64, &c64, sizeof(c64), &o); /* Counter64 */
    assert_int_equal(o.counter_bits, 64);
    assert_true(o.counter == 0x100000002ULL);
    decode_long(&g, ASN_INTEGER, 0, &o);
    snmp_value_decode(&g, ASN_INTEGER, &c64, 2, &o); /* short payload */
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_DECODE_ERROR);
    assert_false(o.has_value);
}

static void test_agent_value_exceptions_are_point_qualities(void **state)
{
    (void)state;
    struct point_cfg g = point(POINT_TYPE_GAUGE, 1, 0, false);
    struct snmp_value o;

    snmp_value_decode(&g, SNMP_NOSUCHOBJECT, NULL, 0, &o);
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_NO_SUCH_OBJECT);
    assert_false(o.has_value);
    snmp_value_decode(&g, SNMP_NOSUCHINSTANCE, NULL, 0, &o);
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_NO_SUCH_INSTANCE);
    snmp_value_decode(&g, SNMP_ENDOFMIBVIEW, NULL, 0, &o);
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_END_OF_MIB_VIEW);
    snmp_value_decode(&g, ASN_NULL, NULL, 0, &o);
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_DECODE_ERROR);
}

static void test_agent_value_strings_enums_and_bools(void **state)
{
    (void)state;
    struct point_cfg n = point(POINT_TYPE_GAUGE, 1, 0, true);
    struct point_cfg t = point(POINT_TYPE_TEXT, 1, 0, false);
    struct point_cfg g = point(POINT_TYPE_GAUGE, 1, 0, false);
    struct point_cfg e = point(POINT_TYPE_ENUM, 1, 0, false);
    struct point_cfg b = point(POINT_TYPE_BOOL, 1, 0, false);
    struct enum_entry ents[] = {{2, "normal"}, {3, "low"}};
    struct snmp_value o;
    oid objid[] = {1, 3, 6, 1, 2, 1, 33};
    unsigned char ip[] = {10, 1, 2, 3};

    snmp_value_decode(&n, ASN_OCTET_STR, " 23 %", 5, &o); /* Hikvision cpuPercent */
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_GOOD);
    assert_double_equal(o.value, 23, 0);
    snmp_value_decode(&n, ASN_OCTET_STR, "n/a", 3, &o);
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_DECODE_ERROR);
    snmp_value_decode(&t, ASN_OCTET_STR, "ab\x01\xff", 4, &o); /* unprintable bytes */
    assert_string_equal(o.text, "ab??");
    assert_false(o.has_value);
    snmp_value_decode(&g, ASN_OCTET_STR, "12", 2, &o); /* string for a gauge */
    assert_int_equal(o.quality, FM__QUALITY__QUALITY_DECODE_ERROR);
    snmp_value_decode(&t, ASN_OBJECT_ID, objid, sizeof(objid), &o);
    assert_string_equal(o.text, "1.3.6.1.2.1.33");
    snmp_value_decode(&t, ASN_IPADDRESS, ip, sizeof(ip), &o);
    assert_string_equal(o.text, "10.1.2.3");
    e.enums = ents;
    e.n_enums = 2;
    decode_long(&e, ASN_INTEGER, 3, &o);
    assert_string_equal(o.text, "low");
    assert_double_equal(o.value, 3, 0);
    decode_long(&e, ASN_INTEGER, 9, &o); /* code without a text */
    assert_string_equal(o.text, "");
    decode_long(&b, ASN_INTEGER, 2, &o); /* TruthValue false(2) */
    assert_double_equal(o.value, 0, 0);
    assert_string_equal(o.text, "false");
    decode_long(&b, ASN_INTEGER, 1, &o);
    assert_double_equal(o.value, 1, 0);
}

static void test_agent_value_parse_number_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        double want;
    } cases[] = {
        {"23", 0, 23},        /* plain */
        {"  -4.5C", 0, -4.5}, /* blanks, sign, unit after */
        {"+7", 0, 7},         /* explicit plus */
        {"1.2.3", 0, 1.2},    /* second dot ends the number */
        {"", -EINVAL, 0},     /* empty */
        {"-", -EINVAL, 0},    /* sign only */
        {"abc", -EINVAL, 0},  /* no digits */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double v = 0;

        assert_int_equal(snmp_value_parse_number(cases[i].in, strlen(cases[i].in), &v),
                         cases[i].rc);
        if (cases[i].rc == 0)
            assert_double_equal(v, cases[i].want, 1e-12);
    }
}

static void test_agent_value_counter_rate_handles_wrap_and_reset(void **state)
{
    (void)state;
    double r = 0;

    assert_int_equal(snmp_value_rate(100, 300, 32, 2.0, &r), 0);
    assert_double_equal(r, 100, 1e-9);
    /* Counter32 wrap: 4294967000 -> 200 is 496 counts */
    assert_int_equal(snmp_value_rate(4294967000ULL, 200, 32, 1.0, &r), 0);
    assert_double_equal(r, 496, 1e-9);
    /* a small decrease is a reset, not a wrap */
    assert_int_equal(snmp_value_rate(5000, 10, 32, 1.0, &r), -ERANGE);
    /* Counter64 never wraps in practice: a decrease is a reset */
    assert_int_equal(snmp_value_rate(1ULL << 40, 5, 64, 1.0, &r), -ERANGE);
    assert_int_equal(snmp_value_rate(1, 2, 32, 0, &r), -EINVAL);
}

static void test_agent_oid_parse_and_format(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
    } cases[] = {
        {"1.3.6.1.2.1.1.3.0", 0},    /* plain */
        {".1.3.6.1", 0},             /* leading dot */
        {"1", -EINVAL},              /* too short */
        {"1..3", -EINVAL},           /* empty sub-identifier */
        {"1.3.", -EINVAL},           /* trailing dot */
        {"1.3.x", -EINVAL},          /* not a number */
        {"1.3.4294967296", -EINVAL}, /* sub-identifier over 2^32-1 */
        {"sysUpTime.0", -EINVAL},    /* names are refused */
        {"3.6.1", -EINVAL},          /* first arc above 2: BER cannot encode it */
        {"1.40.1", -EINVAL},         /* second arc 40 or more under 1 */
        {"2.999.1", 0},              /* but allowed under 2 */
    };
    oid_t o;
    char buf[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(oid_parse(cases[i].in, &o), cases[i].rc);
    assert_int_equal(oid_parse("1.3.6.1.4294967295", &o), 0);
    oid_format(o.v, o.len, buf, sizeof(buf));
    assert_string_equal(buf, "1.3.6.1.4294967295");
    oid_format(o.v, o.len, buf, 6); /* truncates safely */
    assert_string_equal(buf, "1.3.6");
    assert_true(oid_in_subtree(o.v, 4, o.v, o.len));
    assert_false(oid_in_subtree(o.v, o.len, o.v, o.len));
}

static void test_agent_sink_json_measurement_fields(void **state)
{
    (void)state;
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    Fm__Label l = FM__LABEL__INIT;
    Fm__Label *ls[] = {&l};
    json_t *o;
    char *s;

    ev.ts_ms = 1700000000000LL;
    ev.device = "ups-1";
    ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
    ev.measurement = &m;
    m.point = "input_voltage";
    l.key = "line";
    l.value = "1";
    m.labels = ls;
    m.n_labels = 1;
    m.has_value = true;
    m.value = 221.5;
    m.raw = 2215;
    m.unit = "V";
    m.quality = FM__QUALITY__QUALITY_GOOD;
    o = sink_json_event(&ev);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"device\":\"ups-1\",\"event\":\"measurement\",\"labels\":{\"line\":\"1\"},"
           "\"point\":\"input_voltage\",\"quality\":\"good\",\"raw\":2215,"
           "\"ts\":1700000000000,\"unit\":\"V\",\"value\":221.5}");
    free(s);
    json_decref(o);
    m.has_value = false;
    m.quality = FM__QUALITY__QUALITY_NO_SUCH_OBJECT;
    o = sink_json_event(&ev);
    assert_true(json_is_null(json_object_get(o, "value")));
    assert_string_equal(json_string_value(json_object_get(o, "quality")), "no_such_object");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_value_numbers_by_syntax),
        cmocka_unit_test(test_agent_value_exceptions_are_point_qualities),
        cmocka_unit_test(test_agent_value_strings_enums_and_bools),
        cmocka_unit_test(test_agent_value_parse_number_table),
        cmocka_unit_test(test_agent_value_counter_rate_handles_wrap_and_reset),
        cmocka_unit_test(test_agent_oid_parse_and_format),
        cmocka_unit_test(test_agent_sink_json_measurement_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
