/* sla_conf: the `sla` section of the collector's configuration (contract
 * clocks and webhook notifications), as a key table that collconf embeds. */
#ifndef SLA_CONF_H
#define SLA_CONF_H

#include <stdint.h>

#include "fm_conf.h"

struct sla_conf_notify {
    int64_t poll_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t timeout_ms;
    uint64_t batch;
};

struct sla_conf {
    char *contracts;     /* contract file; NULL: no contract clocks */
    int64_t interval_ms; /* scheduler round */
    struct sla_conf_notify notify;
};

extern const struct fmc_schema sla_conf_schema;

#endif
