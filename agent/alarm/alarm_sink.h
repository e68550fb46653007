/* alarm_sink: the threshold stage between the pollers and the spool.
 *
 * An event sink (event_sink.h) that passes every event on to the next sink
 * and, on the way, for measurements of points that have an `alarm` map:
 * applies the calibration (the event's value becomes the corrected value,
 * its raw value stays), evaluates the point's rules (alarm.h) and emits the
 * alarm transitions right after the measurement that caused them. Poll
 * outcomes reported with alarm_sink_poll_result drive device comm loss and
 * the failed-poll staleness of the device's points; a 1 s timer finishes
 * pending on/off delays and time-based staleness.
 *
 * Then report by exception (report.h) decides which measurements go on:
 * a value the alarm rules judged but that says nothing new is held back,
 * and sent after all, before the transition, when it (or a later tick or
 * failed poll) raises or clears an alarm.
 *
 * State is per (device, point, label values): each row of a table point
 * has its own alarms. The stage also remembers which devices it passed an
 * unreachable Reachability event for: the pollers' own record of that
 * starts afresh whenever they are built, so a second unreachable report is
 * dropped and a device that answers again is reported reachable even by a
 * poller built after the report (restart, reload).
 *
 * With alarm_sink_keep_state, all of that (raised alarms, comm loss,
 * unreachable devices) is saved in a file (alarm_state.h) at the end of
 * every loop iteration that reported a transition, and loaded at start.
 * Loop thread only. */
#ifndef ALARM_SINK_H
#define ALARM_SINK_H

#include "config.h"
#include "event_sink.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct alarm_sink alarm_sink_t;

/* Borrows cfg (replace it with alarm_sink_reload) and next. */
alarm_sink_t *alarm_sink_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *next);

/* Measurements that came in and that went on to the next sink (the rest
 * were held back by report by exception). */
struct alarm_sink_stats {
    uint64_t polled;
    uint64_t reported;
};

/* The sink's counters, borrowed from s. */
const struct alarm_sink_stats *alarm_sink_stats(const alarm_sink_t *s);

/* The sink producers emit into. */
event_sink_t *alarm_sink_as_sink(alarm_sink_t *s);

/* One poll of a whole device ended: ok, or failed with reason (borrowed). */
void alarm_sink_poll_result(alarm_sink_t *s, const char *device, bool ok, int64_t ts_ms,
                            const char *reason);

/* A calibration ordered by the collector (SetCalibration): applies to the
 * point of the device from now on, every table row included, until the
 * next reload or restart (the configuration stays the lasting record).
 * Returns 0, or -ENOENT / -EINVAL with the reason in why. */
int alarm_sink_set_calibration(alarm_sink_t *s, const char *device, const char *point,
                               double offset, double gain, char *why, size_t whylen);

/* Keeps the state across restarts in the file path (copied): loads it now,
 * so raised alarms, comm loss and unreachable devices start as the last run
 * left them (no event: the clear or the reachable event follows the first
 * evaluation that finds the device normal), and from now on saves it
 * after every loop iteration that reported a transition, and at destroy.
 * Saved alarms of rules, points or devices no longer configured are
 * cleared with an event, as a reload clears them; comm loss and
 * unreachability of devices no longer configured are dropped. A missing
 * file is a first start; an unreadable or corrupt one is logged with the
 * fault and ignored (everything starts cleared) and overwritten by the
 * next save. A failed save is logged once with the path and the error,
 * and retried after the next transition; polling goes on. Call once, after
 * the next sink accepts events. The daemon only: --once never calls it. */
void alarm_sink_keep_state(alarm_sink_t *s, const char *path);

/* SIGHUP: moves every point to the new configuration, keeping the state of
 * rules that still exist (and the unreachable devices) and what each
 * series last sent (its next value is judged against it under the new
 * report keys); the saved state is
 * rewritten without devices that left the configuration. Borrows cfg. */
void alarm_sink_reload(alarm_sink_t *s, const struct agent_cfg *cfg);

/* Closes the timer and frees everything (after the loop ran the close). */
void alarm_sink_destroy(alarm_sink_t *s);

#endif
