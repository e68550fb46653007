/* Unit tests for mb_rsp: Modbus TCP read responses checked against
 * their request, one row per malformed field, plus value extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mb_rsp.h"

#include <errno.h>
#include <string.h>

static const struct mb_rsp_req hold3 = {.tid = 7, .unit = 1, .function = 3, .count = 3};
static const struct mb_rsp_req coils10 = {.tid = 7, .unit = 1, .function = 1, .count = 10};

struct mbap_case {
    const char *what; /* the uplink this row covers */
    uint8_t hdr[7];
    int want;        /* PDU length, or -EBADMSG */
    const char *why; /* expected reason (substring) */
};

static const struct mbap_case mbap_cases[] = {
    {"good: 3 registers, length 1 + 1 + 1 + 6", {0, 7, 0, 0, 0, 9, 1}, 8, NULL},
    {"shortest PDU (length 2)", {0, 7, 0, 0, 0, 2, 1}, 1, NULL},
    {"longest PDU (length 254)", {0, 7, 0, 0, 0, 254, 1}, 253, NULL},
    {"transaction id of another request", {0, 8, 0, 0, 0, 9, 1}, -EBADMSG, "transaction id"},
    {"protocol id 1 (libmodbus 3.1.6 lets 0x0001 through)",
     {0, 7, 0, 1, 0, 9, 1},
     -EBADMSG,
     "protocol id"},
    {"length 1: no room for a function code", {0, 7, 0, 0, 0, 1, 1}, -EBADMSG, "MBAP length"},
    {"length 0", {0, 7, 0, 0, 0, 0, 1}, -EBADMSG, "MBAP length"},
    {"length 255: over the ADU limit", {0, 7, 0, 0, 0, 255, 1}, -EBADMSG, "MBAP length"},
    {"length 0xFF09", {0, 7, 0, 0, 0xff, 9, 1}, -EBADMSG, "MBAP length"},
    {"unit id of another device", {0, 7, 0, 0, 0, 9, 2}, -EBADMSG, "unit id"},
};

static void test_mb_rsp_mbap_checks_every_header_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(mbap_cases) / sizeof(mbap_cases[0]); i++) {
        const struct mbap_case *c = &mbap_cases[i];
        const char *why = NULL;
        int rc = mb_rsp_mbap(&hold3, c->hdr, &why);

        if (rc != c->want)
            fail_msg("%s: got %d, want %d", c->what, rc, c->want);
        if (c->why != NULL && (why == NULL || strstr(why, c->why) == NULL))
            fail_msg("%s: reason '%s' does not name '%s'", c->what, why ? why : "(none)", c->why);
    }
}

struct pdu_case {
    const char *what;
    const struct mb_rsp_req *req;
    uint8_t pdu[16];
    size_t len;
    int want; /* 0 good, > 0 exception, -EBADMSG */
    const char *why;
};

static const struct pdu_case pdu_cases[] = {
    {"good registers", &hold3, {3, 6, 0, 1, 0, 2, 0, 3}, 8, 0, NULL},
    {"good coils: 10 bits in 2 bytes", &coils10, {1, 2, 0xff, 0x03}, 4, 0, NULL},
    {"exception 02", &hold3, {0x83, 2}, 2, 2, NULL},
    {"exception 0x0B gateway", &hold3, {0x83, 0x0b}, 2, 11, NULL},
    {"exception code 0", &hold3, {0x83, 0}, 2, -EBADMSG, "exception code 0"},
    {"exception with a trailing byte", &hold3, {0x83, 2, 0}, 3, -EBADMSG, "exception"},
    {"exception of another function", &hold3, {0x84, 2}, 2, -EBADMSG, "function code"},
    {"function 4 answering a function 3 request",
     &hold3,
     {4, 6, 0, 1, 0, 2, 0, 3},
     8,
     -EBADMSG,
     "function code"},
    {"only a function code", &hold3, {3}, 1, -EBADMSG, "shorter"},
    {"empty", &hold3, {0}, 0, -EBADMSG, "shorter"},
    {"byte count 4 for 3 registers, consistent data",
     &hold3,
     {3, 4, 0, 1, 0, 2},
     6,
     -EBADMSG,
     "count requested"},
    {"byte count 7 (odd) for 3 registers",
     &hold3,
     {3, 7, 0, 1, 0, 2, 0, 3, 0},
     9,
     -EBADMSG,
     "count requested"},
    {"byte count right, data cut short",
     &hold3,
     {3, 6, 0, 1, 0, 2},
     6,
     -EBADMSG,
     "response length"},
    {"byte count right, a byte too many",
     &hold3,
     {3, 6, 0, 1, 0, 2, 0, 3, 9},
     9,
     -EBADMSG,
     "response length"},
    {"coils: byte count 1 for 10 bits", &coils10, {1, 1, 0xff}, 3, -EBADMSG, "count requested"},
    {"coils: byte count 3 for 10 bits",
     &coils10,
     {1, 3, 0xff, 3, 0},
     5,
     -EBADMSG,
     "count requested"},
};

static void test_mb_rsp_check_refuses_each_malformed_pdu(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pdu_cases) / sizeof(pdu_cases[0]); i++) {
        const struct pdu_case *c = &pdu_cases[i];
        const char *why = NULL;
        int rc = mb_rsp_check(c->req, c->pdu, c->len, &why);

        if (rc != c->want)
            fail_msg("%s: got %d, want %d", c->what, rc, c->want);
        if (c->why != NULL && (why == NULL || strstr(why, c->why) == NULL))
            fail_msg("%s: reason '%s' does not name '%s'", c->what, why ? why : "(none)", c->why);
    }
}

static void test_mb_rsp_values_widens_bits_and_joins_registers(void **state)
{
    const uint8_t regs[] = {3, 6, 0x12, 0x34, 0xff, 0xfe, 0, 3};
    const uint8_t bits[] = {1, 2, 0xa5, 0x02};
    const uint16_t want_bits[10] = {1, 0, 1, 0, 0, 1, 0, 1, 0, 1};
    uint16_t out[10];

    (void)state;
    mb_rsp_values(&hold3, regs, out);
    assert_int_equal(out[0], 0x1234);
    assert_int_equal(out[1], 0xfffe);
    assert_int_equal(out[2], 3);
    mb_rsp_values(&coils10, bits, out);
    assert_memory_equal(out, want_bits, sizeof(want_bits));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb_rsp_mbap_checks_every_header_field),
        cmocka_unit_test(test_mb_rsp_check_refuses_each_malformed_pdu),
        cmocka_unit_test(test_mb_rsp_values_widens_bits_and_joins_registers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
