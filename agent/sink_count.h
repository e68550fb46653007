/* sink_count: an event sink that only counts events, by kind. With it,
 * `fieldmon-agent --cycles N --output count` measures the pollers alone,
 * without any event output, the way bench/agent-snmp measures collectd's
 * snmp plugin without a write plugin. (The spool's own cost is measured by
 * bench/agent_spool_bench.) */
#ifndef AGENT_SINK_COUNT_H
#define AGENT_SINK_COUNT_H

#include "event_sink.h"

#include <stdint.h>

struct sink_count_stats {
    uint64_t events;
    uint64_t measurements;
    uint64_t good; /* measurements of quality good */
};

/* Returns a new sink; free with sink_count_destroy (NULL does nothing). */
event_sink_t *sink_count_create(void);
void sink_count_destroy(event_sink_t *sink);
const struct sink_count_stats *sink_count_stats(const event_sink_t *sink);

#endif
