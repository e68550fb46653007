/* tickets_ops: what people do to tickets and maintenance windows.
 *
 * A ticket moves open -> acknowledged -> dispatched -> on_site -> resolved
 * -> closed. Steps may be skipped forward (a fault fixed remotely is
 * resolved without anyone on site), never backward, except `reopen`, which
 * sends a resolved ticket back to handling when the customer is not
 * satisfied. Resolving needs the fault report's cause and action
 * (prevention is optional); closing needs the customer's satisfaction 1-5.
 * Every change, with its actor and time, goes to ticket_audit in the same
 * transaction as the change itself.
 *
 * Blocking (libpq); used by fieldmonctl and tests. All functions borrow
 * conn and strings, return 0 or a negative errno with a sentence in why:
 *   -ENOENT  no such ticket or window
 *   -EPERM   the ticket's state does not allow the step
 *   -EINVAL  a missing or out-of-range argument
 *   -EEXIST  the fault already has another open ticket (reopen)
 *   -EIO     PostgreSQL failed (its message is in why); -ENOTCONN or -EAGAIN
 *            when a transaction could not even begin or commit for a lost
 *            connection or a serialization failure (pg.h) */
#ifndef TICKETS_OPS_H
#define TICKETS_OPS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tickets_step {
    TICKETS_ACK,
    TICKETS_DISPATCH,
    TICKETS_ON_SITE,
    TICKETS_RESOLVE,
    TICKETS_CLOSE,
    TICKETS_REOPEN,
};

struct tickets_op {
    const char *actor; /* required: who does it */
    long long ticket_id;
    const char *note;          /* optional free text, kept in the audit detail */
    const char *dispatched_to; /* DISPATCH: engineer or team (required) */
    const char *cause;         /* RESOLVE (required) */
    const char *action;        /* RESOLVE (required) */
    const char *prevention;    /* RESOLVE (optional) */
    int satisfaction;          /* CLOSE: 1..5 (required) */
    bool confirmed;            /* CLOSE: the customer confirmed the repair */
    const char *confirmed_by;  /* CLOSE: customer contact (optional) */
};

/* Applies step to op->ticket_id. */
int tickets_step(PGconn *conn, enum tickets_step step, const struct tickets_op *op, char *why,
                 size_t whylen);

/* Name of a step ("acknowledge", ...), and the state it leads to. */
const char *tickets_step_name(enum tickets_step step);

/* Opens a manual ticket (kind manual) with grade 1..4. *id receives it. */
int tickets_open_manual(PGconn *conn, const char *actor, int grade, const char *site,
                        const char *device, const char *title, long long *id, char *why,
                        size_t whylen);

/* Adds a maintenance window [start_ms, end_ms) for site (NULL: every site)
 * and device glob (NULL: the whole site). *id receives it. */
int tickets_window_add(PGconn *conn, const char *actor, const char *site, const char *device,
                       int64_t start_ms, int64_t end_ms, const char *reason, long long *id,
                       char *why, size_t whylen);

/* Cancels a window that has not been cancelled. */
int tickets_window_cancel(PGconn *conn, const char *actor, long long id, char *why, size_t whylen);

#endif
