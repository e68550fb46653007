/* tickets_ops: what people do to tickets and maintenance windows.
 *
 * A ticket moves open -> acknowledged -> dispatched -> on_site -> resolved
 * -> closed. Steps may be skipped forward (a fault fixed remotely is
 * resolved without anyone on site), never backward. `reopen` starts a new
 * visit of a resolved ticket, or of a closed one within its contract's
 * reopen period (the finished visit is kept in ticket_visits). `cancel` and
 * `duplicate` close a ticket that needs no repair; `archive` hides a closed
 * one from lists. `pause`/`resume` stop and restart the contract clocks,
 * `remote` records that remote support began, `regrade` changes the grade
 * with a reason, `note` adds a note. Resolving needs the fault report's cause
 * and action (prevention is optional); closing needs the customer's
 * satisfaction 1-5. Resolving, cancelling and marking a duplicate end an
 * open pause at that moment (a pause cannot outlive the ticket).
 *
 * Every step may be recorded after the fact with the time it happened
 * (op.at): not in the future, and not before the visit opened or before a
 * step it follows. Every change, with its actor, goes to ticket_audit in
 * the same transaction as the change itself (the audit row's ts is when it
 * was recorded; detail.at when it happened).
 *
 * Blocking (libpq); used by fieldmonctl and tests. All functions borrow
 * conn and strings, return 0 or a negative errno with a sentence in why:
 *   -ENOENT  no such ticket or window
 *   -EPERM   the ticket's state or record does not allow the step (e.g. it
 *            is paused already, has that grade already, is archived)
 *   -EINVAL  a missing or out-of-range argument
 *   -ERANGE  op.at is in the future or before a step it must follow
 *   -EEXIST  the fault already has another open ticket (reopen)
 *   -EIO     PostgreSQL failed (its message is in why); -ENOTCONN or -EAGAIN
 *            when a transaction could not even begin or commit for a lost
 *            connection or a serialization failure (pg.h)
 * Times in why are printed in the session's time zone. */
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
    TICKETS_REMOTE,
    TICKETS_CANCEL,
    TICKETS_DUPLICATE,
    TICKETS_NOTE,
    TICKETS_PAUSE,
    TICKETS_RESUME,
    TICKETS_REGRADE,
    TICKETS_ARCHIVE,
    TICKETS_STEPS,
};

struct tickets_op {
    const char *actor; /* required: who does it */
    long long ticket_id;
    double at;                 /* when it happened (Unix s); 0: now */
    const char *note;          /* optional free text (required for NOTE), in the audit */
    const char *dispatched_to; /* DISPATCH: engineer, team or contract role (required) */
    const char *cause;         /* RESOLVE (required) */
    const char *action;        /* RESOLVE (required) */
    const char *prevention;    /* RESOLVE (optional) */
    int satisfaction;          /* CLOSE: 1..5 (required) */
    bool confirmed;            /* CLOSE: the customer confirmed the repair */
    const char *confirmed_by;  /* CLOSE: customer contact (only with confirmed) */
    const char *reason;        /* REOPEN, CANCEL, PAUSE, REGRADE (required) */
    long long other;           /* DUPLICATE: the ticket this one duplicates */
    int grade;                 /* REGRADE: 1..4 */
};

/* Applies step to op->ticket_id. */
int tickets_step(PGconn *conn, enum tickets_step step, const struct tickets_op *op, char *why,
                 size_t whylen);

/* State a ticket is in after step (e.g. "acknowledged"); NULL if the step
 * does not change it. */
const char *tickets_step_state(enum tickets_step step);

/* A manual ticket: a phoned-in fault or a request. */
struct tickets_manual {
    const char *actor;       /* required */
    int grade;               /* 1..4 */
    const char *title;       /* required */
    const char *site;        /* required: known to sites or to a published contract */
    const char *device;      /* optional */
    const char *caller;      /* optional: who reported it */
    const char *contact;     /* optional: how to reach them */
    const char *description; /* optional: what they said */
    double reported_at;      /* when it was reported (Unix s; its clocks start then); 0: now */
};

/* Opens a manual ticket (kind manual). *id receives it. */
int tickets_open_manual(PGconn *conn, const struct tickets_manual *m, long long *id, char *why,
                        size_t whylen);

/* Archives every closed ticket closed before `before` (Unix s) and not yet
 * archived; *n receives how many. */
int tickets_archive_before(PGconn *conn, const char *actor, double before, long long *n, char *why,
                           size_t whylen);

/* Adds a maintenance window [start_ms, end_ms) for site (NULL: every site)
 * and device glob (NULL: the whole site). *id receives it. */
int tickets_window_add(PGconn *conn, const char *actor, const char *site, const char *device,
                       int64_t start_ms, int64_t end_ms, const char *reason, long long *id,
                       char *why, size_t whylen);

/* Cancels a window that has not been cancelled. */
int tickets_window_cancel(PGconn *conn, const char *actor, long long id, char *why, size_t whylen);

#endif
