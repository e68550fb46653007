/* event_sink: where the agent's events go.
 *
 * Pollers and the trap receiver describe what they observed as protobuf
 * events (fm.Event of proto/fieldmon.proto: Measurement, Reachability, Trap,
 * ...) and hand each one to a sink. The sink borrows the event for the
 * duration of the call only: it must serialize or copy whatever it keeps,
 * so producers can build events on the stack from borrowed strings. Sequence
 * numbers are the sink's business (the spool assigns them); producers leave
 * seq at 0.
 *
 * Sinks in this folder: sink_json (one JSON object per line, --once),
 * sink_count (packs and counts, for --cycles measurements). The durable
 * spool is another implementation of the same interface. Called on the loop
 * thread only. */
#ifndef AGENT_EVENT_SINK_H
#define AGENT_EVENT_SINK_H

#include "fieldmon.pb-c.h"

#include <stdbool.h>

typedef struct event_sink event_sink_t;

/* Completion of emit_durable: status 0 once the event is durably kept (for
 * the spool: written to its segment file), or a negative errno. */
typedef void (*event_sink_done_cb)(int status, void *ud);

struct event_sink {
    /* Borrows ev. Never fails from the producer's point of view: a sink
     * that cannot keep an event counts and logs the loss itself. */
    void (*emit)(event_sink_t *sink, const Fm__Event *ev);
    /* Optional; NULL for sinks that keep nothing. Like emit, then calls
     * done on a later loop turn, once the event is durably kept or could
     * not be. The trap receiver acknowledges an SNMP inform only from done
     * with status 0, so an inform is never acknowledged for an event a
     * crash could lose. */
    void (*emit_durable)(event_sink_t *sink, const Fm__Event *ev, event_sink_done_cb done,
                         void *ud);
};

static inline void event_sink_emit(event_sink_t *sink, const Fm__Event *ev)
{
    sink->emit(sink, ev);
}

static inline bool event_sink_durable(const event_sink_t *sink)
{
    return sink->emit_durable != NULL;
}

#endif
