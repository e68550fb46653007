/* pg: see pg.h. */
#include "pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_clock.h"

enum pg_verdict pg_classify_state(const char *sqlstate, bool conn_ok)
{
    const char *st = sqlstate ? sqlstate : "";

    /* A connection that is gone, or a failure libpq found without the
     * server's word (a broken socket, a protocol error): make a new one. */
    if (!conn_ok || st[0] == '\0')
        return PG_RECONNECT;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "53", 2) == 0)
        return PG_RECONNECT;
    /* Transaction rollback: the server gave up on this transaction for
     * reasons of concurrency, and the same work may well succeed now. */
    if (strncmp(st, "40", 2) == 0 && strcmp(st, "40002") != 0)
        return PG_RETRY;
    return PG_GIVE_UP;
}

void pg_oneline(char *buf, size_t len, const char *what, const char *msg)
{
    size_t n = 0, start;

    if (len == 0)
        return;
    if (what != NULL) {
        int w = snprintf(buf, len, "%s: ", what);

        n = w < 0 ? 0 : (size_t)w < len ? (size_t)w : len - 1;
    }
    start = n;
    for (int pass = 0; pass < 2 && n == start; pass++) {
        /* The second pass, for a blank msg: say so rather than nothing. */
        const char *p = pass == 0 ? (msg ? msg : "") : PG_NO_REASON;

        for (; *p && n < len - 1; p++) {
            char c = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;

            if (c == ' ' && (n == start || buf[n - 1] == ' '))
                continue;
            buf[n++] = c;
        }
        while (n > start && buf[n - 1] == ' ')
            n--;
    }
    buf[n] = '\0';
}

enum pg_verdict pg_classify(PGconn *conn, const PGresult *r, const char *what, char *why,
                            size_t whylen, char *sqlstate)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : NULL;

    /* A result without a message (an unexpected status, say PGRES_COPY_IN
     * where rows were wanted) is explained by the connection's last error,
     * and failing that by its status. */
    if (msg == NULL || msg[0] == '\0')
        msg = conn ? PQerrorMessage(conn) : "no connection";
    if (msg[0] == '\0')
        msg = r ? PQresStatus(PQresultStatus(r)) : "no result";
    if (sqlstate != NULL)
        snprintf(sqlstate, 6, "%s", st ? st : "");
    pg_oneline(why, whylen, what, msg);
    return pg_classify_state(st, conn != NULL && PQstatus(conn) == CONNECTION_OK);
}

int pg_verdict_errno(enum pg_verdict v)
{
    switch (v) {
    case PG_OK:
        return 0;
    case PG_RETRY:
        return -EAGAIN;
    case PG_RECONNECT:
        return -ENOTCONN;
    default:
        return -EIO;
    }
}

enum pg_verdict pg_errno_verdict(int rc)
{
    if (rc == 0)
        return PG_OK;
    if (rc == -EAGAIN)
        return PG_RETRY;
    if (rc == -ENOTCONN)
        return PG_RECONNECT;
    return PG_GIVE_UP;
}

PGconn *pg_connect(const char *dsn, const char *app, char *why, size_t whylen)
{
    const char *keys[] = {"dbname", "application_name", "fallback_application_name", NULL};
    const char *vals[] = {dsn ? dsn : "", app, app, NULL};
    PGconn *c;

    /* expand_dbname=1: dbname may hold a whole connection string, whose own
     * application_name, if any, wins over ours. */
    c = PQconnectdbParams(keys, vals, 1);
    if (c != NULL && PQstatus(c) == CONNECTION_OK)
        return c;
    pg_oneline(why, whylen, NULL, c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    return NULL;
}

void pg_backoff_init(struct pg_backoff *b, uint64_t min_ms, uint64_t max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms < min_ms ? min_ms : max_ms;
    b->next_ms = min_ms;
}

uint64_t pg_backoff_next(struct pg_backoff *b)
{
    uint64_t now = b->next_ms;

    b->next_ms = now > b->max_ms / 2 ? b->max_ms : now * 2;
    return now;
}

void pg_backoff_reset(struct pg_backoff *b)
{
    b->next_ms = b->min_ms;
}

int pg_pace_init(struct pg_pace *p, uint64_t min_ms, uint64_t max_ms)
{
    memset(p, 0, sizeof(*p));
    pg_backoff_init(&p->backoff, min_ms, max_ms);
    return uv_mutex_init(&p->mu);
}

void pg_pace_destroy(struct pg_pace *p)
{
    uv_mutex_destroy(&p->mu);
}

uint64_t pg_pace_turn(struct pg_pace *p, uint64_t now_ms, bool *probe)
{
    uint64_t wait = 0;

    *probe = false;
    uv_mutex_lock(&p->mu);
    if (p->down) {
        if (p->probing)
            wait = PG_PACE_POLL_MS;
        else if (now_ms < p->next_ms)
            wait = p->next_ms - now_ms;
        else
            *probe = p->probing = true;
    }
    uv_mutex_unlock(&p->mu);
    return wait;
}

uint64_t pg_pace_done(struct pg_pace *p, bool probe, bool ok, uint64_t now_ms)
{
    uint64_t wait = 0;

    uv_mutex_lock(&p->mu);
    if (probe)
        p->probing = false;
    if (ok) {
        p->down = false;
        pg_backoff_reset(&p->backoff);
    } else {
        /* The first failure of an outage, or a failed probe, sets the next
         * probe's time; threads that tried together at the start of an
         * outage do not each double the wait. */
        if (probe || !p->down)
            p->next_ms = now_ms + pg_backoff_next(&p->backoff);
        p->down = true;
        wait = p->next_ms > now_ms ? p->next_ms - now_ms : 0;
    }
    uv_mutex_unlock(&p->mu);
    return wait;
}

/* One attempt: connect and set up. Returns the connection, or NULL with
 * the reason in why and the errno in *rc. */
static PGconn *attempt(const char *dsn, const char *app, struct pg_retry *r, char *why,
                       size_t whylen, int *rc)
{
    char msg[512];
    PGconn *c = pg_connect(dsn, app, msg, sizeof(msg));

    *rc = -ENOTCONN;
    if (c == NULL) {
        snprintf(why, whylen, "connect: %s", msg);
        return NULL;
    }
    *rc = r->setup ? r->setup(r->arg, c, why, whylen) : 0;
    if (*rc == 0)
        return c;
    PQfinish(c);
    return NULL;
}

PGconn *pg_connect_retry(const char *dsn, const char *app, struct pg_retry *r, char *why,
                         size_t whylen)
{
    for (;;) {
        bool probe;
        uint64_t wait = pg_pace_turn(r->pace, fm_clock_mono_ms(), &probe);
        PGconn *c;
        int rc;

        /* Not this thread's turn: wait, unless stopping (then failed()
         * decides at once whether to go on). */
        if (wait > 0 && !fmq_work_stopped(r->queue)) {
            (void)fmq_work_sleep(r->queue, wait);
            continue;
        }
        c = attempt(dsn, app, r, why, whylen, &rc);
        wait = pg_pace_done(r->pace, probe, c != NULL, fm_clock_mono_ms());
        if (c != NULL)
            return c;
        if (!r->failed(r->arg, why, rc, wait))
            return NULL;
    }
}

int pg_check(PGconn *conn, char *why, size_t whylen)
{
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK && PQconsumeInput(conn) == 1 &&
        PQstatus(conn) == CONNECTION_OK)
        return 0;
    pg_oneline(why, whylen, "connection check", conn ? PQerrorMessage(conn) : "no connection");
    return -ENOTCONN;
}

/* Runs a transaction-control command; 0 or the verdict's errno. */
static int txn_cmd(PGconn *conn, const char *sql, const char *what, char *why, size_t whylen)
{
    PGresult *r = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_verdict_errno(pg_classify(conn, r, what, why, whylen, NULL));
    else if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* PostgreSQL ends a failed transaction's COMMIT with ROLLBACK and
         * no error: nothing was committed. */
        snprintf(why, whylen, "%s: the transaction had failed and was rolled back", what);
        rc = -EIO;
    }
    PQclear(r);
    return rc;
}

int pg_begin(PGconn *conn, char *why, size_t whylen)
{
    return txn_cmd(conn, "BEGIN", "begin", why, whylen);
}

int pg_commit(PGconn *conn, char *why, size_t whylen)
{
    return txn_cmd(conn, "COMMIT", "commit", why, whylen);
}

void pg_rollback(PGconn *conn)
{
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
}

int pg_schema_version(PGconn *conn, char *why, size_t whylen)
{
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        /* 42P01 undefined_table: a database never migrated is at version 0. */
        if (state != NULL && strcmp(state, "42P01") == 0) {
            PQclear(r);
            return 0;
        }
        v = pg_verdict_errno(pg_classify(conn, r, "read schema version", why, whylen, NULL));
        PQclear(r);
        return v;
    }
    v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
