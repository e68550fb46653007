/* sink_count: see sink_count.h. */
#include "sink_count.h"

#include "fm_alloc.h"

#include <stdlib.h>

struct sink_count {
    event_sink_t base; /* first: the sink pointer is the object */
    struct sink_count_stats st;
};

static void sink_count_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct sink_count *s = (struct sink_count *)sink;

    s->st.events++;
    if (ev->kind_case == FM__EVENT__KIND_MEASUREMENT) {
        s->st.measurements++;
        s->st.good += ev->measurement->quality == FM__QUALITY__QUALITY_GOOD;
    }
}

event_sink_t *sink_count_create(void)
{
    struct sink_count *s = fm_xcalloc(1, sizeof(*s));

    s->base.emit = sink_count_emit;
    return &s->base;
}

void sink_count_destroy(event_sink_t *sink)
{
    free(sink);
}

const struct sink_count_stats *sink_count_stats(const event_sink_t *sink)
{
    return &((const struct sink_count *)sink)->st;
}
