/* notify: see notify.h.
 *
 * One round at a time, as a small state machine:
 *
 *   IDLE --(timer or kick)--> CLAIM (worker thread: claim due rows)
 *   CLAIM --> SEND (one POST per row, all at once on the loop)
 *   SEND --(last POST done)--> RECORD (worker thread: mark each row)
 *   RECORD --> IDLE, or CLAIM again at once if the batch was full.
 *
 * The database steps run on the notifier's own thread with its own
 * connection: the loop pushes the step (fmq_work), the thread runs it and
 * posts it back (fmq_loop). Keeping one round in flight means a row is never
 * both being sent and being claimed, and the rows are touched by one thread
 * at a time (the queues' hand-over orders the accesses). A failed step is
 * judged by pg_classify; a connection it finds gone is made again at the
 * next step, so a database outage costs one attempt per poll. */
#include "notify.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"
#include "fm_queue.h"
#include "notify_http.h"
#include "pg.h"

enum state { ST_IDLE, ST_CLAIM, ST_SEND, ST_RECORD };

struct notify;

struct row {
    struct notify *n;
    char *id, *key, *url, *body;
    int attempts;
    long status;
    char error[256];
};

struct notify {
    uv_loop_t *loop;
    struct sla_conf_notify cfg;
    char *dsn;
    PGconn *conn; /* worker thread only */
    notify_http_t *http;
    uv_timer_t timer;
    struct fmq_work work;    /* database steps to the worker */
    struct fmq_loop results; /* steps done, and the worker's exit, back to the loop */
    struct fmq_node step;    /* the step in flight (one at a time) */
    struct fmq_node exited;  /* posted by the worker as it ends */
    uv_thread_t thread;
    enum state state;
    bool kicked, destroying, timer_closed, db_failing;
    bool results_closed, thread_running;
    struct row *rows;
    size_t n_rows, sending;
    int work_rc;
    char work_err[256];
    struct notify_stats stats;
};

static void free_rows(notify_t *n)
{
    for (size_t i = 0; i < n->n_rows; i++) {
        free(n->rows[i].id);
        free(n->rows[i].key);
        free(n->rows[i].url);
        free(n->rows[i].body);
    }
    free(n->rows);
    n->rows = NULL;
    n->n_rows = 0;
}

static void maybe_free(notify_t *n)
{
    if (!n->destroying || n->thread_running || !n->timer_closed || !n->results_closed)
        return;
    free_rows(n);
    fmq_work_destroy(&n->work);
    free(n->dsn);
    free(n);
}

/* ------------------------------------------------------------ worker */

/* Worker thread. Connects first if there is no connection. */
static int ensure_conn(notify_t *n)
{
    char why[200];

    if (n->conn != NULL)
        return 0;
    n->conn = pg_connect(n->dsn, "fieldmon-collector notify", why, sizeof(why));
    if (n->conn == NULL) {
        snprintf(n->work_err, sizeof(n->work_err), "connect: %s", why);
        return -ENOTCONN;
    }
    return 0;
}

/* Worker thread. Records a failed statement's reason; a connection that
 * is gone is dropped, to be made again at the next step. */
static int step_fail(notify_t *n, PGresult *r, const char *what)
{
    enum pg_verdict v = pg_classify(n->conn, r, what, n->work_err, sizeof(n->work_err), NULL);

    PQclear(r);
    if (v == PG_RECONNECT) {
        PQfinish(n->conn);
        n->conn = NULL;
    }
    return pg_verdict_errno(v);
}

static char *dup_value(PGresult *r, int row, int col)
{
    return fm_xstrdup(PQgetvalue(r, row, col));
}

static void work_claim(notify_t *n)
{
    char batch[16], lease[32];
    const char *params[2] = {batch, lease};
    PGresult *r;

    n->work_rc = ensure_conn(n);
    if (n->work_rc != 0)
        return;
    snprintf(batch, sizeof(batch), "%llu", (unsigned long long)n->cfg.batch);
    snprintf(lease, sizeof(lease), "%lld", (long long)(n->cfg.timeout_ms + 5000));
    r = PQexecParams(n->conn,
                     "UPDATE notify_outbox o SET next_attempt_at = now() + $2::bigint * "
                     "interval '1 millisecond' FROM (SELECT id FROM notify_outbox "
                     "WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id "
                     "LIMIT $1::int FOR UPDATE SKIP LOCKED) due WHERE o.id = due.id "
                     "RETURNING o.id, o.idem_key, o.url, o.body::text, o.attempts",
                     2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        n->work_rc = step_fail(n, r, "claim");
        return;
    }
    n->n_rows = (size_t)PQntuples(r);
    n->rows = fm_xcalloc(n->n_rows ? n->n_rows : 1, sizeof(*n->rows));
    for (size_t i = 0; i < n->n_rows; i++) {
        n->rows[i].n = n;
        n->rows[i].id = dup_value(r, (int)i, 0);
        n->rows[i].key = dup_value(r, (int)i, 1);
        n->rows[i].url = dup_value(r, (int)i, 2);
        n->rows[i].body = dup_value(r, (int)i, 3);
        n->rows[i].attempts = atoi(PQgetvalue(r, (int)i, 4));
    }
    PQclear(r);
}

static void work_record(notify_t *n)
{
    char min[32], max[32];

    n->work_rc = ensure_conn(n);
    if (n->work_rc != 0)
        return;
    snprintf(min, sizeof(min), "%lld", (long long)n->cfg.backoff_min_ms);
    snprintf(max, sizeof(max), "%lld", (long long)n->cfg.backoff_max_ms);
    for (size_t i = 0; i < n->n_rows; i++) {
        struct row *row = &n->rows[i];
        bool ok = row->status >= 200 && row->status < 300;
        const char *params[4] = {row->id, row->error, min, max};
        PGresult *r;

        if (ok)
            r = PQexecParams(n->conn,
                             "UPDATE notify_outbox SET delivered_at = now(), attempts = "
                             "attempts + 1, last_error = NULL WHERE id = $1::bigint",
                             1, NULL, params, NULL, NULL, 0);
        else
            r = PQexecParams(n->conn,
                             "UPDATE notify_outbox SET attempts = attempts + 1, last_error = $2, "
                             "next_attempt_at = now() + least($4::float8, $3::float8 * "
                             "power(2, least(attempts, 40))) * interval '1 millisecond' "
                             "WHERE id = $1::bigint",
                             4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            n->work_rc = step_fail(n, r, "record");
            return;
        }
        PQclear(r);
    }
}

/* The worker's body: runs each step the loop pushes and hands it back;
 * ends when the queue is stopped and empty. */
static void worker_main(void *arg)
{
    notify_t *n = arg;
    struct fmq_node *node;

    while ((node = fmq_work_take(&n->work, UINT64_MAX, 1)) != NULL) {
        n->work_err[0] = '\0';
        if (n->state == ST_CLAIM)
            work_claim(n);
        else
            work_record(n);
        fmq_loop_post(&n->results, node);
    }
    PQfinish(n->conn);
    n->conn = NULL;
    fmq_loop_post(&n->results, &n->exited);
}

/* ------------------------------------------------------------ loop */

static void round_start(notify_t *n);

static void db_result(notify_t *n)
{
    if (n->work_rc == 0) {
        if (n->db_failing)
            FM_NOTICE("notify: outbox: database reachable again");
        n->db_failing = false;
        return;
    }
    n->stats.db_errors++;
    /* Log the first failure of a run of them, not every poll. */
    if (!n->db_failing) {
        FM_ERR("notify: outbox: %s; retrying every %lld ms", n->work_err,
               (long long)n->cfg.poll_ms);
    }
    n->db_failing = true;
}

static void after_record(notify_t *n)
{
    bool full = n->n_rows == n->cfg.batch;

    db_result(n);
    free_rows(n);
    n->state = ST_IDLE;
    if (n->destroying) {
        maybe_free(n);
        return;
    }
    if ((full && n->work_rc == 0) || n->kicked)
        round_start(n);
}

/* Hands the current state's database step to the worker. */
static void start_work(notify_t *n)
{
    fmq_work_push(&n->work, &n->step);
}

static void on_post_done(void *arg, long status, const char *error)
{
    struct row *row = arg;
    notify_t *n = row->n;

    row->status = status;
    if (status >= 200 && status < 300) {
        row->error[0] = '\0';
        n->stats.delivered++;
        FM_DEBUG("notify: %s: delivered %s", row->url, row->key);
    } else {
        if (status != 0)
            snprintf(row->error, sizeof(row->error), "HTTP status %ld", status);
        else
            snprintf(row->error, sizeof(row->error), "%s", error[0] ? error : "no answer");
        n->stats.failed++;
        FM_WARN("notify: %s: POST %s: %s (attempt %d; retried with backoff)", row->url, row->key,
                row->error, row->attempts + 1);
    }
    if (--n->sending == 0) {
        n->state = ST_RECORD;
        start_work(n);
    }
}

static void after_claim(notify_t *n)
{
    db_result(n);
    if (n->destroying) {
        maybe_free(n);
        return;
    }
    if (n->work_rc != 0 || n->n_rows == 0) {
        free_rows(n);
        n->state = ST_IDLE;
        if (n->work_rc == 0 && n->kicked)
            round_start(n);
        return;
    }
    n->state = ST_SEND;
    n->sending = n->n_rows;
    for (size_t i = 0; i < n->n_rows; i++) {
        struct row *row = &n->rows[i];
        int rc = notify_http_post(n->http, row->url, row->key, row->body, n->cfg.timeout_ms,
                                  on_post_done, row);

        if (rc != 0) {
            /* Counted as a failed attempt; its backoff applies. */
            snprintf(row->error, sizeof(row->error), "cannot start POST: %s", strerror(-rc));
            row->status = 0;
            n->stats.failed++;
            if (--n->sending == 0) {
                n->state = ST_RECORD;
                start_work(n);
            }
        }
    }
}

static void round_start(notify_t *n)
{
    n->kicked = false;
    if (n->state != ST_IDLE || n->destroying)
        return;
    n->state = ST_CLAIM;
    start_work(n);
}

static void on_timer(uv_timer_t *t)
{
    notify_t *n = t->data;

    if (n->state == ST_IDLE)
        round_start(n);
}

void notify_kick(notify_t *n)
{
    if (n->state == ST_IDLE)
        round_start(n);
    else
        n->kicked = true;
}

static void on_results_closed(struct fmq_loop *q)
{
    notify_t *n = q->arg;

    n->results_closed = true;
    maybe_free(n);
}

/* fmq_loop: a step done, or the worker gone. */
static void on_result(struct fmq_node *node, void *arg)
{
    notify_t *n = arg;

    if (node == &n->exited) {
        uv_thread_join(&n->thread);
        n->thread_running = false;
        fmq_loop_close(&n->results, on_results_closed);
        return;
    }
    if (n->state == ST_CLAIM)
        after_claim(n);
    else
        after_record(n);
}

int notify_create(uv_loop_t *loop, const char *dsn, const struct sla_conf_notify *cfg,
                  notify_t **out)
{
    notify_t *n;
    int rc;

    if (cfg->poll_ms < 1 || cfg->backoff_min_ms < 1 || cfg->backoff_max_ms < cfg->backoff_min_ms ||
        cfg->timeout_ms < 1 || cfg->batch < 1 || cfg->batch > 1000)
        return -EINVAL;
    n = fm_xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->cfg = *cfg;
    n->dsn = fm_xstrdup(dsn ? dsn : "");
    n->http = notify_http_create(loop);
    if (n->http == NULL) {
        rc = -ENOMEM;
        goto out_free;
    }
    rc = fmq_work_init(&n->work);
    if (rc != 0)
        goto out_http;
    rc = fmq_loop_init(&n->results, loop, on_result, n);
    if (rc != 0)
        goto out_work;
    rc = uv_thread_create(&n->thread, worker_main, n);
    if (rc != 0) {
        /* As with a failed allocation: a daemon without threads cannot go on. */
        FM_ERR("notify: start worker thread: %s", uv_strerror(rc));
        abort();
    }
    n->thread_running = true;
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    uv_timer_start(&n->timer, on_timer, 0, (uint64_t)cfg->poll_ms);
    *out = n;
    return 0;

out_work:
    fmq_work_destroy(&n->work);
out_http:
    notify_http_destroy(n->http);
out_free:
    free(n->dsn);
    free(n);
    return rc;
}

void notify_get_stats(const notify_t *n, struct notify_stats *st)
{
    *st = n->stats;
}

static void on_timer_closed(uv_handle_t *h)
{
    notify_t *n = h->data;

    n->timer_closed = true;
    maybe_free(n);
}

void notify_destroy(notify_t *n)
{
    if (n == NULL)
        return;
    n->destroying = true;
    /* POSTs in flight are abandoned; their rows stay leased until the
     * lease runs out and are then sent again under the same key. */
    notify_http_destroy(n->http);
    n->http = NULL;
    if (n->state == ST_SEND)
        n->state = ST_IDLE;
    uv_close((uv_handle_t *)&n->timer, on_timer_closed);
    /* The worker finishes the step it holds, then says it has gone. */
    fmq_work_stop(&n->work);
}
