/* snmp_bulk: see snmp_bulk.h. */
#include "snmp_bulk.h"

#include <stdio.h>
#include <string.h>

static size_t hdr(size_t n)
{
    return n < 128 ? 2 : n < 256 ? 3 : 4;
}

static size_t arc_bytes(unsigned long v)
{
    size_t n = 1;

    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t snmp_bulk_vb_bytes(const oid *name, size_t len, size_t val_len)
{
    size_t o = 0, body;

    if (len >= 2)
        o = arc_bytes(name[0] * 40 + name[1]);
    for (size_t i = 2; i < len; i++)
        o += arc_bytes(name[i]);
    body = hdr(o) + o + hdr(val_len) + val_len;
    return hdr(body) + body;
}

/* -1, 0 or 1 as a is before, equal to or after b. */
static int cmp(const oid *a, size_t alen, const oid *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;

    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

enum snmp_bulk_verdict snmp_bulk_check(const oid_t *const *asked, size_t n, unsigned max_rep,
                                       const struct snmp_bulk_vb *vb, size_t n_vb,
                                       struct snmp_bulk_result *out)
{
    const oid *prev[128];
    size_t prev_len[128];
    size_t bytes = 0, biggest = 0;

    memset(out, 0, sizeof(*out));
    out->n_vb = n_vb;
    out->want = n * max_rep;
    if (n == 0)
        return out->verdict = SNMP_BULK_OK;
    if (n > 128)
        n = 128; /* the walk asks at most max_varbinds (128) names */
    for (size_t j = 0; j < n; j++) {
        prev[j] = asked[j]->v;
        prev_len[j] = asked[j]->len;
    }
    for (size_t i = 0; i < n_vb; i++) {
        size_t j = i % n, b = snmp_bulk_vb_bytes(vb[i].name, vb[i].len, vb[i].val_len);

        bytes += b;
        biggest = b > biggest ? b : biggest;
        if (vb[i].end || prev[j] == NULL) {
            prev[j] = NULL; /* ran out: its later varbinds say so again */
            continue;
        }
        if (cmp(vb[i].name, vb[i].len, prev[j], prev_len[j]) <= 0) {
            out->at = i;
            out->prev = prev[j];
            out->prev_len = prev_len[j];
            return out->verdict = SNMP_BULK_LOOP;
        }
        prev[j] = vb[i].name;
        prev_len[j] = vb[i].len;
    }
    if (n_vb == 0)
        return out->verdict = SNMP_BULK_EMPTY;
    if (n_vb < out->want && !vb[n_vb - 1].end &&
        SNMP_BULK_OVERHEAD + bytes + biggest <= SNMP_BULK_MIN_MSG)
        return out->verdict = SNMP_BULK_SHORT;
    return out->verdict = SNMP_BULK_OK;
}

const char *snmp_bulk_err_name(long status, char *buf, size_t len)
{
    static const char *const names[] = {"noError",
                                        "tooBig",
                                        "noSuchName",
                                        "badValue",
                                        "readOnly",
                                        "genErr",
                                        "noAccess",
                                        "wrongType",
                                        "wrongLength",
                                        "wrongEncoding",
                                        "wrongValue",
                                        "noCreation",
                                        "inconsistentValue",
                                        "resourceUnavailable",
                                        "commitFailed",
                                        "undoFailed",
                                        "authorizationError",
                                        "notWritable",
                                        "inconsistentName"};

    if (status >= 0 && (size_t)status < sizeof(names) / sizeof(names[0]))
        return names[status];
    snprintf(buf, len, "error-status %ld", status);
    return buf;
}

void snmp_bulk_why(const struct snmp_bulk_result *r, const struct snmp_bulk_vb *vb, char *buf,
                   size_t len)
{
    char a[OID_MAX_LEN * 11], b[OID_MAX_LEN * 11];

    switch (r->verdict) {
    case SNMP_BULK_LOOP:
        oid_format(vb[r->at].name, vb[r->at].len, a, sizeof(a));
        oid_format(r->prev, r->prev_len, b, sizeof(b));
        snprintf(buf, len, "GETBULK answers loop (%s after %s)", a, b);
        break;
    case SNMP_BULK_EMPTY:
        snprintf(buf, len, "GETBULK answers are empty");
        break;
    case SNMP_BULK_SHORT:
        snprintf(buf, len, "GETBULK answers stop short (%zu of %zu varbinds, not at the end)",
                 r->n_vb, r->want);
        break;
    default:
        if (len > 0)
            buf[0] = '\0';
    }
}
