/* edge_conf: configuration table (proto/fm_conf.h) of the agent's `status`
 * key (struct edge_status_cfg). The agent's root table embeds it next to
 * spool_cfg_schema (`spool`) and sender_cfg_schema (`sender`). */
#ifndef EDGE_CONF_H
#define EDGE_CONF_H

#include "uplink.h"
#include "fm_conf.h"

extern const struct fmc_schema edge_status_cfg_schema;

#endif
