/* faults_writer: the thread that writes the engine's actions to PostgreSQL,
 * reloads maintenance windows and checks lost agents.
 *
 * The thread keeps one batch of its own ("held"): every round it appends
 * what the loop queued since, and applies held in one transaction. Held is
 * emptied only after a commit, so while PostgreSQL is down the actions wait
 * in order and nothing is lost or applied twice. A batch PostgreSQL refuses
 * for its content (not for a lost connection) is tried three times and then
 * dropped with an error in the log, so one bad action cannot stop all
 * tickets. Waits use the condition variable, so faults_stop wakes them. */
#include "faults_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm_alloc.h"
#include "fm_log.h"

#define WRITER_BACKOFF_MIN_MS 200
#define WRITER_BACKOFF_MAX_MS 10000
#define WRITER_TRIES 3

void faults__push_check(struct faults__check **arr, size_t *n, size_t *cap, const char *site,
                        const char *agent, bool elsewhere)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *arr = fm_xrealloc(*arr, *cap * sizeof(**arr));
    }
    snprintf((*arr)[*n].site, sizeof((*arr)[*n].site), "%s", site);
    snprintf((*arr)[*n].agent, sizeof((*arr)[*n].agent), "%s", agent);
    (*arr)[*n].elsewhere = elsewhere;
    (*n)++;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on the condition until abs_ms (CLOCK_REALTIME, as the condition
 * variable uses) or a signal. Caller holds mu. */
static void wait_until(struct faults *f, int64_t wait_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (wait_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&f->cv, &f->mu, &ts);
}

static PGconn *connect_db(struct faults *f, bool *was_down)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {f->cfg->database.dsn ? f->cfg->database.dsn : "",
                          "fieldmon-collector faults", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(c) == CONNECTION_OK) {
        if (*was_down)
            FM_NOTICE("faults: PostgreSQL reachable again");
        *was_down = false;
        return c;
    }
    if (!*was_down)
        FM_WARN("faults: connect to PostgreSQL: %s; tickets wait until it is back",
                PQerrorMessage(c));
    *was_down = true;
    PQfinish(c);
    return NULL;
}

static void check_agents(struct faults *f, PGconn *c, struct faults__check *in, size_t n,
                         struct faults__check **out, size_t *nout, size_t *capout)
{
    for (size_t i = 0; i < n; i++) {
        const char *p[2] = {in[i].agent, f->collector_id};
        PGresult *r = PQexecParams(c,
                                   "SELECT connected AND collector_id IS DISTINCT FROM $2"
                                   " FROM agents WHERE agent_id = $1",
                                   2, NULL, p, NULL, NULL, 0);

        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            FM_WARN("faults: agent %s: check connection: %s", in[i].agent, PQresultErrorMessage(r));
            PQclear(r);
            continue; /* asked again on the next round */
        }
        faults__push_check(out, nout, capout, in[i].site, in[i].agent,
                           PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't');
        PQclear(r);
    }
}

/* Applies held; true when it is done with (written, or dropped). */
static bool write_held(struct faults *f, PGconn **c, tickets_batch_t *held, int *tries)
{
    struct tickets_result res = {0};
    char why[1024];
    size_t n = tickets_batch_count(held);

    if (tickets_apply(*c, held, f->actor, f->rules.reopen_within_ms, &res, why, sizeof(why)) == 0) {
        atomic_fetch_add(&f->batches_written, 1);
        atomic_fetch_add(&f->actions_written, n);
        atomic_fetch_add(&f->opened, res.opened);
        atomic_fetch_add(&f->joined, res.joined);
        atomic_fetch_add(&f->reopened, res.reopened);
        *tries = 0;
        return true;
    }
    atomic_fetch_add(&f->write_failures, 1);
    if (PQstatus(*c) != CONNECTION_OK) {
        FM_WARN("faults: write %zu actions: %s; retrying when PostgreSQL is back", n, why);
        PQfinish(*c);
        *c = NULL;
        return false;
    }
    if (++*tries < WRITER_TRIES) {
        FM_WARN("faults: write %zu actions: %s; retrying", n, why);
        return false;
    }
    FM_ERR("faults: write %zu actions: %s; dropped after %d tries", n, why, WRITER_TRIES);
    *tries = 0;
    return true;
}

void *faults__writer_main(void *arg)
{
    struct faults *f = arg;
    tickets_batch_t *held = tickets_batch_create();
    struct faults__check *checks = NULL, *results = NULL;
    size_t n_checks = 0, cap_checks = 0, n_results = 0, cap_results = 0;
    int64_t next_reload = 0, backoff = WRITER_BACKOFF_MIN_MS;
    PGconn *c = NULL;
    bool down = false;
    int tries = 0;

    pthread_mutex_lock(&f->mu);
    for (;;) {
        bool idle = tickets_batch_count(held) == 0 && tickets_batch_count(f->queue) == 0 &&
                    f->n_checks == 0;

        if (f->stop && (idle || mono_ms() >= f->stop_deadline_ms))
            break;
        if (idle && !f->stop && mono_ms() < next_reload)
            wait_until(f, next_reload - mono_ms());
        tickets_batch_move(held, f->queue);
        for (size_t i = 0; i < f->n_checks; i++)
            faults__push_check(&checks, &n_checks, &cap_checks, f->checks[i].site,
                               f->checks[i].agent, false);
        f->n_checks = 0;
        pthread_mutex_unlock(&f->mu);

        if (c == NULL)
            c = connect_db(f, &down);
        if (c != NULL && tickets_batch_count(held) > 0) {
            if (write_held(f, &c, held, &tries))
                tickets_batch_clear(held);
        }
        if (c != NULL && n_checks > 0) {
            check_agents(f, c, checks, n_checks, &results, &n_results, &cap_results);
            n_checks = 0;
        }
        struct corr_window *w = NULL;
        size_t nw = 0;
        bool reloaded = false;
        if (c != NULL && mono_ms() >= next_reload) {
            char why[512];

            if (tickets_load_windows(c, &w, &nw, why, sizeof(why)) == 0)
                reloaded = true;
            else
                FM_WARN("faults: %s", why);
            next_reload = mono_ms() + f->cfg->faults.windows_reload_ms;
        }

        pthread_mutex_lock(&f->mu);
        if (reloaded) {
            tickets_windows_free(f->windows, f->n_windows);
            f->windows = w;
            f->n_windows = nw;
            f->windows_new = true;
        }
        for (size_t i = 0; i < n_results; i++)
            faults__push_check(&f->results, &f->n_results, &f->cap_results, results[i].site,
                               results[i].agent, results[i].elsewhere);
        if (reloaded || n_results > 0)
            uv_async_send(&f->async);
        n_results = 0;
        if (c == NULL || tickets_batch_count(held) > 0) {
            /* PostgreSQL away, or a batch to retry: back off, unless stopping
             * past the deadline (checked at the top). */
            if (!f->stop || mono_ms() < f->stop_deadline_ms)
                wait_until(f, backoff);
            backoff = backoff * 2 > WRITER_BACKOFF_MAX_MS ? WRITER_BACKOFF_MAX_MS : backoff * 2;
        } else {
            backoff = WRITER_BACKOFF_MIN_MS;
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (tickets_batch_count(held) > 0)
        FM_ERR("faults: stopping with %zu ticket actions not written (PostgreSQL unreachable)",
               tickets_batch_count(held));
    tickets_batch_destroy(held);
    free(checks);
    free(results);
    PQfinish(c);
    return NULL;
}
