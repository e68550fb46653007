/* snmp_poll: the asynchronous SNMP poller.
 *
 * Polls every SNMP device of the configuration on its interval, with
 * net-snmp's single-session API driven by a libuv loop: each device has one
 * session (one UDP socket) watched by a uv_poll and a uv_timer for its
 * schedule; one uv_timer serves the timeouts and retries of every
 * outstanding request. At most
 * max_in_flight devices have a request outstanding; the others wait in a
 * FIFO, so a dead device costs only its own slot for its own timeout.
 *
 * A device's poll is a sequence of requests: (SNMPv3 only, once) engine-id
 * discovery; GETs of its scalar points, max_varbinds per PDU, split further
 * when the device answers tooBig; GETBULK walks of its table columns
 * (GETNEXT for SNMPv1 and `bulk: false`), max_repetitions rows per request,
 * lowered when the device answers tooBig or times out on a walk; a device
 * whose GETBULK answers are wrong is walked with GETNEXT from then on
 * (snmp_bulk.h). Every value becomes a Measurement event; table rows carry
 * their index as a label. After unreachable_after failed polls in a row the
 * device is reported unreachable (one Reachability event) and reported
 * reachable on its first good poll.
 * A failing device's interval doubles up to backoff_max and resets on
 * success. First polls are spread at random over poll_spread x interval;
 * with cycles (--once, --cycles) all devices start at once.
 *
 * Loop thread only. */
#ifndef AGENT_SNMP_POLL_H
#define AGENT_SNMP_POLL_H

#include "config.h"
#include "event_sink.h"
#include "poll_health.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct snmp_poll snmp_poll_t;

struct snmp_poll_stats {
    struct poll_counts polls; /* polls ended, --cycles rounds */
    uint64_t requests;
    uint64_t values;         /* measurements emitted */
    uint64_t overruns;       /* a poll was due while the previous one still ran */
    uint64_t toobig;         /* tooBig answers that made a request smaller */
    uint64_t bulk_fallbacks; /* devices switched from GETBULK to GETNEXT */
};

/* Called once when every device finished its last cycle (cycles > 0). */
typedef void (*snmp_poll_done_cb)(snmp_poll_t *p, void *arg);

/* Creates the poller for the SNMP devices of cfg (borrowed; must outlive the
 * poller) emitting into sink (borrowed). cycles = 0 polls forever; cycles =
 * N polls each device N times, then calls done (a single-poll run treats
 * one failure as unreachable). Opens every session; returns 0 with *out, or
 * a negative errno after logging which device failed. */
int snmp_poll_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                     unsigned cycles, snmp_poll_done_cb done, void *arg, snmp_poll_t **out);

/* Called at the end of every poll of a device, good or failed (reason is
 * borrowed for the call): the threshold stage counts failed polls for comm
 * loss and staleness. One callback; NULL removes it. */
void snmp_poll_set_outcome_cb(snmp_poll_t *p, poll_outcome_cb cb, void *arg);

/* Calls cb(arg) once the poller's memory is freed after snmp_poll_destroy (the loop ran its
 * close callbacks): from then on it borrows nothing of the configuration.
 * Loop thread. */
void snmp_poll_set_freed_cb(snmp_poll_t *p, void (*cb)(void *arg), void *arg);

/* Schedules every device's first poll. */
void snmp_poll_start(snmp_poll_t *p);

/* Stops polling, closes every handle and session. The object is freed once
 * libuv has run the close callbacks (run the loop until it is empty).
 * Outstanding requests are dropped. NULL does nothing. */
void snmp_poll_destroy(snmp_poll_t *p);

const struct snmp_poll_stats *snmp_poll_stats(const snmp_poll_t *p);

/* Devices whose last poll failed (for --once's exit status). */
size_t snmp_poll_failed_devices(const snmp_poll_t *p);

/* The SNMP device polled at the numeric address ip (as inet_ntop writes
 * it): its configured address, or what its host name resolved to for its
 * polls (so a device configured by name is found from its first poll on).
 * The first such device in the configuration, or NULL. */
const struct device_cfg *snmp_poll_device_at(const snmp_poll_t *p, const char *ip);

#endif
