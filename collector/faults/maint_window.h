/* maint_window: which maintenance window covers a device at a time.
 *
 * A window names a site (or every site) and a device glob (or the whole
 * site, which also covers the site's own faults) and a time range
 * [start, end). The correlation engine asks it before opening anything; the
 * windows themselves live in PostgreSQL (table maintenance_windows) and are
 * managed with `fieldmonctl window`. Pure functions, any thread. */
#ifndef MAINT_WINDOW_H
#define MAINT_WINDOW_H

#include "correlate.h"

#include <stddef.h>
#include <stdint.h>

/* The first window covering device (NULL: the site itself) of site at
 * now_ms, or NULL. A window with a device glob never covers the site
 * itself. Borrows everything. */
const struct corr_window *maint_window_find(const struct corr_window *w, size_t n, const char *site,
                                            const char *device, int64_t now_ms);

/* Earliest end among the windows active at now_ms that is after now_ms, or
 * INT64_MAX: when the engine must look again. */
int64_t maint_window_next_end(const struct corr_window *w, size_t n, int64_t now_ms);

#endif
