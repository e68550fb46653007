/* report_conf: configuration tables (proto/fm_conf.h) of report by
 * exception (report.h). The agent's point schema embeds report_cfg_schema
 * as an FMC_MAP under the key `report`, its device schema a sequence of
 * report_override_schema under `report`. The checks run from config.c's
 * check across keys, before the loop starts. */
#ifndef REPORT_CONF_H
#define REPORT_CONF_H

#include "fm_conf.h"
#include "report.h"

#include <stddef.h>

struct point_cfg;
struct device_cfg;

extern const struct fmc_schema report_cfg_schema;      /* struct report_cfg */
extern const struct fmc_schema report_override_schema; /* struct report_override */

/* Checks the `report` map of the profile point at path ("profiles[0].points[3]")
 * and records which keys it wrote: not both deadband keys, no deadband on
 * enum, bool and text points, a percent deadband only with a span (its own
 * or two alarm limits), span [lo, hi] with lo < hi. Returns 0 or -EINVAL
 * with "file:line: key: why" in err. */
int report_conf_check_point(const fmc_doc_t *doc, const char *path, struct point_cfg *pt, char *err,
                            size_t errlen);

/* Checks device di (its profile, index pi, resolved and checked) against
 * the report keys: a written heartbeat of its profile's points, and each
 * of its `report` entries (a point of the profile, once; the same rules as
 * above; a span from the entry or the point), is not below the device's
 * interval. Returns 0 or -EINVAL with the error in err. */
int report_conf_check_device(const fmc_doc_t *doc, size_t pi, struct device_cfg *d, size_t di,
                             char *err, size_t errlen);

#endif
