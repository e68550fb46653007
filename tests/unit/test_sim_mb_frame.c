/* Unit tests for the simulator's Modbus request checks (tests/sim/mb_frame.c):
 * framing of TCP and RTU requests, and the PDU check that keeps requests
 * whose fields promise more than they hold away from libmodbus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mb_frame.h"

#include <errno.h>

static void test_mb_frame_pdu_ok_accepts_well_formed_requests(void **state)
{
    (void)state;
    static const uint8_t read_hr[] = {0x03, 0x00, 0x10, 0x00, 0x04};
    static const uint8_t write_coils[] = {0x0f, 0x00, 0x00, 0x00, 0x0a, 0x02, 0xff, 0x03};
    static const uint8_t write_regs[] = {0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0, 1, 0, 2};
    static const uint8_t mask[] = {0x16, 0, 1, 0xff, 0x00, 0x00, 0x0f};
    static const uint8_t rw[] = {0x17, 0, 0, 0, 2, 0, 4, 0, 1, 0x02, 0x12, 0x34};
    static const uint8_t report_id[] = {0x11};
    static const uint8_t unknown[] = {0x2b, 0x0e, 0x01, 0x00};

    assert_true(mb_frame_pdu_ok(read_hr, sizeof(read_hr)));
    assert_true(mb_frame_pdu_ok(write_coils, sizeof(write_coils)));
    assert_true(mb_frame_pdu_ok(write_regs, sizeof(write_regs)));
    assert_true(mb_frame_pdu_ok(mask, sizeof(mask)));
    assert_true(mb_frame_pdu_ok(rw, sizeof(rw)));
    assert_true(mb_frame_pdu_ok(report_id, sizeof(report_id)));
    assert_true(mb_frame_pdu_ok(unknown, sizeof(unknown)));
}

static void test_mb_frame_pdu_ok_refuses_requests_shorter_than_they_say(void **state)
{
    (void)state;
    /* A read without its quantity: libmodbus would read past the frame. */
    static const uint8_t read_short[] = {0x03, 0x00, 0x10};
    /* 100 registers promised, 2 present. */
    static const uint8_t regs_short[] = {0x10, 0x00, 0x01, 0x00, 0x64, 0xc8, 0, 1, 0, 2};
    /* Byte count 4 present, but the quantity says 100 registers. */
    static const uint8_t regs_qty[] = {0x10, 0x00, 0x01, 0x00, 0x64, 0x04, 0, 1, 0, 2};
    /* 80 coils need 10 bytes; 1 is there. */
    static const uint8_t coils_qty[] = {0x0f, 0x00, 0x00, 0x00, 0x50, 0x01, 0xff};
    /* read/write: 50 registers to write, 2 bytes present. */
    static const uint8_t rw_qty[] = {0x17, 0, 0, 0, 2, 0, 4, 0, 50, 0x02, 0x12, 0x34};
    static const uint8_t read_long[] = {0x04, 0, 0, 0, 1, 0};

    assert_false(mb_frame_pdu_ok(read_short, sizeof(read_short)));
    assert_false(mb_frame_pdu_ok(regs_short, sizeof(regs_short)));
    assert_false(mb_frame_pdu_ok(regs_qty, sizeof(regs_qty)));
    assert_false(mb_frame_pdu_ok(coils_qty, sizeof(coils_qty)));
    assert_false(mb_frame_pdu_ok(rw_qty, sizeof(rw_qty)));
    assert_false(mb_frame_pdu_ok(read_long, sizeof(read_long)));
    assert_false(mb_frame_pdu_ok(read_short, 0));
}

static void test_mb_frame_tcp_and_rtu_find_request_boundaries(void **state)
{
    (void)state;
    static const uint8_t tcp[] = {0, 1, 0, 0, 0, 6, 1, 0x03, 0, 0, 0, 2, 0xaa};
    static const uint8_t tcp_bad[] = {0, 1, 0, 1, 0, 6, 1, 0x03, 0, 0, 0, 2};
    uint8_t rtu[8] = {1, 0x03, 0, 0, 0, 2};
    uint16_t crc = mb_crc16(rtu, 6);

    rtu[6] = (uint8_t)(crc & 0xff);
    rtu[7] = (uint8_t)(crc >> 8);
    assert_int_equal(mb_frame_tcp(tcp, sizeof(tcp)), 12);
    assert_int_equal(mb_frame_tcp(tcp, 11), 0);
    assert_int_equal(mb_frame_tcp(tcp_bad, sizeof(tcp_bad)), -EBADMSG);
    assert_int_equal(mb_frame_rtu(rtu, sizeof(rtu)), 8);
    assert_int_equal(mb_frame_rtu(rtu, 7), 0);
    assert_true(mb_rtu_crc_ok(rtu, sizeof(rtu)));
    rtu[7] ^= 1;
    assert_false(mb_rtu_crc_ok(rtu, sizeof(rtu)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb_frame_pdu_ok_accepts_well_formed_requests),
        cmocka_unit_test(test_mb_frame_pdu_ok_refuses_requests_shorter_than_they_say),
        cmocka_unit_test(test_mb_frame_tcp_and_rtu_find_request_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
