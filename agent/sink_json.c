/* sink_json: see sink_json.h. */
#include "sink_json.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <math.h>
#include <stdlib.h>

struct sink_json {
    event_sink_t base; /* first: the sink pointer is the object */
    FILE *out;
    unsigned long failed_writes;
};

static const char *const quality_names[] = {
    [FM__QUALITY__QUALITY_UNSPECIFIED] = "unspecified",
    [FM__QUALITY__QUALITY_GOOD] = "good",
    [FM__QUALITY__QUALITY_NO_SUCH_OBJECT] = "no_such_object",
    [FM__QUALITY__QUALITY_NO_SUCH_INSTANCE] = "no_such_instance",
    [FM__QUALITY__QUALITY_END_OF_MIB_VIEW] = "end_of_mib_view",
    [FM__QUALITY__QUALITY_DEVICE_ERROR] = "device_error",
    [FM__QUALITY__QUALITY_TIMEOUT] = "timeout",
    [FM__QUALITY__QUALITY_DECODE_ERROR] = "decode_error",
    [FM__QUALITY__QUALITY_STALE] = "stale",
    [FM__QUALITY__QUALITY_OUT_OF_RANGE] = "out_of_range",
    [FM__QUALITY__QUALITY_COMM_LOSS] = "comm_loss",
};

const char *sink_json_quality_name(Fm__Quality q)
{
    if ((unsigned)q < sizeof(quality_names) / sizeof(quality_names[0]) && quality_names[q])
        return quality_names[q];
    return "unknown";
}

static json_t *labels_object(Fm__Label **labels, size_t n)
{
    json_t *o = json_object();

    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, labels[i]->key, json_string(labels[i]->value));
    return o;
}

/* JSON has no NaN or infinity; such a value is reported as null. */
static json_t *number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static void add_measurement(json_t *o, const Fm__Measurement *m)
{
    json_object_set_new(o, "event", json_string("measurement"));
    json_object_set_new(o, "point", json_string(m->point));
    json_object_set_new(o, "labels", labels_object(m->labels, m->n_labels));
    if (m->has_value) {
        json_object_set_new(o, "value", number(m->value));
        json_object_set_new(o, "raw", number(m->raw));
    } else {
        json_object_set_new(o, "value", json_null());
    }
    if (m->text != NULL && m->text[0] != '\0')
        json_object_set_new(o, "text", json_string(m->text));
    json_object_set_new(o, "unit", json_string(m->unit ? m->unit : ""));
    json_object_set_new(o, "quality", json_string(sink_json_quality_name(m->quality)));
    if (m->quality_detail != NULL && m->quality_detail[0] != '\0')
        json_object_set_new(o, "detail", json_string(m->quality_detail));
    if (m->has_rate)
        json_object_set_new(o, "rate", number(m->rate));
}

static void add_trap(json_t *o, const Fm__Trap *t)
{
    static const char *const states[] = {"", "raised", "cleared"};
    json_t *vbs = json_array();

    json_object_set_new(o, "event", json_string("trap"));
    json_object_set_new(o, "trap_oid", json_string(t->trap_oid));
    json_object_set_new(o, "source", json_string(t->source));
    json_object_set_new(o, "version", json_integer(t->snmp_version));
    json_object_set_new(o, "inform", json_boolean(t->inform));
    if (t->alarm_code != NULL && t->alarm_code[0] != '\0') {
        json_object_set_new(o, "alarm", json_string(t->alarm_code));
        if ((unsigned)t->alarm_state < 3 && t->alarm_state != 0)
            json_object_set_new(o, "alarm_state", json_string(states[t->alarm_state]));
    }
    for (size_t i = 0; i < t->n_varbinds; i++) {
        json_t *vb = json_object();

        json_object_set_new(vb, "oid", json_string(t->varbinds[i]->oid));
        json_object_set_new(vb, "type", json_string(t->varbinds[i]->type));
        json_object_set_new(vb, "value", json_string(t->varbinds[i]->value));
        json_array_append_new(vbs, vb);
    }
    json_object_set_new(o, "varbinds", vbs);
}

json_t *sink_json_event(const Fm__Event *ev)
{
    json_t *o = json_object();

    json_object_set_new(o, "ts", json_integer(ev->ts_ms));
    json_object_set_new(o, "device", json_string(ev->device ? ev->device : ""));
    switch (ev->kind_case) {
    case FM__EVENT__KIND_MEASUREMENT:
        add_measurement(o, ev->measurement);
        break;
    case FM__EVENT__KIND_REACHABILITY:
        json_object_set_new(o, "event", json_string("reachability"));
        json_object_set_new(o, "reachable", json_boolean(ev->reachability->reachable));
        json_object_set_new(o, "reason", json_string(ev->reachability->reason));
        json_object_set_new(o, "consecutive_failures",
                            json_integer(ev->reachability->consecutive_failures));
        break;
    case FM__EVENT__KIND_TRAP:
        add_trap(o, ev->trap);
        break;
    default:
        json_decref(o);
        return NULL;
    }
    return o;
}

static void sink_json_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct sink_json *s = (struct sink_json *)sink;
    json_t *o = sink_json_event(ev);

    if (o == NULL)
        return;
    /* Strings from devices may hold invalid UTF-8; jansson refuses those
     * (json_string returns NULL, set_new drops the key), so a line is
     * always valid JSON. */
    if (json_dumpf(o, s->out, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0 ||
        fputc('\n', s->out) == EOF || fflush(s->out) != 0) {
        if (s->failed_writes++ == 0)
            FM_ERR("sink_json: write failed: output closed or full");
    }
    json_decref(o);
}

event_sink_t *sink_json_create(FILE *out)
{
    struct sink_json *s = fm_xcalloc(1, sizeof(*s));

    s->base.emit = sink_json_emit;
    s->out = out;
    return &s->base;
}

void sink_json_destroy(event_sink_t *sink)
{
    free(sink);
}
