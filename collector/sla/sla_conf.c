/* sla_conf: see sla_conf.h. */
#include "sla_conf.h"

#include <stddef.h>

static const struct fmc_field notify_fields[] = {
    {.key = "poll",
     .type = FMC_DURATION,
     .offset = offsetof(struct sla_conf_notify, poll_ms),
     .def = "1s",
     .min = 10,
     .max = 3600000,
     .doc = "how often the outbox is checked for due notifications (new ones go out at once)"},
    {.key = "backoff_min",
     .type = FMC_DURATION,
     .offset = offsetof(struct sla_conf_notify, backoff_min_ms),
     .def = "1s",
     .min = 10,
     .max = 3600000,
     .doc = "wait after a failed delivery; doubles with each further failure"},
    {.key = "backoff_max",
     .type = FMC_DURATION,
     .offset = offsetof(struct sla_conf_notify, backoff_max_ms),
     .def = "5m",
     .min = 10,
     .max = 86400000,
     .doc = "longest wait between delivery attempts"},
    {.key = "timeout",
     .type = FMC_DURATION,
     .offset = offsetof(struct sla_conf_notify, timeout_ms),
     .def = "10s",
     .min = 100,
     .max = 300000,
     .doc = "per webhook POST, connecting included"},
    {.key = "batch",
     .type = FMC_UINT,
     .offset = offsetof(struct sla_conf_notify, batch),
     .def = "32",
     .min = 1,
     .max = 1000,
     .doc = "notifications sent at once"},
    {0},
};
static const struct fmc_schema notify_schema = {"notify", sizeof(struct sla_conf_notify),
                                                notify_fields, FMC_NO_LINE};

static const struct fmc_field sla_fields[] = {
    {.key = "contracts",
     .type = FMC_STR,
     .offset = offsetof(struct sla_conf, contracts),
     .doc = "contract file (docs/contracts.md), e.g. /etc/fieldmon/contracts.yaml; unset: tickets "
            "get no deadlines, escalations or notifications"},
    {.key = "interval",
     .type = FMC_DURATION,
     .offset = offsetof(struct sla_conf, interval_ms),
     .def = "10s",
     .min = 100,
     .max = 300000,
     .doc = "how often tickets are read and ladder steps and breaches checked"},
    {.key = "notify",
     .type = FMC_MAP,
     .offset = offsetof(struct sla_conf, notify),
     .sub = &notify_schema,
     .doc = "webhook delivery (docs/notifications.md)"},
    {0},
};
const struct fmc_schema sla_conf_schema = {"sla", sizeof(struct sla_conf), sla_fields, FMC_NO_LINE};
