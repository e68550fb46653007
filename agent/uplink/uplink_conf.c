/* uplink_conf: the `status` key of the agent configuration. */
#include "uplink_conf.h"

#include <stddef.h>

static const struct fmc_field status_fields[] = {
    {.key = "interval",
     .type = FMC_DURATION,
     .offset = offsetof(struct uplink_status_cfg, interval_ms),
     .def = "60s",
     .min = 1000,
     .max = 86400000,
     .doc = "period of AgentStatus events (spool depth, events/s, polls, "
            "reconnects, RSS)"},
    {.key = "metrics_listen",
     .type = FMC_STR,
     .offset = offsetof(struct uplink_status_cfg, metrics_listen),
     .def = "127.0.0.1:9464",
     .doc = "Prometheus text endpoint: HOST:PORT or unix:/absolute/path; empty: off"},
    {0},
};

const struct fmc_schema uplink_status_cfg_schema = {
    .name = "status",
    .size = sizeof(struct uplink_status_cfg),
    .fields = status_fields,
    .line_offset = FMC_NO_LINE,
};
