/* uplink_sink: see uplink_sink.h. */
#include "uplink_sink.h"

#include "fm_alloc.h"

#include <stdlib.h>

struct uplink_sink {
    event_sink_t sink; /* first: producers see only this */
    uplink_t *uplink;
};

static void on_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct uplink_sink *s = (struct uplink_sink *)sink;

    uplink_emit(s->uplink, ev);
}

struct durable {
    event_sink_done_cb done;
    void *ud;
};

static void on_spooled(int status, uint64_t seq, void *ud)
{
    struct durable d = *(struct durable *)ud;

    (void)seq;
    free(ud);
    d.done(status, d.ud);
}

static void on_emit_durable(event_sink_t *sink, const Fm__Event *ev, event_sink_done_cb done,
                            void *ud)
{
    struct uplink_sink *s = (struct uplink_sink *)sink;
    struct durable *d = fm_xmalloc(sizeof(*d));

    d->done = done;
    d->ud = ud;
    uplink_emit_cb(s->uplink, ev, on_spooled, d);
}

event_sink_t *uplink_sink_create(uplink_t *e)
{
    struct uplink_sink *s = fm_xcalloc(1, sizeof(*s));

    s->sink.emit = on_emit;
    s->sink.emit_durable = on_emit_durable;
    s->uplink = e;
    return &s->sink;
}

void uplink_sink_destroy(event_sink_t *sink)
{
    free(sink);
}
