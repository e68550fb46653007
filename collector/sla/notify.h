/* notify: delivers the webhook outbox (table notify_outbox).
 *
 * Whoever has something to announce (an escalation step, a breach) inserts
 * an outbox row in the same transaction as the event, with an idempotency
 * key naming the notification. The notifier claims due rows, POSTs each
 * body as JSON with the header "Idempotency-Key: <key>" (notify_http,
 * libcurl on the loop), and records the outcome: a 2xx answer marks the row
 * delivered; anything else (refused connection, timeout, other status)
 * counts an attempt and schedules the next one after an exponential backoff
 * (backoff_min doubling per attempt, capped at backoff_max). Rows are never
 * dropped, so nothing is lost across restarts; a row delivered but not yet
 * marked when the collector dies is sent again with the same key, which the
 * receiver uses to drop the repeat.
 *
 * Claiming uses a lease (next_attempt_at moved past the POST timeout, rows
 * locked with SKIP LOCKED), so collectors sharing one database never send the
 * same row at the same time. Database work runs on the notifier's own
 * thread (fed by fm_queue), one statement at a time, with its own
 * connection (pg.h). Loop thread only. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>
#include <uv.h>

#include "sla_conf.h"

struct notify_stats {
    uint64_t delivered; /* rows marked delivered by this notifier */
    uint64_t failed;    /* failed attempts */
    uint64_t db_errors; /* failed database rounds */
};

typedef struct notify notify_t;

/* Starts the notifier and its database thread on loop. dsn is the libpq
 * connection string (NULL or "": libpq's environment); cfg holds the
 * settings of the sla.notify key table (sla_conf.c, where the defaults
 * are). Both are copied. Returns 0 and *out, or -EINVAL (bad cfg), -ENOMEM
 * or the queues' negative errno; nothing is started on failure. The
 * connection is made in the background; failures are logged once per
 * outage and retried every poll. */
int notify_create(uv_loop_t *loop, const char *dsn, const struct sla_conf_notify *cfg,
                  notify_t **out);

/* Looks at the outbox now instead of at the next poll (e.g. right after
 * inserting rows). */
void notify_kick(notify_t *n);

void notify_get_stats(const notify_t *n, struct notify_stats *st);

/* Stops: aborts running POSTs (their rows are retried later, by key), stops
 * the thread once it has finished the step it holds (without blocking the
 * loop), closes the handles and the connection, and frees n once the loop
 * has run the close callbacks. NULL is fine. */
void notify_destroy(notify_t *n);

#endif
