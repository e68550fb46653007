/* sla_sync: keeps the SLA scheduler in step with the tickets table.
 *
 * The tickets are the source of truth; this module only reads them and
 * writes the deadlines back. Each round (sla_sync_round):
 *   1. reads the open tickets, and the tracked ones that have just been
 *      resolved or closed, with their site's distance and the times their
 *      clocks were met (acknowledged_at: response, remote_started_at: remote,
 *      on_site_at: on-site, resolved_at: resolution);
 *   2. starts clocks for tickets not yet tracked, on the contract of their
 *      site, from first_seen (when the fault was observed), replaying the
 *      ticket's grade history (ticket_grades) and pauses (sla_pauses);
 *   3. applies new grade changes (recorded in sla_grade_changes, deadlines
 *      recomputed from the original opening) and new pauses/resumes;
 *   4. records due ladder steps and breaches (sla_sched_tick), finishing the
 *      clocks of resolved and closed tickets;
 *   5. writes changed deadlines to tickets (response_due .. resolution_due,
 *      NULL while paused or when the grade has no such clock).
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
