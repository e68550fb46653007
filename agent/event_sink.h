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

typedef struct event_sink event_sink_t;

struct event_sink {
    /* Borrows ev. Never fails from the producer's point of view: a sink
     * that cannot keep an event counts and logs the loss itself. */
    void (*emit)(event_sink_t *sink, const Fm__Event *ev);
};

static inline void event_sink_emit(event_sink_t *sink, const Fm__Event *ev)
{
    sink->emit(sink, ev);
}

#endif
