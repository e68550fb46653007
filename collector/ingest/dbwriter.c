/* dbwriter: see dbwriter.h. */
#include "dbwriter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbs.h"
#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fmw_arena.h"
#include "metrics.h"
#include "pg.h"

/* How long an idle writer waits for a job before it looks at partition
 * maintenance and its connection again. */
#define WRITER_IDLE_MS 1000

struct worker {
    dbw_t *w;
    unsigned idx;
    uv_thread_t tid;
    struct fmq_work q;     /* jobs from the loop */
    struct dbw_job *carry; /* taken, left for the next group (writer thread) */
    struct dbs db;
    int connected;
    unsigned failures; /* failed connects since the last success (writer thread) */
    bool lost;         /* the connection went; "connected again" is logged (writer thread) */
    bool holding;      /* jobs taken and not yet done (writer thread) */
    uint64_t next_maintenance_ms;
};

struct dbw {
    uv_loop_t *loop;
    struct fmq_loop done_q; /* results to the loop */
    const struct collconf_db *cfg;
    const char *collector_id;
    dbw_done_cb done;
    void *arg;
    unsigned n;
    struct worker *workers;
    struct pg_pace pace;  /* one back-off for every writer */
    size_t queued_events; /* loop thread only */
    /* When stopping: fail jobs still waiting for PostgreSQL. Written before
     * the queues are stopped, read by writers that saw them stopped. */
    uint64_t give_up_ms;
    atomic_uint connected;
    unsigned started; /* threads running (loop thread) */
    bool stopped, closed, free_on_close;
};

void dbw_job_free(struct dbw_job *job)
{
    if (job == NULL)
        return;
    fmw_arena_destroy(job->arena); /* holds job->env */
    free(job);
}

/* pg_retry: after a connect has succeeded, check the schema and register. */
static int writer_setup(void *arg, PGconn *conn, char *why, size_t whylen)
{
    struct worker *k = arg;
    int rc = dbs_attach(&k->db, conn);

    if (rc != 0)
        snprintf(why, whylen, "%s", k->db.why);
    return rc;
}

/* pg_retry: a failed attempt (of this writer: while PostgreSQL is down the
 * writers take turns, see pg_pace). The first of an outage is an error;
 * the rest are for debugging. After a stop, gives up at once when no job
 * waits, else at the end of the grace period. */
static bool writer_failed(void *arg, const char *why, int rc, uint64_t wait_ms)
{
    struct worker *k = arg;

    (void)rc;
    atomic_fetch_add(&metrics.db_errors, 1);
    if (k->failures++ == 0)
        FM_ERR("db: writer %u: %s; retrying with backoff up to %lld ms", k->idx, why,
               (long long)k->w->cfg->reconnect_max_ms);
    else
        FM_DEBUG("db: writer %u: %s; next attempt in %llu ms", k->idx, why,
                 (unsigned long long)wait_ms);
    /* Stopping: keep trying for the grace period only for jobs to finish. */
    if (fmq_work_stopped(&k->q) && ((!k->holding && k->carry == NULL && fmq_work_len(&k->q) == 0) ||
                                    fm_clock_mono_ms() >= k->w->give_up_ms))
        return false;
    atomic_fetch_add(&metrics.db_reconnects, 1);
    return true;
}

/* Connects, taking turns with the other writers on the collector's one
 * back-off (a stop cuts the wait short). Returns 0 when connected,
 * -ECANCELED when stopping and past the grace period. */
static int worker_connect(struct worker *k)
{
    dbw_t *w = k->w;
    struct pg_retry r = {
        .pace = &w->pace, .queue = &k->q, .setup = writer_setup, .failed = writer_failed, .arg = k};
    char why[512];

    if (k->connected)
        return 0;
    if (fmq_work_stopped(&k->q) && fm_clock_mono_ms() >= w->give_up_ms)
        return -ECANCELED;
    if (pg_connect_retry(w->cfg->dsn, DBS_APP, &r, why, sizeof(why)) == NULL)
        return -ECANCELED;
    k->connected = 1;
    atomic_fetch_add(&w->connected, 1);
    atomic_fetch_add(&metrics.db_connected, 1);
    /* Also after a loss without a failed attempt of its own: the writer
     * may have waited for another writer's probe. */
    if (k->failures > 0 || k->lost)
        FM_NOTICE("db: writer %u: connected again", k->idx);
    k->failures = 0;
    k->lost = false;
    return 0;
}

/* The writer's connection is gone (k->db.why says why): no longer counted
 * as connected. The gauge db_connected moves only here and in
 * worker_connect. */
static void worker_lost(struct worker *k)
{
    if (!k->connected)
        return;
    k->connected = 0;
    k->lost = true;
    atomic_fetch_sub(&k->w->connected, 1);
    atomic_fetch_sub(&metrics.db_connected, 1);
    FM_ERR("db: writer %u: connection lost: %s", k->idx, k->db.why);
}

/* An idle writer's look at its connection: PostgreSQL closes its end when
 * it stops, and a writer at rest would otherwise count a dead connection
 * as connected until its next job. */
static void worker_check(struct worker *k)
{
    if (k->connected && dbs_check(&k->db) != 0)
        worker_lost(k);
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
            metrics_observe(&metrics.txn_latency, (uv_hrtime() - t0) / 1000u);
            atomic_fetch_add(&metrics.transactions, 1);
            atomic_fetch_add(&metrics.batches_committed, n);
            atomic_fetch_add(&metrics.events_committed, applied);
            atomic_fetch_add(&metrics.events_duplicate, total - applied);
        }
        free(b);
    }
    if (rc != 0)
        atomic_fetch_add(&metrics.db_errors, 1);
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

    if (k->idx != 0 || !k->connected || fm_clock_mono_ms() < k->next_maintenance_ms)
        return;
    const struct dbs_retention ret = {(unsigned)c->partitions_ahead_days,
                                      (unsigned)c->retention_days, (unsigned)c->rollup_5m_days,
                                      (unsigned)c->rollup_1h_days};
    int rollups = 0;
    int rc = dbs_maintain(&k->db, &ret, &rollups);
    if (rc < 0) {
        FM_ERR("db: writer %u: %s", k->idx, k->db.why);
        if (dbs_lost(&k->db))
            worker_lost(k);
        k->next_maintenance_ms = fm_clock_mono_ms() + 60000;
        return;
    }
    if (rc > 0)
        FM_NOTICE("db: dropped %d measurement partition(s) older than %llu days", rc,
                  (unsigned long long)c->retention_days);
    if (rollups > 0)
        FM_NOTICE("db: dropped %d rollup partition(s) past their retention (5m: %llu days, 1h: "
                  "%llu days)",
                  rollups, (unsigned long long)c->rollup_5m_days,
                  (unsigned long long)c->rollup_1h_days);
    atomic_fetch_add(&metrics.partitions_dropped, (uint64_t)rc);
    atomic_fetch_add(&metrics.rollup_partitions_dropped, (uint64_t)rollups);
    k->next_maintenance_ms = fm_clock_mono_ms() + (uint64_t)c->maintenance_interval_ms;
}

/* The job carried over from the last group, else the next one queued,
 * waiting up to timeout_ms. */
static struct dbw_job *next_job(struct worker *k, uint64_t timeout_ms)
{
    struct dbw_job *j = k->carry;

    if (j != NULL) {
        k->carry = NULL;
        return j;
    }
    return (struct dbw_job *)fmq_work_take(&k->q, timeout_ms, 1);
}

/* Takes the next unit of work: one non-batch job, or consecutive batches up
 * to txn_max_events. Waits up to WRITER_IDLE_MS for the first job; when
 * batches trickle in, waits once up to txn_max_delay for another, to let a
 * transaction fill up a little. A job that does not fit is carried over. */
static size_t take(struct worker *k, struct dbw_job **out, size_t cap)
{
    const struct collconf_db *c = k->w->cfg;
    size_t n = 0, events = 0;
    bool waited = false;

    while (n < cap) {
        struct dbw_job *j = next_job(k, n == 0 ? WRITER_IDLE_MS : 0);

        if (j == NULL) {
            if (n == 0 || waited || events >= c->txn_max_events || c->txn_max_delay_ms <= 0 ||
                fmq_work_stopped(&k->q))
                break;
            waited = true;
            j = next_job(k, (uint64_t)c->txn_max_delay_ms);
            if (j == NULL)
                break;
        }
        if (n > 0 && (j->kind != DBW_BATCH || events + j->nevents > c->txn_max_events)) {
            k->carry = j;
            break;
        }
        out[n++] = j;
        events += j->nevents;
        if (j->kind != DBW_BATCH)
            break;
    }
    return n;
}

#define TAKE_MAX 4096

static void worker_main(void *arg)
{
    struct worker *k = arg;
    dbw_t *w = k->w;
    struct dbw_job **jobs = fm_xcalloc(TAKE_MAX, sizeof(*jobs));

    for (;;) {
        size_t n;

        /* Connected before the jobs come, also after an outage seen while
         * idle (jobs queue up meanwhile, as they would anyway). */
        worker_connect(k);
        maintain(k);
        n = take(k, jobs, TAKE_MAX);
        if (n == 0) {
            /* A stopped queue hands out what it holds first. */
            if (fmq_work_stopped(&k->q) && k->carry == NULL)
                break;
            worker_check(k);
            continue;
        }
        k->holding = true;
        run_jobs(k, jobs, n);
        k->holding = false;
        for (size_t i = 0; i < n; i++)
            fmq_loop_post(&w->done_q, &jobs[i]->node);
    }
    free(jobs);
    /* The connection closes with the thread, and stops being counted. */
    if (k->connected) {
        k->connected = 0;
        atomic_fetch_sub(&w->connected, 1);
        atomic_fetch_sub(&metrics.db_connected, 1);
    }
    PQfinish(k->db.pg);
    k->db.pg = NULL;
}

/* fmq_loop: one job done, on the loop. */
static void on_done(struct fmq_node *node, void *arg)
{
    dbw_t *w = arg;
    struct dbw_job *j = (struct dbw_job *)node;

    w->queued_events -= j->nevents;
    atomic_store(&metrics.queue_events, (int_fast64_t)w->queued_events);
    w->done(j, w->arg);
}

int dbw_create(uv_loop_t *loop, const struct collconf_db *cfg, const char *collector_id,
               dbw_done_cb done, void *arg, dbw_t **out)
{
    dbw_t *w = fm_xcalloc(1, sizeof(*w));
    unsigned i;
    int rc;

    w->loop = loop;
    w->cfg = cfg;
    w->collector_id = collector_id;
    w->done = done;
    w->arg = arg;
    w->n = (unsigned)cfg->workers;
    w->workers = fm_xcalloc(w->n, sizeof(*w->workers));
    rc = pg_pace_init(&w->pace, (uint64_t)cfg->reconnect_min_ms, (uint64_t)cfg->reconnect_max_ms);
    if (rc != 0) {
        free(w->workers);
        free(w);
        return rc;
    }
    for (i = 0; i < w->n; i++) {
        struct worker *k = &w->workers[i];

        k->w = w;
        k->idx = i;
        rc = fmq_work_init(&k->q);
        if (rc != 0)
            goto out_queues;
        dbs_init(&k->db, collector_id);
    }
    rc = fmq_loop_init(&w->done_q, loop, on_done, w);
    if (rc != 0)
        goto out_queues;
    *out = w;
    return 0;

out_queues:
    while (i-- > 0) {
        dbs_close(&w->workers[i].db);
        fmq_work_destroy(&w->workers[i].q);
    }
    pg_pace_destroy(&w->pace);
    free(w->workers);
    free(w);
    return rc;
}

int dbw_start(dbw_t *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        int rc = uv_thread_create(&w->workers[i].tid, worker_main, &w->workers[i]);

        if (rc != 0) {
            FM_ERR("db: start writer %u: %s", i, uv_strerror(rc));
            for (unsigned k = 0; k < w->n; k++)
                fmq_work_stop(&w->workers[k].q);
            for (unsigned k = 0; k < w->started; k++)
                uv_thread_join(&w->workers[k].tid);
            /* Joined: dbw_stop must not join them again. */
            w->started = 0;
            return rc;
        }
        w->started = i + 1;
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

    job->queued_us = uv_hrtime() / 1000u;
    w->queued_events += job->nevents;
    atomic_store(&metrics.queue_events, (int_fast64_t)w->queued_events);
    fmq_work_push(&k->q, &job->node);
}

size_t dbw_queued_events(const dbw_t *w)
{
    return w->queued_events;
}

unsigned dbw_connected(const dbw_t *w)
{
    return atomic_load(&((dbw_t *)w)->connected);
}

/* Hands a job the writers never ran back to the loop's callback. */
static void cancel(dbw_t *w, struct dbw_job *j)
{
    j->rc = -ECANCELED;
    snprintf(j->why, sizeof(j->why), "collector stopping");
    w->queued_events -= j->nevents;
    w->done(j, w->arg);
}

static void free_all(dbw_t *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        dbs_close(&w->workers[i].db);
        fmq_work_destroy(&w->workers[i].q);
    }
    pg_pace_destroy(&w->pace);
    free(w->workers);
    free(w);
}

static void on_closed(struct fmq_loop *q)
{
    dbw_t *w = q->arg;

    w->closed = true;
    if (w->free_on_close)
        free_all(w);
}

void dbw_stop(dbw_t *w, int64_t grace_ms)
{
    if (w->stopped)
        return;
    w->stopped = true;
    w->give_up_ms = fm_clock_mono_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
    for (unsigned i = 0; i < w->n; i++)
        fmq_work_stop(&w->workers[i].q);
    for (unsigned i = 0; i < w->started; i++)
        uv_thread_join(&w->workers[i].tid);
    w->started = 0;
    fmq_loop_drain(&w->done_q);
    /* Jobs a writer never took (threads that failed to start). */
    for (unsigned i = 0; i < w->n; i++) {
        struct worker *k = &w->workers[i];
        struct fmq_node *node, *next;

        if (k->carry != NULL)
            cancel(w, k->carry);
        k->carry = NULL;
        for (node = fmq_work_take(&k->q, 0, SIZE_MAX); node != NULL; node = next) {
            next = node->next;
            cancel(w, (struct dbw_job *)node);
        }
    }
    atomic_store(&metrics.queue_events, (int_fast64_t)w->queued_events);
    fmq_loop_close(&w->done_q, on_closed);
}

void dbw_destroy(dbw_t *w)
{
    if (w == NULL)
        return;
    if (w->closed)
        free_all(w);
    else
        w->free_on_close = true;
}
