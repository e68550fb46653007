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

/* How a clock ends. A clock is judged against the deadline in force when it
 * settles; once settled it stays so (a later pause or grade change does not
 * change it). */
enum sla_outcome {
    SLA_RUNNING = 0,  /* not settled yet */
    SLA_MET = 1,      /* its event happened at or before the deadline */
    SLA_BREACHED = 2, /* the deadline passed first (the event may have come later) */
    SLA_NA = 3,       /* not applicable: the grade has no such clock, or the ticket ended
                       * without needing it (resolved remotely, cancelled ...) */
};

/* What happened on the ticket's current visit. */
struct sla_events {
    /* The event each clock waits for, 0 if it has not happened: response =
     * the earliest of acknowledgement, dispatch, remote start and on-site
     * arrival; remote = remote support began; onsite = on-site arrival;
     * resolution = resolution. */
    int64_t at[SLA_KINDS];
    int64_t resolved_at;   /* 0: not resolved */
    int64_t ended_at;      /* closed without resolution (cancelled, duplicate); 0: not */
    const char *ended_why; /* with ended_at: "ticket cancelled", "duplicate of ticket 7" */
};

struct sla_verdict {
    enum sla_outcome outcome;
    int64_t due;      /* the deadline judged against; 0: none */
    int64_t event_at; /* the event that met it (also when late); 0: none */
    int64_t taken_s;  /* counting seconds from the opening to event_at; -1: no event */
    int grade;        /* the grade judged under: in force at the event, else the current */
    char reason[96];  /* what met it, or why it does not apply */
};

/* Judges clock k at now from the visit's events: met, breached, not
 * applicable, or still running. An event is judged against the deadline of
 * the grade in force when it happened (a response given before the grade
 * was raised keeps the deadline it was given under). A resolved or ended ticket settles every
 * clock (judged at its end, not at now): resolving counts as the response
 * if none was recorded; remote and on-site clocks not needed by then do not
 * apply. Pure; any thread. */
void sla_clock_judge(const struct sla_clock *c, enum sla_kind k, const struct sla_events *ev,
                     int64_t now, struct sla_verdict *v);

/* Name of an outcome: "running", "met", "breached", "na". */
const char *sla_outcome_name(enum sla_outcome o);

/* Instant at which `after_s` seconds have passed on the current grade's
 * support clock (7x24 or 5x8) since opening, pauses excluded: when a ladder
 * step falls due. SLA_NEVER while paused before it. */
int64_t sla_clock_at(const struct sla_clock *c, int64_t after_s);

#endif
