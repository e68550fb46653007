/* notify: see notify.h.
 *
 * One round at a time, as a small state machine:
 *
 *   IDLE --(timer or kick)--> CLAIM (thread pool: claim due rows)
 *   CLAIM --> SEND (one POST per row, all at once on the loop)
 *   SEND --(last POST done)--> RECORD (thread pool: mark each row)
 *   RECORD --> IDLE, or CLAIM again at once if the batch was full.
 *
 * Keeping one round in flight means the connection is used by one thread at
 * a time, and a row is never both being sent and being claimed. */
#include "notify.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"
#include "notify_http.h"

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
    struct notify_cfg cfg;
    char *dsn;
    PGconn *conn; /* used only inside the thread-pool work */
    notify_http_t *http;
    uv_timer_t timer;
    uv_work_t work;
    enum state state;
    bool kicked, destroying, work_running, timer_closed, db_failing;
    struct row *rows;
    size_t n_rows, sending;
    int work_rc;
    char work_err[256];
    struct notify_stats stats;
};

void notify_cfg_defaults(struct notify_cfg *cfg)
{
    cfg->dsn = "";
    cfg->poll_ms = 1000;
    cfg->backoff_min_ms = 1000;
    cfg->backoff_max_ms = 300000;
    cfg->timeout_ms = 10000;
    cfg->batch = 32;
}

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
    if (!n->destroying || n->work_running || !n->timer_closed)
        return;
    free_rows(n);
    PQfinish(n->conn);
    free(n->dsn);
    free(n);
}

/* ------------------------------------------------------------ thread pool */

/* Runs on a pool thread. Connects (or reconnects) first. */
static int ensure_conn(notify_t *n)
{
    if (n->conn != NULL && PQstatus(n->conn) == CONNECTION_OK)
        return 0;
    if (n->conn == NULL)
        n->conn = PQconnectdb(n->dsn);
    else
        PQreset(n->conn);
    if (PQstatus(n->conn) != CONNECTION_OK) {
        snprintf(n->work_err, sizeof(n->work_err), "connect: %s", PQerrorMessage(n->conn));
        return -ECONNREFUSED;
    }
    return 0;
}

static char *dup_value(PGresult *r, int row, int col)
{
    return fm_xstrdup(PQgetvalue(r, row, col));
}

static void work_claim(uv_work_t *w)
{
    notify_t *n = w->data;
    char batch[16], lease[32];
    const char *params[2] = {batch, lease};
    PGresult *r;

    n->work_rc = ensure_conn(n);
    if (n->work_rc != 0)
        return;
    snprintf(batch, sizeof(batch), "%u", n->cfg.batch);
    snprintf(lease, sizeof(lease), "%lld", (long long)(n->cfg.timeout_ms + 5000));
    r = PQexecParams(n->conn,
                     "UPDATE notify_outbox o SET next_attempt_at = now() + $2::bigint * "
                     "interval '1 millisecond' FROM (SELECT id FROM notify_outbox "
                     "WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id "
                     "LIMIT $1::int FOR UPDATE SKIP LOCKED) due WHERE o.id = due.id "
                     "RETURNING o.id, o.idem_key, o.url, o.body::text, o.attempts",
                     2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(n->work_err, sizeof(n->work_err), "claim: %s", PQerrorMessage(n->conn));
        n->work_rc = -EIO;
        PQclear(r);
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

static void work_record(uv_work_t *w)
{
    notify_t *n = w->data;
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
            snprintf(n->work_err, sizeof(n->work_err), "record: %s", PQerrorMessage(n->conn));
            n->work_rc = -EIO;
            PQclear(r);
            return;
        }
        PQclear(r);
    }
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
        size_t len = strlen(n->work_err);

        /* libpq's messages span lines; a log line must not. */
        for (char *p = n->work_err; *p; p++) {
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        }
        while (len > 0 && n->work_err[len - 1] == ' ')
            n->work_err[--len] = '\0';
        FM_ERR("notify: outbox: %s; retrying every %lld ms", n->work_err,
               (long long)n->cfg.poll_ms);
    }
    n->db_failing = true;
}

static void after_record(uv_work_t *w, int status)
{
    notify_t *n = w->data;
    bool full = n->n_rows == n->cfg.batch;

    (void)status;
    n->work_running = false;
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

static void start_work(notify_t *n, uv_work_cb work, uv_after_work_cb after)
{
    n->work.data = n;
    n->work_running = true;
    n->work_err[0] = '\0';
    if (uv_queue_work(n->loop, &n->work, work, after) != 0) {
        /* Only fails for a NULL work callback; keep the state machine sane. */
        n->work_running = false;
        n->state = ST_IDLE;
    }
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
        start_work(n, work_record, after_record);
    }
}

static void after_claim(uv_work_t *w, int status)
{
    notify_t *n = w->data;

    (void)status;
    n->work_running = false;
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
                start_work(n, work_record, after_record);
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
    start_work(n, work_claim, after_claim);
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

int notify_create(uv_loop_t *loop, const struct notify_cfg *cfg, notify_t **out)
{
    notify_t *n;

    if (cfg->dsn == NULL || cfg->poll_ms < 1 || cfg->backoff_min_ms < 1 ||
        cfg->backoff_max_ms < cfg->backoff_min_ms || cfg->timeout_ms < 1 || cfg->batch < 1 ||
        cfg->batch > 1000)
        return -EINVAL;
    n = fm_xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->cfg = *cfg;
    n->dsn = fm_xstrdup(cfg->dsn);
    n->cfg.dsn = n->dsn;
    n->http = notify_http_create(loop);
    if (n->http == NULL) {
        free(n->dsn);
        free(n);
        return -ENOMEM;
    }
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    uv_timer_start(&n->timer, on_timer, 0, (uint64_t)cfg->poll_ms);
    *out = n;
    return 0;
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
}
