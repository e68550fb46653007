/* oid: numeric object identifiers without MIB files.
 *
 * The agent takes OIDs only in numeric form ("1.3.6.1.2.1.33.1.2.1.0", a
 * leading dot allowed), so it needs no MIB files at run time and a typo can
 * never resolve to another object. net-snmp's read_objid would do the parse,
 * but it consults the loaded MIB tree and net-snmp's global state; the
 * strict parser of proto/ber.c (shared with the simulator) works before
 * net-snmp is initialised (the config check). Pure functions, any thread. */
#ifndef AGENT_OID_H
#define AGENT_OID_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/types.h>

#include <stdbool.h>
#include <stddef.h>

#define OID_MAX_LEN 64 /* sub-identifiers; longer OIDs are refused */

typedef struct oid_value {
    oid v[OID_MAX_LEN];
    size_t len;
} oid_t;

/* Parses a numeric OID of 2..OID_MAX_LEN sub-identifiers, each 0..2^32-1,
 * that BER can encode (first arc 0..2; under 0 and 1, second arc 0..39).
 * Returns 0 or -EINVAL. */
int oid_parse(const char *text, oid_t *out);

/* The rule oid_parse checks, for error messages. */
#define OID_RULE                                                                                   \
    " (2 to 64 arcs of 0..4294967295; the first 0, 1 or 2, and under 0 and 1 the second "          \
    "below 40)"

/* Writes dotted text (no leading dot) into buf; truncates safely.
 * Returns the length it needed (like snprintf). */
size_t oid_format(const oid *v, size_t len, char *buf, size_t cap);

/* True when v (len) lies strictly inside the subtree prefix (plen). */
bool oid_in_subtree(const oid *prefix, size_t plen, const oid *v, size_t len);

#endif
