/* report: report by exception, the last step of the threshold stage.
 *
 * Every polled value is calibrated and judged by the alarm rules (alarm.h);
 * then this module decides whether it goes on to the collector. One
 * report_state per series (device, point, table row) remembers the last
 * value SENT; a new value is sent when
 *   - the series has sent nothing yet (first value after start, or of a
 *     point that appears with a reload), or its device failed a poll since,
 *   - its quality changed (good -> timeout, timeout -> good, ...), or a
 *     counter's rate appeared or went,
 *   - a gauge (or counter) left the deadband of the last sent value:
 *     |v - sent| > deadband (0: any change), a counter with `rate` judged
 *     on its rate, by default against a percent of the last sent rate,
 *   - an enum, bool or text value changed at all,
 *   - the heartbeat is due: ts - sent_ts >= heartbeat,
 *   - the point reports every poll (`report.every_poll`),
 *   - it raised or cleared an alarm (alarm_sink.c forces it, before the
 *     transition).
 * A value not sent is held in the state (numbers and quality, no text), so
 * a transition that comes later from a tick or a failed poll can send it
 * first. Defaults per unit are in report_default_deadband, the one place
 * they are written (docs/agent.md, "Report by exception", prints them as a
 * table).
 *
 * Plain data, no allocation: callers embed the structs. Loop thread only. */
#ifndef REPORT_H
#define REPORT_H

#include "alarm.h"
#include "fieldmon.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A point's `report` map (profile), or one entry of a device's `report`
 * list (override of one point): see report_conf.c for the table. */
struct report_cfg {
    double deadband;     /* absolute, in the point's unit (unit/s for rate counters) */
    double deadband_pct; /* percent of the span (of the last sent rate for rate counters) */
    int64_t heartbeat_ms;
    bool every_poll;
    char **span; /* [lo, hi] as written; parsed into span_lo, span_hi */
    size_t n_span;
    /* Filled by report_conf_check: */
    unsigned given; /* REPORT_GIVEN_* of the keys the file wrote */
    double span_lo, span_hi;
    int line; /* 0: not written */
};

enum {
    REPORT_GIVEN_DEADBAND = 1u << 0,
    REPORT_GIVEN_PCT = 1u << 1,
    REPORT_GIVEN_HEARTBEAT = 1u << 2,
    REPORT_GIVEN_EVERY_POLL = 1u << 3,
    REPORT_GIVEN_SPAN = 1u << 4,
};

/* devices[].report[]: the override of one point of the device's profile. */
struct report_override {
    char *point;
    struct report_cfg r;
    int line;
};

enum report_mode {
    REPORT_MODE_DEADBAND, /* |v - sent| > deadband */
    REPORT_MODE_RELATIVE, /* |v - sent| > deadband x |sent| (rate counters' default) */
    REPORT_MODE_CHANGE,   /* enum, bool, text: any change of value or text */
    REPORT_MODE_EVERY,    /* every poll */
};

/* What a series is judged by, resolved from the configuration. */
struct report_rule {
    double deadband; /* absolute, or a fraction for REPORT_MODE_RELATIVE */
    int64_t heartbeat_ms;
    uint8_t mode; /* enum report_mode */
    bool on_rate; /* judge the counter's rate, not its value */
};

/* The memory of one series: the last value sent, and the last one held. */
struct report_state {
    int64_t sent_ms;
    double sent; /* value, or rate for on_rate */
    int64_t held_ms;
    double held_value, held_raw, held_rate;
    uint32_t sent_text; /* hash of the sent text (REPORT_MODE_CHANGE) */
    int8_t sent_quality, held_quality;
    uint8_t flags; /* REPORT__* (report.c) */
};

/* The deadband a point gets when its map says nothing, by unit: 0.2 for
 * degrees Celsius, 1 for %RH, % and V, 0.1 for A and Hz, power, energy,
 * pressure and duration units as the table in report.c says, 0 (any
 * change) for other units or none. */
double report_default_deadband(const char *unit);

/* The default deadband of a counter with `rate`, in percent of the last
 * sent rate. */
#define REPORT_RATE_PCT_DEFAULT 10.0

/* Resolves the rule of a series: the profile point's map `pt` with the
 * device's override `over` (NULL: none) on top, key by key. type is the
 * point's enum point_type (config.h), rate its `rate` key; alarm gives the
 * limits' span when neither map has one. Both maps borrowed. The
 * configuration was checked (report_conf_check): a percent deadband has a
 * span. */
void report_resolve(const struct report_cfg *pt, const struct report_cfg *over, int type,
                    const char *unit, bool rate, const struct alarm_cfg *alarm,
                    struct report_rule *out);

/* The span of the alarm limits (lowest to highest), when there are two
 * distinct ones; false otherwise. */
bool report_limits_span(const struct alarm_cfg *alarm, double *lo, double *hi);

/* Starts a series with nothing sent: its next value is sent. */
void report_state_init(struct report_state *st);

/* The series' device failed a poll: what it last sent may no longer be
 * what the collector believes current, so its next value is sent (a held
 * value stays held). */
void report_state_forget(struct report_state *st);

/* Judges m (borrowed), observed at ts_ms, against the last sent value.
 * Returns true when it is to be sent: the state then holds it as sent;
 * otherwise it is held (report_held). */
bool report_judge(const struct report_rule *r, struct report_state *st, int64_t ts_ms,
                  const Fm__Measurement *m);

/* m is sent after all (an alarm transition came with it): it becomes the
 * last value sent. */
void report_mark_sent(const struct report_rule *r, struct report_state *st, int64_t ts_ms,
                      const Fm__Measurement *m);

/* Whether a value polled after the last one sent is held back. */
bool report_held(const struct report_state *st);

/* Fills m's numbers and quality and *ts_ms with the held value (the
 * state keeps no text: it is the last one sent). Call only when
 * report_held; once m is sent, report_mark_sent. */
void report_get_held(const struct report_state *st, Fm__Measurement *m, int64_t *ts_ms);

#endif
