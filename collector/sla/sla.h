/* sla: the contract clocks of one maintenance record (ticket).
 *
 * A clock is opened with the fault grade, the site's distance from the
 * service base and the opening time; it yields four deadlines from the
 * contract: response, remote support, on-site arrival (grade limit and
 * distance band, by the contract's onsite_rule) and resolution (working
 * days). Clocks of a 5x8 grade count business hours only; resolution counts
 * whole working days; see sla_cal.h.
 *
 * A grade change recomputes every deadline from the new grade and the
 * ORIGINAL opening time, and is recorded with the deadlines before and after.
 * A pause (with a reason) stops every clock until it is resumed; the paused
 * time is added to every deadline it falls before, and the pause is recorded.
 * While a pause is open, deadlines not yet reached read SLA_NEVER.
 *
 * The struct is plain data with fixed limits (no allocation): callers embed
 * it, and the store persists its fields. Not thread-safe; any thread. */
#ifndef SLA_H
#define SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "sla_cal.h"

enum sla_kind {
    SLA_RESPONSE = 0,
    SLA_REMOTE = 1,
    SLA_ONSITE = 2,
    SLA_RESOLUTION = 3,
    SLA_KINDS = 4,
};

#define SLA_MAX_PAUSES 32
#define SLA_MAX_REGRADES 16
#define SLA_REASON_MAX 128

struct sla_regrade {
    int64_t at;
    int from, to;
    int64_t before[SLA_KINDS], after[SLA_KINDS]; /* deadlines; 0: no such clock */
};

struct sla_clock {
    const struct contract *contract; /* borrowed; must outlive the clock */
    int64_t opened_at;
    int grade;
    double distance_km;          /* negative: unknown */
    int64_t deadline[SLA_KINDS]; /* 0: the grade has no such clock */
    struct sla_interval paused[SLA_MAX_PAUSES];
    char pause_reason[SLA_MAX_PAUSES][SLA_REASON_MAX];
    size_t n_pauses;
    struct sla_regrade regrades[SLA_MAX_REGRADES];
    size_t n_regrades;
};

/* Name of a kind: "response", "remote", "onsite", "resolution". */
const char *sla_kind_name(enum sla_kind k);
/* Kind from its name, or -EINVAL. */
int sla_kind_parse(const char *name);

/* Opens the clocks: grade 1..4 (a grade the contract does not list has no
 * deadlines). Returns 0 or -EINVAL (grade out of range). Borrows contract. */
int sla_clock_open(struct sla_clock *c, const struct contract *contract, int grade,
                   double distance_km, int64_t opened_at);

/* Changes the grade at time at (>= opening) and recomputes every deadline
 * from the original opening. Returns 0, -EINVAL (bad grade or time),
 * -EALREADY (same grade), -ENOSPC (SLA_MAX_REGRADES reached). */
int sla_clock_regrade(struct sla_clock *c, int64_t at, int grade);

/* Pauses every clock from at with a reason (copied, cut to SLA_REASON_MAX-1).
 * Returns 0, -EALREADY (already paused), -EINVAL (at before the opening or
 * the last resume, or empty reason), -ENOSPC (SLA_MAX_PAUSES reached). */
int sla_clock_pause(struct sla_clock *c, int64_t at, const char *reason);

/* Ends the open pause at at. Returns 0, -EINVAL (not paused, or at before
 * the pause started). */
int sla_clock_resume(struct sla_clock *c, int64_t at);

bool sla_clock_paused(const struct sla_clock *c);

/* Seconds of the kind's limit that remain at now: counting time, so a paused
 * clock's remainder stays still; negative once past the deadline (then the
 * wall-clock time since it). 0 for a kind with no clock. */
int64_t sla_clock_left(const struct sla_clock *c, enum sla_kind k, int64_t now);

/* Whether the kind's deadline is breached: met_at (0: not met yet) or, if
 * not met, now is after the deadline. */
bool sla_clock_breached(const struct sla_clock *c, enum sla_kind k, int64_t met_at, int64_t now);

/* Instant at which `after_s` seconds have passed on the current grade's
 * support clock (7x24 or 5x8) since opening, pauses excluded: when a ladder
 * step falls due. SLA_NEVER while paused before it. */
int64_t sla_clock_at(const struct sla_clock *c, int64_t after_s);

#endif
