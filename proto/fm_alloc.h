/* fm_alloc: allocation for the daemons. On failure these log file:line and
 * abort: a daemon that cannot allocate a few bytes cannot keep its promises.
 * Decoders never call these with a size taken from input before checking it
 * against a hard limit. */
#ifndef FM_ALLOC_H
#define FM_ALLOC_H

#include <stddef.h>

#define fm_xmalloc(n) fm__xmalloc((n), __FILE__, __LINE__)
#define fm_xcalloc(n, sz) fm__xcalloc((n), (sz), __FILE__, __LINE__)
#define fm_xrealloc(p, n) fm__xrealloc((p), (n), __FILE__, __LINE__)
#define fm_xstrdup(s) fm__xstrdup((s), __FILE__, __LINE__)

void *fm__xmalloc(size_t n, const char *file, int line);
void *fm__xcalloc(size_t n, size_t sz, const char *file, int line);
void *fm__xrealloc(void *p, size_t n, const char *file, int line);
char *fm__xstrdup(const char *s, const char *file, int line);

#endif
