/* snmprec: device data in snmpsim's `OID|tag|value` format.
 *
 * A file becomes a `struct sim_mib`: records sorted by OID, each with its
 * OID as sub-identifiers (for searching), as an encoded BER TLV and its value
 * as an encoded BER TLV (both ready to copy into a response). Tags: 2
 * Integer32, 4 OCTET STRING, 4x OCTET STRING as hex, 5 Null, 6 OBJECT
 * IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 68
 * Opaque (68x as hex), 70 Counter64. Blank lines and lines starting with '#'
 * are skipped. snmpsim's variation modules (tags such as `2:numeric`) are not
 * supported and are reported as errors.
 *
 * A loaded mib is read-only and shared by every device using the file. */
#ifndef SIM_SNMPREC_H
#define SIM_SNMPREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest value accepted (encoded TLV), so overrides fit fixed buffers. */
#define SNMPREC_VAL_MAX 1024

struct snmprec_rec {
    uint32_t *oid;
    uint32_t oid_len;
    uint16_t oid_tlv_len;
    uint16_t val_len;
    uint8_t *oid_tlv;
    uint8_t *val; /* whole TLV: tag, length, content */
};

struct sim_mib {
    char *path;
    struct snmprec_rec *recs;
    size_t n;
    long uptime_rec; /* index of sysUpTime.0, or -1 */
};

/* Loads path. Returns 0, -EINVAL with "path:line: why" in err, or -errno if
 * the file cannot be read. *out: new; free with snmprec_free. */
int snmprec_load(const char *path, struct sim_mib **out, char *err, size_t errlen);

void snmprec_free(struct sim_mib *mib);

/* Index of the first record whose OID is >= oid (lower bound); mib->n if
 * none. *exact tells whether that record's OID equals oid. */
size_t snmprec_lower_bound(const struct sim_mib *mib, const uint32_t *oid, uint32_t len,
                           bool *exact);

/* Encodes `value` given as text in snmprec syntax for `tag` ("2", "4x", ...)
 * into out as a BER TLV. Returns the length, or -EINVAL with a reason in why. */
int snmprec_encode(const char *tag, const char *value, uint8_t *out, size_t cap, char *why,
                   size_t whylen);

/* Encodes a number as the BER type `ber_tag` (INTEGER, Counter32, Gauge32,
 * TimeTicks, Counter64 or OCTET STRING with `decimals` digits after the
 * point). Values are rounded and clamped to the type's range. Returns the
 * length or -EINVAL for types that hold no number. */
int snmprec_encode_number(uint8_t ber_tag, double v, int decimals, uint8_t *out, size_t cap);

/* Reads the number a TLV holds (INTEGER, unsigned types, or OCTET STRING
 * that starts with a decimal number). 0 or -EINVAL. */
int snmprec_value_number(const uint8_t *tlv, size_t len, double *out);

#endif
