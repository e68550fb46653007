/* snmp_value: turns one SNMP varbind value into a point's measurement.
 *
 * Handles INTEGER, Gauge32/Unsigned32, Counter32, Counter64, TimeTicks,
 * OCTET STRING (text, or a leading decimal number when the point says
 * numeric_string, as Hikvision cameras report cpuPercent), OBJECT IDENTIFIER
 * and IpAddress (as text), and the v2 exceptions noSuchObject,
 * noSuchInstance and endOfMibView, which become the measurement's quality,
 * never a device failure. Applies scale and offset and maps enum codes to
 * their text. Pure functions on caller memory, any thread. */
#ifndef AGENT_SNMP_VALUE_H
#define AGENT_SNMP_VALUE_H

#include "config.h"
#include "fieldmon.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNMP_VALUE_TEXT_MAX 256

struct snmp_value {
    Fm__Quality quality;
    bool has_value;
    double raw;                     /* as the device reported it */
    double value;                   /* raw x scale + offset */
    char text[SNMP_VALUE_TEXT_MAX]; /* text value or enum text; "" if none */
    const char *detail;             /* static; NULL if none */
    int counter_bits;               /* 32 or 64 for counter syntaxes, else 0 */
    uint64_t counter;               /* the counter's raw value */
};

/* Decodes a value of ASN.1 type asn_type whose payload is laid out as
 * net-snmp's netsnmp_vardata holds it (long for INTEGER and the 32-bit
 * application types, struct counter64 for Counter64, bytes for strings,
 * oid[] for OIDs). len is the payload length in bytes. Never fails: an
 * unusable value gives quality DECODE_ERROR with a detail. */
void snmp_value_decode(const struct point_cfg *pt, unsigned char asn_type, const void *val,
                       size_t len, struct snmp_value *out);

/* Parses the leading decimal number of text (after blanks): "23", " 23 %",
 * "-4.5C". Returns 0, or -EINVAL if text does not start with a number. */
int snmp_value_parse_number(const char *text, size_t len, double *out);

/* Per-second rate of a counter that went from prev to cur in dt_s seconds.
 * A Counter32 that went down by more than half its range wrapped once; any
 * other decrease (a Counter64 going down, a Counter32 going down a little)
 * is a reset (device restart): returns -ERANGE and no rate. dt_s <= 0:
 * -EINVAL. */
int snmp_value_rate(uint64_t prev, uint64_t cur, int bits, double dt_s, double *rate);

#endif
