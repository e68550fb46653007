/* reload: what fieldmon-collector does on SIGHUP.
 *
 * The configuration file is read again and checked as `-t` checks it (the
 * keys, the rules file, the contract file). A file that fails the check is
 * refused with the reason, and the running configuration stays. Otherwise
 * these change at once, without dropping a connection: log_level, every
 * `limits` key (new connections and frames from now on), the fault rules
 * (re-read even when the path is unchanged; the engine is rebuilt from
 * PostgreSQL, see faults_reload_rules), faults.agent_lost_after, the
 * maintenance windows (read again now), and the `sla` section (the contract
 * file is read again and the SLA runner restarted). Keys that need a
 * restart (listen, database, metrics, collector_id, schema_dir,
 * faults.enabled, faults.windows_reload) keep their running value, and each
 * one that differs is named in the log. Loop thread only. */
#ifndef RELOAD_H
#define RELOAD_H

#include <uv.h>

#include "collconf.h"
#include "faults.h"
#include "sla_run.h"

struct reload_target {
    uv_loop_t *loop;
    const char *path;     /* the configuration file */
    struct collconf *cfg; /* the running configuration, updated in place */
    faults_t *faults;     /* NULL when faults are disabled */
    sla_run_t **sla;      /* the running SLA runner (*sla NULL when none) */
};

/* Reloads; 0, or -EINVAL when the file was refused (logged). */
int reload_apply(const struct reload_target *t);

#endif
