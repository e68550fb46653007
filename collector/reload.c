/* reload: SIGHUP for fieldmon-collector (see reload.h). */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_log.h"
#include "rules.h"

static bool str_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/* Names each key that needs a restart and differs; the running value
 * stays. */
static void warn_restart_keys(const struct collconf *run, const struct collconf *next)
{
    const struct {
        const char *key;
        bool differs;
    } keys[] = {
        {"collector_id", str_differs(run->collector_id, next->collector_id)},
        {"schema_dir", str_differs(run->schema_dir, next->schema_dir)},
        {"listen.address", str_differs(run->listen.address, next->listen.address)},
        {"listen.port", run->listen.port != next->listen.port},
        {"listen.transport", run->listen.transport != next->listen.transport},
        {"listen.cert", str_differs(run->listen.cert, next->listen.cert)},
        {"listen.key", str_differs(run->listen.key, next->listen.key)},
        {"listen.ca", str_differs(run->listen.ca, next->listen.ca)},
        {"database",
         str_differs(run->database.dsn, next->database.dsn) ||
             memcmp(&run->database.workers, &next->database.workers,
                    sizeof(run->database) - offsetof(struct collconf_db, workers)) != 0},
        {"metrics", run->metrics.enabled != next->metrics.enabled ||
                        run->metrics.port != next->metrics.port ||
                        str_differs(run->metrics.address, next->metrics.address)},
        {"faults.enabled", run->faults.enabled != next->faults.enabled},
        {"faults.windows_reload", run->faults.windows_reload_ms != next->faults.windows_reload_ms},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].differs)
            FM_WARN("collector: reload: %s changed: it takes effect at the next restart",
                    keys[i].key);
}

static void swap_str(char **a, char **b)
{
    char *t = *a;

    *a = *b;
    *b = t;
}

int reload_apply(const struct reload_target *t)
{
    struct collconf next = {0};
    struct rules_conf rules = {0};
    sla_run_t *sla = NULL;
    char err[1024];
    int rc = -EINVAL;

    FM_NOTICE("collector: SIGHUP: reloading %s", t->path);
    if (collconf_load(t->path, &next, err, sizeof(err)) != 0) {
        FM_ERR("collector: reload refused: %s; the running configuration stays", err);
        goto out;
    }
    if (t->faults && faults_load_rules(&next, &rules, err, sizeof(err)) != 0) {
        FM_ERR("collector: reload refused: %s: faults: %s; the running configuration stays",
               t->path, err);
        goto out;
    }
    if (next.sla.contracts != NULL &&
        sla_run_start(t->loop, &next.sla, t->cfg->database.dsn, &sla, err, sizeof(err)) != 0) {
        FM_ERR("collector: reload refused: %s: sla.contracts: %s; the running configuration stays",
               t->path, err);
        goto out;
    }
    /* Checked: apply. */
    warn_restart_keys(t->cfg, &next);
    fm_log_level = fm_log_parse_level(next.log_level);
    swap_str(&t->cfg->log_level, &next.log_level);
    t->cfg->limits = next.limits;
    t->cfg->faults.agent_lost_after_ms = next.faults.agent_lost_after_ms;
    swap_str(&t->cfg->faults.rules_file, &next.faults.rules_file);
    sla_run_stop(*t->sla);
    *t->sla = sla;
    swap_str(&t->cfg->sla.contracts, &next.sla.contracts);
    t->cfg->sla.interval_ms = next.sla.interval_ms;
    t->cfg->sla.notify = next.sla.notify;
    if (t->faults) {
        faults_reload_rules(t->faults, &rules);
        faults_reload_windows(t->faults);
    }
    FM_NOTICE("collector: reloaded %s", t->path);
    rc = 0;
out:
    rules_free(&rules);
    collconf_free(&next);
    return rc;
}
