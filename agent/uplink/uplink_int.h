/* uplink_int: what the uplink's files share; not part of its API. */
#ifndef UPLINK_INT_H
#define UPLINK_INT_H

#include "uplink.h"
#include "spool_pump.h"

struct uplink__metrics; /* the listener, uplink_status.c */

struct uplink {
    uv_loop_t *loop;
    const struct uplink_cfg *cfg;
    const struct uplink_status_cfg *status_cfg;
    double rate;
    spool_t *spool;
    spool_pump_t *pump;
    sender_t *sender;
    struct uplink_counters counters;
    uint64_t lost_logged; /* refusals seen, for rate-limited logging */

    uv_timer_t status_timer;
    int status_closing; /* handles uplink__status_stop still waits for */
    uint64_t last_appended;
    uint64_t last_status_ms;
    double events_per_s;
    bool rate_warned;
    struct uplink__metrics *metrics;
    void (*status_done)(void *ud);

    int pending; /* parts still stopping */
    void (*done)(void *ud);
    void *done_ud;
};

/* Checks the status settings (metrics address syntax). 0 or -EINVAL, logged. */
int uplink__status_check(const struct uplink_status_cfg *cfg);
void uplink__status_start(uplink_t *e);
void uplink__status_reload(uplink_t *e);
/* Closes the timer and the listener; calls done(e) on a later turn. */
void uplink__status_stop(uplink_t *e, void (*done)(void *ud));

#endif
