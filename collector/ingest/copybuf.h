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

/* ------------------------------------------------------------ binary COPY
 * PostgreSQL's binary COPY format: no number or timestamp text to format
 * here or parse there, which is where text COPY spends its time. */

/* The file header, once before the first row. */
void copybuf_bin_header(struct copybuf *b);
/* Each row starts with its number of fields. */
void copybuf_bin_row(struct copybuf *b, int nfields);
void copybuf_bin_null(struct copybuf *b);
void copybuf_bin_i16(struct copybuf *b, int16_t v);
void copybuf_bin_i32(struct copybuf *b, int32_t v);
void copybuf_bin_i64(struct copybuf *b, int64_t v);
void copybuf_bin_f64(struct copybuf *b, double v);
/* text; "" or NULL write SQL NULL when null_if_empty */
void copybuf_bin_text(struct copybuf *b, const char *s, int null_if_empty);
/* timestamptz from Unix milliseconds */
void copybuf_bin_ts_ms(struct copybuf *b, int64_t ms);
/* A jsonb field is written between these two as JSON text (see
 * copybuf_bin_json_str for its strings). */
size_t copybuf_bin_jsonb_begin(struct copybuf *b);
void copybuf_bin_jsonb_end(struct copybuf *b, size_t mark);
/* A JSON string literal, escaped for JSON only. */
void copybuf_bin_json_str(struct copybuf *b, const char *s);
/* The end of the data, once after the last row. */
void copybuf_bin_trailer(struct copybuf *b);

#endif
