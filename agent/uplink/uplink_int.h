/* edge_int: what the edge's files share; not part of its API. */
#ifndef EDGE_INT_H
#define EDGE_INT_H

#include "uplink.h"
#include "spool_pump.h"

struct edge__metrics; /* the listener, edge_status.c */

struct edge {
    uv_loop_t *loop;
    const struct edge_cfg *cfg;
    const struct edge_status_cfg *status_cfg;
    double rate;
    spool_t *spool;
    spool_pump_t *pump;
    sender_t *sender;
    struct edge_counters counters;
    uint64_t lost, lost_logged;

    uv_timer_t status_timer;
    int status_closing; /* handles edge__status_stop still waits for */
    uint64_t last_appended;
    uint64_t last_status_ms;
    double events_per_s;
    bool rate_warned;
    struct edge__metrics *metrics;
    void (*status_done)(void *ud);

    int pending; /* parts still stopping */
    void (*done)(void *ud);
    void *done_ud;
};

/* Checks the status settings (metrics address syntax). 0 or -EINVAL, logged. */
int edge__status_check(const struct edge_status_cfg *cfg);
void edge__status_start(edge_t *e);
void edge__status_reload(edge_t *e);
/* Closes the timer and the listener; calls done(e) on a later turn. */
void edge__status_stop(edge_t *e, void (*done)(void *ud));

#endif
