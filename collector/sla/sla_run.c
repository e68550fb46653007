/* sla_run: see sla_run.h. One round at a time: the timer starts a round
 * only when none is in flight, so the connection and the scheduler are used
 * by one thread at a time (the pool thread during a round, else nobody). */
#include "sla_run.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contract.h"
#include "fm_alloc.h"
#include "fm_log.h"
#include "notify.h"
#include "sla_sched.h"
#include "sla_sync.h"

struct sla_run {
    uv_loop_t *loop;
    char *dsn;
    PGconn *conn; /* pool thread only */
    struct contract_set contracts;
    sla_sched_t *sched;
    sla_sync_t *sync;
    notify_t *notify;
    uv_timer_t timer;
    uv_work_t work;
    bool busy, stopping, timer_closed, failing;
    int rc;
    char why[512];
    struct sla_sync_result res;
};

static int64_t wall_clock(void *arg)
{
    (void)arg;
    return (int64_t)time(NULL);
}

static void maybe_free(sla_run_t *r)
{
    if (!r->stopping || r->busy || !r->timer_closed)
        return;
    PQfinish(r->conn);
    sla_sync_destroy(r->sync);
    sla_sched_destroy(r->sched);
    contract_set_free(&r->contracts);
    free(r->dsn);
    free(r);
}

static void round_work(uv_work_t *w)
{
    sla_run_t *r = w->data;

    r->why[0] = '\0';
    if (r->conn == NULL || PQstatus(r->conn) != CONNECTION_OK) {
        if (r->conn == NULL)
            r->conn = PQconnectdb(r->dsn);
        else
            PQreset(r->conn);
        if (PQstatus(r->conn) != CONNECTION_OK) {
            snprintf(r->why, sizeof(r->why), "connect: %s", PQerrorMessage(r->conn));
            r->rc = -ECONNREFUSED;
            return;
        }
    }
    r->rc = sla_sync_round(r->sync, r->conn, &r->res, r->why, sizeof(r->why));
}

static void round_done(uv_work_t *w, int status)
{
    sla_run_t *r = w->data;

    (void)status;
    r->busy = false;
    if (r->rc != 0) {
        for (char *p = r->why; *p; p++) {
            if (*p == '\n')
                *p = ' ';
        }
        /* One line per outage, not per round. */
        if (!r->failing)
            FM_ERR("sla: %s; retrying every round", r->why);
        r->failing = true;
    } else {
        if (r->failing)
            FM_NOTICE("sla: database reachable again");
        r->failing = false;
        if (r->res.opened || r->res.finished || r->res.regraded || r->res.queued)
            FM_INFO("sla: round: %u clocks started, %u finished, %u grade changes, %u "
                    "escalations/breaches recorded",
                    r->res.opened, r->res.finished, r->res.regraded, r->res.queued);
        if (r->res.queued > 0 && !r->stopping)
            notify_kick(r->notify);
    }
    maybe_free(r);
}

static void on_timer(uv_timer_t *t)
{
    sla_run_t *r = t->data;

    if (r->busy || r->stopping)
        return;
    r->busy = true;
    r->work.data = r;
    if (uv_queue_work(r->loop, &r->work, round_work, round_done) != 0)
        r->busy = false;
}

int sla_run_start(uv_loop_t *loop, const struct sla_conf *cfg, const char *dsn, sla_run_t **out,
                  char *why, size_t whylen)
{
    struct notify_cfg ncfg;
    sla_run_t *r = fm_xcalloc(1, sizeof(*r));
    int rc;

    rc = contract_set_load_file(cfg->contracts, &r->contracts, why, whylen);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->loop = loop;
    r->dsn = fm_xstrdup(dsn ? dsn : "");
    notify_cfg_defaults(&ncfg);
    ncfg.dsn = r->dsn;
    ncfg.poll_ms = cfg->notify.poll_ms;
    ncfg.backoff_min_ms = cfg->notify.backoff_min_ms;
    ncfg.backoff_max_ms = cfg->notify.backoff_max_ms;
    ncfg.timeout_ms = cfg->notify.timeout_ms;
    ncfg.batch = (unsigned)cfg->notify.batch;
    rc = notify_create(loop, &ncfg, &r->notify);
    if (rc != 0) {
        snprintf(why, whylen, "sla.notify: %s", strerror(-rc));
        contract_set_free(&r->contracts);
        free(r->dsn);
        free(r);
        return rc;
    }
    r->sched = sla_sched_create(&r->contracts, wall_clock, NULL);
    r->sync = sla_sync_create(&r->contracts, r->sched);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timer, 0, (uint64_t)cfg->interval_ms);
    FM_NOTICE("sla: %zu contract(s) from %s; rounds every %lld ms", r->contracts.n_contracts,
              cfg->contracts, (long long)cfg->interval_ms);
    *out = r;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    sla_run_t *r = h->data;

    r->timer_closed = true;
    maybe_free(r);
}

void sla_run_stop(sla_run_t *r)
{
    if (r == NULL)
        return;
    r->stopping = true;
    notify_destroy(r->notify);
    r->notify = NULL;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
