/* sink_json: an event sink that writes each event as one JSON object per
 * line (jansson), for `fieldmon-agent --once` and for tests.
 *
 * Measurement lines: {"ts", "device", "event": "measurement", "point",
 * "labels": {..}, "value", "raw", "text", "unit", "quality", "detail",
 * "rate"}; keys whose value is absent are left out. Reachability and trap
 * events carry their own fields (docs/agent.md lists them). */
#ifndef AGENT_SINK_JSON_H
#define AGENT_SINK_JSON_H

#include "event_sink.h"

#include <jansson.h>
#include <stdio.h>

/* Returns a new sink writing to out (borrowed; must outlive the sink).
 * Free with sink_json_destroy. Lines are flushed as they are written. */
event_sink_t *sink_json_create(FILE *out);
void sink_json_destroy(event_sink_t *sink);

/* Returns the JSON object for ev (new reference), or NULL for an event kind
 * this sink does not know. */
json_t *sink_json_event(const Fm__Event *ev);

/* Lower-case name of a quality code ("good", "no_such_object", ...). */
const char *sink_json_quality_name(Fm__Quality q);

#endif
