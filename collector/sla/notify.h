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
 * same row at the same time. Database work runs on libuv's thread pool, one
 * statement at a time, with the notifier's own connection. Loop thread only. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>
#include <uv.h>

struct notify_cfg {
    const char *dsn;        /* libpq connection string (borrowed during create) */
    int64_t poll_ms;        /* how often to look for due rows when idle */
    int64_t backoff_min_ms; /* delay after the first failed attempt */
    int64_t backoff_max_ms; /* cap of the doubling delay */
    int64_t timeout_ms;     /* per POST, connect included */
    unsigned batch;         /* rows claimed per round (1..1000) */
};

/* Defaults: poll 1 s, backoff 1 s .. 5 min, timeout 10 s, batch 32. */
void notify_cfg_defaults(struct notify_cfg *cfg);

struct notify_stats {
    uint64_t delivered; /* rows marked delivered by this notifier */
    uint64_t failed;    /* failed attempts */
    uint64_t db_errors; /* failed database rounds */
};

typedef struct notify notify_t;

/* Starts the notifier on loop. Returns 0 and *out, or -EINVAL (bad cfg) /
 * -ENOMEM; nothing is started on failure. The connection is made in the
 * background; failures are logged and retried every poll_ms. */
int notify_create(uv_loop_t *loop, const struct notify_cfg *cfg, notify_t **out);

/* Looks at the outbox now instead of at the next poll (e.g. right after
 * inserting rows). */
void notify_kick(notify_t *n);

void notify_get_stats(const notify_t *n, struct notify_stats *st);

/* Stops: aborts running POSTs (their rows are retried later, by key), closes
 * the handles and the connection, and frees n once the loop has run the
 * close callbacks and any database round in progress. NULL is fine. */
void notify_destroy(notify_t *n);

#endif
