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
    const char *customer;
    const struct sla_clock *clock;
};

/* Records that a ladder step fell due at d->due_at and was acted on at
 * fired_at, and queues one notification per webhook of its role. Sets
 * *recorded to 1, or 0 if this ticket's role was engaged before. */
int sla_store_escalate(PGconn *conn, const struct sla_subject *s, const struct ladder_due *d,
                       int64_t fired_at, int *recorded, char *why, size_t whylen);

/* Records a breach of kind k detected at detected_at, and notifies the
 * webhooks of the roles in roles (the roles engaged so far). */
int sla_store_breach(PGconn *conn, const struct sla_subject *s, enum sla_kind k,
                     int64_t detected_at, const char *const *roles, size_t n_roles, int *recorded,
                     char *why, size_t whylen);

/* Records the clock's last pause (start and reason, and its end if resumed). */
int sla_store_pause(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen);

/* Records the clock's last grade change with its deadlines before and after. */
int sla_store_regrade(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen);

/* Roles already engaged for ticket_id: *roles receives a new array of new
 * strings (free with sla_store_free_roles). */
int sla_store_engaged_roles(PGconn *conn, int64_t ticket_id, char ***roles, size_t *n, char *why,
                            size_t whylen);
void sla_store_free_roles(char **roles, size_t n);

/* ISO 8601 UTC ("2026-11-20T08:00:00Z") of t into buf (>= 21 bytes);
 * "null" for 0 and SLA_NEVER. */
void sla_store_time(int64_t t, char *buf, size_t len);

#endif
