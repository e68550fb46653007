/* oid: see oid.h. */
#include "oid.h"

#include <errno.h>
#include <stdio.h>

int oid_parse(const char *text, oid_t *out)
{
    const char *p = text;

    out->len = 0;
    if (p == NULL)
        return -EINVAL;
    if (*p == '.')
        p++;
    while (*p != '\0') {
        unsigned long long sub = 0;
        int digits = 0;

        while (*p >= '0' && *p <= '9') {
            sub = sub * 10 + (unsigned long long)(*p - '0');
            if (sub > 0xffffffffULL || ++digits > 10)
                return -EINVAL;
            p++;
        }
        if (digits == 0 || out->len == OID_MAX_LEN)
            return -EINVAL;
        out->v[out->len++] = (oid)sub;
        if (*p == '.') {
            p++;
            if (*p == '\0')
                return -EINVAL;
        } else if (*p != '\0') {
            return -EINVAL;
        }
    }
    /* What BER can encode (X.690 8.19.4): a first arc of 0, 1 or 2, and
     * under 0 and 1 a second arc below 40. */
    if (out->len < 2 || out->v[0] > 2 || (out->v[0] < 2 && out->v[1] >= 40))
        return -EINVAL;
    return 0;
}

size_t oid_format(const oid *v, size_t len, char *buf, size_t cap)
{
    size_t n = 0;

    if (cap > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        char tmp[24];
        int w = snprintf(tmp, sizeof(tmp), i == 0 ? "%lu" : ".%lu", (unsigned long)v[i]);

        for (int k = 0; k < w; k++, n++) {
            if (n + 1 < cap) {
                buf[n] = tmp[k];
                buf[n + 1] = '\0';
            }
        }
    }
    return n;
}

bool oid_in_subtree(const oid *prefix, size_t plen, const oid *v, size_t len)
{
    if (len <= plen)
        return false;
    for (size_t i = 0; i < plen; i++) {
        if (prefix[i] != v[i])
            return false;
    }
    return true;
}
