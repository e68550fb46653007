/* sender_conf: configuration table (proto/fm_conf.h) of the agent's
 * `sender` key (struct sender_cfg). Read-only data; any thread. */
#ifndef SENDER_CONF_H
#define SENDER_CONF_H

#include "fm_conf.h"
#include "sender.h"

extern const struct fmc_schema sender_cfg_schema;

#endif
