/* edge_sink: see edge_sink.h. */
#include "uplink_sink.h"

#include "fm_alloc.h"

#include <stdlib.h>

struct edge_sink {
    event_sink_t sink; /* first: producers see only this */
    edge_t *edge;
};

static void on_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct edge_sink *s = (struct edge_sink *)sink;

    edge_emit(s->edge, ev);
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
    struct edge_sink *s = (struct edge_sink *)sink;
    struct durable *d = fm_xmalloc(sizeof(*d));

    d->done = done;
    d->ud = ud;
    edge_emit_cb(s->edge, ev, on_spooled, d);
}

event_sink_t *edge_sink_create(edge_t *e)
{
    struct edge_sink *s = fm_xcalloc(1, sizeof(*s));

    s->sink.emit = on_emit;
    s->sink.emit_durable = on_emit_durable;
    s->edge = e;
    return &s->sink;
}

void edge_sink_destroy(event_sink_t *sink)
{
    free(sink);
}
