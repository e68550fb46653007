/* maint_window: matching devices against maintenance windows. */
#include "maint_window.h"

#include <fnmatch.h>
#include <string.h>

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

const struct corr_window *maint_window_find(const struct corr_window *w, size_t n, const char *site,
                                            const char *device, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        if (now_ms < w[i].start_ms || now_ms >= w[i].end_ms)
            continue;
        if (!empty(w[i].site) && (site == NULL || strcmp(w[i].site, site) != 0))
            continue;
        if (!empty(w[i].device)) {
            /* A device window never covers the whole site. */
            if (device == NULL || fnmatch(w[i].device, device, 0) != 0)
                continue;
        }
        return &w[i];
    }
    return NULL;
}

int64_t maint_window_next_end(const struct corr_window *w, size_t n, int64_t now_ms)
{
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < n; i++)
        if (now_ms >= w[i].start_ms && w[i].end_ms > now_ms && w[i].end_ms < next)
            next = w[i].end_ms;
    return next;
}
