/* ladder: which escalation steps of a ticket are due.
 *
 * The contract lists per grade the roles to engage and when (minutes after
 * opening on the grade's support clock; pauses stop it). A role is engaged
 * at most once per ticket: after a grade rise the new grade's earlier steps
 * whose role was already engaged are not repeated, and steps whose time has
 * already passed fall due at once. Pure functions over an sla_clock; the
 * caller (sla_sched) records fired steps and notifies. */
#ifndef LADDER_H
#define LADDER_H

#include <stddef.h>
#include <stdint.h>

#include "sla.h"

struct ladder_due {
    const struct contract_step *step; /* borrowed from the clock's contract */
    int64_t due_at;                   /* when it fell due */
};

/* Fills out (up to max) with the steps of the clock's current grade due at
 * or before now whose role is not among the n_fired roles in fired, in
 * ladder order. Returns how many. */
size_t ladder_due(const struct sla_clock *c, int64_t now, const char *const *fired, size_t n_fired,
                  struct ladder_due *out, size_t max);

/* When the next step not yet fired falls due (it may be <= now), or
 * SLA_NEVER if none will (all fired, none configured, or paused). */
int64_t ladder_next(const struct sla_clock *c, const char *const *fired, size_t n_fired);

#endif
