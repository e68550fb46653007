/* spool_conf: configuration table (proto/fm_conf.h) of the agent's `spool`
 * key (struct spool_cfg). Read-only data; any thread. */
#ifndef SPOOL_CONF_H
#define SPOOL_CONF_H

#include "fm_conf.h"
#include "spool.h"

extern const struct fmc_schema spool_cfg_schema;

#endif
