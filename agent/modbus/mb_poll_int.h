/* mb_poll internals shared by mb_poll.c (links, schedule,
 * reachability) and mb_emit.c (points and events). Not an API. */
#ifndef AGENT_MODBUS_POLL_INT_H
#define AGENT_MODBUS_POLL_INT_H

#include "mb_plan.h"
#include "mb_poll.h"
#include "mb_worker.h"
#include "poll_health.h"

#include <stdbool.h>
#include <stdint.h>

/* One worker: a TCP host:port or an RTU serial port. */
struct mb__link {
    mb_worker_t *w;
    const struct device_cfg *first; /* the device whose settings opened it */
    int64_t inter_frame_ms;         /* largest of its devices */
    char name[160];
};

struct mb__dev {
    mb_poll_t *owner;
    const struct device_cfg *cfg;
    struct mb__link *link;
    struct mb_plan plan;
    size_t *off; /* word offset of each read in data */
    uint16_t *data;
    struct mb_read_result *results;
    struct mb_job job;
    uv_timer_t sched;
    bool busy;
    struct poll_health health;
    uint64_t due_ms;
    uint32_t cycles_done;
    char reason[256];
};

struct mb_poll {
    uv_loop_t *loop;
    const struct agent_cfg *cfg;
    struct poll_owner po; /* sink, cycles, rounds, outcome: see poll_end */
    struct mb__dev *devs;
    size_t n_devs;
    struct mb__link *links;
    size_t n_links;
    mb_poll_done_cb done;
    void *done_arg;
    struct mb_poll_stats stats;
    void (*freed_cb)(void *arg);
    void *freed_arg;
    int closes_pending;
    bool stopping;
};

/* mb_emit.c: turns a finished job into Measurement events. Returns true
 * if the device answered any read (data or exception); otherwise emits
 * nothing and leaves the reason in d->reason. */
bool mb__emit(struct mb__dev *d);

#endif
