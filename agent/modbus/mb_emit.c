/* mb_emit: a finished Modbus poll becomes Measurement events; see
 * mb_poll.h for what each outcome reports. */
#include "mb_decode.h"
#include "mb_poll_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static Fm__Quality quality_of(const struct mb_read_result *r)
{
    switch (r->status) {
    case MB_ST_EXCEPTION:
        return FM__QUALITY__QUALITY_DEVICE_ERROR;
    case MB_ST_TIMEOUT:
        return FM__QUALITY__QUALITY_TIMEOUT;
    case MB_ST_CRC:
    case MB_ST_PROTOCOL:
        return FM__QUALITY__QUALITY_DECODE_ERROR;
    default:
        return FM__QUALITY__QUALITY_COMM_LOSS;
    }
}

static void emit(struct mb__dev *d, Fm__Measurement *m, int64_t ts)
{
    Fm__Event ev = FM__EVENT__INIT;

    ev.ts_ms = ts;
    ev.device = d->cfg->name;
    ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
    ev.measurement = m;
    d->owner->stats.values++;
    event_sink_emit(d->owner->po.sink, &ev);
}

/* One measurement per named bit of a status word, labelled bit=NAME. */
static void emit_bits(struct mb__dev *d, const struct point_cfg *pt, const struct mb_value *v,
                      int64_t ts)
{
    for (size_t b = 0; b < pt->modbus.n_bits; b++) {
        Fm__Measurement m = FM__MEASUREMENT__INIT;
        Fm__Label lab = FM__LABEL__INIT;
        Fm__Label *labs[1] = {&lab};
        bool set = mb_decode_bit(v, pt->modbus.bit_no[b]);

        lab.key = "bit";
        lab.value = pt->modbus.bits[b].value;
        m.labels = labs;
        m.n_labels = 1;
        m.point = pt->name;
        m.quality = FM__QUALITY__QUALITY_GOOD;
        m.quality_detail = "";
        m.has_value = true;
        m.value = m.raw = set;
        m.text = set ? "true" : "false";
        m.unit = "";
        emit(d, &m, ts);
    }
}

static void emit_point(struct mb__dev *d, const struct point_cfg *pt, const uint16_t *words,
                       int64_t ts)
{
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    struct mb_value v;
    const char *t;

    m.point = pt->name;
    m.unit = pt->unit;
    m.quality_detail = "";
    m.text = "";
    if (mb_decode_value(pt->modbus.type, pt->modbus.order, (int)pt->modbus.bit, words,
                        pt->modbus.words, &v) != 0) {
        /* Cannot happen for a checked config: the plan covers the words. */
        m.quality = FM__QUALITY__QUALITY_DECODE_ERROR;
        m.quality_detail = "value does not fit its read";
        emit(d, &m, ts);
        return;
    }
    m.raw = v.raw;
    if (!isfinite(v.raw)) {
        /* Meters send NaN for "not available"; it is no reading. */
        m.quality = FM__QUALITY__QUALITY_DECODE_ERROR;
        m.quality_detail = isnan(v.raw) ? "not a number (NaN)" : "infinite";
        emit(d, &m, ts);
        return;
    }
    m.quality = FM__QUALITY__QUALITY_GOOD;
    m.has_value = true;
    m.value = mb_decode_scale(&v, pt->scale, pt->offset);
    if (pt->type == POINT_TYPE_ENUM) {
        t = config_enum_text(pt, v.i64);
        m.text = (char *)(t != NULL ? t : "");
    } else if (pt->type == POINT_TYPE_BOOL) {
        m.text = m.value != 0 ? "true" : "false";
    }
    emit(d, &m, ts);
    emit_bits(d, pt, &v, ts);
}

static void emit_failed(struct mb__dev *d, const struct point_cfg *pt,
                        const struct mb_read_result *r, int64_t ts)
{
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    char detail[128];

    m.point = pt->name;
    m.unit = pt->unit;
    m.text = "";
    m.quality = quality_of(r);
    m.quality_detail = (char *)mb_result_describe(r, detail, sizeof(detail));
    emit(d, &m, ts);
}

bool mb__emit(struct mb__dev *d)
{
    const struct profile_cfg *prof = d->cfg->prof;
    struct mb_poll_stats *st = &d->owner->stats;
    const struct mb_read_result *first_fail = NULL;
    bool answered = false;
    int64_t ts = d->job.observed_ms;

    for (size_t i = 0; i < d->plan.n_reads; i++) {
        const struct mb_read_result *r = &d->results[i];

        if (r->status != MB_ST_CANCELLED)
            st->requests++;
        if (r->status == MB_ST_OK)
            st->registers += d->plan.reads[i].count;
        if (r->status == MB_ST_OK || r->status == MB_ST_EXCEPTION)
            answered = true;
        else if (first_fail == NULL)
            first_fail = r;
    }
    if (!answered) {
        if (first_fail != NULL)
            mb_result_describe(first_fail, d->reason, sizeof(d->reason));
        else
            snprintf(d->reason, sizeof(d->reason), "no reads");
        return false;
    }
    for (size_t i = 0; i < prof->n_points; i++) {
        const struct point_cfg *pt = &prof->points[i];
        const struct mb_plan_slot *s = &d->plan.slots[i];
        const struct mb_read_result *r = &d->results[s->read];

        if (r->status == MB_ST_OK)
            emit_point(d, pt, d->data + d->off[s->read] + s->offset, ts);
        else if (r->status != MB_ST_CANCELLED)
            emit_failed(d, pt, r, ts);
    }
    return true;
}
