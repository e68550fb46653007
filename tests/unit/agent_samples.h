/* Sample agent events shared by the agent's unit tests, seed generators
 * and benchmarks: a UPS battery-temperature measurement, or an on-battery
 * alarm transition. */
#ifndef AGENT_SAMPLES_H
#define AGENT_SAMPLES_H

#include "fmwire.h"

struct agent_sample {
    Fm__Event ev;
    Fm__Measurement m;
    Fm__AlarmTransition a;
    Fm__Label label, *row;
};

/* Fills s with a measurement of value v, or the alarm when alarm is set. */
static inline void agent_sample_init(struct agent_sample *s, double v, int alarm)
{
    fm__event__init(&s->ev);
    fm__measurement__init(&s->m);
    fm__alarm_transition__init(&s->a);
    s->ev.ts_ms = 1700000000000LL;
    s->ev.device = "ups1";
    if (alarm) {
        s->ev.kind_case = FM__EVENT__KIND_ALARM;
        s->ev.alarm = &s->a;
        s->a.code = "ups_on_battery";
        s->a.point = "upsOutputSource";
        s->a.state = FM__ALARM_STATE__ALARM_STATE_RAISED;
        s->a.level = FM__ALARM_LEVEL__ALARM_LEVEL_STATE;
        s->a.value = v;
    } else {
        s->ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
        s->ev.measurement = &s->m;
        s->m.point = "upsBatteryTemperature";
        s->m.value = v;
        s->m.has_value = 1;
        s->m.quality = FM__QUALITY__QUALITY_GOOD;
    }
}

/* Fills s with a good measurement v (raw v too) of device's point at ts,
 * of the table row labelled key=value when value is not NULL. Borrows the
 * strings. */
static inline void agent_sample_point(struct agent_sample *s, const char *device, const char *point,
                                      const char *key, const char *value, double v, int64_t ts)
{
    agent_sample_init(s, v, 0);
    s->ev.ts_ms = ts;
    s->ev.device = (char *)device;
    s->m.point = (char *)point;
    s->m.raw = v;
    if (value != NULL) {
        fm__label__init(&s->label);
        s->label.key = (char *)key;
        s->label.value = (char *)value;
        s->row = &s->label;
        s->m.labels = &s->row;
        s->m.n_labels = 1;
    }
}

#endif
