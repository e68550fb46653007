/* sla_run: see sla_run.h. One round at a time: the timer starts a round
 * only when none is in flight, so the connection, the scheduler and the
 * round's result are used by one thread at a time (the round's thread
 * during a round, else the loop; the queues' hand-over orders the
 * accesses). */
#include "sla_run.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fm_queue.h"
#include "notify.h"
#include "pg.h"
#include "sla_sched.h"
#include "sla_sync.h"

struct sla_run {
    uv_loop_t *loop;
    char *dsn;
    PGconn *conn; /* round thread only */
    struct contract_set contracts;
    sla_sched_t *sched;
    sla_sync_t *sync;
    notify_t *notify;
    uv_timer_t timer;
    struct fmq_work work;    /* rounds to the thread */
    struct fmq_loop results; /* rounds done, and the thread's exit, back to the loop */
    struct fmq_node round;   /* the round in flight (one at a time) */
    struct fmq_node exited;  /* posted by the thread as it ends */
    uv_thread_t thread;
    bool busy, stopping, timer_closed, results_closed, thread_running, failing;
    int rc;
    char why[512];
    struct sla_sync_result res;
};

static int64_t wall_clock(void *arg)
{
    (void)arg;
    return fm_clock_wall_ms() / 1000;
}

static void maybe_free(sla_run_t *r)
{
    if (!r->stopping || r->thread_running || !r->timer_closed || !r->results_closed)
        return;
    fmq_work_destroy(&r->work);
    sla_sync_destroy(r->sync);
    sla_sched_destroy(r->sched);
    contract_set_free(&r->contracts);
    free(r->dsn);
    free(r);
}

/* Round thread. Connects when there is no connection (one attempt a
 * round: the interval is the back-off), then runs one sla_sync round. A
 * connection found gone is dropped, to be made again next round. */
static void round_work(sla_run_t *r)
{
    char why[400];

    r->why[0] = '\0';
    if (r->conn == NULL) {
        r->conn = pg_connect(r->dsn, "fieldmon-collector sla", why, sizeof(why));
        if (r->conn == NULL) {
            snprintf(r->why, sizeof(r->why), "connect: %s", why);
            r->rc = -ENOTCONN;
            return;
        }
    }
    r->rc = sla_sync_round(r->sync, r->conn, &r->res, r->why, sizeof(r->why));
    if (r->rc != 0 && PQstatus(r->conn) != CONNECTION_OK) {
        PQfinish(r->conn);
        r->conn = NULL;
    }
}

/* The round thread's body: a round for each push, until stopped. */
static void round_main(void *arg)
{
    sla_run_t *r = arg;
    struct fmq_node *node;

    while ((node = fmq_work_take(&r->work, UINT64_MAX, 1)) != NULL) {
        round_work(r);
        fmq_loop_post(&r->results, node);
    }
    PQfinish(r->conn);
    r->conn = NULL;
    fmq_loop_post(&r->results, &r->exited);
}

static void round_done(sla_run_t *r)
{
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
}

static void on_results_closed(struct fmq_loop *q)
{
    sla_run_t *r = q->arg;

    r->results_closed = true;
    maybe_free(r);
}

/* fmq_loop: a round done, or the thread gone. */
static void on_result(struct fmq_node *node, void *arg)
{
    sla_run_t *r = arg;

    if (node == &r->exited) {
        uv_thread_join(&r->thread);
        r->thread_running = false;
        fmq_loop_close(&r->results, on_results_closed);
        return;
    }
    round_done(r);
}

static void on_timer(uv_timer_t *t)
{
    sla_run_t *r = t->data;

    if (r->busy || r->stopping)
        return;
    r->busy = true;
    fmq_work_push(&r->work, &r->round);
}

int sla_run_start(uv_loop_t *loop, const struct sla_conf *cfg, const char *dsn, sla_run_t **out,
                  char *why, size_t whylen)
{
    sla_run_t *r = fm_xcalloc(1, sizeof(*r));
    int rc;

    rc = contract_set_load_file(cfg->contracts, &r->contracts, why, whylen);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->loop = loop;
    r->dsn = fm_xstrdup(dsn ? dsn : "");
    rc = notify_create(loop, r->dsn, &cfg->notify, &r->notify);
    if (rc != 0) {
        snprintf(why, whylen, "sla.notify: %s", strerror(-rc));
        goto out_contracts;
    }
    rc = fmq_work_init(&r->work);
    if (rc != 0) {
        snprintf(why, whylen, "round queue: %s", uv_strerror(rc));
        goto out_notify;
    }
    rc = fmq_loop_init(&r->results, loop, on_result, r);
    if (rc != 0) {
        snprintf(why, whylen, "results queue: %s", uv_strerror(rc));
        goto out_work;
    }
    r->sched = sla_sched_create(&r->contracts, wall_clock, NULL);
    r->sync = sla_sync_create(&r->contracts, r->sched);
    rc = uv_thread_create(&r->thread, round_main, r);
    if (rc != 0) {
        /* As with a failed allocation: a daemon without threads cannot go on. */
        FM_ERR("sla: start round thread: %s", uv_strerror(rc));
        abort();
    }
    r->thread_running = true;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timer, 0, (uint64_t)cfg->interval_ms);
    FM_NOTICE("sla: %zu contract(s) from %s; rounds every %lld ms", r->contracts.n_contracts,
              cfg->contracts, (long long)cfg->interval_ms);
    *out = r;
    return 0;

out_work:
    fmq_work_destroy(&r->work);
out_notify:
    /* The notifier frees itself once the loop has run its close callbacks. */
    notify_destroy(r->notify);
out_contracts:
    contract_set_free(&r->contracts);
    free(r->dsn);
    free(r);
    return rc;
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
    /* The thread finishes the round it holds, then says it has gone. */
    fmq_work_stop(&r->work);
}
