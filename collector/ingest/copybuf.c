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

/* A JSON string; in text COPY each of its backslashes is doubled once more. */
static void json_str(struct copybuf *b, const char *s, int for_text_copy)
{
    size_t n = strlen(s);
    size_t bs = for_text_copy ? 2 : 1; /* backslashes written per JSON backslash */

    /* Worst case: each byte becomes \u00XX with a doubled backslash. */
    reserve(b, 12 * n + 2);
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c != '"' && c != '\\' && c >= 0x20) {
            b->p[b->len++] = (char)c;
            continue;
        }
        for (size_t k = 0; k < bs; k++)
            b->p[b->len++] = '\\';
        if (c < 0x20) {
            b->len += (size_t)snprintf(b->p + b->len, 6, "u%04x", c);
        } else if (c == '\\') {
            for (size_t k = 0; k < bs; k++)
                b->p[b->len++] = '\\';
        } else {
            b->p[b->len++] = '"';
        }
    }
    b->p[b->len++] = '"';
}

void copybuf_json_str(struct copybuf *b, const char *s)
{
    json_str(b, s, 1);
}

void copybuf_bin_json_str(struct copybuf *b, const char *s)
{
    json_str(b, s, 0);
}

/* ------------------------------------------------------------ binary COPY */

static void put_be(struct copybuf *b, uint64_t v, int bytes)
{
    reserve(b, (size_t)bytes);
    for (int i = bytes - 1; i >= 0; i--)
        b->p[b->len++] = (char)(v >> (8 * i));
}

void copybuf_bin_header(struct copybuf *b)
{
    copybuf_raw(b, "PGCOPY\n\377\r\n\0", 11);
    put_be(b, 0, 4); /* flags */
    put_be(b, 0, 4); /* header extension length */
}

void copybuf_bin_row(struct copybuf *b, int nfields)
{
    put_be(b, (uint16_t)nfields, 2);
}

void copybuf_bin_null(struct copybuf *b)
{
    put_be(b, 0xffffffffu, 4);
}

void copybuf_bin_i16(struct copybuf *b, int16_t v)
{
    put_be(b, 2, 4);
    put_be(b, (uint16_t)v, 2);
}

void copybuf_bin_i32(struct copybuf *b, int32_t v)
{
    put_be(b, 4, 4);
    put_be(b, (uint32_t)v, 4);
}

void copybuf_bin_i64(struct copybuf *b, int64_t v)
{
    put_be(b, 8, 4);
    put_be(b, (uint64_t)v, 8);
}

void copybuf_bin_f64(struct copybuf *b, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    put_be(b, 8, 4);
    put_be(b, u, 8);
}

void copybuf_bin_text(struct copybuf *b, const char *s, int null_if_empty)
{
    size_t n = s ? strlen(s) : 0;

    if (s == NULL || (n == 0 && null_if_empty)) {
        copybuf_bin_null(b);
        return;
    }
    put_be(b, (uint32_t)n, 4);
    copybuf_raw(b, s, n);
}

/* PostgreSQL's epoch, 2000-01-01, in Unix milliseconds. */
#define PG_EPOCH_MS 946684800000LL

void copybuf_bin_ts_ms(struct copybuf *b, int64_t ms)
{
    copybuf_bin_i64(b, (ms - PG_EPOCH_MS) * 1000);
}

size_t copybuf_bin_jsonb_begin(struct copybuf *b)
{
    size_t mark = b->len;

    put_be(b, 0, 4);         /* length, filled in by _end */
    copybuf_raw(b, "\1", 1); /* jsonb binary format version */
    return mark;
}

void copybuf_bin_jsonb_end(struct copybuf *b, size_t mark)
{
    uint32_t n = (uint32_t)(b->len - mark - 4);

    for (int i = 0; i < 4; i++)
        b->p[mark + (size_t)i] = (char)(n >> (8 * (3 - i)));
}

void copybuf_bin_trailer(struct copybuf *b)
{
    put_be(b, 0xffff, 2);
}
