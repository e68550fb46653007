/* sink_count: see sink_count.h. */
#include "sink_count.h"

#include "fm_alloc.h"

#include <stdlib.h>

struct sink_count {
    event_sink_t base; /* first: the sink pointer is the object */
    struct sink_count_stats st;
    uint8_t *buf;
    size_t cap;
};

static void sink_count_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct sink_count *s = (struct sink_count *)sink;
    size_t n = fm__event__get_packed_size(ev);

    if (n > s->cap) {
        s->cap = n * 2;
        s->buf = fm_xrealloc(s->buf, s->cap);
    }
    s->st.bytes += fm__event__pack(ev, s->buf);
    s->st.events++;
    if (ev->kind_case == FM__EVENT__KIND_MEASUREMENT)
        s->st.measurements++;
}

event_sink_t *sink_count_create(void)
{
    struct sink_count *s = fm_xcalloc(1, sizeof(*s));

    s->base.emit = sink_count_emit;
    return &s->base;
}

void sink_count_destroy(event_sink_t *sink)
{
    struct sink_count *s = (struct sink_count *)sink;

    if (s == NULL)
        return;
    free(s->buf);
    free(s);
}

const struct sink_count_stats *sink_count_stats(const event_sink_t *sink)
{
    return &((const struct sink_count *)sink)->st;
}
