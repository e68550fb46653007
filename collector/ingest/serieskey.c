/* serieskey: see serieskey.h. */
#include "serieskey.h"

#include <string.h>

static const char *str(const char *s)
{
    return s ? s : "";
}

size_t serieskey_canon(Fm__Label *const *in, size_t n, const Fm__Label **out)
{
    size_t m = 0;

    /* Insertion sort (n is at most FMW_MAX_LABELS): stable, so of equal
     * keys the later one sorts after the earlier, and replaces it. */
    for (size_t i = 0; i < n; i++) {
        const char *k = str(in[i]->key);
        size_t j = m;
        int cmp = 1;

        while (j > 0 && (cmp = strcmp(str(out[j - 1]->key), k)) > 0)
            j--;
        if (j > 0 && cmp == 0) {
            out[j - 1] = in[i];
            continue;
        }
        memmove(out + j + 1, out + j, (m - j) * sizeof(*out));
        out[j] = in[i];
        m++;
    }
    return m;
}

size_t serieskey_build(struct copybuf *c, int64_t point_id, Fm__Label *const *labels, size_t n)
{
    const Fm__Label *canon[FMW_MAX_LABELS];
    size_t m, keylen;

    if (n > FMW_MAX_LABELS)
        n = FMW_MAX_LABELS;
    m = serieskey_canon(labels, n, canon);
    copybuf_reset(c);
    copybuf_raw(c, "s", 1);
    copybuf_raw(c, (const char *)&point_id, sizeof(point_id));
    /* Keys and values are C strings: a NUL after each keeps pairs apart. */
    for (size_t i = 0; i < m; i++) {
        copybuf_raw(c, str(canon[i]->key), strlen(str(canon[i]->key)) + 1);
        copybuf_raw(c, str(canon[i]->value), strlen(str(canon[i]->value)) + 1);
    }
    keylen = c->len;
    copybuf_raw(c, "{", 1);
    for (size_t i = 0; i < m; i++) {
        if (i)
            copybuf_raw(c, ",", 1);
        copybuf_bin_json_str(c, str(canon[i]->key));
        copybuf_raw(c, ":", 1);
        copybuf_bin_json_str(c, str(canon[i]->value));
    }
    copybuf_raw(c, "}", 2); /* with the NUL */
    return keylen;
}
