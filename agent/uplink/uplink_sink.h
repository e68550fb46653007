/* uplink_sink: the event_sink (event_sink.h) face of the uplink pipeline, so
 * pollers and the threshold stage can emit into the spool. */
#ifndef AGENT_EDGE_SINK_H
#define AGENT_EDGE_SINK_H

#include "uplink.h"
#include "event_sink.h"

/* Returns a sink emitting into e (borrowed). Free with uplink_sink_destroy. */
event_sink_t *uplink_sink_create(uplink_t *e);
void uplink_sink_destroy(event_sink_t *sink);

#endif
