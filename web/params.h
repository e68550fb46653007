/* params: query strings, path segments and list cursors (pure, any thread;
 * fuzzed by tests/fuzz/fuzz_web_params.c). */
#ifndef WEB_PARAMS_H
#define WEB_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes src[0..len) ('+' is a space in query strings when plus
 * is true) into out (outlen > 0, NUL-terminated). Returns the decoded length,
 * or -EINVAL for a bad escape or a NUL byte, -ENOSPC when out is too small. */
int web_pct_decode(const char *src, size_t len, bool plus, char *out, size_t outlen);

/* Finds key in query ("a=1&b=x%20y") and decodes its value into out.
 * Returns 1 found, 0 absent, -EINVAL malformed, -ENOSPC too long. A key
 * given twice is -EINVAL. */
int web_query_get(const char *query, const char *key, char *out, size_t outlen);

/* Integer parameter in [min, max]; *v keeps its default when absent.
 * Returns 0, or -EINVAL (not an integer or out of range; why says which). */
int web_query_int(const char *query, const char *key, long long min, long long max, long long *v,
                  char *why, size_t whylen);

/* A list cursor carries the sort key of the last row of a page: up to 4
 * integers, encoded opaquely (base64url of "v1:a,b,..."). Encode returns the
 * length written or -ENOSPC; decode returns the number of keys or -EINVAL. */
int web_cursor_encode(const long long *keys, int n, char *out, size_t outlen);
int web_cursor_decode(const char *cursor, long long *keys, int max);

#endif
