/* sla_sync: keeps the SLA scheduler in step with the tickets table.
 *
 * The tickets are the source of truth; this module reads them and writes
 * the deadlines and the settled clocks back. Each round (sla_sync_round):
 *   0. publishes the contracts (sla_contracts, sla_contract_sites) once per
 *      scheduler, so fieldmonctl knows their time zones and reopen periods;
 *   1. reads the open tickets, the tracked ones, and the resolved or closed
 *      ones whose clocks are not settled yet (tickets.sla_settled false:
 *      resolved within a round, or written before clocks were settled), with
 *      their site's distance and what happened on the current visit
 *      (acknowledged, dispatched, remote support, on site, resolved, closed
 *      as cancelled or duplicate);
 *   2. starts clocks for tickets not yet tracked (or whose visit changed),
 *      on the contract of their site, from visit_opened_at (opened_at for
 *      the first visit), replaying the grade history (ticket_grades) and the
 *      visit's pauses (sla_pauses);
 *   3. applies new grade changes (recorded in sla_grade_changes, deadlines
 *      recomputed from the visit's opening) and new pauses/resumes;
 *   4. writes changed deadlines to tickets (response_due .. resolution_due,
 *      NULL while paused or when the grade has no such clock);
 *   5. settles the clocks of resolved and closed tickets (every clock met,
 *      breached or not applicable, in ticket_clocks; sla_settled set) and
 *      ticks the rest: due ladder steps, settled clocks, breaches.
 * A ticket no contract covers gets no deadlines; when it ends, its clocks
 * are settled as not applicable with that reason.
 *
 * Blocking (libpq): runs on a worker thread. Not thread-safe. */
#ifndef SLA_SYNC_H
#define SLA_SYNC_H

#include <libpq-fe.h>
#include <stddef.h>

#include "contract.h"
#include "sla_sched.h"

typedef struct sla_sync sla_sync_t;

/* Returns new; free with sla_sync_destroy. Borrows contracts and sched. */
sla_sync_t *sla_sync_create(const struct contract_set *contracts, sla_sched_t *sched);

/* Publishes the contracts on conn (one transaction, replacing what was
 * published). publisher names who did it. 0 or negative errno with why. */
int sla_sync_publish(const struct contract_set *contracts, PGconn *conn, const char *publisher,
                     char *why, size_t whylen);
void sla_sync_destroy(sla_sync_t *y);

struct sla_sync_result {
    unsigned opened;   /* tickets whose clocks started this round */
    unsigned finished; /* tickets resolved or closed */
    unsigned regraded; /* grade changes applied */
    unsigned queued;   /* escalations and breaches recorded (notifications queued) */
};

/* One round on conn (borrowed). Returns 0 or -EIO with why; a failed round
 * leaves the scheduler consistent and is simply repeated. */
int sla_sync_round(sla_sync_t *y, PGconn *conn, struct sla_sync_result *res, char *why,
                   size_t whylen);

#endif
