/* mb_frame: Modbus request framing (see mb_frame.h). */
#include "mb_frame.h"

#include <errno.h>

int mb_frame_tcp(const uint8_t *buf, size_t len)
{
    unsigned proto, mlen;

    if (len < 7)
        return 0;
    proto = (unsigned)buf[2] << 8 | buf[3];
    mlen = (unsigned)buf[4] << 8 | buf[5];
    /* mlen counts the unit id and the PDU (function code + at most 252 bytes). */
    if (proto != 0 || mlen < 2 || mlen > MB_TCP_ADU_MAX - 6)
        return -EBADMSG;
    return len >= 6 + mlen ? (int)(6 + mlen) : 0;
}

int mb_frame_rtu(const uint8_t *buf, size_t len)
{
    size_t need;

    if (len < 2)
        return 0;
    switch (buf[1]) {
    case 0x01: /* read coils */
    case 0x02: /* read discrete inputs */
    case 0x03: /* read holding registers */
    case 0x04: /* read input registers */
    case 0x05: /* write single coil */
    case 0x06: /* write single register */
    case 0x08: /* diagnostics: sub-function and one word */
        need = 8;
        break;
    case 0x07: /* read exception status */
    case 0x0b: /* get comm event counter */
    case 0x0c: /* get comm event log */
    case 0x11: /* report server id */
        need = 4;
        break;
    case 0x0f: /* write multiple coils: byte count at offset 6 */
    case 0x10: /* write multiple registers */
        if (len < 7)
            return 0;
        need = 9u + buf[6];
        break;
    case 0x16: /* mask write register */
        need = 10;
        break;
    case 0x17: /* read/write multiple registers: byte count at offset 10 */
        if (len < 11)
            return 0;
        need = 13u + buf[10];
        break;
    default:
        return -EBADMSG;
    }
    if (need > MB_RTU_ADU_MAX)
        return -EBADMSG;
    return len >= need ? (int)need : 0;
}

int mb_frame_pdu_ok(const uint8_t *pdu, size_t len)
{
    unsigned qty;

    if (len < 1)
        return 0;
    switch (pdu[0]) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x08:
        return len == 5;
    case 0x07:
    case 0x0b:
    case 0x0c:
    case 0x11:
        return len == 1;
    case 0x0f:
    case 0x10:
        if (len < 6 || len != 6u + pdu[5])
            return 0;
        qty = (unsigned)pdu[3] << 8 | pdu[4];
        return pdu[5] == (pdu[0] == 0x0f ? (qty + 7) / 8 : 2 * qty);
    case 0x16:
        return len == 7;
    case 0x17:
        if (len < 10 || len != 10u + pdu[9])
            return 0;
        qty = (unsigned)pdu[7] << 8 | pdu[8];
        return pdu[9] == 2 * qty;
    default:
        return 1;
    }
}

uint16_t mb_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xffff;

    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xa001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

int mb_rtu_crc_ok(const uint8_t *frame, size_t len)
{
    uint16_t crc;

    if (len < 4)
        return 0;
    crc = mb_crc16(frame, len - 2);
    return frame[len - 2] == (crc & 0xff) && frame[len - 1] == (crc >> 8);
}
