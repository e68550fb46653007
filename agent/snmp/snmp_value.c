/* snmp_value: see snmp_value.h. */
#include "snmp_value.h"

#include "oid.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int snmp_value_parse_number(const char *text, size_t len, double *out)
{
    char buf[64];
    size_t i = 0, n = 0;
    bool digits = false, dot = false;

    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i < len && (text[i] == '-' || text[i] == '+'))
        buf[n++] = text[i++];
    for (; i < len && n < sizeof(buf) - 1; i++) {
        if (text[i] >= '0' && text[i] <= '9') {
            digits = true;
        } else if (text[i] == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
        buf[n++] = text[i];
    }
    if (!digits)
        return -EINVAL;
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

int snmp_value_rate(uint64_t prev, uint64_t cur, int bits, double dt_s, double *rate)
{
    uint64_t delta;

    if (!(dt_s > 0))
        return -EINVAL;
    if (cur >= prev) {
        delta = cur - prev;
    } else if (bits == 32 && prev <= 0xffffffffULL && prev - cur > 0x80000000ULL) {
        delta = (0x100000000ULL - prev) + cur;
    } else {
        return -ERANGE;
    }
    *rate = (double)delta / dt_s;
    return 0;
}

/* Copies printable text; other bytes become '?' so the text is safe in
 * logs and JSON whatever the device sent. */
static void copy_text(char *dst, const unsigned char *src, size_t len)
{
    size_t n = len < SNMP_VALUE_TEXT_MAX - 1 ? len : SNMP_VALUE_TEXT_MAX - 1;

    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    dst[n] = '\0';
}

static void set_quality(struct snmp_value *out, Fm__Quality q, const char *detail)
{
    out->quality = q;
    out->has_value = false;
    out->detail = detail;
}

/* Fills raw from the payload; returns false if the type carries no number. */
static bool decode_raw(const struct point_cfg *pt, unsigned char t, const void *val, size_t len,
                       struct snmp_value *out)
{
    long l;
    struct counter64 c;

    switch (t) {
    case ASN_INTEGER:
        if (len < sizeof(long))
            break;
        memcpy(&l, val, sizeof(l));
        out->raw = (double)l;
        return true;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
        if (len < sizeof(long))
            break;
        memcpy(&l, val, sizeof(l));
        out->counter = (uint64_t)((unsigned long)l & 0xffffffffUL);
        out->counter_bits = t == ASN_COUNTER ? 32 : 0;
        out->raw = (double)out->counter;
        return true;
    case ASN_COUNTER64:
        if (len < sizeof(c))
            break;
        memcpy(&c, val, sizeof(c));
        out->counter = ((uint64_t)(c.high & 0xffffffffUL) << 32) | (c.low & 0xffffffffUL);
        out->counter_bits = 64;
        out->raw = (double)out->counter;
        return true;
    case ASN_OCTET_STR:
        copy_text(out->text, val, len);
        if (pt->numeric_string) {
            if (snmp_value_parse_number(val, len, &out->raw) != 0) {
                set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR, "string is not a number");
                return false;
            }
            return true;
        }
        if (pt->type == POINT_TYPE_TEXT)
            return false;
        set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR,
                    "OCTET STRING for a numeric point (set numeric_string?)");
        return false;
    case ASN_OBJECT_ID:
        oid_format(val, len / sizeof(oid), out->text, sizeof(out->text));
        if (pt->type == POINT_TYPE_TEXT)
            return false;
        set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR, "OBJECT IDENTIFIER for a number");
        return false;
    case ASN_IPADDRESS:
        if (len >= 4) {
            const unsigned char *b = val;

            snprintf(out->text, sizeof(out->text), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
            if (pt->type == POINT_TYPE_TEXT)
                return false;
        }
        set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR, "IpAddress for a number");
        return false;
    default:
        break;
    }
    set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR, "unsupported or malformed value type");
    return false;
}

void snmp_value_decode(const struct point_cfg *pt, unsigned char asn_type, const void *val,
                       size_t len, struct snmp_value *out)
{
    /* Field by field, not memset: the text buffer is most of the struct and
     * only its first byte matters (this runs once per value polled). */
    out->quality = FM__QUALITY__QUALITY_GOOD;
    out->has_value = false;
    out->raw = 0;
    out->value = 0;
    out->text[0] = '\0';
    out->detail = NULL;
    out->counter_bits = 0;
    out->counter = 0;
    switch (asn_type) {
    case SNMP_NOSUCHOBJECT:
        set_quality(out, FM__QUALITY__QUALITY_NO_SUCH_OBJECT, "noSuchObject");
        return;
    case SNMP_NOSUCHINSTANCE:
        set_quality(out, FM__QUALITY__QUALITY_NO_SUCH_INSTANCE, "noSuchInstance");
        return;
    case SNMP_ENDOFMIBVIEW:
        set_quality(out, FM__QUALITY__QUALITY_END_OF_MIB_VIEW, "endOfMibView");
        return;
    default:
        break;
    }
    if (val == NULL && len > 0) {
        set_quality(out, FM__QUALITY__QUALITY_DECODE_ERROR, "missing value");
        return;
    }
    if (!decode_raw(pt, asn_type, val, len, out))
        return; /* text value or decode error, quality already set */
    out->has_value = true;
    out->value = out->raw * pt->scale + pt->offset;
    if (pt->type == POINT_TYPE_ENUM) {
        /* A Counter64 can exceed int64_t: such a code has no text. */
        const char *t = fabs(out->raw) < 9.2e18 ? config_enum_text(pt, (int64_t)out->raw) : NULL;

        snprintf(out->text, sizeof(out->text), "%s", t ? t : "");
    } else if (pt->type == POINT_TYPE_BOOL) {
        /* SNMP TruthValue is true(1) false(2); plain 0/1 also works. */
        out->value = out->raw == 1 ? 1 : 0;
        snprintf(out->text, sizeof(out->text), "%s", out->value != 0 ? "true" : "false");
    } else if (pt->type != POINT_TYPE_TEXT) {
        out->text[0] = '\0';
    }
}
