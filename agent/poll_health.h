/* poll_health: what the SNMP and Modbus pollers share about a device's
 * health and about --cycles rounds.
 *
 * - poll_health: consecutive failures, reachability with its threshold, and
 *   the poll interval that doubles while a device fails (up to a cap) and
 *   resets on its first success (collectd plugin.c's read back-off).
 * - poll_rounds: with --cycles N, when each round began (the earliest due
 *   time of its polls) and ended (the last poll done), and the longest and
 *   average round once every device has finished.
 * - poll_emit_reachability: the Reachability event of a transition.
 * - poll_end: the end of one poll of one device, the same for both pollers:
 *   counts, health and back-off, the log line and Reachability event of a
 *   transition, the outcome callback, and the --cycles rounds.
 *
 * Loop thread only. */
#ifndef AGENT_POLL_HEALTH_H
#define AGENT_POLL_HEALTH_H

#include "config.h"
#include "event_sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct poll_health {
    uint32_t fails; /* failed polls in a row */
    bool reachable;
    bool last_failed;
    int64_t interval_ms; /* current interval, after back-off */
};

enum poll_transition {
    POLL_NO_CHANGE = 0,
    POLL_BECAME_REACHABLE = 1,
    POLL_BECAME_UNREACHABLE = 2,
};

void poll_health_init(struct poll_health *h, int64_t interval_ms);

/* The counts both pollers keep of finished polls (in their stats). */
struct poll_counts {
    uint64_t polls_ok;
    uint64_t polls_failed;
    double max_cycle_s; /* --cycles: the longest round, first due to last done */
    double sum_cycle_s;
    uint32_t rounds; /* --cycles: rounds measured */
};

/* Called at the end of every poll: the device's name, whether it answered,
 * when (Unix ms), and why not ("" when it did); strings borrowed for the
 * call. Both pollers call it the same way. */
typedef void (*poll_outcome_cb)(const char *device, bool ok, int64_t ts_ms, const char *reason,
                                void *arg);

/* Records one poll. On success the interval returns to base_ms; on failure
 * it doubles up to max(cap_ms, base_ms). After `threshold` failures in a row
 * a reachable device becomes unreachable; the first success makes it
 * reachable again. Returns the transition. After BECAME_REACHABLE,
 * *prev_fails (may be NULL) holds the failures that came before. */
enum poll_transition poll_health_record(struct poll_health *h, bool ok, int64_t base_ms,
                                        int64_t cap_ms, uint32_t threshold, uint32_t *prev_fails);

struct poll_rounds {
    unsigned cycles;
    size_t devs, finished;
    uint64_t *start, *end; /* loop ms per round; 0: not yet */
};

/* cycles 0 keeps the struct empty (no rounds). */
/* True when a device counts as failed for --once/--cycles: its last poll
 * failed, or it has not completed a poll yet. */
bool poll_health_failed(const struct poll_health *h, unsigned cycles_done);

void poll_rounds_init(struct poll_rounds *r, unsigned cycles, size_t devs);
void poll_rounds_free(struct poll_rounds *r);

/* A poll of round `round` (0-based) was due at due_ms. */
void poll_rounds_begin(struct poll_rounds *r, uint32_t round, uint64_t due_ms);

/* A poll of round `round` ended at now_ms; `last` when it was the device's
 * final round. Returns true once every device has ended its final round,
 * and then adds the rounds to *max_s, *sum_s and *n. */
bool poll_rounds_end(struct poll_rounds *r, uint32_t round, uint64_t now_ms, bool last,
                     double *max_s, double *sum_s, uint32_t *n);

/* Next due time of a device polled every interval_ms: due + interval, or
 * now if that is past. Updates *due_ms and returns the delay from now. */
uint64_t poll_schedule_next(uint64_t *due_ms, int64_t interval_ms, uint64_t now_ms);

/* Logs a transition returned by poll_health_record (`proto: device
 * (where): unreachable: reason`, or reachable again after prev_fails
 * failed polls; a failed poll without transition at debug level) and emits
 * its Reachability event. */
void poll_report(event_sink_t *sink, const struct poll_health *h, enum poll_transition t, bool ok,
                 const char *proto, const char *device, const char *where, const char *reason,
                 uint32_t prev_fails, int64_t ts_ms);

/* Emits a Reachability event for device (borrowed strings). */
void poll_emit_reachability(event_sink_t *sink, const char *device, int64_t ts_ms, bool reachable,
                            const char *reason, uint32_t fails);

/* Writes where a device is polled ("10.0.0.5:161", "bus1 unit 3") for the
 * one log line that names it; called only when that line is written. */
typedef void (*poll_where_cb)(const void *dev, char *buf, size_t len);

/* A poller's side of poll_end, one per poller, set up at creation (zeroed
 * first; rounds through poll_rounds_init). */
struct poll_owner {
    const char *proto;          /* "snmp" or "modbus": the log prefix (static) */
    event_sink_t *sink;         /* borrowed */
    unsigned cycles;            /* 0: poll forever; N: --cycles N */
    int64_t backoff_max_ms;     /* a failing device's interval doubles up to this */
    struct poll_counts *counts; /* in the poller's stats */
    struct poll_rounds rounds;
    poll_outcome_cb outcome; /* may be NULL */
    void *outcome_arg;
    poll_where_cb where;
};

/* Sets up o for a poller of devs devices (o zeroed by the caller); the
 * rounds are freed with poll_rounds_free(&o->rounds). proto is static,
 * sink borrowed, counts in the poller's stats. */
void poll_owner_init(struct poll_owner *o, const char *proto, event_sink_t *sink, unsigned cycles,
                     int64_t backoff_max_ms, struct poll_counts *counts, poll_where_cb where,
                     size_t devs);

/* One finished poll of one device. */
struct poll_result {
    bool ok;
    const struct device_cfg *cfg; /* name, interval, unreachable_after */
    const void *dev;              /* handed to owner->where */
    const char *reason;           /* why it failed ("" when ok) */
    int64_t ts_ms;                /* when the outcome was observed, Unix ms */
};

enum {
    POLL_END_AGAIN = 1,    /* schedule the device's next poll */
    POLL_END_ALL_DONE = 2, /* --cycles: every device finished its last round */
};

/* When a device's first poll is due, in ms from the poller's start: at
 * random over spread x interval_ms, so that a fleet's polls do not all
 * fall in the same instant; 0 with --once and --cycles, whose runs poll
 * every device at once (a spread would only make them slower). */
uint64_t poll_first_delay(const struct poll_owner *o, double spread, int64_t interval_ms);

/* One poll of a device begins (its request goes out): logged at debug
 * level and noted for the --cycles rounds. due_ms is when it was due. */
void poll_begin(struct poll_owner *o, const char *device, uint32_t cycles_done, uint64_t due_ms);

/* Ends one poll of one device: counts it, records it in *h (with --cycles a
 * failing device is not backed off: every round polls the whole fleet, dead
 * devices included, so a round shows what they cost; with --once one failed
 * poll makes a device unreachable), logs and emits a transition, calls the
 * outcome callback, advances *cycles_done and the rounds. now_ms is the
 * loop's time. Returns POLL_END_* flags. Loop thread. */
unsigned poll_end(struct poll_owner *o, struct poll_health *h, uint32_t *cycles_done,
                  const struct poll_result *r, uint64_t now_ms);

/* Uniform in [0, 1): schedule jitter (xorshift64*, seeded from the clock
 * and the pid on first use), not for anything secret. */
double poll_rand01(void);

#endif
