/* alarm: the threshold engine of fieldmon-agent, judged at the edge.
 *
 * One alarm_point_t per polled point (per table row for tabular points).
 * Each good sample is corrected by the point's calibration (value * gain +
 * offset) and checked against the point's rules:
 *   - analogue limits (high/low, warning/critical) with a deadband: a high
 *     limit raises at value >= limit and clears only at value < limit -
 *     deadband (mirrored for low limits), so a value hovering around the
 *     limit raises once and clears once;
 *   - state (enum) rules: raised while value == rule value, e.g.
 *     upsOutputSource = battery(5);
 *   - bit rules: raised while bit N of the integer value is set (or clear);
 *   - stale data: no good sample for `stale_after`, or 3 failed polls in a row.
 * Every rule has an on-delay and an off-delay: the new condition must hold
 * that long, in device time, before the transition is emitted. Pending delays
 * also finish on alarm_point_tick, so a device that stops answering cannot
 * leave a transition pending forever.
 *
 * Device-level communication loss is alarm_comm_t: raised after `fail_polls`
 * failed polls spanning at least `fail_time`, cleared after `clear_polls`
 * good polls (devices.md §0).
 *
 * Transitions are handed to an alarm_emit_cb as a complete Fm__Event (seq 0:
 * the spool numbers it), with ts_ms the device time at which the transition
 * took effect and alarm.since_ms the time the condition began. The event and
 * everything it points to are borrowed for the duration of the callback.
 *
 * Single-threaded: call everything from the agent's loop thread. */
#ifndef ALARM_H
#define ALARM_H

#include "alarm_state.h"
#include "fmwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum alarm_dir { ALARM_DIR_HIGH = 0, ALARM_DIR_LOW = 1 };
enum alarm_lvl { ALARM_LVL_WARNING = 0, ALARM_LVL_CRITICAL = 1 };

/* One analogue limit. `code` NULL means "<dir>_<level>", e.g. "high_warning". */
struct alarm_limit {
    int dir;   /* enum alarm_dir */
    int level; /* enum alarm_lvl */
    double value;
    char *code;
};

/* State rule: raised while the corrected value equals `equals`. */
struct alarm_state_rule {
    double equals;
    char *code;
    char *message;
    int64_t on_delay_ms;
    int64_t off_delay_ms;
};

/* Bit rule: raised while bit `bit` of the value (as an integer) is `set`. */
struct alarm_bit_rule {
    uint64_t bit;
    bool set;
    char *code;
    char *message;
    int64_t on_delay_ms;
    int64_t off_delay_ms;
};

/* Per-point configuration (filled from the `alarm` key of a point; see
 * alarm_conf.c for the table, its defaults and docs). */
struct alarm_cfg {
    double cal_offset;
    double cal_gain;
    struct alarm_limit *limits;
    size_t n_limits;
    double deadband; /* < 0: automatic, see alarm_deadband() */
    int64_t on_delay_ms;
    int64_t off_delay_ms;
    struct alarm_state_rule *states;
    size_t n_states;
    struct alarm_bit_rule *bits;
    size_t n_bits;
    int64_t stale_after_ms; /* 0: only the failed-poll rule */
    uint64_t stale_polls;   /* failed polls in a row that make the point stale; 0: never */
};

/* A device's own calibration of one of its points, overriding the
 * profile's (each sensor is calibrated on its own). */
struct alarm_calibration {
    char *point;
    double offset;
    double gain;
};

/* Device-level communication-loss settings. */
struct alarm_comm_cfg {
    uint64_t fail_polls;
    int64_t fail_time_ms;
    uint64_t clear_polls;
};

typedef void (*alarm_emit_cb)(const Fm__Event *ev, void *ud);

typedef struct alarm_point alarm_point_t;
typedef struct alarm_comm alarm_comm_t;

/* Fills cfg with the defaults of the configuration table (alarm_conf.c, the
 * only place they are written): no limits or rules. */
void alarm_cfg_defaults(struct alarm_cfg *cfg);
void alarm_comm_cfg_defaults(struct alarm_comm_cfg *cfg);

/* Deadband the engine uses for cfg and unit: cfg->deadband if >= 0, else
 * 1 for degrees Celsius, 3 for %RH, else 2 % of the span of the configured
 * limits (2 % of the largest |limit| when there is one limit). */
double alarm_deadband(const struct alarm_cfg *cfg, const char *unit);

/* Checks a configuration for contradictions (duplicate codes, a warning
 * limit beyond its critical one, bits over 63). Returns 0 or -EINVAL with
 * the reason in why. */
int alarm_cfg_check(const struct alarm_cfg *cfg, char *why, size_t whylen);

/* Returns a new point. Borrows cfg (it must outlive the point, or be swapped
 * with alarm_point_set_cfg); copies device, point, unit and labels. Free with
 * alarm_point_destroy. */
alarm_point_t *alarm_point_create(const struct alarm_cfg *cfg, const char *device,
                                  const char *point, const char *unit, Fm__Label *const *labels,
                                  size_t n_labels);
void alarm_point_destroy(alarm_point_t *p);

/* Replaces the configuration (SIGHUP reload) keeping the state of every rule
 * whose code still exists; rules that disappeared and were raised are
 * cleared with an event. Borrows cfg. */
void alarm_point_set_cfg(alarm_point_t *p, const struct alarm_cfg *cfg, int64_t ts_ms,
                         alarm_emit_cb cb, void *ud);

/* Sets the calibration (e.g. from a SetCalibration command). gain must be
 * finite and non-zero; returns 0 or -EINVAL. */
int alarm_point_set_calibration(alarm_point_t *p, double offset, double gain);

/* A good sample observed at device time ts_ms. `raw` is what the device
 * reported, `value` the engineering value before calibration. Returns the
 * corrected value; emits transitions through cb. */
double alarm_point_sample(alarm_point_t *p, int64_t ts_ms, double raw, double value,
                          alarm_emit_cb cb, void *ud);

/* A failed poll of this point at ts_ms (timeout, error). */
void alarm_point_fail(alarm_point_t *p, int64_t ts_ms, alarm_emit_cb cb, void *ud);

/* Time passes: finishes pending delays and checks staleness at now_ms. */
void alarm_point_tick(alarm_point_t *p, int64_t now_ms, alarm_emit_cb cb, void *ud);

/* The labels of p (a table row's), borrowed from p; *n receives their
 * count. */
Fm__Label **alarm_point_labels(const alarm_point_t *p, size_t *n);

/* Number of rules of p currently raised. */
size_t alarm_point_raised(const alarm_point_t *p);

/* Adds a record to st for every raised rule of p (alarm_state.h). */
void alarm_point_save(const alarm_point_t *p, struct alarm_state *st);

/* Starts the rule `code` of p raised since since_ms, as a saved state said
 * at start: no event now; the first evaluation that finds the condition
 * gone clears it after the rule's off-delay, one that finds it still there
 * says nothing. A restored `stale` rule stays raised until a good sample.
 * Returns 0, or -ENOENT when p has no rule of that code. */
int alarm_point_restore(alarm_point_t *p, const char *code, int64_t since_ms);

/* Device-level communication loss. Borrows cfg; copies device. */
alarm_comm_t *alarm_comm_create(const struct alarm_comm_cfg *cfg, const char *device);
void alarm_comm_destroy(alarm_comm_t *c);
void alarm_comm_set_cfg(alarm_comm_t *c, const struct alarm_comm_cfg *cfg);
/* The result of one poll of the whole device at ts_ms; reason is used in the
 * raise message ("timeout after 2 tries"), borrowed. */
void alarm_comm_poll(alarm_comm_t *c, bool ok, int64_t ts_ms, const char *reason, alarm_emit_cb cb,
                     void *ud);
bool alarm_comm_raised(const alarm_comm_t *c);
/* Adds c's comm_loss to st if it is raised. */
void alarm_comm_save(const alarm_comm_t *c, struct alarm_state *st);
/* Starts c raised since since_ms after `fails` failed polls (a saved state
 * at start): no event; clear_polls good polls clear it as usual. */
void alarm_comm_restore(alarm_comm_t *c, int64_t since_ms, uint64_t fails);

#endif
