/* report: see report.h. */
#include "report.h"

#include "config.h"

#include <math.h>
#include <string.h>

enum {
    REPORT__SENT = 1u << 0,      /* something was sent: sent_* are valid */
    REPORT__HAS_VALUE = 1u << 1, /* the last value sent had a value (or a rate, on_rate) */
    REPORT__HELD = 1u << 2,      /* a value after the last one sent was held back */
    REPORT__HELD_VALUE = 1u << 3,
    REPORT__HELD_RATE = 1u << 4,
};

/* The defaults by unit, the one place they are written. A unit that is not
 * here gets 0: every change is sent, and the heartbeat alone saves rows
 * for values that do not move. */
static const struct {
    const char *const names[5];
    double deadband;
} unit_defaults[] = {
    {{"C", "degC", "°C", "celsius", NULL}, 0.2},
    {{"%RH", "%rh", "RH", "percentRH", NULL}, 1.0},
    {{"%", NULL}, 1.0},
    {{"V", NULL}, 1.0},
    {{"A", NULL}, 0.1},
    {{"Hz", NULL}, 0.1},
    /* Power and energy: steps a meter's own accuracy class (1 %) hides on
     * the loads of a machine room or a floor's distribution board. */
    {{"W", "VA", "var", NULL}, 10.0},
    {{"kW", "kVA", "kvar", NULL}, 0.1},
    {{"Wh", NULL}, 100.0},
    {{"kWh", "kVAh", "kvarh", NULL}, 1.0},
    /* Air and water pressure of filters, ducts and chilled-water loops. */
    {{"Pa", NULL}, 5.0},
    {{"kPa", NULL}, 0.5},
    {{"bar", NULL}, 0.05},
    /* Durations and run-time counters (uptime, time on battery, run
     * hours): a clock that keeps counting is seen every minute or hour,
     * and a restart (a fall to zero) at once. */
    {{"s", NULL}, 60.0},
    {{"min", NULL}, 1.0},
    {{"h", NULL}, 1.0},
};

double report_default_deadband(const char *unit)
{
    for (size_t i = 0; unit != NULL && i < sizeof(unit_defaults) / sizeof(unit_defaults[0]); i++) {
        for (const char *const *n = unit_defaults[i].names; *n != NULL; n++) {
            if (strcmp(unit, *n) == 0)
                return unit_defaults[i].deadband;
        }
    }
    return 0.0;
}

bool report_limits_span(const struct alarm_cfg *alarm, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY;

    for (size_t i = 0; i < alarm->n_limits; i++) {
        l = fmin(l, alarm->limits[i].value);
        h = fmax(h, alarm->limits[i].value);
    }
    if (!(h > l))
        return false;
    *lo = l;
    *hi = h;
    return true;
}

/* The deadband keys of the override, when it wrote one, else the point's:
 * a deadband and a percent one never mix. */
static const struct report_cfg *deadband_source(const struct report_cfg *pt,
                                                const struct report_cfg *over)
{
    if (over != NULL && (over->given & (REPORT_GIVEN_DEADBAND | REPORT_GIVEN_PCT)))
        return over;
    return pt;
}

void report_resolve(const struct report_cfg *pt, const struct report_cfg *over, int type,
                    const char *unit, bool rate, const struct alarm_cfg *alarm,
                    struct report_rule *out)
{
    const struct report_cfg *db = deadband_source(pt, over);
    bool every =
        over != NULL && (over->given & REPORT_GIVEN_EVERY_POLL) ? over->every_poll : pt->every_poll;
    double lo = 0, hi = 0;

    memset(out, 0, sizeof(*out));
    out->heartbeat_ms = over != NULL && (over->given & REPORT_GIVEN_HEARTBEAT) ? over->heartbeat_ms
                                                                               : pt->heartbeat_ms;
    out->on_rate = rate;
    out->mode = REPORT_MODE_DEADBAND;
    if (every) {
        out->mode = REPORT_MODE_EVERY;
    } else if (type == POINT_TYPE_ENUM || type == POINT_TYPE_BOOL || type == POINT_TYPE_TEXT) {
        out->mode = REPORT_MODE_CHANGE;
    } else if (db->given & REPORT_GIVEN_DEADBAND) {
        out->deadband = db->deadband;
    } else if (rate) {
        out->mode = REPORT_MODE_RELATIVE;
        out->deadband =
            ((db->given & REPORT_GIVEN_PCT) ? db->deadband_pct : REPORT_RATE_PCT_DEFAULT) / 100.0;
    } else if (db->given & REPORT_GIVEN_PCT) {
        if (over != NULL && (over->given & REPORT_GIVEN_SPAN)) {
            lo = over->span_lo;
            hi = over->span_hi;
        } else if (pt->given & REPORT_GIVEN_SPAN) {
            lo = pt->span_lo;
            hi = pt->span_hi;
        } else {
            report_limits_span(alarm, &lo, &hi);
        }
        out->deadband = db->deadband_pct / 100.0 * (hi - lo);
    } else {
        out->deadband = report_default_deadband(unit);
    }
}

void report_state_init(struct report_state *st)
{
    memset(st, 0, sizeof(*st));
}

void report_state_forget(struct report_state *st)
{
    st->flags &= (uint8_t)~REPORT__SENT;
}

/* FNV-1a, 32 bits: enough to see that a text changed, in 4 bytes. */
static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; s != NULL && *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The number a series is judged on, and whether the measurement has it. */
static bool judged(const struct report_rule *r, const Fm__Measurement *m, double *v)
{
    bool good = m->quality == FM__QUALITY__QUALITY_GOOD;

    if (r->on_rate) {
        *v = m->rate;
        return good && m->has_rate;
    }
    *v = m->value;
    return good && m->has_value;
}

/* Whether v is outside the deadband of the last value sent. Scaled values
 * carry rounding (23.8 - 23.6 is 0.2000000000000028), so a difference
 * within 1e-9 of the values' size counts as the deadband itself: a change
 * of exactly the deadband is never enough. */
static bool moved(const struct report_rule *r, const struct report_state *st, double v)
{
    double d = fabs(v - st->sent), slack = 1e-9 * fmax(fabs(v), fabs(st->sent));

    if (isnan(v) || isnan(st->sent))
        return isnan(v) != isnan(st->sent);
    switch (r->mode) {
    case REPORT_MODE_RELATIVE:
        return d > r->deadband * fabs(st->sent) + slack || (st->sent == 0 && v != 0);
    case REPORT_MODE_CHANGE:
        return v != st->sent;
    default:
        return r->deadband == 0 ? v != st->sent : d > r->deadband + slack;
    }
}

static bool wanted(const struct report_rule *r, const struct report_state *st, int64_t ts_ms,
                   const Fm__Measurement *m)
{
    double v;
    bool has = judged(r, m, &v);

    if (r->mode == REPORT_MODE_EVERY || !(st->flags & REPORT__SENT))
        return true;
    if ((int8_t)m->quality != st->sent_quality || has != ((st->flags & REPORT__HAS_VALUE) != 0))
        return true;
    if (ts_ms - st->sent_ms >= r->heartbeat_ms)
        return true;
    if (r->mode == REPORT_MODE_CHANGE && text_hash(m->text) != st->sent_text)
        return true;
    return has && moved(r, st, v);
}

void report_mark_sent(const struct report_rule *r, struct report_state *st, int64_t ts_ms,
                      const Fm__Measurement *m)
{
    double v;
    bool has = judged(r, m, &v);

    st->sent_ms = ts_ms;
    st->sent = has ? v : 0;
    st->sent_quality = (int8_t)m->quality;
    st->sent_text = r->mode == REPORT_MODE_CHANGE ? text_hash(m->text) : 0;
    st->flags = REPORT__SENT | (has ? REPORT__HAS_VALUE : 0);
}

bool report_judge(const struct report_rule *r, struct report_state *st, int64_t ts_ms,
                  const Fm__Measurement *m)
{
    if (wanted(r, st, ts_ms, m)) {
        report_mark_sent(r, st, ts_ms, m);
        return true;
    }
    st->held_ms = ts_ms;
    st->held_value = m->value;
    st->held_raw = m->raw;
    st->held_rate = m->rate;
    st->held_quality = (int8_t)m->quality;
    st->flags =
        (uint8_t)((st->flags & (REPORT__SENT | REPORT__HAS_VALUE)) | REPORT__HELD |
                  (m->has_value ? REPORT__HELD_VALUE : 0) | (m->has_rate ? REPORT__HELD_RATE : 0));
    return false;
}

bool report_held(const struct report_state *st)
{
    return (st->flags & REPORT__HELD) != 0;
}

void report_get_held(const struct report_state *st, Fm__Measurement *m, int64_t *ts_ms)
{
    m->value = st->held_value;
    m->raw = st->held_raw;
    m->has_value = (st->flags & REPORT__HELD_VALUE) != 0;
    m->rate = st->held_rate;
    m->has_rate = (st->flags & REPORT__HELD_RATE) != 0;
    m->quality = st->held_quality;
    *ts_ms = st->held_ms;
}
