/* copybuf: see copybuf.h. */
#include "copybuf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fm_alloc.h"

void copybuf_init(struct copybuf *b)
{
    memset(b, 0, sizeof(*b));
    b->ts_sec = INT64_MIN;
}

void copybuf_close(struct copybuf *b)
{
    free(b->p);
    copybuf_init(b);
}

void copybuf_reset(struct copybuf *b)
{
    b->len = 0;
}

static void reserve(struct copybuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    b->p = fm_xrealloc(b->p, cap);
    b->cap = cap;
}

void copybuf_raw(struct copybuf *b, const char *s, size_t n)
{
    reserve(b, n ? n : 1); /* never leaves p NULL, even for nothing */
    if (n == 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void copybuf_tab(struct copybuf *b)
{
    copybuf_raw(b, "\t", 1);
}

void copybuf_eol(struct copybuf *b)
{
    copybuf_raw(b, "\n", 1);
}

void copybuf_null(struct copybuf *b)
{
    copybuf_raw(b, "\\N", 2);
}

void copybuf_text(struct copybuf *b, const char *s)
{
    if (s == NULL) {
        copybuf_null(b);
        return;
    }
    size_t n = strlen(s);
    reserve(b, 2 * n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i], e = 0;

        switch (c) {
        case '\\':
            e = '\\';
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\t':
            e = 't';
            break;
        }
        if (e) {
            b->p[b->len++] = '\\';
            b->p[b->len++] = e;
        } else {
            b->p[b->len++] = c;
        }
    }
}

void copybuf_int(struct copybuf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%" PRId64, v);
    copybuf_raw(b, t, (size_t)n);
}

void copybuf_uint(struct copybuf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%" PRIu64, v);
    copybuf_raw(b, t, (size_t)n);
}

void copybuf_double(struct copybuf *b, double v)
{
    char t[32];
    /* %.17g always reads back exactly; try the shorter %.15g first, which
     * is exact for most sensor values and keeps rows small. */
    int n = snprintf(t, sizeof(t), "%.15g", v);
    double back;
    if (sscanf(t, "%lf", &back) != 1 || back != v)
        n = snprintf(t, sizeof(t), "%.17g", v);
    copybuf_raw(b, t, (size_t)n);
}

void copybuf_bool(struct copybuf *b, int v)
{
    copybuf_raw(b, v ? "t" : "f", 1);
}

void copybuf_ts_ms(struct copybuf *b, int64_t ms)
{
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - sec * 1000);
    char t[16];

    /* Rows of one batch share seconds; format each second once. */
    if (sec != b->ts_sec) {
        time_t tt = (time_t)sec;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(b->ts_prefix, sizeof(b->ts_prefix), "%Y-%m-%d %H:%M:%S", &tm);
        b->ts_sec = sec;
    }
    copybuf_raw(b, b->ts_prefix, strlen(b->ts_prefix));
    snprintf(t, sizeof(t), ".%03d+00", frac);
    copybuf_raw(b, t, 7);
}

void copybuf_json_str(struct copybuf *b, const char *s)
{
    size_t n = strlen(s);

    /* Worst case: each byte becomes \u00XX (6) doubled by COPY escaping. */
    reserve(b, 12 * n + 2);
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"') {
            memcpy(b->p + b->len, "\\\\\"", 3); /* JSON \" ; COPY doubles the backslash */
            b->len += 3;
        } else if (c == '\\') {
            memcpy(b->p + b->len, "\\\\\\\\", 4);
            b->len += 4;
        } else if (c < 0x20) {
            b->len += (size_t)snprintf(b->p + b->len, 8, "\\\\u%04x", c);
        } else {
            b->p[b->len++] = (char)c;
        }
    }
    b->p[b->len++] = '"';
}
