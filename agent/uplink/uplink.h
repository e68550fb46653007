/* uplink: the agent's store-and-forward pipeline in one object: the durable
 * spool (spool.h) driven by the loop (spool_pump.h), the sender to the
 * collector (sender.h), AgentStatus events every `status.interval`, and the
 * same figures as Prometheus text on a local port or unix socket.
 *
 * Producers (pollers, trap receiver, threshold engine) hand events to
 * uplink_emit; the spool numbers them. uplink_emit_cb is for SNMP informs: its
 * callback runs once the event is written to the spool (under fsync policy
 * `always`, also synced), and only then may the inform be acknowledged:
 *
 *     static void on_spooled(int status, uint64_t seq, void *ud)
 *     {
 *         struct inform *in = ud;
 *         if (status == 0)
 *             send_inform_response(in);   // the event is safe on disk
 *         else
 *             drop_inform(in);            // the device will retransmit
 *     }
 *     uplink_emit_cb(uplink, &ev, on_spooled, in);
 *
 * The callback never runs inside uplink_emit_cb; it runs within the same loop
 * iteration in the normal case. If the event cannot be spooled (full write
 * buffer and hold on a failing disk, oversized event) the callback still
 * runs, on the next loop turn, with a negative errno; if its write or sync
 * fails, it runs with that errno (the event stays held and is written
 * later, but it was not kept as promised).
 *
 * Loop thread only. */
#ifndef UPLINK_H
#define UPLINK_H

#include "sender.h"
#include "spool.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Configuration of status events and metrics (key `status`). */
struct uplink_status_cfg {
    int64_t interval_ms;  /* AgentStatus event period */
    char *metrics_listen; /* "127.0.0.1:9464", "unix:/run/fieldmon/agent.sock", "" = off */
};

struct uplink_cfg {
    struct spool_cfg spool;
    struct sender_cfg sender;
    struct uplink_status_cfg status;
};

/* Counters owned by the producers, read for status events and metrics.
 * Borrowed pointers; NULL reads as 0. */
struct uplink_counters {
    const uint64_t *polls_ok;
    const uint64_t *polls_failed;
    const uint64_t *traps_dropped;
    /* Measurements polled, and of those sent on (report by exception). */
    const uint64_t *measurements_polled;
    const uint64_t *measurements_reported;
    /* Optional: called before the counters are read, to bring sums up to
     * date. */
    void (*refresh)(void *arg);
    void *arg;
};

typedef struct uplink uplink_t;

/* Opens the spool (printing its size and what it holds at the configured
 * rate), creates the sender and the metrics listener. events_per_s is the
 * configured event rate used for automatic spool sizing. Borrows cfg,
 * collectors and id. Returns 0 and *out, or a negative errno (logged). */
int uplink_create(uv_loop_t *loop, const struct uplink_cfg *cfg, char *const *collectors,
                  size_t n_collectors, const struct sender_identity *id, double events_per_s,
                  uplink_t **out);

/* Starts sending, status events and metrics. */
void uplink_start(uplink_t *e, const struct uplink_counters *counters);

/* Replaces the producers' counters (a rebuilt poller has new ones); NULL
 * clears them. */
void uplink_set_counters(uplink_t *e, const struct uplink_counters *counters);

/* Spools ev (borrowed; its seq is ignored). Losses are counted and logged. */
void uplink_emit(uplink_t *e, const Fm__Event *ev);

/* Spools ev and calls cb(status, seq, ud) once it is written; see above. */
void uplink_emit_cb(uplink_t *e, const Fm__Event *ev, spool_done_cb cb, void *ud);

/* SIGHUP: applies new sender, status and spool settings (cap, segment
 * size, write buffer, hold size, fsync policy: spool_reconfigure; a
 * smaller cap applies at once). The spool keeps its directory, data and
 * sequence: a changed spool_dir refuses the reload (-EINVAL, logged naming
 * the key). events_per_s sizes an automatic cap. Returns 0 or a negative
 * errno (the old settings stay). Borrows the new arguments. */
int uplink_reload(uplink_t *e, const struct uplink_cfg *cfg, char *const *collectors,
                  size_t n_collectors, const struct sender_identity *id, double events_per_s);

/* SIGTERM: flushes and syncs the spool, says Goodbye, closes everything,
 * then calls done on a later loop turn. The uplink is freed before done. */
void uplink_stop(uplink_t *e, void (*done)(void *ud), void *ud);

spool_t *uplink_spool(uplink_t *e);
sender_t *uplink_sender(uplink_t *e);

/* Writes the Prometheus text exposition of the current figures into buf
 * (NUL-terminated); returns its length. */
size_t uplink_metrics_text(uplink_t *e, char *buf, size_t cap);

#endif
