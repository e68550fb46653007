/* dbwriter: see dbwriter.h. */
#include "dbwriter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbstore.h"
#include "fm_alloc.h"
#include "fm_log.h"
#include "fmw_arena.h"
#include "metrics.h"

struct worker {
    dbw_t *w;
    unsigned idx;
    uv_thread_t tid;
    uv_mutex_t mu; /* guards head/tail and the wait on cv */
    uv_cond_t cv;
    struct dbw_job *head, *tail;
    size_t queued_events;
    struct dbs db;
    int connected;
    uint64_t next_maintenance_ms;
};

struct dbw {
    uv_loop_t *loop;
    uv_async_t async;
    const struct collconf_db *cfg;
    const char *collector_id;
    dbw_done_cb done;
    void *arg;
    unsigned n;
    struct worker *workers;
    uv_mutex_t done_mu;
    struct dbw_job *done_head, *done_tail;
    size_t queued_events; /* loop thread only */
    atomic_int stopping;
    uint64_t give_up_ms; /* when stopping: fail jobs still waiting for PostgreSQL */
    atomic_uint connected;
    int started;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

void dbw_job_free(struct dbw_job *job)
{
    if (job == NULL)
        return;
    fmw_arena_destroy(job->arena); /* holds job->env */
    free(job);
}

/* Waits on the worker's condition for up to ms (or until signalled). */
static void worker_sleep(struct worker *k, uint64_t ms)
{
    uv_mutex_lock(&k->mu);
    if (!atomic_load(&k->w->stopping))
        uv_cond_timedwait(&k->cv, &k->mu, ms * 1000000u);
    uv_mutex_unlock(&k->mu);
}

/* Connects, with a doubling wait between failures. Returns 0 when connected,
 * -ECANCELED when stopping and past the grace period. */
static int worker_connect(struct worker *k)
{
    dbw_t *w = k->w;
    uint64_t wait = (uint64_t)w->cfg->reconnect_min_ms;
    int logged = 0;

    while (!k->connected) {
        if (atomic_load(&w->stopping) && now_ms() >= w->give_up_ms)
            return -ECANCELED;
        int rc = dbs_connect(&k->db, w->cfg->dsn);
        if (rc == 0) {
            k->connected = 1;
            atomic_fetch_add(&w->connected, 1);
            atomic_fetch_add(&cm.db_connected, 1);
            if (logged)
                FM_NOTICE("db: writer %u: connected again", k->idx);
            break;
        }
        atomic_fetch_add(&cm.db_errors, 1);
        if (!logged)
            FM_ERR("db: writer %u: %s; retrying with backoff up to %lld ms", k->idx, k->db.why,
                   (long long)w->cfg->reconnect_max_ms);
        else
            FM_DEBUG("db: writer %u: %s; retry in %llu ms", k->idx, k->db.why,
                     (unsigned long long)wait);
        logged = 1;
        atomic_fetch_add(&cm.db_reconnects, 1);
        worker_sleep(k, wait);
        wait = wait * 2 > (uint64_t)w->cfg->reconnect_max_ms ? (uint64_t)w->cfg->reconnect_max_ms
                                                             : wait * 2;
    }
    return 0;
}

static void worker_lost(struct worker *k)
{
    if (!k->connected)
        return;
    k->connected = 0;
    atomic_fetch_sub(&k->w->connected, 1);
    atomic_fetch_sub(&cm.db_connected, 1);
    FM_ERR("db: writer %u: connection lost: %s", k->idx, k->db.why);
}

/* Runs one job or a group of batches once. Returns 0, -ENOTCONN or -EIO. */
static int run_once(struct worker *k, struct dbw_job **jobs, size_t n)
{
    int rc;

    if (jobs[0]->kind == DBW_HELLO) {
        rc = dbs_hello(&k->db, jobs[0]->env->hello, jobs[0]->peer, &jobs[0]->committed_seq);
    } else if (jobs[0]->kind == DBW_BYE) {
        rc = dbs_bye(&k->db, jobs[0]->agent_id);
    } else {
        struct dbs_batch *b = fm_xcalloc(n, sizeof(*b));
        uint64_t t0 = uv_hrtime();

        for (size_t i = 0; i < n; i++) {
            b[i].agent_id = jobs[i]->agent_id;
            b[i].batch = jobs[i]->env->batch;
        }
        rc = dbs_write(&k->db, b, n);
        if (rc == 0) {
            uint64_t applied = 0, total = 0;

            for (size_t i = 0; i < n; i++) {
                jobs[i]->committed_seq = b[i].committed_seq;
                jobs[i]->applied = b[i].applied;
                applied += b[i].applied;
                total += jobs[i]->nevents;
            }
            cm_observe(&cm.txn_latency, (uv_hrtime() - t0) / 1000u);
            atomic_fetch_add(&cm.transactions, 1);
            atomic_fetch_add(&cm.batches_committed, n);
            atomic_fetch_add(&cm.events_committed, applied);
            atomic_fetch_add(&cm.events_duplicate, total - applied);
        }
        free(b);
    }
    if (rc != 0)
        atomic_fetch_add(&cm.db_errors, 1);
    return rc;
}

/* A batch may be applied only if every earlier batch of its connection
 * was: committing the next one would move the agent's high-water mark past
 * the events of the failed one, and they would never be stored. */
static bool chain_broken(struct dbw_job *j)
{
    if (j->chain == NULL || !j->chain->broken)
        return false;
    j->rc = -ECANCELED;
    snprintf(j->why, sizeof(j->why), "an earlier batch of this connection was not stored");
    return true;
}

/* Runs jobs until they are done: a lost connection is re-made and the same
 * jobs run again (nothing was committed); a statement error in a group is
 * narrowed down by running its jobs one by one, and a job failing alone is
 * handed back with its error and breaks its connection's chain. */
static void run_jobs(struct worker *k, struct dbw_job **all, size_t nall)
{
    struct dbw_job **jobs = fm_xcalloc(nall, sizeof(*jobs));
    size_t n = 0;

    for (size_t i = 0; i < nall; i++) {
        if (!chain_broken(all[i]))
            jobs[n++] = all[i];
    }
    while (n > 0) {
        if (worker_connect(k) != 0) {
            for (size_t i = 0; i < n; i++) {
                jobs[i]->rc = -ECANCELED;
                snprintf(jobs[i]->why, sizeof(jobs[i]->why),
                         "collector stopping and PostgreSQL unreachable");
            }
            break;
        }
        int rc = run_once(k, jobs, n);
        if (rc == 0)
            break;
        if (rc == -ENOTCONN) {
            worker_lost(k);
            continue;
        }
        if (rc == -EAGAIN) {
            FM_INFO("db: writer %u: %s; retrying", k->idx, k->db.why);
            continue;
        }
        if (n > 1) {
            FM_WARN("db: writer %u: transaction of %zu batches failed (%s); retrying one by one",
                    k->idx, n, k->db.why);
            for (size_t i = 0; i < n; i++)
                run_jobs(k, &jobs[i], 1);
            break;
        }
        jobs[0]->rc = -EIO;
        snprintf(jobs[0]->why, sizeof(jobs[0]->why), "%.250s", k->db.why);
        if (jobs[0]->chain)
            jobs[0]->chain->broken = true;
        break;
    }
    free(jobs);
}

static void maintain(struct worker *k)
{
    const struct collconf_db *c = k->w->cfg;

    if (k->idx != 0 || !k->connected || now_ms() < k->next_maintenance_ms)
        return;
    int rc = dbs_maintain(&k->db, (unsigned)c->partitions_ahead_days, (unsigned)c->retention_days);
    if (rc < 0) {
        FM_ERR("db: writer %u: %s", k->idx, k->db.why);
        if (dbs_lost(&k->db))
            worker_lost(k);
        k->next_maintenance_ms = now_ms() + 60000;
        return;
    }
    if (rc > 0)
        FM_NOTICE("db: dropped %d measurement partition(s) older than %llu days", rc,
                  (unsigned long long)c->retention_days);
    atomic_fetch_add(&cm.partitions_dropped, (uint64_t)rc);
    k->next_maintenance_ms = now_ms() + (uint64_t)c->maintenance_interval_ms;
}

/* Takes the next unit of work: one non-batch job, or consecutive batches up
 * to txn_max_events. Called with k->mu held. */
static size_t take(struct worker *k, struct dbw_job **out, size_t cap)
{
    size_t n = 0, events = 0;

    while (k->head && n < cap) {
        struct dbw_job *j = k->head;

        if (n > 0 && (j->kind != DBW_BATCH || events + j->nevents > k->w->cfg->txn_max_events))
            break;
        k->head = j->next;
        if (k->head == NULL)
            k->tail = NULL;
        j->next = NULL;
        k->queued_events -= j->nevents;
        out[n++] = j;
        events += j->nevents;
        if (j->kind != DBW_BATCH)
            break;
    }
    return n;
}

static void deliver(dbw_t *w, struct dbw_job **jobs, size_t n)
{
    uv_mutex_lock(&w->done_mu);
    for (size_t i = 0; i < n; i++) {
        if (w->done_tail)
            w->done_tail->next = jobs[i];
        else
            w->done_head = jobs[i];
        w->done_tail = jobs[i];
    }
    uv_mutex_unlock(&w->done_mu);
    uv_async_send(&w->async);
}

#define TAKE_MAX 4096

static void worker_main(void *arg)
{
    struct worker *k = arg;
    dbw_t *w = k->w;
    struct dbw_job **jobs = fm_xcalloc(TAKE_MAX, sizeof(*jobs));

    worker_connect(k);
    for (;;) {
        size_t n;

        maintain(k);
        uv_mutex_lock(&k->mu);
        if (k->head == NULL && !atomic_load(&w->stopping))
            uv_cond_timedwait(&k->cv, &k->mu, 1000u * 1000000u);
        /* Let a transaction fill up a little when batches trickle in. */
        if (k->head && k->queued_events < w->cfg->txn_max_events && w->cfg->txn_max_delay_ms > 0 &&
            !atomic_load(&w->stopping))
            uv_cond_timedwait(&k->cv, &k->mu, (uint64_t)w->cfg->txn_max_delay_ms * 1000000u);
        n = take(k, jobs, TAKE_MAX);
        int done = n == 0 && atomic_load(&w->stopping);
        uv_mutex_unlock(&k->mu);
        if (done)
            break;
        if (n == 0)
            continue;
        run_jobs(k, jobs, n);
        deliver(w, jobs, n);
    }
    free(jobs);
}

static void on_async(uv_async_t *a)
{
    dbw_t *w = a->data;
    struct dbw_job *list, *next;

    uv_mutex_lock(&w->done_mu);
    list = w->done_head;
    w->done_head = w->done_tail = NULL;
    uv_mutex_unlock(&w->done_mu);
    /* uv_async coalesces wakeups: drain everything that is there. */
    for (; list; list = next) {
        next = list->next;
        list->next = NULL;
        w->queued_events -= list->nevents;
        atomic_store(&cm.queue_events, (int_fast64_t)w->queued_events);
        w->done(list, w->arg);
    }
}

dbw_t *dbw_create(uv_loop_t *loop, const struct collconf_db *cfg, const char *collector_id,
                  dbw_done_cb done, void *arg)
{
    dbw_t *w = fm_xcalloc(1, sizeof(*w));

    w->loop = loop;
    w->cfg = cfg;
    w->collector_id = collector_id;
    w->done = done;
    w->arg = arg;
    w->n = (unsigned)cfg->workers;
    w->workers = fm_xcalloc(w->n, sizeof(*w->workers));
    uv_mutex_init(&w->done_mu);
    for (unsigned i = 0; i < w->n; i++) {
        struct worker *k = &w->workers[i];

        k->w = w;
        k->idx = i;
        uv_mutex_init(&k->mu);
        uv_cond_init(&k->cv);
        dbs_init(&k->db, collector_id);
    }
    uv_async_init(loop, &w->async, on_async);
    w->async.data = w;
    return w;
}

int dbw_start(dbw_t *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        int rc = uv_thread_create(&w->workers[i].tid, worker_main, &w->workers[i]);

        if (rc != 0) {
            FM_ERR("db: start writer %u: %s", i, uv_strerror(rc));
            atomic_store(&w->stopping, 1);
            for (unsigned k = 0; k < i; k++) {
                uv_cond_signal(&w->workers[k].cv);
                uv_thread_join(&w->workers[k].tid);
            }
            return rc;
        }
        w->started = (int)i + 1;
    }
    return 0;
}

static unsigned shard(const dbw_t *w, const char *agent_id)
{
    uint32_t h = 2166136261u;

    for (const char *p = agent_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % w->n;
}

void dbw_submit(dbw_t *w, struct dbw_job *job)
{
    struct worker *k = &w->workers[shard(w, job->agent_id)];

    job->next = NULL;
    job->queued_us = uv_hrtime() / 1000u;
    w->queued_events += job->nevents;
    atomic_store(&cm.queue_events, (int_fast64_t)w->queued_events);
    uv_mutex_lock(&k->mu);
    if (k->tail)
        k->tail->next = job;
    else
        k->head = job;
    k->tail = job;
    k->queued_events += job->nevents;
    uv_cond_signal(&k->cv);
    uv_mutex_unlock(&k->mu);
}

size_t dbw_queued_events(const dbw_t *w)
{
    return w->queued_events;
}

unsigned dbw_connected(const dbw_t *w)
{
    return atomic_load(&((dbw_t *)w)->connected);
}

void dbw_stop(dbw_t *w, int64_t grace_ms)
{
    w->give_up_ms = now_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
    atomic_store(&w->stopping, 1);
    for (int i = 0; i < w->started; i++) {
        uv_mutex_lock(&w->workers[i].mu);
        uv_cond_signal(&w->workers[i].cv);
        uv_mutex_unlock(&w->workers[i].mu);
        uv_thread_join(&w->workers[i].tid);
    }
    w->started = 0;
    on_async(&w->async);
    /* Jobs a writer never took (threads that failed to start). */
    for (unsigned i = 0; i < w->n; i++) {
        struct dbw_job *j, *next;

        for (j = w->workers[i].head; j; j = next) {
            next = j->next;
            j->rc = -ECANCELED;
            snprintf(j->why, sizeof(j->why), "collector stopping");
            w->queued_events -= j->nevents;
            w->done(j, w->arg);
        }
        w->workers[i].head = w->workers[i].tail = NULL;
    }
    uv_close((uv_handle_t *)&w->async, NULL);
}

void dbw_destroy(dbw_t *w)
{
    if (w == NULL)
        return;
    for (unsigned i = 0; i < w->n; i++) {
        dbs_close(&w->workers[i].db);
        uv_mutex_destroy(&w->workers[i].mu);
        uv_cond_destroy(&w->workers[i].cv);
    }
    uv_mutex_destroy(&w->done_mu);
    free(w->workers);
    free(w);
}
