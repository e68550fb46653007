/* spool_conf: configuration table (proto/fm_conf.h) of the agent's `spool`
 * key (struct spool_cfg). The directory is the root key `spool_dir`; the
 * agent copies it into spool_cfg.dir after loading. Read-only data. */
#ifndef SPOOL_CONF_H
#define SPOOL_CONF_H

#include "fm_conf.h"
#include "spool.h"

extern const struct fmc_schema spool_cfg_schema;

#endif
