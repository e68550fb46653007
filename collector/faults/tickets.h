/* tickets: maintenance records in PostgreSQL, written from the correlation
 * engine's actions.
 *
 * The engine runs on one thread and hands its actions to a callback; that
 * callback copies them into a tickets_batch (tickets_batch_add), and the
 * batch is applied to PostgreSQL in one transaction (tickets_apply) by the
 * thread that owns the connection, never the event loop. Applying is safe
 * with several collectors on one database: opening goes through
 * fm_ticket_open() (schema/010_tickets.sql), which joins the one open
 * ticket of a fault key, reopens one resolved within `reopen_within`, or
 * inserts a new one under a unique index.
 *
 * Operator changes (acknowledge, dispatch, ...) are in tickets_ops.h. */
#ifndef TICKETS_H
#define TICKETS_H

#include "correlate.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tickets_batch tickets_batch_t;

/* Returns a new empty batch; free with tickets_batch_destroy. */
tickets_batch_t *tickets_batch_create(void);
void tickets_batch_destroy(tickets_batch_t *b);

/* Copies a (strings included) to the end of b. */
void tickets_batch_add(tickets_batch_t *b, const struct corr_action *a);

/* corr_action_cb that adds to the batch passed as data. */
void tickets_batch_cb(void *data, const struct corr_action *a);

size_t tickets_batch_count(const tickets_batch_t *b);
const struct corr_action *tickets_batch_get(const tickets_batch_t *b, size_t i);

/* Empties b, keeping its memory. */
void tickets_batch_clear(tickets_batch_t *b);

/* Moves everything from src to the end of dst; src ends empty. */
void tickets_batch_move(tickets_batch_t *dst, tickets_batch_t *src);

struct tickets_result {
    uint64_t opened, joined, reopened; /* fm_ticket_open outcomes */
    uint64_t attached, detached, alarms, grades, flapping, clears, suppressed;
    uint64_t skipped; /* actions on a fault that never had a ticket */
};

/* Applies every action of b in one transaction on conn (borrowed), as actor
 * (e.g. "collector:c1"). reopen_within_ms comes from the rule set. Adds to
 * *res (may be NULL). A deadlock or serialization failure is retried a few
 * times at once. Returns 0, or with PostgreSQL's message in why and nothing
 * of b applied, pg_classify's verdict as an errno (pg.h): -EAGAIN (still
 * failing for concurrency: try again), -ENOTCONN (the connection is gone)
 * or -EIO (PostgreSQL refuses the batch). Blocking: call from a worker
 * thread. */
int tickets_apply(PGconn *conn, const tickets_batch_t *b, const char *actor,
                  int64_t reopen_within_ms, struct tickets_result *res, char *why, size_t whylen);

/* Loads the maintenance windows that have not ended and are not cancelled.
 * *out receives a new array (free with tickets_windows_free), *n its size.
 * Returns 0 or, with the reason in why, pg_classify's verdict as an errno. */
int tickets_load_windows(PGconn *conn, struct corr_window **out, size_t *n, char *why,
                         size_t whylen);
void tickets_windows_free(struct corr_window *w, size_t n);

#endif
