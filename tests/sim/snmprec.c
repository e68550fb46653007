/* snmprec: snmpsim-format device data (see snmprec.h). */
#include "snmprec.h"

#include "ber.h"
#include "fm_alloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tagdef {
    const char *name;
    uint8_t ber;
};

static const struct tagdef tags[] = {
    {"2", BER_INTEGER},
    {"4", BER_OCTET_STRING},
    {"4x", BER_OCTET_STRING},
    {"5", BER_NULL},
    {"6", BER_OID},
    {"64", BER_IPADDRESS},
    {"65", BER_COUNTER32},
    {"66", BER_GAUGE32},
    {"67", BER_TIMETICKS},
    {"68", BER_OPAQUE},
    {"68x", BER_OPAQUE},
    {"70", BER_COUNTER64},
    {NULL, 0},
};

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    *out = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || *out > max)
        return -EINVAL;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int finish(struct ber_wr *w, uint8_t *out, size_t cap, char *why, size_t whylen)
{
    size_t n = ber_wr_used(w);

    if (w->overflow || n > cap) {
        snprintf(why, whylen, "value longer than %d bytes", SNMPREC_VAL_MAX);
        return -EINVAL;
    }
    memmove(out, w->p, n);
    return (int)n;
}

int snmprec_encode(const char *tag, const char *value, uint8_t *out, size_t cap, char *why,
                   size_t whylen)
{
    uint8_t buf[SNMPREC_VAL_MAX + 8];
    struct ber_wr w;
    const struct tagdef *t;
    unsigned long long u;

    for (t = tags; t->name != NULL && strcmp(t->name, tag) != 0; t++)
        ;
    if (t->name == NULL) {
        snprintf(why, whylen, "unknown tag '%s' (known: 2 4 4x 5 6 64 65 66 67 68 68x 70)", tag);
        return -EINVAL;
    }
    ber_wr_init(&w, buf, sizeof(buf));
    switch (t->ber) {
    case BER_INTEGER: {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < INT32_MIN || v > INT32_MAX) {
            snprintf(why, whylen, "'%s' is not an Integer32", value);
            return -EINVAL;
        }
        ber_put_int(&w, BER_INTEGER, v);
        break;
    }
    case BER_OCTET_STRING:
    case BER_OPAQUE: {
        size_t len = strlen(value);

        if (tag[strlen(tag) - 1] == 'x') {
            if (len % 2 != 0) {
                snprintf(why, whylen, "hex value has an odd number of digits");
                return -EINVAL;
            }
            for (size_t i = len; i > 0; i -= 2) {
                int hi = hexval(value[i - 2]), lo = hexval(value[i - 1]);
                uint8_t b;

                if (hi < 0 || lo < 0) {
                    snprintf(why, whylen, "'%s' is not hex", value);
                    return -EINVAL;
                }
                b = (uint8_t)(hi << 4 | lo);
                ber_put_raw(&w, &b, 1);
            }
            len /= 2;
        } else {
            ber_put_raw(&w, value, len);
        }
        ber_put_hdr(&w, t->ber, len);
        break;
    }
    case BER_NULL:
        if (*value != '\0') {
            snprintf(why, whylen, "Null takes no value");
            return -EINVAL;
        }
        ber_put_hdr(&w, BER_NULL, 0);
        break;
    case BER_OID: {
        struct ber_oid oid;

        if (ber_oid_parse(value, &oid) != 0) {
            snprintf(why, whylen, "'%s' is not an OBJECT IDENTIFIER", value);
            return -EINVAL;
        }
        ber_put_oid(&w, oid.sub, oid.len);
        break;
    }
    case BER_IPADDRESS: {
        unsigned a, b, c, d;
        char extra;
        uint8_t ip[4];

        if (sscanf(value, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 || a > 255 || b > 255 ||
            c > 255 || d > 255) {
            snprintf(why, whylen, "'%s' is not an IpAddress", value);
            return -EINVAL;
        }
        ip[0] = (uint8_t)a, ip[1] = (uint8_t)b, ip[2] = (uint8_t)c, ip[3] = (uint8_t)d;
        ber_put_raw(&w, ip, 4);
        ber_put_hdr(&w, BER_IPADDRESS, 4);
        break;
    }
    case BER_COUNTER64:
        if (parse_ull(value, UINT64_MAX, &u) != 0) {
            snprintf(why, whylen, "'%s' is not a Counter64", value);
            return -EINVAL;
        }
        ber_put_uint(&w, BER_COUNTER64, u);
        break;
    default: /* Counter32, Gauge32, TimeTicks */
        if (parse_ull(value, UINT32_MAX, &u) != 0) {
            snprintf(why, whylen, "'%s' is not in 0..4294967295", value);
            return -EINVAL;
        }
        ber_put_uint(&w, t->ber, u);
        break;
    }
    return finish(&w, out, cap, why, whylen);
}

int snmprec_encode_number(uint8_t ber_tag, double v, int decimals, uint8_t *out, size_t cap)
{
    uint8_t buf[64];
    struct ber_wr w;
    size_t n;

    if (isnan(v))
        v = 0;
    ber_wr_init(&w, buf, sizeof(buf));
    switch (ber_tag) {
    case BER_INTEGER:
        v = fmin(fmax(round(v), INT32_MIN), INT32_MAX);
        ber_put_int(&w, BER_INTEGER, (int64_t)v);
        break;
    case BER_COUNTER32:
    case BER_GAUGE32:
    case BER_TIMETICKS:
        v = fmin(fmax(round(v), 0), UINT32_MAX);
        ber_put_uint(&w, ber_tag, (uint64_t)v);
        break;
    case BER_COUNTER64:
        v = fmin(fmax(round(v), 0), 18446744073709549568.0);
        ber_put_uint(&w, ber_tag, (uint64_t)v);
        break;
    case BER_OCTET_STRING: {
        char text[48];
        int len = snprintf(text, sizeof(text), "%.*f", decimals, v);

        ber_put_raw(&w, text, (size_t)len);
        ber_put_hdr(&w, BER_OCTET_STRING, (size_t)len);
        break;
    }
    default:
        return -EINVAL;
    }
    n = ber_wr_used(&w);
    if (n > cap)
        return -EINVAL;
    memcpy(out, w.p, n);
    return (int)n;
}

int snmprec_value_number(const uint8_t *tlv, size_t len, double *out)
{
    const uint8_t *p = tlv;
    struct ber_tlv t;
    int64_t i;
    uint64_t u;

    if (ber_read(&p, tlv + len, &t) != 0)
        return -EINVAL;
    switch (t.tag) {
    case BER_INTEGER:
        if (ber_get_int(t.val, t.len, &i) != 0)
            return -EINVAL;
        *out = (double)i;
        return 0;
    case BER_COUNTER32:
    case BER_GAUGE32:
    case BER_TIMETICKS:
    case BER_COUNTER64:
        if (ber_get_uint(t.val, t.len, &u) != 0)
            return -EINVAL;
        *out = (double)u;
        return 0;
    case BER_OCTET_STRING: {
        char text[48];
        char *end;

        if (t.len == 0 || t.len >= sizeof(text))
            return -EINVAL;
        memcpy(text, t.val, t.len);
        text[t.len] = '\0';
        *out = strtod(text, &end);
        return end == text ? -EINVAL : 0;
    }
    default:
        return -EINVAL;
    }
}

struct loadrec {
    struct snmprec_rec rec;
    int line;
};

static int cmp_loadrec(const void *a, const void *b)
{
    const struct snmprec_rec *x = &((const struct loadrec *)a)->rec;
    const struct snmprec_rec *y = &((const struct loadrec *)b)->rec;

    return ber_oid_cmp(x->oid, x->oid_len, y->oid, y->oid_len);
}

/* Parses one non-blank line into r. 0 or -EINVAL with why. */
static int parse_line(char *line, struct snmprec_rec *r, char *why, size_t whylen)
{
    char *bar1 = strchr(line, '|'), *bar2;
    uint8_t val[SNMPREC_VAL_MAX];
    uint8_t oidbuf[BER_OID_MAX * 5 + 8];
    struct ber_oid oid;
    struct ber_wr w;
    int n;

    if (bar1 == NULL || (bar2 = strchr(bar1 + 1, '|')) == NULL) {
        snprintf(why, whylen, "expected OID|tag|value");
        return -EINVAL;
    }
    *bar1 = '\0';
    *bar2 = '\0';
    if (ber_oid_parse(line, &oid) != 0) {
        snprintf(why, whylen, "'%s' is not an OID", line);
        return -EINVAL;
    }
    n = snmprec_encode(bar1 + 1, bar2 + 1, val, sizeof(val), why, whylen);
    if (n < 0)
        return n;
    ber_wr_init(&w, oidbuf, sizeof(oidbuf));
    ber_put_oid(&w, oid.sub, oid.len);
    r->oid_len = oid.len;
    r->oid = fm_xmalloc(oid.len * sizeof(uint32_t));
    memcpy(r->oid, oid.sub, oid.len * sizeof(uint32_t));
    r->oid_tlv_len = (uint16_t)ber_wr_used(&w);
    r->oid_tlv = fm_xmalloc(r->oid_tlv_len);
    memcpy(r->oid_tlv, w.p, r->oid_tlv_len);
    r->val_len = (uint16_t)n;
    r->val = fm_xmalloc((size_t)n);
    memcpy(r->val, val, (size_t)n);
    return 0;
}

static void rec_free(struct snmprec_rec *r)
{
    free(r->oid);
    free(r->oid_tlv);
    free(r->val);
}

int snmprec_load(const char *path, struct sim_mib **out, char *err, size_t errlen)
{
    static const uint32_t sysuptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
    FILE *f = fopen(path, "r");
    struct loadrec *recs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    struct sim_mib *mib;
    char why[256];

    *out = NULL;
    if (f == NULL) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            recs = fm_xrealloc(recs, cap * sizeof(*recs));
        }
        if (parse_line(line, &recs[n].rec, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -EINVAL;
            goto out_free;
        }
        recs[n++].line = lineno;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s:%d: no records", path, lineno);
        rc = -EINVAL;
        goto out_free;
    }
    qsort(recs, n, sizeof(*recs), cmp_loadrec);
    for (size_t i = 1; i < n; i++) {
        if (cmp_loadrec(&recs[i - 1], &recs[i]) == 0) {
            int a = recs[i - 1].line, b = recs[i].line;

            snprintf(err, errlen, "%s:%d: OID already defined at line %d", path, a > b ? a : b,
                     a > b ? b : a);
            rc = -EINVAL;
            goto out_free;
        }
    }
    mib = fm_xcalloc(1, sizeof(*mib));
    mib->path = fm_xstrdup(path);
    mib->n = n;
    mib->recs = fm_xmalloc(n * sizeof(*mib->recs));
    mib->uptime_rec = -1;
    for (size_t i = 0; i < n; i++) {
        mib->recs[i] = recs[i].rec;
        if (ber_oid_cmp(mib->recs[i].oid, mib->recs[i].oid_len, sysuptime, 9) == 0 &&
            mib->recs[i].val[0] == BER_TIMETICKS)
            mib->uptime_rec = (long)i;
    }
    n = 0;
    *out = mib;
out_free:
    for (size_t i = 0; i < n; i++)
        rec_free(&recs[i].rec);
    free(recs);
    free(line);
    fclose(f);
    return rc;
}

void snmprec_free(struct sim_mib *mib)
{
    if (mib == NULL)
        return;
    for (size_t i = 0; i < mib->n; i++)
        rec_free(&mib->recs[i]);
    free(mib->recs);
    free(mib->path);
    free(mib);
}

size_t snmprec_lower_bound(const struct sim_mib *mib, const uint32_t *oid, uint32_t len,
                           bool *exact)
{
    size_t lo = 0, hi = mib->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct snmprec_rec *r = &mib->recs[mid];

        if (ber_oid_cmp(r->oid, r->oid_len, oid, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *exact = lo < mib->n && ber_oid_cmp(mib->recs[lo].oid, mib->recs[lo].oid_len, oid, len) == 0;
    return lo;
}
