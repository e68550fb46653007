/* daemon: fieldmon-agent's normal mode. Events go from the pollers through
 * the threshold stage (alarm_sink.h) into the spool and on to the
 * collectors (uplink.h).
 *
 * Signals:
 *   SIGHUP   loads the configuration file again. On an error the old
 *            configuration stays, with the file:line error logged. On
 *            success the poller is rebuilt on the new configuration, the
 *            threshold stage moves every point to its new rules keeping
 *            their state, and the uplink applies new sender, status and
 *            spool settings (a smaller spool cap at once); the spool's
 *            data and sequence are untouched, and a changed spool_dir
 *            refuses the reload. The alarm state (raised alarms, comm
 *            loss, unreachable devices) is kept too, and saved again
 *            without the devices that left the configuration.
 *            A replaced configuration is freed once the pollers and the
 *            trap receiver built on it are (closing handles and informs
 *            waiting for the spool may still borrow it until then).
 *   SIGTERM, SIGINT
 *            stops the poller, flushes and syncs the spool, says Goodbye to
 *            the collector, closes every handle and returns 0.
 *
 * The threshold stage keeps its state in ALARM_STATE_FILE beside the spool
 * segments (spool_dir, which the spool has created by then): loaded at
 * start, saved after every loop iteration with a transition
 * (alarm_sink_keep_state), so a restart, even after SIGKILL, sends the
 * clears and reachable events of what recovered while the agent was down. */
#include "daemon.h"

#include "alarm_sink.h"
#include "alarm_state.h"
#include "uplink_sink.h"
#include "inventory.h"
#include "mb_poll.h"
#include "snmp_poll.h"
#include "snmp_target.h"
#include "snmp_trap.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct daemon {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    const char *path;
    const char *log_level; /* command-line override, or NULL */
    struct agent_cfg *cfg;
    const struct agent_cfg *first_cfg; /* the caller's: never freed here */
    struct inventory *inv;
    unsigned retired;    /* replaced configurations not yet freed */
    unsigned generation; /* reloads applied */
    struct sender_identity id;
    uplink_t *uplink;
    event_sink_t *uplink_sink;
    alarm_sink_t *alarms;
    snmp_poll_t *poll;
    mb_poll_t *mpoll;
    uint64_t polls_ok, polls_failed; /* both pollers, for status */
    snmp_trap_t *trap;
    uint64_t traps_dropped;              /* sum over the drop reasons, for status */
    uint64_t meas_polled, meas_reported; /* the threshold stage's, for metrics */
    bool stopped;
};

static void refresh(void *arg)
{
    struct daemon *d = arg;

    d->polls_ok = snmp_poll_stats(d->poll)->polls.polls_ok;
    d->polls_failed = snmp_poll_stats(d->poll)->polls.polls_failed;
    if (d->mpoll != NULL) {
        d->polls_ok += mb_poll_stats(d->mpoll)->polls.polls_ok;
        d->polls_failed += mb_poll_stats(d->mpoll)->polls.polls_failed;
    }
    d->meas_polled = alarm_sink_stats(d->alarms)->polled;
    d->meas_reported = alarm_sink_stats(d->alarms)->reported;
    d->traps_dropped = 0;
    for (int i = 0; d->trap != NULL && i < TRAP_DROP_N; i++)
        d->traps_dropped += snmp_trap_stats(d->trap)->dropped[i];
}

static void identity(struct daemon *d)
{
    d->id.agent_id = d->cfg->agent_id;
    d->id.site_id = d->cfg->site;
    d->id.site_name = d->cfg->site_name;
    d->id.config_digest = d->inv->digest;
    d->id.inventory = &d->inv->inv;
}

static void on_outcome(const char *device, bool ok, int64_t ts_ms, const char *reason, void *arg)
{
    struct daemon *d = arg;

    alarm_sink_poll_result(d->alarms, device, ok, ts_ms, reason);
}

/* Commands from the collector: calibrations are applied; anything else is
 * refused with the reason. */
static int on_command(const Fm__Command *cmd, char *why, size_t whylen, void *ud)
{
    struct daemon *d = ud;

    if (cmd->kind_case == FM__COMMAND__KIND_SET_CALIBRATION) {
        const Fm__SetCalibration *c = cmd->set_calibration;
        return alarm_sink_set_calibration(d->alarms, c->device, c->point, c->offset, c->gain, why,
                                          whylen);
    }
    snprintf(why, whylen, "command not supported by this agent");
    return -ENOTSUP;
}

static int start_poller(struct daemon *d)
{
    int rc =
        snmp_poll_create(&d->loop, d->cfg, alarm_sink_as_sink(d->alarms), 0, NULL, NULL, &d->poll);
    struct uplink_counters c = {0};

    if (rc != 0)
        return rc;
    snmp_poll_set_outcome_cb(d->poll, on_outcome, d);
    snmp_trap_set_poller(d->trap, d->poll);
    if (mb_poll_count_devices(d->cfg) > 0) {
        rc = mb_poll_create(&d->loop, d->cfg, alarm_sink_as_sink(d->alarms), 0, NULL, NULL,
                            &d->mpoll);
        if (rc != 0) {
            snmp_trap_set_poller(d->trap, NULL);
            snmp_poll_destroy(d->poll);
            d->poll = NULL;
            return rc;
        }
        mb_poll_set_outcome_cb(d->mpoll, on_outcome, d);
    }
    c.polls_ok = &d->polls_ok;
    c.polls_failed = &d->polls_failed;
    c.traps_dropped = &d->traps_dropped;
    c.measurements_polled = &d->meas_polled;
    c.measurements_reported = &d->meas_reported;
    c.refresh = refresh;
    c.arg = d;
    uplink_set_counters(d->uplink, &c);
    snmp_poll_start(d->poll);
    if (d->mpoll != NULL)
        mb_poll_start(d->mpoll);
    return 0;
}

static void stop(struct daemon *d)
{
    if (d->stopped)
        return;
    d->stopped = true;
    uv_signal_stop(&d->sigint);
    uv_signal_stop(&d->sigterm);
    uv_signal_stop(&d->sighup);
    snmp_trap_set_poller(d->trap, NULL);
    snmp_poll_destroy(d->poll);
    d->poll = NULL;
    mb_poll_destroy(d->mpoll);
    d->mpoll = NULL;
    /* Write what is buffered while the trap receiver still exists, so the
     * informs waiting for it are acknowledged. */
    spool_flush(uplink_spool(d->uplink));
    snmp_trap_destroy(d->trap);
    d->trap = NULL;
    uplink_set_counters(d->uplink, NULL);
    sender_set_command_cb(uplink_sender(d->uplink), NULL, NULL);
    alarm_sink_destroy(d->alarms);
    d->alarms = NULL;
    uplink_stop(d->uplink, NULL, NULL);
    d->uplink = NULL;
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    FM_NOTICE("agent: signal %d: flushing the spool and shutting down", signum);
    stop(d);
}

/* A replaced configuration and its inventory, freed when the last object
 * built on it is. */
struct retired {
    struct daemon *d;
    struct agent_cfg *cfg; /* NULL when it is the caller's */
    struct inventory *inv;
    unsigned holders;
    unsigned generation;
};

static void retired_release(void *arg)
{
    struct retired *r = arg;

    if (--r->holders > 0)
        return;
    FM_INFO("agent: configuration %u released", r->generation);
    inventory_destroy(r->inv);
    if (r->cfg != NULL) {
        config_free(r->cfg);
        free(r->cfg);
    }
    r->d->retired--;
    free(r);
}

static void reload(struct daemon *d)
{
    struct agent_cfg *ncfg = fm_xcalloc(1, sizeof(*ncfg));
    struct inventory *ninv;
    char err[1024];

    if (config_load(d->path, ncfg, err, sizeof(err)) != 0) {
        FM_ERR("agent: reload refused, keeping the running configuration: %s", err);
        free(ncfg);
        return;
    }
    ninv = inventory_create(ncfg, d->path);
    /* The new identity must be complete before the uplink borrows it. */
    struct sender_identity old_id = d->id;
    struct agent_cfg *ocfg = d->cfg;
    struct inventory *oinv = d->inv;
    d->cfg = ncfg;
    d->inv = ninv;
    identity(d);
    if (uplink_reload(d->uplink, &ncfg->uplink, ncfg->collectors, ncfg->n_collectors, &d->id,
                      ninv->events_per_s) != 0) {
        FM_ERR("agent: reload refused, keeping the running configuration (see above)");
        d->cfg = ocfg;
        d->inv = oinv;
        d->id = old_id;
        inventory_destroy(ninv);
        config_free(ncfg);
        free(ncfg);
        return;
    }
    /* The old configuration lives until the objects built on it are freed;
     * the reload holds it too until it has handed everything over. */
    struct retired *r = fm_xcalloc(1, sizeof(*r));

    r->d = d;
    r->cfg = ocfg != d->first_cfg ? ocfg : NULL;
    r->inv = oinv;
    r->holders = 1;
    r->generation = d->generation++;
    d->retired++;
    snmp_trap_set_poller(d->trap, NULL);
    if (d->poll != NULL) {
        r->holders++;
        snmp_poll_set_freed_cb(d->poll, retired_release, r);
        snmp_poll_destroy(d->poll);
        d->poll = NULL;
    }
    if (d->mpoll != NULL) {
        r->holders++;
        mb_poll_set_freed_cb(d->mpoll, retired_release, r);
        mb_poll_destroy(d->mpoll);
        d->mpoll = NULL;
    }
    if (d->trap != NULL) {
        r->holders++;
        snmp_trap_set_freed_cb(d->trap, retired_release, r);
        snmp_trap_destroy(d->trap); /* informs in flight keep it alive */
        d->trap = NULL;
    }
    alarm_sink_reload(d->alarms, ncfg);
    retired_release(r);
    if (d->log_level == NULL)
        fm_log_level = fm_log_parse_level(ncfg->log_level);
    if (ncfg->trap_receiver.enabled &&
        snmp_trap_create(&d->loop, ncfg, alarm_sink_as_sink(d->alarms), &d->trap) != 0)
        FM_ERR("agent: reload: the trap receiver could not start; polling goes on without it");
    if (start_poller(d) != 0) {
        FM_ERR("agent: reload: the poller could not start on the new configuration; "
               "shutting down");
        stop(d);
        return;
    }
    FM_NOTICE("agent: configuration reloaded: %zu devices; spool and alarm state kept",
              ncfg->n_devices);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    reload(h->data);
}

int daemon_run(const char *path, struct agent_cfg *cfg, const char *log_level)
{
    struct daemon d;
    char state[PATH_MAX];
    int rc;

    memset(&d, 0, sizeof(d));
    d.path = path;
    d.log_level = log_level;
    d.cfg = cfg;
    d.first_cfg = cfg;
    if (cfg->n_collectors == 0) {
        FM_ERR("agent: %s: no collectors configured: nowhere to send events", path);
        return 2;
    }
    uv_loop_init(&d.loop);
    d.inv = inventory_create(cfg, path);
    identity(&d);
    rc = uplink_create(&d.loop, &cfg->uplink, cfg->collectors, cfg->n_collectors, &d.id,
                       d.inv->events_per_s, &d.uplink);
    if (rc != 0)
        goto out_inv;
    d.uplink_sink = uplink_sink_create(d.uplink);
    d.alarms = alarm_sink_create(&d.loop, cfg, d.uplink_sink);
    sender_set_command_cb(uplink_sender(d.uplink), on_command, &d);
    uplink_start(d.uplink, NULL);
    snprintf(state, sizeof(state), "%s/%s", cfg->spool_dir, ALARM_STATE_FILE);
    alarm_sink_keep_state(d.alarms, state);
    if (cfg->trap_receiver.enabled &&
        snmp_trap_create(&d.loop, cfg, alarm_sink_as_sink(d.alarms), &d.trap) != 0) {
        stop(&d);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        rc = 1;
        goto out_loop;
    }
    rc = start_poller(&d);
    if (rc != 0) {
        stop(&d);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        rc = 1;
        goto out_loop;
    }
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sighup);
    d.sigint.data = d.sigterm.data = d.sighup.data = &d;
    uv_signal_start(&d.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&d.sighup, on_hup, SIGHUP);
    FM_INFO("agent: %s: polling %zu devices, sending to %zu collector endpoint(s)", cfg->agent_id,
            cfg->n_devices, cfg->n_collectors);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&d.sigint, NULL);
    uv_close((uv_handle_t *)&d.sigterm, NULL);
    uv_close((uv_handle_t *)&d.sighup, NULL);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    rc = 0;
out_loop:
    uplink_sink_destroy(d.uplink_sink);
out_inv:
    uv_loop_close(&d.loop);
    snmp_target_shutdown();
    inventory_destroy(d.inv);
    /* The loop ran until it was empty: every replaced configuration has
     * been released. The caller frees the first one; reloads were ours. */
    if (d.retired != 0)
        FM_ERR("agent: internal: %u replaced configurations never released", d.retired);
    if (d.cfg != cfg) {
        config_free(d.cfg);
        free(d.cfg);
    }
    return rc;
}
