/* uplink_conf: configuration table (proto/fm_conf.h) of the agent's `status`
 * key (struct uplink_status_cfg). The agent's root table embeds it next to
 * spool_cfg_schema (`spool`) and sender_cfg_schema (`sender`). */
#ifndef UPLINK_CONF_H
#define UPLINK_CONF_H

#include "uplink.h"
#include "fm_conf.h"

extern const struct fmc_schema uplink_status_cfg_schema;

#endif
