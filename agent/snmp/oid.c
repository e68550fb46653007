/* oid: see oid.h. */
#include "oid.h"

#include "ber.h"

#include <errno.h>
#include <stdio.h>

int oid_parse(const char *text, oid_t *out)
{
    struct ber_oid b;

    out->len = 0;
    if (text == NULL || ber_oid_parse(text, &b) != 0 || b.len > OID_MAX_LEN)
        return -EINVAL;
    for (uint32_t i = 0; i < b.len; i++)
        out->v[i] = b.sub[i];
    out->len = b.len;
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
