/* copybuf: a growing byte buffer that writes rows in PostgreSQL's COPY text
 * format (tab-separated, \N for NULL, backslash escapes) and JSON values
 * inside them. Used by the DB writer threads; one buffer per thread. */
#ifndef COPYBUF_H
#define COPYBUF_H

#include <stddef.h>
#include <stdint.h>

struct copybuf {
    char *p;
    size_t len, cap;
    int64_t ts_sec; /* cache of the last formatted second */
    char ts_prefix[24];
};

void copybuf_init(struct copybuf *b);
void copybuf_close(struct copybuf *b);
void copybuf_reset(struct copybuf *b);

/* Raw bytes, no escaping. */
void copybuf_raw(struct copybuf *b, const char *s, size_t n);
/* Column separator and end of row. */
void copybuf_tab(struct copybuf *b);
void copybuf_eol(struct copybuf *b);
void copybuf_null(struct copybuf *b);
/* Text, escaped for COPY. s may be NULL (writes \N). */
void copybuf_text(struct copybuf *b, const char *s);
void copybuf_int(struct copybuf *b, int64_t v);
void copybuf_uint(struct copybuf *b, uint64_t v);
/* Shortest text that reads back as the same double. */
void copybuf_double(struct copybuf *b, double v);
void copybuf_bool(struct copybuf *b, int v);
/* Unix milliseconds as a timestamptz literal in UTC. */
void copybuf_ts_ms(struct copybuf *b, int64_t ms);
/* A JSON string literal ("..."), escaped for JSON and then for COPY. */
void copybuf_json_str(struct copybuf *b, const char *s);

#endif
