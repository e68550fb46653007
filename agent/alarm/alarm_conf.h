/* alarm_conf: configuration tables (proto/fm_conf.h) for the threshold
 * engine. The agent's point schema embeds alarm_cfg_schema as an FMC_MAP
 * under the key `alarm`, its device schema alarm_comm_cfg_schema under
 * `comm_loss` and a sequence of alarm_calibration_schema under `calibration`. Read-only data; any
 * thread. */
#ifndef ALARM_CONF_H
#define ALARM_CONF_H

#include "alarm.h"
#include "fm_conf.h"

extern const struct fmc_schema alarm_cfg_schema;         /* struct alarm_cfg */
extern const struct fmc_schema alarm_comm_cfg_schema;    /* struct alarm_comm_cfg */
extern const struct fmc_schema alarm_calibration_schema; /* struct alarm_calibration */

#endif
