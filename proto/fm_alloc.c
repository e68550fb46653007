/* fm_alloc: see fm_alloc.h. */
#include "fm_alloc.h"

#include "fm_log.h"

#include <stdlib.h>
#include <string.h>

static void alloc_fail(size_t n, const char *file, int line)
{
    fm_log(FM_LOG_ERR, "alloc: %s:%d: out of memory allocating %zu bytes", file, line, n);
    abort();
}

void *fm__xmalloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        alloc_fail(n, file, line);
    return p;
}

void *fm__xcalloc(size_t n, size_t sz, const char *file, int line)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);

    if (p == NULL)
        alloc_fail(n * sz, file, line);
    return p;
}

void *fm__xrealloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        alloc_fail(n, file, line);
    return q;
}

char *fm__xstrdup(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = fm__xmalloc(n, file, line);

    memcpy(p, s, n);
    return p;
}
