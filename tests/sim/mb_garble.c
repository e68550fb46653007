/* mb_garble: malformed Modbus responses (see mb_garble.h). */
#include "mb_garble.h"

#include "mb_frame.h"

#include <errno.h>
#include <string.h>

const char *const mb_garble_names[] = {
    "none", "count", "short", "truncated", "length", "tid", "function", "unit", "crc",
};

int mb_garble_parse(const char *name, bool rtu)
{
    for (int m = MB_GARBLE_NONE + 1; m < MB_GARBLE_COUNT_; m++) {
        if (strcmp(name, mb_garble_names[m]) != 0)
            continue;
        if (rtu && (m == MB_GARBLE_LENGTH || m == MB_GARBLE_TID))
            return -ENOTSUP;
        if (!rtu && m == MB_GARBLE_CRC)
            return -ENOTSUP;
        return m;
    }
    return -EINVAL;
}

static void set_mbap_len(uint8_t *adu, size_t len)
{
    adu[4] = (uint8_t)((len - 6) >> 8);
    adu[5] = (uint8_t)(len - 6);
}

static void set_crc(uint8_t *adu, size_t len)
{
    uint16_t crc = mb_crc16(adu, len - 2);

    adu[len - 2] = (uint8_t)(crc & 0xff);
    adu[len - 1] = (uint8_t)(crc >> 8);
}

/* Changes a read response's data (count, short, truncated); returns the
 * new frame length without CRC, or 0 if the frame is no read response. */
static size_t garble_data(int mode, uint8_t *pdu, size_t pdu_len)
{
    uint8_t fc = pdu[0], bc;
    size_t one;

    if (fc < 1 || fc > 4 || pdu_len < 2 || pdu[1] != pdu_len - 2)
        return 0;
    bc = pdu[1];
    switch (mode) {
    case MB_GARBLE_COUNT:
        pdu[1] = (uint8_t)(bc >= 2 ? bc - 2 : bc + 2);
        return pdu_len;
    case MB_GARBLE_SHORT:
        one = fc <= 2 ? 1 : 2;
        if (bc < one)
            return pdu_len;
        pdu[1] = (uint8_t)(bc - one);
        return pdu_len - one;
    default: /* MB_GARBLE_TRUNCATED */
        return 2u + bc / 2u;
    }
}

size_t mb_garble_apply(int mode, bool rtu, uint8_t *adu, size_t len)
{
    size_t head = rtu ? 1 : 7, tail = rtu ? 2 : 0, n;
    uint8_t *pdu = adu + head;

    if (len < head + tail + 2)
        return len;
    switch (mode) {
    case MB_GARBLE_COUNT:
    case MB_GARBLE_SHORT:
    case MB_GARBLE_TRUNCATED:
        n = garble_data(mode, pdu, len - head - tail);
        if (n == 0)
            return len;
        len = head + n + tail;
        if (!rtu)
            set_mbap_len(adu, len);
        break;
    case MB_GARBLE_LENGTH:
        set_mbap_len(adu, len - 2);
        break;
    case MB_GARBLE_TID:
        adu[1]++;
        if (adu[1] == 0)
            adu[0]++;
        break;
    case MB_GARBLE_FUNCTION:
        /* Another read function of the same shape; exceptions keep their bit. */
        pdu[0] = (uint8_t)((pdu[0] & 0x80) |
                           ((pdu[0] & 0x7f) <= 2 ? (pdu[0] & 0x7f) ^ 3 : (pdu[0] & 0x7f) ^ 7));
        break;
    case MB_GARBLE_UNIT:
        adu[head - 1] = (uint8_t)(adu[head - 1] % 247 + 1);
        break;
    case MB_GARBLE_CRC:
        adu[len - 1] ^= 0x5a;
        return len;
    default:
        return len;
    }
    if (rtu)
        set_crc(adu, len);
    return len;
}
