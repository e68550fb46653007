/* edge_sink: the event_sink (event_sink.h) face of the edge pipeline, so
 * pollers and the threshold stage can emit into the spool. */
#ifndef AGENT_EDGE_SINK_H
#define AGENT_EDGE_SINK_H

#include "uplink.h"
#include "event_sink.h"

/* Returns a sink emitting into e (borrowed). Free with edge_sink_destroy. */
event_sink_t *edge_sink_create(edge_t *e);
void edge_sink_destroy(event_sink_t *sink);

#endif
