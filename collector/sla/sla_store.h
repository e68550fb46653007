/* sla_store: writes what the contract clocks decide to PostgreSQL
 * (schema/020_sla.sql): escalation steps, breaches, pauses and grade
 * changes, each in one transaction together with the outbox rows of the
 * webhooks it notifies (see notify.h). Recording is idempotent: a step or a
 * breach already recorded is not recorded or notified again.
 *
 * Blocking (libpq): call from a worker thread or a test, never the loop.
 * Every function borrows conn and returns 0 or a negative errno with the
 * reason in why. */
#ifndef SLA_STORE_H
#define SLA_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "ladder.h"
#include "sla.h"

/* What the store needs to know about the ticket a record is about. */
struct sla_subject {
    int64_t ticket_id;
    int visit; /* 1 = the first; a reopened ticket's clocks are per visit */
    const char *customer;
    const struct sla_clock *clock;
};

/* Records that a ladder step fell due at d->due_at and was acted on at
 * fired_at, and queues one notification per webhook of its role. Sets
 * *recorded to 1, or 0 if this ticket's role was engaged before. */
int sla_store_escalate(PGconn *conn, const struct sla_subject *s, const struct ladder_due *d,
                       int64_t fired_at, int *recorded, char *why, size_t whylen);

/* Records a breach of kind k detected at detected_at, and notifies the
 * webhooks of the roles in roles (the roles engaged so far); settles the
 * clock as breached (v) in the same transaction. */
int sla_store_breach(PGconn *conn, const struct sla_subject *s, enum sla_kind k,
                     const struct sla_verdict *v, int64_t detected_at, const char *const *roles,
                     size_t n_roles, int *recorded, char *why, size_t whylen);

/* Settles clock k of the subject's visit with verdict v (ticket_clocks). A
 * clock settled before keeps its outcome, except a breach found while its
 * event was not yet recorded: the event, once recorded, settles it again
 * (breached if late, met if it was recorded after the fact with a time
 * within the deadline). */
int sla_store_settle(PGconn *conn, const struct sla_subject *s, enum sla_kind k,
                     const struct sla_verdict *v, char *why, size_t whylen);

/* Records every clock of a visit as not applicable for reason (a ticket no
 * contract covers) with grade and opening, and marks the ticket settled. */
int sla_store_settle_none(PGconn *conn, int64_t ticket_id, int visit, int grade, int64_t opened,
                          const char *reason, char *why, size_t whylen);

/* Marks the ticket's visit settled (tickets.sla_settled). */
int sla_store_mark_settled(PGconn *conn, int64_t ticket_id, int visit, char *why, size_t whylen);

/* Records that role was engaged by the ticket's own step `how` ("dispatch",
 * "on-site" ...) at `at`, so the ladder does not fire it; due_at is when its
 * step would have fallen due (0: not on the current grade's ladder). No
 * notification. Idempotent. */
int sla_store_engaged(PGconn *conn, const struct sla_subject *s, const char *role, const char *how,
                      int64_t due_at, int64_t at, char *why, size_t whylen);

/* Records the clock's last pause (start and reason, and its end if resumed). */
int sla_store_pause(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen);

/* Records the clock's last grade change with its deadlines before and after. */
int sla_store_regrade(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen);

/* Roles already engaged for visit of ticket_id: *roles receives a new
 * array of new strings (free with sla_store_free_roles). */
int sla_store_engaged_roles(PGconn *conn, int64_t ticket_id, int visit, char ***roles, size_t *n,
                            char *why, size_t whylen);

/* Clocks of visit of ticket_id settled before: bit k set for kind k. */
int sla_store_settled_kinds(PGconn *conn, int64_t ticket_id, int visit, unsigned *mask, char *why,
                            size_t whylen);
void sla_store_free_roles(char **roles, size_t n);

/* ISO 8601 UTC ("2026-11-20T08:00:00Z") of t into buf (>= 21 bytes);
 * "null" for 0 and SLA_NEVER. */
void sla_store_time(int64_t t, char *buf, size_t len);

#endif
