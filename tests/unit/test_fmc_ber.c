/* Unit tests for the simulator's BER codec (tests/sim/ber.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ber.h"

#include <errno.h>
#include <string.h>

static void test_ber_int_encodes_minimal_twos_complement(void **state)
{
    static const struct {
        int64_t v;
        size_t len;
        uint8_t bytes[10];
    } cases[] = {
        {0, 3, {0x02, 0x01, 0x00}},
        {127, 3, {0x02, 0x01, 0x7f}},
        {128, 4, {0x02, 0x02, 0x00, 0x80}}, /* needs a leading zero */
        {-1, 3, {0x02, 0x01, 0xff}},
        {-128, 3, {0x02, 0x01, 0x80}},
        {-129, 4, {0x02, 0x02, 0xff, 0x7f}}, /* needs a leading 0xff */
        {INT32_MAX, 6, {0x02, 0x04, 0x7f, 0xff, 0xff, 0xff}},
        {INT32_MIN, 6, {0x02, 0x04, 0x80, 0x00, 0x00, 0x00}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[16];
        struct ber_wr w;
        int64_t back;

        ber_wr_init(&w, buf, sizeof(buf));
        ber_put_int(&w, BER_INTEGER, cases[i].v);
        assert_int_equal(ber_wr_used(&w), cases[i].len);
        assert_memory_equal(w.p, cases[i].bytes, cases[i].len);
        assert_int_equal(ber_get_int(w.p + 2, cases[i].len - 2, &back), 0);
        assert_int_equal(back, cases[i].v);
    }
}

static void test_ber_uint_adds_zero_byte_when_top_bit_set(void **state)
{
    uint8_t buf[16];
    struct ber_wr w;
    uint64_t back;
    static const uint8_t want[] = {0x41, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff};

    ber_wr_init(&w, buf, sizeof(buf));
    ber_put_uint(&w, BER_COUNTER32, UINT32_MAX);
    assert_int_equal(ber_wr_used(&w), sizeof(want));
    assert_memory_equal(w.p, want, sizeof(want));
    assert_int_equal(ber_get_uint(w.p + 2, 5, &back), 0);
    assert_int_equal(back, UINT32_MAX);
}

static void test_ber_oid_round_trips_large_subids(void **state)
{
    struct ber_oid a, b;
    uint8_t buf[64];
    struct ber_wr w;
    struct ber_tlv t;
    const uint8_t *p;

    assert_int_equal(ber_oid_parse(".1.3.6.1.4.1.39165.1.4294967295.0", &a), 0);
    ber_wr_init(&w, buf, sizeof(buf));
    ber_put_oid(&w, a.sub, a.len);
    p = w.p;
    assert_int_equal(ber_read(&p, buf + sizeof(buf), &t), 0);
    assert_int_equal(t.tag, BER_OID);
    assert_int_equal(ber_get_oid(t.val, t.len, &b), 0);
    assert_int_equal(ber_oid_cmp(a.sub, a.len, b.sub, b.len), 0);
}

static void test_ber_oid_parse_rejects_bad_text(void **state)
{
    static const char *const bad[] = {
        "", "1", "1.3.", "1..3", "1.3.x", "3.1", "1.40", "1.3.6.4294967296", "-1.3"};
    struct ber_oid o;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ber_oid_parse(bad[i], &o), -EINVAL);
}

static void test_ber_oid_cmp_orders_numerically(void **state)
{
    const uint32_t a[] = {1, 3, 6, 1, 127}, b[] = {1, 3, 6, 1, 128}, c[] = {1, 3, 6, 1};

    /* 127 < 128 although their BER encodings compare the other way round. */
    assert_true(ber_oid_cmp(a, 5, b, 5) < 0);
    assert_true(ber_oid_cmp(c, 4, a, 5) < 0); /* a prefix sorts first */
    assert_int_equal(ber_oid_cmp(a, 5, a, 5), 0);
}

static void test_ber_read_rejects_lengths_past_the_end(void **state)
{
    static const struct {
        uint8_t bytes[8];
        size_t len;
    } cases[] = {
        {{0x30}, 1},                      /* no length */
        {{0x30, 0x05, 0x02, 0x01}, 4},    /* length past the end */
        {{0x30, 0x80, 0x00, 0x00}, 4},    /* indefinite form */
        {{0x30, 0x85, 1, 0, 0, 0, 0}, 7}, /* 5 length bytes */
        {{0x30, 0x82, 0x01}, 3},          /* length bytes cut short */
        {{0x1f, 0x01, 0x00}, 3},          /* multi-byte tag */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *p = cases[i].bytes;
        struct ber_tlv t;

        assert_int_equal(ber_read(&p, cases[i].bytes + cases[i].len, &t), -EBADMSG);
    }
}

static void test_ber_get_oid_rejects_bad_encodings(void **state)
{
    static const uint8_t nonminimal[] = {0x2b, 0x80, 0x01};
    static const uint8_t unterminated[] = {0x2b, 0x86};
    static const uint8_t too_big[] = {0x2b, 0x90, 0x80, 0x80, 0x80, 0x00};
    struct ber_oid o;

    assert_int_equal(ber_get_oid(nonminimal, sizeof(nonminimal), &o), -EBADMSG);
    assert_int_equal(ber_get_oid(unterminated, sizeof(unterminated), &o), -EBADMSG);
    assert_int_equal(ber_get_oid(too_big, sizeof(too_big), &o), -EBADMSG);
    assert_int_equal(ber_get_oid(NULL, 0, &o), -EBADMSG);
}

static void test_ber_writer_flags_overflow(void **state)
{
    uint8_t buf[4];
    struct ber_wr w;

    ber_wr_init(&w, buf, sizeof(buf));
    ber_put_raw(&w, "abcdef", 6);
    assert_true(w.overflow);
    ber_wr_init(&w, buf, 0);
    ber_put_int(&w, BER_INTEGER, 5);
    assert_true(w.overflow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ber_int_encodes_minimal_twos_complement),
        cmocka_unit_test(test_ber_uint_adds_zero_byte_when_top_bit_set),
        cmocka_unit_test(test_ber_oid_round_trips_large_subids),
        cmocka_unit_test(test_ber_oid_parse_rejects_bad_text),
        cmocka_unit_test(test_ber_oid_cmp_orders_numerically),
        cmocka_unit_test(test_ber_read_rejects_lengths_past_the_end),
        cmocka_unit_test(test_ber_get_oid_rejects_bad_encodings),
        cmocka_unit_test(test_ber_writer_flags_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
