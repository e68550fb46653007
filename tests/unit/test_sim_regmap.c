/* Unit tests for register maps (tests/sim/regmap.c): every byte order, and
 * every bundled map decodes its raw words to its stated value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "regmap.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_regmap_float_orders_match_the_spec_example(void **state)
{
    /* 123456.0f = 0x47F12000 (devices.md section 9). */
    static const struct {
        enum regmap_order o;
        uint16_t w[2];
    } cases[] = {
        {RM_ABCD, {0x47f1, 0x2000}},
        {RM_CDAB, {0x2000, 0x47f1}},
        {RM_BADC, {0xf147, 0x0020}},
        {RM_DCBA, {0x0020, 0xf147}},
    };

    for (size_t i = 0; i < 4; i++) {
        uint16_t w[2];

        regmap_encode(RM_FLOAT32, cases[i].o, 123456.0, w);
        assert_int_equal(w[0], cases[i].w[0]);
        assert_int_equal(w[1], cases[i].w[1]);
        assert_true(regmap_decode(RM_FLOAT32, cases[i].o, w) == 123456.0);
    }
}

static void test_regmap_integers_clamp_and_round(void **state)
{
    uint16_t w[2];

    regmap_encode(RM_INT16, RM_ABCD, -20.5 / 0.1, w);
    assert_int_equal(w[0], 0xff33);
    regmap_encode(RM_INT16, RM_ABCD, 1e9, w);
    assert_int_equal(w[0], 0x7fff);
    regmap_encode(RM_UINT16, RM_ABCD, -3, w);
    assert_int_equal(w[0], 0);
    regmap_encode(RM_INT32, RM_CDAB, -123456, w);
    assert_int_equal(w[0], 0x1dc0);
    assert_int_equal(w[1], 0xfffe);
    regmap_encode(RM_UINT32, RM_DCBA, 3000000000.0, w);
    assert_true(regmap_decode(RM_UINT32, RM_DCBA, w) == 3000000000.0);
}

/* Each bundled map: raw words decode to `value` (1e-3 relative for floats). */
static void test_regmap_bundled_maps_decode_to_their_values(void **state)
{
    static const char *const files[] = {"ahu-ddc.json", "leak-detector-aqualeak.json",
                                        "power-meter-sdm120.json", "th-transmitter-xymd02.json",
                                        "test-byte-orders.json"};

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[512], err[512];
        struct regmap *m;
        json_t *root, *pts;
        modbus_mapping_t *mb;

        snprintf(path, sizeof(path), "%s/tests/sim/data/modbus/%s", FM_SOURCE_DIR, files[f]);
        assert_int_equal(regmap_load(path, &m, err, sizeof(err)), 0);
        mb = regmap_mapping_new(m);
        assert_non_null(mb);
        root = json_load_file(path, 0, NULL);
        pts = json_object_get(root, "points");
        assert_int_equal(json_array_size(pts), m->n);
        for (size_t i = 0; i < m->n; i++) {
            json_t *jv = json_object_get(json_array_get(pts, i), "value");
            double want = json_is_boolean(jv) ? json_is_true(jv) : json_number_value(jv);
            double got = regmap_get(mb, &m->points[i]);

            if (fabs(got - want) > 1e-3 * fmax(1, fabs(want)))
                fail_msg("%s %s: got %g want %g", files[f], m->points[i].name, got, want);
            /* Writing the value back gives the same words. */
            regmap_put(mb, &m->points[i], want);
            assert_true(fabs(regmap_get(mb, &m->points[i]) - got) <= 1e-3 * fmax(1, fabs(got)));
        }
        json_decref(root);
        modbus_mapping_free(mb);
        regmap_free(m);
    }
}

static void test_regmap_rejects_bad_points(void **state)
{
    static const struct {
        const char *point;
        const char *why;
    } cases[] = {
        {"{\"name\":\"a\",\"function\":5,\"address\":0,\"type\":\"uint16\",\"raw\":[0]}",
         "function"},
        {"{\"name\":\"a\",\"function\":3,\"address\":70000,\"type\":\"uint16\",\"raw\":[0]}",
         "address"},
        {"{\"name\":\"a\",\"function\":3,\"address\":0,\"type\":\"bool\",\"raw\":[0]}", "type"},
        {"{\"name\":\"a\",\"function\":3,\"address\":0,\"type\":\"int32\",\"raw\":[0]}", "raw"},
        {"{\"name\":\"a\",\"function\":3,\"address\":0,\"type\":\"uint16\",\"raw\":[65536]}",
         "raw[0]"},
        {"{\"name\":\"a\",\"function\":3,\"address\":0,\"type\":\"uint16\",\"byte_order\":"
         "\"ABCD\",\"raw\":[1]}",
         "byte_order"},
        {"{\"name\":\"a\",\"function\":3,\"address\":0,\"type\":\"uint16\",\"scale\":0,"
         "\"raw\":[1]}",
         "scale"},
    };
    char path[] = "/tmp/test_sim_regmap.XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = fopen(path, "w");
        struct regmap *m;
        char err[512], want[64];

        fprintf(f, "{\"schema\":\"modbus-regmap/1\",\"unit_id\":1,\"points\":[%s]}",
                cases[i].point);
        fclose(f);
        assert_int_equal(regmap_load(path, &m, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want), "points[0].%s", cases[i].why);
        if (strstr(err, want) == NULL)
            fail_msg("case %zu: '%s' does not name %s", i, err, want);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regmap_float_orders_match_the_spec_example),
        cmocka_unit_test(test_regmap_integers_clamp_and_round),
        cmocka_unit_test(test_regmap_bundled_maps_decode_to_their_values),
        cmocka_unit_test(test_regmap_rejects_bad_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
