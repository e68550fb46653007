/* mb_garble: malformed Modbus responses, for the `garble` fault.
 *
 * A garbled device builds its reply as usual (libmodbus's modbus_reply)
 * and then breaks one field of it before it goes out, so a client's
 * handling of each malformed case can be tested on its own. On RTU the CRC
 * is recomputed after the change (except in mode crc), so only the named
 * field is wrong.
 *
 *   count      byte count 2 less (or, below 2, 2 more) than the data sent
 *   short      one value fewer than requested, byte count and lengths agreeing
 *   truncated  the data cut to half; TCP: MBAP length matches the cut bytes
 *   length     TCP: MBAP length field 2 less than the bytes that follow
 *   tid        TCP: transaction id of another request
 *   function   function code of another read (1<->2, 3<->4)
 *   unit       unit id of another device
 *   crc        RTU: CRC wrong
 *
 * count, short and truncated change read responses (functions 1-4) only. */
#ifndef SIM_MB_GARBLE_H
#define SIM_MB_GARBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_garble {
    MB_GARBLE_NONE,
    MB_GARBLE_COUNT,
    MB_GARBLE_SHORT,
    MB_GARBLE_TRUNCATED,
    MB_GARBLE_LENGTH,
    MB_GARBLE_TID,
    MB_GARBLE_FUNCTION,
    MB_GARBLE_UNIT,
    MB_GARBLE_CRC,
    MB_GARBLE_COUNT_,
};

/* "none", "count", ... indexed by enum mb_garble. */
extern const char *const mb_garble_names[];

/* The mode named name for a TCP (rtu false) or RTU device: > 0, or
 * -EINVAL for an unknown name, -ENOTSUP for a mode the framing lacks
 * (length and tid are TCP only, crc RTU only). */
int mb_garble_parse(const char *name, bool rtu);

/* Breaks the reply adu (len bytes, a whole TCP ADU or RTU frame with CRC)
 * in place as mode says; returns its new length (never more than len). */
size_t mb_garble_apply(int mode, bool rtu, uint8_t *adu, size_t len);

#endif
