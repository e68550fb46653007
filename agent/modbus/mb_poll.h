/* mb_poll: the Modbus poller, the loop side of mb_worker.
 *
 * Polls every modbus_tcp and modbus_rtu device of the configuration on its
 * interval. Each device's profile points are planned once into merged reads
 * (mb_plan, the device's max_gap/max_span/max_bits). Devices are grouped
 * into links: one worker thread per TCP host:port (devices behind one
 * gateway share its connection) and one per RTU serial port (one request on
 * the bus at a time). When a poll is due the device's job goes to its
 * link's worker; when it comes back, on the loop thread, every point is
 * decoded (mb_decode) and becomes a Measurement event:
 *   - good read: value = raw x scale + offset, raw as the device sent it,
 *     enum text or true/false for enum and bool points, and one more bool
 *     measurement per named bit of a bit field (label bit=NAME);
 *   - exception: quality DEVICE_ERROR, detail "modbus exception 02 illegal
 *     data address";
 *   - CRC or protocol error: quality DECODE_ERROR with the reason; timeout:
 *     TIMEOUT; link failure: COMM_LOSS. When every read of a poll failed
 *     that way the device did not answer at all: no measurements, the poll
 *     counts toward reachability instead.
 * A poll counts as answered if any read got a response (data or exception).
 * After unreachable_after failed polls in a row the device is reported
 * unreachable (one Reachability event), and reachable again on its first
 * answered poll. A failing device's interval doubles up to
 * modbus.backoff_max and resets on success, so a silent RTU unit takes less
 * and less of its bus's time. First polls are spread over poll_spread x
 * interval. With cycles (--once, --cycles) all devices start at once and
 * failing devices are not backed off, so every round covers the fleet.
 *
 * Loop thread only. */
#ifndef AGENT_MODBUS_POLL_H
#define AGENT_MODBUS_POLL_H

#include "config.h"
#include "event_sink.h"
#include "poll_health.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mb_poll mb_poll_t;

struct mb_poll_stats {
    struct poll_counts polls; /* polls ended, --cycles rounds */
    uint64_t requests;        /* reads sent or attempted */
    uint64_t registers;       /* registers and bits read successfully */
    uint64_t values;          /* measurements emitted */
    uint64_t overruns;        /* a poll was due while the previous one still ran */
};

typedef void (*mb_poll_done_cb)(mb_poll_t *p, void *arg);

/* Number of Modbus devices in cfg. */
size_t mb_poll_count_devices(const struct agent_cfg *cfg);

/* Creates the poller for the Modbus devices of cfg (borrowed; must outlive
 * the poller) emitting into sink (borrowed), and starts one worker per link.
 * cycles = 0 polls forever; cycles = N polls each device N times, then calls
 * done (a single-poll run treats one failure as unreachable). Returns 0 with
 * *out, or a negative errno after logging which device or link failed. */
int mb_poll_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                   unsigned cycles, mb_poll_done_cb done, void *arg, mb_poll_t **out);

/* Called at the end of every poll of a device, good or failed (reason is
 * borrowed for the call), as snmp_poll's outcome callback: the threshold
 * stage counts failed polls for comm loss. One callback; NULL removes it. */
void mb_poll_set_outcome_cb(mb_poll_t *p, poll_outcome_cb cb, void *arg);

/* Calls cb(arg) once the poller's memory is freed after mb_poll_destroy (the loop ran its
 * close callbacks and joined its threads): from then on it borrows nothing of the configuration.
 * Loop thread. */
void mb_poll_set_freed_cb(mb_poll_t *p, void (*cb)(void *arg), void *arg);

/* Schedules every device's first poll. */
void mb_poll_start(mb_poll_t *p);

/* Stops polling and closes the workers (each waits for at most its current
 * request). The object is freed once the loop has run the close callbacks.
 * Polls in progress are dropped without events. NULL does nothing. */
void mb_poll_destroy(mb_poll_t *p);

const struct mb_poll_stats *mb_poll_stats(const mb_poll_t *p);

/* Devices whose last poll failed or never ran (for --once's exit status). */
size_t mb_poll_failed_devices(const mb_poll_t *p);

#endif
