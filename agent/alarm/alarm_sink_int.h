/* alarm_sink_int: what alarm_sink.c shares with alarm_keep.c (the state
 * kept across restarts). Private to the alarm folder. Loop thread only. */
#ifndef ALARM_SINK_INT_H
#define ALARM_SINK_INT_H

#include "alarm.h"
#include "alarm_sink.h"
#include "report.h"

#include <stdbool.h>
#include <stdint.h>

struct dev;

/* One series: a point of a device, or one row of a table point. Every
 * series that reported has one, for report by exception; only those with
 * alarm rules (or a saved alarm) have an alarm_point. */
struct pt {
    char *key;
    char *point;
    struct dev *dev;
    struct alarm_cfg eff; /* the point's alarm map with the device's calibration */
    alarm_point_t *ap;    /* NULL: no rules yet */
    struct report_rule rr;
    struct report_state rs;
    struct pt *next_in_dev;
};

/* A calibration the collector ordered, kept until the next reload. */
struct cal {
    char *point;
    double offset, gain;
};

struct dev {
    char *name;
    struct cal *cals;
    size_t n_cals;
    const struct device_cfg *cfg; /* NULL once a reload removed the device */
    alarm_comm_t *comm;
    struct pt *pts;
    size_t guess; /* profile index after the last point looked up */
    /* Reported unreachable to the collector (a Reachability event passed,
     * or the saved state said so at start) and not reachable since. */
    bool down;
    int64_t down_since_ms;
    uint32_t down_fails;
};

struct table {
    void **slots;
    size_t cap, n;
    const char *(*key)(const void *);
};

struct alarm_sink {
    event_sink_t sink; /* first: the producers' view */
    uv_loop_t *loop;
    const struct agent_cfg *cfg;
    event_sink_t *next;
    struct table pts, devs;
    struct alarm_sink_stats stats;
    uv_timer_t tick;
    /* The saved state (alarm_keep.c): path NULL until alarm_sink_keep_state. */
    uv_prepare_t save_pre; /* started by a transition, with save: the first */
    uv_check_t save;       /* of the two to run saves, and both stop */
    uv_timer_t save_later; /* the same, when the last save was too recent */
    uint64_t save_tat;     /* the saves' pace (alarm_keep.c), loop ms */
    char *state_path;      /* owned */
    bool dirty;            /* a transition since the last good save */
    int save_err;          /* the last save's error (logged once), 0 when it worked */
    int closing;           /* handles whose close callback is still due */
};

const struct device_cfg *alarm__find_device(const struct agent_cfg *cfg, const char *name);
const struct point_cfg *alarm__find_point(const struct device_cfg *d, const char *name);

/* The device's state, created on first use (name copied). */
struct dev *alarm__dev_get(alarm_sink_t *s, const char *name);

/* The state of one point (one table row: labels), created on first use
 * with the rules of pc (borrowed; the point's configuration). */
struct pt *alarm__pt_get(alarm_sink_t *s, const char *device, const char *point,
                         Fm__Label *const *labels, size_t n_labels, const struct point_cfg *pc);

/* alarm_emit_cb of every transition: passes ev to the next sink and marks
 * the saved state out of date. */
void alarm__emit_next(const Fm__Event *ev, void *ud);

/* A transition was reported: the state is saved at the end of this loop
 * iteration (no-op until alarm_sink_keep_state). */
void alarm__keep_dirty(alarm_sink_t *s);

/* Sets up the save handles (stopped). */
void alarm__keep_init(alarm_sink_t *s);

/* Saves what is still unsaved and closes the three save handles (on_closed
 * is their close callback). */
void alarm__keep_close(alarm_sink_t *s, uv_close_cb on_closed);

#endif
