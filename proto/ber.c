/* ber: SNMP's subset of BER (see ber.h). */
#include "ber.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ber_read(const uint8_t **p, const uint8_t *end, struct ber_tlv *out)
{
    const uint8_t *q = *p;
    size_t len;

    if (end - q < 2)
        return -EBADMSG;
    out->tlv = q;
    out->tag = *q++;
    /* Multi-byte tags (low five bits all set) never occur in SNMP. */
    if ((out->tag & 0x1f) == 0x1f)
        return -EBADMSG;
    len = *q++;
    if (len & 0x80) {
        size_t nbytes = len & 0x7f;

        /* 0x80 is the indefinite form, which BER forbids in SNMP. */
        if (nbytes == 0 || nbytes > 4 || (size_t)(end - q) < nbytes)
            return -EBADMSG;
        len = 0;
        while (nbytes-- > 0)
            len = (len << 8) | *q++;
    }
    if ((size_t)(end - q) < len)
        return -EBADMSG;
    out->val = q;
    out->len = len;
    out->tlv_len = (size_t)(q + len - out->tlv);
    *p = q + len;
    return 0;
}

int ber_get_int(const uint8_t *v, size_t len, int64_t *out)
{
    uint64_t u;

    if (len == 0 || len > 8)
        return -EBADMSG;
    u = (v[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < len; i++)
        u = (u << 8) | v[i];
    *out = (int64_t)u;
    return 0;
}

int ber_get_uint(const uint8_t *v, size_t len, uint64_t *out)
{
    uint64_t u = 0;

    if (len == 0 || len > 9 || (len == 9 && v[0] != 0))
        return -EBADMSG;
    for (size_t i = 0; i < len; i++)
        u = (u << 8) | v[i];
    *out = u;
    return 0;
}

int ber_get_oid(const uint8_t *v, size_t len, struct ber_oid *out)
{
    uint64_t acc = 0;
    bool first = true;
    size_t i;

    out->len = 0;
    if (len == 0)
        return -EBADMSG;
    for (i = 0; i < len; i++) {
        /* A sub-identifier may not start with 0x80 (non-minimal form). */
        if (acc == 0 && v[i] == 0x80)
            return -EBADMSG;
        acc = (acc << 7) | (v[i] & 0x7f);
        if (acc > UINT32_MAX + 80ull)
            return -EBADMSG;
        if (v[i] & 0x80)
            continue;
        if (first) {
            /* The first byte packs the first two arcs as 40 * x + y. */
            uint32_t x = acc < 40 ? 0 : acc < 80 ? 1 : 2;

            out->sub[0] = x;
            out->sub[1] = (uint32_t)(acc - 40ull * x);
            out->len = 2;
            first = false;
        } else {
            if (acc > UINT32_MAX || out->len >= BER_OID_MAX)
                return -EBADMSG;
            out->sub[out->len++] = (uint32_t)acc;
        }
        acc = 0;
    }
    /* The last byte must end a sub-identifier. */
    return (v[len - 1] & 0x80) ? -EBADMSG : 0;
}

int ber_oid_cmp(const uint32_t *a, uint32_t alen, const uint32_t *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;

    for (uint32_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int ber_oid_parse(const char *text, struct ber_oid *out)
{
    const char *s = text;

    out->len = 0;
    if (*s == '.')
        s++;
    while (*s != '\0') {
        char *endp;
        unsigned long long v;

        if (*s < '0' || *s > '9' || out->len >= BER_OID_MAX)
            return -EINVAL;
        errno = 0;
        v = strtoull(s, &endp, 10);
        if (errno != 0 || v > UINT32_MAX)
            return -EINVAL;
        out->sub[out->len++] = (uint32_t)v;
        s = endp;
        if (*s == '.') {
            s++;
            if (*s == '\0')
                return -EINVAL;
        } else if (*s != '\0') {
            return -EINVAL;
        }
    }
    return ber_oid_encodable(out->sub, out->len) ? 0 : -EINVAL;
}

bool ber_oid_encodable(const uint32_t *sub, uint32_t len)
{
    /* The first two arcs share one sub-identifier, 40 * x + y (X.690
     * 8.19.4): at least two arcs, x of 0, 1 or 2, and y below 40 unless x
     * is 2. */
    return len >= 2 && sub[0] <= 2 && (sub[0] == 2 || sub[1] < 40);
}

void ber_wr_init(struct ber_wr *w, uint8_t *buf, size_t size)
{
    w->buf = buf;
    w->end = buf + size;
    w->p = w->end;
    w->overflow = false;
}

size_t ber_wr_used(const struct ber_wr *w)
{
    return (size_t)(w->end - w->p);
}

void ber_put_raw(struct ber_wr *w, const void *data, size_t n)
{
    if (w->overflow || (size_t)(w->p - w->buf) < n) {
        w->overflow = true;
        return;
    }
    w->p -= n;
    memcpy(w->p, data, n);
}

static void put_byte(struct ber_wr *w, uint8_t b)
{
    if (w->overflow || w->p == w->buf) {
        w->overflow = true;
        return;
    }
    *--w->p = b;
}

size_t ber_hdr_len(size_t len)
{
    if (len < 0x80)
        return 2;
    if (len <= 0xff)
        return 3;
    if (len <= 0xffff)
        return 4;
    return 5;
}

void ber_put_hdr(struct ber_wr *w, uint8_t tag, size_t len)
{
    if (len < 0x80) {
        put_byte(w, (uint8_t)len);
    } else {
        uint8_t n = 0;

        for (size_t l = len; l > 0; l >>= 8, n++)
            put_byte(w, (uint8_t)(l & 0xff));
        put_byte(w, (uint8_t)(0x80 | n));
    }
    put_byte(w, tag);
}

void ber_put_int(struct ber_wr *w, uint8_t tag, int64_t v)
{
    size_t n = 0;
    uint64_t u = (uint64_t)v;

    /* Minimal two's complement: stop once the remaining bytes are all sign. */
    do {
        put_byte(w, (uint8_t)(u & 0xff));
        n++;
        v >>= 8; /* arithmetic shift on the signed value keeps the sign */
        u = (uint64_t)v;
    } while (!w->overflow && n < 8 &&
             !((v == 0 && !(w->p[0] & 0x80)) || (v == -1 && (w->p[0] & 0x80))));
    ber_put_hdr(w, tag, n);
}

void ber_put_uint(struct ber_wr *w, uint8_t tag, uint64_t v)
{
    size_t n = 0;

    do {
        put_byte(w, (uint8_t)(v & 0xff));
        n++;
        v >>= 8;
    } while (v != 0 && !w->overflow);
    /* A set top bit would read as negative: add a zero byte. */
    if (!w->overflow && (w->p[0] & 0x80)) {
        put_byte(w, 0);
        n++;
    }
    ber_put_hdr(w, tag, n);
}

static size_t put_subid(struct ber_wr *w, uint64_t v)
{
    size_t n = 1;

    put_byte(w, (uint8_t)(v & 0x7f));
    for (v >>= 7; v != 0; v >>= 7, n++)
        put_byte(w, (uint8_t)(0x80 | (v & 0x7f)));
    return n;
}

void ber_put_oid(struct ber_wr *w, const uint32_t *sub, uint32_t len)
{
    size_t n = 0;

    for (uint32_t i = len; i > 2; i--)
        n += put_subid(w, sub[i - 1]);
    n += put_subid(w, 40ull * (len > 0 ? sub[0] : 0) + (len > 1 ? sub[1] : 0));
    ber_put_hdr(w, BER_OID, n);
}
