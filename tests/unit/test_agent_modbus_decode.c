/* Unit tests for mb_decode: golden vectors of every point in
 * the JSON register maps in tests/sim/data/modbus/ (the simulator's, one copy), the byte
 * orders of devices.md section 9, 64-bit orders, bit fields, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mb_decode.h"

#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct vec {
    const char *what; /* the uplink this row covers */
    enum mb_type type;
    enum mb_order order;
    uint16_t words[4];
    double want;
};

/* 123456.0f = 0x47F12000 in the four orders (devices.md section 9), and the
 * other widths with every byte distinct so a misplaced byte shows. */
static const struct vec vectors[] = {
    {"float32 ABCD, Eastron", MB_TYPE_FLOAT32, MB_ORDER_ABCD, {0x47F1, 0x2000}, 123456.0},
    {"float32 CDAB, low word first", MB_TYPE_FLOAT32, MB_ORDER_CDAB, {0x2000, 0x47F1}, 123456.0},
    {"float32 BADC, bytes swapped", MB_TYPE_FLOAT32, MB_ORDER_BADC, {0xF147, 0x0020}, 123456.0},
    {"float32 DCBA, little-endian", MB_TYPE_FLOAT32, MB_ORDER_DCBA, {0x0020, 0xF147}, 123456.0},
    {"float32 negative", MB_TYPE_FLOAT32, MB_ORDER_ABCD, {0xBFC0, 0x0000}, -1.5},
    {"int16 negative", MB_TYPE_INT16, MB_ORDER_ABCD, {0xFF33}, -205.0},
    {"int16 byte-swapped", MB_TYPE_INT16, MB_ORDER_BADC, {0x33FF}, -205.0},
    {"int16 CDAB is AB for one word", MB_TYPE_INT16, MB_ORDER_CDAB, {0xFF33}, -205.0},
    {"uint16 top bit set", MB_TYPE_UINT16, MB_ORDER_ABCD, {0xFFDE}, 65502.0},
    {"uint16 DCBA is BA", MB_TYPE_UINT16, MB_ORDER_DCBA, {0x0201}, 0x0102},
    {"int32 -2 ABCD", MB_TYPE_INT32, MB_ORDER_ABCD, {0xFFFF, 0xFFFE}, -2.0},
    {"int32 -2 CDAB (EM24)", MB_TYPE_INT32, MB_ORDER_CDAB, {0xFFFE, 0xFFFF}, -2.0},
    {"int32 BADC", MB_TYPE_INT32, MB_ORDER_BADC, {0x0201, 0x0403}, 0x01020304},
    {"int32 DCBA", MB_TYPE_INT32, MB_ORDER_DCBA, {0x0403, 0x0201}, 0x01020304},
    {"uint32 above int32", MB_TYPE_UINT32, MB_ORDER_ABCD, {0x8000, 0x0001}, 2147483649.0},
    {"uint32 CDAB", MB_TYPE_UINT32, MB_ORDER_CDAB, {0x0001, 0x8000}, 2147483649.0},
    {"int64 ABCD",
     MB_TYPE_INT64,
     MB_ORDER_ABCD,
     {0x0102, 0x0304, 0x0506, 0x0708},
     72623859790382856.0},
    {"int64 CDAB words reversed",
     MB_TYPE_INT64,
     MB_ORDER_CDAB,
     {0x0708, 0x0506, 0x0304, 0x0102},
     72623859790382856.0},
    {"int64 BADC",
     MB_TYPE_INT64,
     MB_ORDER_BADC,
     {0x0201, 0x0403, 0x0605, 0x0807},
     72623859790382856.0},
    {"int64 DCBA",
     MB_TYPE_INT64,
     MB_ORDER_DCBA,
     {0x0807, 0x0605, 0x0403, 0x0201},
     72623859790382856.0},
    {"int64 -2", MB_TYPE_INT64, MB_ORDER_ABCD, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, -2.0},
    {"uint64 all ones",
     MB_TYPE_UINT64,
     MB_ORDER_ABCD,
     {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF},
     18446744073709551615.0},
    {"float64 ABCD", MB_TYPE_FLOAT64, MB_ORDER_ABCD, {0xC0FE, 0x240C, 0x9FBE, 0x76C9}, -123456.789},
    {"float64 CDAB", MB_TYPE_FLOAT64, MB_ORDER_CDAB, {0x76C9, 0x9FBE, 0x240C, 0xC0FE}, -123456.789},
    {"float64 BADC", MB_TYPE_FLOAT64, MB_ORDER_BADC, {0xFEC0, 0x0C24, 0xBE9F, 0xC976}, -123456.789},
    {"float64 DCBA", MB_TYPE_FLOAT64, MB_ORDER_DCBA, {0xC976, 0xBE9F, 0x0C24, 0xFEC0}, -123456.789},
    {"bool coil 1", MB_TYPE_BOOL, MB_ORDER_ABCD, {1}, 1.0},
    {"bool coil 0", MB_TYPE_BOOL, MB_ORDER_ABCD, {0}, 0.0},
};

static void test_mb_decode_vectors_in_every_order(void **state)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vec *v = &vectors[i];
        struct mb_value out;
        uint16_t back[4];

        assert_int_equal(mb_decode_value(v->type, v->order, -1, v->words, 4, &out), 0);
        if (out.raw != v->want)
            fail_msg("%s: got %.17g want %.17g", v->what, out.raw, v->want);
        /* Encoding the logical bits back gives the device's words. */
        if (v->type != MB_TYPE_BOOL) {
            assert_int_equal(mb_encode_bits(v->type, v->order, out.bits, back), 0);
            assert_memory_equal(back, v->words, mb_type_words(v->type) * sizeof(uint16_t));
        }
    }
}

static void test_mb_decode_bit_in_register_and_bitfield(void **state)
{
    uint16_t w = 0x8005; /* bits 0, 2 and 15 */
    struct mb_value v;

    for (int bit = 0; bit < 16; bit++) {
        assert_int_equal(mb_decode_value(MB_TYPE_BOOL, MB_ORDER_ABCD, bit, &w, 1, &v), 0);
        assert_int_equal((int)v.raw, bit == 0 || bit == 2 || bit == 15);
    }
    assert_int_equal(mb_decode_value(MB_TYPE_UINT16, MB_ORDER_ABCD, -1, &w, 1, &v), 0);
    assert_true(mb_decode_bit(&v, 0));
    assert_false(mb_decode_bit(&v, 1));
    assert_true(mb_decode_bit(&v, 2));
    assert_true(mb_decode_bit(&v, 15));
    assert_false(mb_decode_bit(&v, 16));
    assert_false(mb_decode_bit(&v, 64)); /* out of range is false, not undefined */
}

static void test_mb_decode_rejects_short_input_and_bad_args(void **state)
{
    uint16_t w[4] = {0x47F1, 0x2000, 0, 0};
    struct mb_value v;

    /* float32 on one register: never read past the end. */
    assert_int_equal(mb_decode_value(MB_TYPE_FLOAT32, MB_ORDER_ABCD, -1, w, 1, &v), -EMSGSIZE);
    assert_int_equal(mb_decode_value(MB_TYPE_FLOAT64, MB_ORDER_ABCD, -1, w, 3, &v), -EMSGSIZE);
    assert_int_equal(mb_decode_value(MB_TYPE_INT16, MB_ORDER_ABCD, -1, w, 0, &v), -EMSGSIZE);
    assert_int_equal(mb_decode_value(MB_TYPE_BOOL, MB_ORDER_ABCD, 16, w, 1, &v), -EINVAL);
    assert_int_equal(mb_decode_value(MB_TYPE_COUNT_, MB_ORDER_ABCD, -1, w, 4, &v), -EINVAL);
    assert_int_equal(mb_decode_value(MB_TYPE_INT16, MB_ORDER_COUNT_, -1, w, 4, &v), -EINVAL);
}

static void test_mb_decode_scale_offset_and_exactness(void **state)
{
    uint16_t w[4] = {0x0020, 0x0000, 0x0000, 0x0001}; /* 2^53 + 1 as uint64 */
    struct mb_value v;

    assert_int_equal(mb_decode_value(MB_TYPE_UINT64, MB_ORDER_ABCD, -1, w, 4, &v), 0);
    assert_false(v.exact);
    assert_int_equal(v.i64, (INT64_C(1) << 53) + 1);
    w[3] = 0;
    assert_int_equal(mb_decode_value(MB_TYPE_UINT64, MB_ORDER_ABCD, -1, w, 4, &v), 0);
    assert_true(v.exact);

    w[0] = 236;
    assert_int_equal(mb_decode_value(MB_TYPE_INT16, MB_ORDER_ABCD, -1, w, 1, &v), 0);
    assert_true(fabs(mb_decode_scale(&v, 0.1, -0.5) - 23.1) < 1e-9);
}

static void test_mb_decode_parses_names(void **state)
{
    assert_int_equal(mb_type_parse("float32"), MB_TYPE_FLOAT32);
    assert_int_equal(mb_type_parse("uint64"), MB_TYPE_UINT64);
    assert_int_equal(mb_type_parse("float"), -EINVAL);
    assert_int_equal(mb_order_parse("cdab"), MB_ORDER_CDAB);
    assert_int_equal(mb_order_parse("AB"), MB_ORDER_ABCD);
    assert_int_equal(mb_order_parse("BA"), MB_ORDER_BADC);
    assert_int_equal(mb_order_parse("ACBD"), -EINVAL);
    assert_int_equal(mb_type_words(MB_TYPE_FLOAT64), 4);
    assert_int_equal(mb_type_words(MB_TYPE_BOOL), 1);
}

/* Decodes one point of a register map and compares with its "value". */
static void check_json_point(const char *file, json_t *pt)
{
    const char *name = json_string_value(json_object_get(pt, "name"));
    const char *type = json_string_value(json_object_get(pt, "type"));
    const char *order = json_string_value(json_object_get(pt, "byte_order"));
    json_t *raw = json_object_get(pt, "raw");
    json_t *want = json_object_get(pt, "value");
    double scale = json_number_value(json_object_get(pt, "scale"));
    uint16_t words[4] = {0};
    size_t n = json_array_size(raw);
    struct mb_value v;
    double got, expect;
    int t = mb_type_parse(type), o = order ? mb_order_parse(order) : MB_ORDER_ABCD;

    assert_non_null(name);
    if (t < 0 || o < 0 || n == 0 || n > 4)
        fail_msg("%s: %s: type %s order %s not understood", file, name, type, order);
    for (size_t i = 0; i < n; i++)
        words[i] = (uint16_t)json_integer_value(json_array_get(raw, i));
    assert_int_equal(mb_decode_value(t, o, -1, words, n, &v), 0);
    got = mb_decode_scale(&v, json_object_get(pt, "scale") ? scale : 1.0, 0.0);
    expect = json_is_boolean(want) ? (json_is_true(want) ? 1.0 : 0.0) : json_number_value(want);
    if (fabs(got - expect) > 1e-3 * fabs(expect) + 1e-9)
        fail_msg("%s: %s: decoded %.9g, file says %.9g", file, name, got, expect);
}

static void test_mb_decode_matches_every_point_of_the_register_maps(void **state)
{
    glob_t g;
    size_t points = 0;

    assert_int_equal(glob(FM_SOURCE_DIR "/tests/sim/data/modbus/*.json", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 4);
    for (size_t f = 0; f < g.gl_pathc; f++) {
        json_error_t jerr;
        json_t *root = json_load_file(g.gl_pathv[f], 0, &jerr);
        json_t *pts, *pt;
        size_t i;

        if (root == NULL)
            fail_msg("%s:%d: %s", g.gl_pathv[f], jerr.line, jerr.text);
        pts = json_object_get(root, "points");
        assert_true(json_array_size(pts) > 0);
        json_array_foreach(pts, i, pt)
        {
            check_json_point(g.gl_pathv[f], pt);
            points++;
        }
        json_decref(root);
    }
    globfree(&g);
    assert_true(points >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb_decode_vectors_in_every_order),
        cmocka_unit_test(test_mb_decode_bit_in_register_and_bitfield),
        cmocka_unit_test(test_mb_decode_rejects_short_input_and_bad_args),
        cmocka_unit_test(test_mb_decode_scale_offset_and_exactness),
        cmocka_unit_test(test_mb_decode_parses_names),
        cmocka_unit_test(test_mb_decode_matches_every_point_of_the_register_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
