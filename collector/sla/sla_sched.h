/* sla_sched: runs the contract clocks of open tickets.
 *
 * The scheduler keeps each open ticket's sla_clock (for its current visit),
 * the roles its ladder has engaged, what has happened on the visit and which
 * clocks are settled. sla_sched_tick, given the time from the scheduler's
 * clock function, records every ladder step that has fallen due, every
 * role the ticket's own steps engaged, every clock that settled (met,
 * breached, not applicable: sla_clock_judge) and every deadline that has
 * passed unmet (sla_store: one transaction each, with the outbox rows of
 * their webhooks) and tells the caller how many notifications it queued, so
 * the caller can kick the notifier. sla_sched_next says when a tick is next
 * needed. Ladder steps fire only while the ticket is neither resolved nor
 * ended.
 *
 * The clock is a function so that tests (and a simulation) can advance time
 * at will instead of sleeping. Blocking (libpq) in tick/open/regrade/pause:
 * call from a worker thread or a test. Not thread-safe. */
#ifndef SLA_SCHED_H
#define SLA_SCHED_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "sla.h"

typedef int64_t (*sla_now_cb)(void *arg); /* Unix seconds */

typedef struct sla_sched sla_sched_t;

/* Returns new; free with sla_sched_destroy. Borrows contracts (must outlive
 * the scheduler); now(arg) gives the time. */
sla_sched_t *sla_sched_create(const struct contract_set *contracts, sla_now_cb now, void *arg);
void sla_sched_destroy(sla_sched_t *s);

/* A new, empty scheduler with s's contracts and clock (for settling a
 * visit apart from the tickets s tracks). */
sla_sched_t *sla_sched_sibling(const sla_sched_t *s);

/* Starts the clocks of visit (1 = the first) of ticket_id for customer (its
 * contract, or the default), opened at opened_at with grade at a site
 * distance_km away (negative: unknown). Roles already engaged and clocks
 * already settled (recorded before a restart) are read from conn. Returns 0,
 * -EEXIST, -ENOENT (no contract for customer), -EINVAL (grade), or -EIO
 * with why. */
int sla_sched_open(sla_sched_t *s, PGconn *conn, int64_t ticket_id, int visit, const char *customer,
                   int grade, double distance_km, int64_t opened_at, char *why, size_t whylen);

/* The visit tracked for ticket_id, 0 if none. */
int sla_sched_visit(const sla_sched_t *s, int64_t ticket_id);

/* The steps of a visit that engage contract roles on their own
 * (roles[].engaged_by), 0 for a step not taken. */
struct sla_steps {
    int64_t acknowledged, dispatched, remote, on_site;
    const char *dispatched_to; /* a role of this name is engaged by the dispatch */
};

/* What has happened on ticket_id's visit (copied): the events that meet
 * its clocks, its end, and the steps that engage roles. -ENOENT if unknown. */
int sla_sched_events(sla_sched_t *s, int64_t ticket_id, const struct sla_events *ev,
                     const struct sla_steps *st);

/* Grade change at `at`: recomputes from the original opening and records
 * it on conn (NULL: not recorded). */
int sla_sched_regrade(sla_sched_t *s, PGconn *conn, int64_t ticket_id, int grade, int64_t at,
                      char *why, size_t whylen);

/* Pause (reason != NULL) or resume (reason == NULL) at `at`, recorded on
 * conn (NULL: not recorded, e.g. when read from sla_pauses). */
int sla_sched_pause(sla_sched_t *s, PGconn *conn, int64_t ticket_id, const char *reason, int64_t at,
                    char *why, size_t whylen);

/* The clock k of ticket_id was met at at (response given, engineer on site..). */
int sla_sched_met(sla_sched_t *s, int64_t ticket_id, enum sla_kind k, int64_t at);

/* Settles the clocks of a resolved or ended ticket (sla_sched_events gave
 * its end): records breaches and every clock's outcome, marks the visit
 * settled, and stops tracking it. -ENOENT if unknown. */
int sla_sched_finish(sla_sched_t *s, PGconn *conn, int64_t ticket_id, unsigned *queued, char *why,
                     size_t whylen);

/* Stops tracking ticket_id (closed). -ENOENT if unknown. */
int sla_sched_close(sla_sched_t *s, int64_t ticket_id);

/* The clock of ticket_id, or NULL. Borrowed until the next call. */
const struct sla_clock *sla_sched_clock(const sla_sched_t *s, int64_t ticket_id);

/* Tracked tickets, for iteration: ids in no particular order. */
size_t sla_sched_count(const sla_sched_t *s);
int64_t sla_sched_id_at(const sla_sched_t *s, size_t i);

/* Copies ticket_id's deadlines to out and returns true if they differ from
 * the ones this function returned last time for it (so the caller writes
 * only changed deadlines to the ticket). */
bool sla_sched_deadlines_changed(sla_sched_t *s, int64_t ticket_id, int64_t out[SLA_KINDS]);

/* Records what is due now. *queued (may be NULL) receives the number of
 * escalations and breaches newly recorded. Returns 0 or the first error
 * (with why); tickets after a failing one are handled on the next tick. */
int sla_sched_tick(sla_sched_t *s, PGconn *conn, unsigned *queued, char *why, size_t whylen);

/* When the next ladder step or deadline falls due, or SLA_NEVER. */
int64_t sla_sched_next(const sla_sched_t *s);

#endif
