/* sink_count: an event sink that serializes each event to protobuf, as the
 * spool does before writing it, and counts events and bytes; the bytes are
 * then dropped. `fieldmon-agent --cycles N --output count` uses it to
 * measure the poller without a collector (bench/agent-snmp). */
#ifndef AGENT_SINK_COUNT_H
#define AGENT_SINK_COUNT_H

#include "event_sink.h"

#include <stdint.h>

struct sink_count_stats {
    uint64_t events;
    uint64_t measurements;
    uint64_t bytes;
};

/* Returns a new sink; free with sink_count_destroy. */
event_sink_t *sink_count_create(void);
void sink_count_destroy(event_sink_t *sink);
const struct sink_count_stats *sink_count_stats(const event_sink_t *sink);

#endif
