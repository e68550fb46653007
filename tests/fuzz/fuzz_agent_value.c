/* Fuzz target for the agent's SNMP value decoding and OID parsing: whatever
 * a device sends as a varbind value, and whatever text a profile holds as
 * an OID, must decode to a measurement or a quality code, never crash.
 *
 * Input: byte 0 = ASN.1 type, byte 1 = point flags (bits 0-2 point type,
 * bit 3 numeric_string), then the payload as net-snmp lays it out. The
 * payload is also parsed as an OID and as a number. */
#include "oid.h"
#include "snmp_value.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct point_cfg pt;
    struct snmp_value v;
    struct enum_entry e = {2, "normal"};
    char text[600];
    oid_t o;
    double d;
    uint8_t *copy;

    if (size < 2)
        return 0;
    memset(&pt, 0, sizeof(pt));
    pt.type = data[1] % 5;
    pt.numeric_string = (data[1] & 8) != 0;
    pt.scale = 0.1;
    pt.enums = &e;
    pt.n_enums = 1;
    /* An exact-size heap copy lets the sanitizer see any over-read. */
    copy = malloc(size - 2 + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 2, size - 2);
    snmp_value_decode(&pt, data[0], size > 2 ? copy : NULL, size - 2, &v);
    if (v.has_value && v.counter_bits != 0)
        (void)snmp_value_rate(v.counter, v.counter / 2, v.counter_bits, 1.5, &d);
    (void)snmp_value_parse_number((const char *)copy, size - 2, &d);
    free(copy);
    if (size - 2 < sizeof(text)) {
        memcpy(text, data + 2, size - 2);
        text[size - 2] = '\0';
        if (oid_parse(text, &o) == 0)
            oid_format(o.v, o.len, text, sizeof(text));
    }
    return 0;
}
