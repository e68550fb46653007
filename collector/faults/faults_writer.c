/* faults_writer: the thread that writes the engine's actions to PostgreSQL,
 * reloads maintenance windows and checks lost agents.
 *
 * The thread keeps one batch of its own ("held"): every round it appends
 * the actions the loop queued since (fmq_work), and applies held in one
 * transaction. Held is emptied only after a commit, so while PostgreSQL is
 * down the actions wait in order and nothing is lost or applied twice.
 *
 * A failed transaction is judged by pg_classify, as the DB writers' are: a
 * serialization failure or deadlock runs the batch again, a lost connection
 * is re-made (a doubling back-off that a stop cuts short) and the batch run
 * again. Only a batch PostgreSQL refuses for its content is dropped, logged
 * once with PostgreSQL's reason, so that one bad action cannot stop all
 * tickets. Retries and drops are counted in the collector's metrics
 * (faults_write_retries, faults_write_given_up). Windows and the answers
 * about lost agents go back to the loop through fmq_loop. */
#include "faults_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "metrics.h"
#include "pg.h"

#define WRITER_APP "fieldmon-collector faults"

struct writer {
    struct faults *f;
    tickets_batch_t *held;   /* actions taken from the queue, not yet committed */
    struct fmq_node *checks; /* questions not yet answered (faults__msg), in order */
    PGconn *conn;            /* NULL while PostgreSQL is away */
    struct pg_pace pace;     /* its reconnect back-off (one thread: its own) */
    bool down;               /* a failed connect was logged; the next success is too */
    bool orphans_done;       /* the agents left connected by the last run were handed over */
    uint64_t next_reload;    /* monotonic ms */
};

/* Moves what the loop queued into held (actions, in order) and the checks
 * list. */
static void absorb(struct writer *wr, struct fmq_node *n)
{
    struct fmq_node **tail = &wr->checks;

    while (*tail != NULL)
        tail = &(*tail)->next;
    while (n != NULL) {
        struct fmq_node *next = n->next;
        struct faults__msg *m = (struct faults__msg *)n;

        n->next = NULL;
        if (m->kind == FAULTS__ACTIONS) {
            tickets_batch_move(wr->held, m->actions);
            faults__msg_free(m);
        } else if (m->kind == FAULTS__WINDOWS) {
            wr->next_reload = 0; /* reload now (SIGHUP) */
            faults__msg_free(m);
        } else {
            *tail = n;
            tail = &n->next;
        }
        n = next;
    }
}

/* pg_retry: a failed connect. Logged once per outage. After a stop, gives
 * up at once when nothing waits to be written, else at the end of the grace
 * period. */
static bool on_connect_failed(void *arg, const char *why, int rc, uint64_t wait_ms)
{
    struct writer *wr = arg;
    struct faults *f = wr->f;

    (void)rc;
    if (!wr->down)
        FM_WARN("faults: PostgreSQL: %s; tickets wait until it is back", why);
    else
        FM_DEBUG("faults: PostgreSQL: %s; retry in %llu ms", why, (unsigned long long)wait_ms);
    wr->down = true;
    if (!fmq_work_stopped(&f->work))
        return true;
    /* Stopping: keep trying for the grace period only for actions to write. */
    return (tickets_batch_count(wr->held) > 0 || fmq_work_len(&f->work) > 0) &&
           fm_clock_mono_ms() < f->stop_deadline_ms;
}

/* Connects, waiting out a back-off between failures. False when stopping
 * and past the grace period. */
static bool writer_connect(struct writer *wr)
{
    struct pg_retry r = {
        .pace = &wr->pace, .queue = &wr->f->work, .failed = on_connect_failed, .arg = wr};
    char why[512];

    wr->conn = pg_connect_retry(wr->f->cfg->database.dsn, WRITER_APP, &r, why, sizeof(why));
    if (wr->conn == NULL)
        return false;
    if (wr->down)
        FM_NOTICE("faults: PostgreSQL reachable again");
    wr->down = false;
    return true;
}

static void drop_conn(struct writer *wr)
{
    PQfinish(wr->conn);
    wr->conn = NULL;
}

/* Applies held in one transaction; what a failure means is pg_classify's
 * verdict (see the top of this file). */
static void write_held(struct writer *wr)
{
    struct faults *f = wr->f;
    struct tickets_result res = {0};
    char why[1024];
    size_t n = tickets_batch_count(wr->held);
    int rc;

    rc = tickets_apply(wr->conn, wr->held, f->actor, atomic_load(&f->reopen_within_ms), &res, why,
                       sizeof(why));
    if (rc == 0) {
        atomic_fetch_add(&f->batches_written, 1);
        atomic_fetch_add(&f->actions_written, n);
        atomic_fetch_add(&f->opened, res.opened);
        atomic_fetch_add(&f->joined, res.joined);
        atomic_fetch_add(&f->reopened, res.reopened);
        tickets_batch_clear(wr->held);
        return;
    }
    atomic_fetch_add(&f->write_failures, 1);
    switch (pg_errno_verdict(rc)) {
    case PG_RETRY:
        atomic_fetch_add(&metrics.faults_write_retries, 1);
        FM_INFO("faults: write %zu actions: %s; retrying", n, why);
        break;
    case PG_RECONNECT:
        atomic_fetch_add(&metrics.faults_write_retries, 1);
        FM_WARN("faults: write %zu actions: %s; retrying when PostgreSQL is back", n, why);
        drop_conn(wr);
        break;
    default:
        atomic_fetch_add(&metrics.faults_write_given_up, 1);
        FM_ERR("faults: write %zu actions: %s; dropped: PostgreSQL refuses them, a retry cannot"
               " help",
               n, why);
        tickets_batch_clear(wr->held);
        break;
    }
}

/* Reads a site back for the loop (site_load.h). A lost connection leaves
 * the question at the head of the list for the next round; a read
 * PostgreSQL refuses is answered as failed. False when it must wait. */
static bool answer_restore(struct writer *wr, struct faults__msg *m)
{
    char why[1024];
    int rc = site_load(wr->conn, m->restore.site, m->restore.agents, m->restore.since_ms,
                       &m->restore.load, why, sizeof(why));

    if (rc == 0)
        return true;
    switch (pg_errno_verdict(rc)) {
    case PG_RECONNECT:
        FM_WARN("faults: site %s: restore: %s; again when PostgreSQL is back", m->restore.site,
                why);
        drop_conn(wr);
        return false;
    case PG_RETRY:
        FM_INFO("faults: site %s: restore: %s; retrying", m->restore.site, why);
        return false;
    default:
        FM_ERR("faults: site %s: restore: %s", m->restore.site, why);
        m->restore.failed = true;
        return true;
    }
}

/* Answers each pending question and hands it back to the loop. A check
 * that fails is handed back unknown, and the loop asks again later. A
 * restore waits until every action queued before it is written. */
static void answer_checks(struct writer *wr)
{
    struct faults *f = wr->f;

    while (wr->checks != NULL && wr->conn != NULL) {
        struct faults__msg *m = (struct faults__msg *)wr->checks;
        const char *p[2] = {m->check.agent, f->collector_id};
        PGresult *r;

        if (m->kind == FAULTS__RESTORE) {
            if (tickets_batch_count(wr->held) > 0 || !answer_restore(wr, m))
                return;
            wr->checks = m->node.next;
            m->node.next = NULL;
            fmq_loop_post(&f->results, &m->node);
            continue;
        }
        r = PQexecParams(wr->conn,
                         "SELECT connected AND collector_id IS DISTINCT FROM $2"
                         " FROM agents WHERE agent_id = $1",
                         2, NULL, p, NULL, NULL, 0);
        wr->checks = m->node.next;
        m->node.next = NULL;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            char why[512];

            if (pg_classify(wr->conn, r, "check connection", why, sizeof(why), NULL) ==
                PG_RECONNECT)
                drop_conn(wr);
            FM_WARN("faults: agent %s: %s", m->check.agent, why);
            m->check.unknown = true;
        } else {
            m->check.elsewhere = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
        }
        PQclear(r);
        fmq_loop_post(&f->results, &m->node);
    }
}

/* Agents the database still counts as connected to this collector were
 * connected to the previous run of it (killed, or PostgreSQL was away at
 * its stop): the loop treats each as a connection that ended now, so an
 * agent that does not come back is declared lost, and its site's ticket
 * opens. Once per process. */
static void hand_over_orphans(struct writer *wr)
{
    struct faults *f = wr->f;
    const char *p[1] = {f->collector_id};
    PGresult *r = PQexecParams(wr->conn,
                               "SELECT agent_id, site_id FROM agents"
                               " WHERE collector_id = $1 AND connected",
                               1, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char why[512];

        if (pg_classify(wr->conn, r, "agents left connected", why, sizeof(why), NULL) ==
            PG_RECONNECT)
            drop_conn(wr);
        FM_WARN("faults: %s", why);
        PQclear(r);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct faults__msg *m = faults__msg_new(FAULTS__CHECK);

        snprintf(m->check.agent, sizeof(m->check.agent), "%s", PQgetvalue(r, i, 0));
        snprintf(m->check.site, sizeof(m->check.site), "%s", PQgetvalue(r, i, 1));
        m->check.orphan = true;
        fmq_loop_post(&f->results, &m->node);
    }
    PQclear(r);
    wr->orphans_done = true;
}

static void reload_windows(struct writer *wr)
{
    struct faults *f = wr->f;
    struct corr_window *w = NULL;
    size_t nw = 0;
    char why[512];
    int rc = tickets_load_windows(wr->conn, &w, &nw, why, sizeof(why));

    wr->next_reload = fm_clock_mono_ms() + (uint64_t)f->cfg->faults.windows_reload_ms;
    if (rc != 0) {
        FM_WARN("faults: %s", why);
        if (rc == -ENOTCONN)
            drop_conn(wr);
        return;
    }
    struct faults__msg *m = fm_xcalloc(1, sizeof(*m));

    m->kind = FAULTS__WINDOWS;
    m->windows = w;
    m->n_windows = nw;
    fmq_loop_post(&f->results, &m->node);
}

/* What is left at a stop past the grace period: counted, logged, freed. */
static void give_back(struct writer *wr)
{
    struct faults *f = wr->f;
    size_t lost = tickets_batch_count(wr->held);
    struct fmq_node *n, *next;

    for (n = fmq_work_take(&f->work, 0, SIZE_MAX); n != NULL; n = next) {
        struct faults__msg *m = (struct faults__msg *)n;

        next = n->next;
        if (m->kind == FAULTS__ACTIONS)
            lost += tickets_batch_count(m->actions);
        faults__msg_free(m);
    }
    for (n = wr->checks; n != NULL; n = next) {
        next = n->next;
        faults__msg_free((struct faults__msg *)n);
    }
    wr->checks = NULL;
    if (lost > 0)
        FM_ERR("faults: stopping with %zu ticket actions not written (PostgreSQL unreachable)",
               lost);
}

void faults__writer_main(void *arg)
{
    struct writer wr = {.f = arg};
    struct faults *f = wr.f;

    wr.held = tickets_batch_create();
    /* The same back-off as the DB writers': database.reconnect_min/max. */
    if (pg_pace_init(&wr.pace, (uint64_t)f->cfg->database.reconnect_min_ms,
                     (uint64_t)f->cfg->database.reconnect_max_ms) != 0) {
        /* As with a failed allocation (uv_mutex_init fails only so). */
        FM_ERR("faults: writer: cannot create its back-off's mutex");
        abort();
    }
    for (;;) {
        bool stopped = fmq_work_stopped(&f->work);
        bool idle =
            tickets_batch_count(wr.held) == 0 && wr.checks == NULL && fmq_work_len(&f->work) == 0;
        uint64_t now = fm_clock_mono_ms(), wait = 0;

        if (stopped && (idle || now >= f->stop_deadline_ms))
            break;
        if (idle && !stopped && now < wr.next_reload)
            wait = wr.next_reload - now;
        absorb(&wr, fmq_work_take(&f->work, wait, SIZE_MAX));
        if (wr.conn == NULL && !writer_connect(&wr))
            continue; /* stopping past the grace period: see the top */
        if (tickets_batch_count(wr.held) > 0)
            write_held(&wr);
        if (wr.conn != NULL && !wr.orphans_done)
            hand_over_orphans(&wr);
        if (wr.conn != NULL)
            answer_checks(&wr);
        if (wr.conn != NULL && fm_clock_mono_ms() >= wr.next_reload)
            reload_windows(&wr);
    }
    give_back(&wr);
    tickets_batch_destroy(wr.held);
    PQfinish(wr.conn);
    pg_pace_destroy(&wr.pace);
}
