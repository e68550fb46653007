/* sla_sync: see sla_sync.h. */
#include "sla_sync.h"

#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fm_alloc.h"
#include "fm_log.h"
#include "sla.h"
#include "sla_store.h"

/* Tickets without any contract are logged once; remember which (bounded). */
#define SYNC_MAX_WARNED 4096

struct sla_sync {
    const struct contract_set *contracts;
    sla_sched_t *sched;
    bool published;
    int64_t warned[SYNC_MAX_WARNED];
    size_t n_warned;
};

enum col {
    C_ID,
    C_GRADE,
    C_SITE,
    C_OPENED,
    C_DISTANCE,
    C_VISIT,
    C_ACK,
    C_DISPATCHED,
    C_DISPATCHED_TO,
    C_REMOTE,
    C_ONSITE,
    C_RESOLVED,
    C_ENDED,
    C_ENDED_WHY,
    C_DONE,
};

/* The open tickets, the tracked ones ($1) and the ended ones not settled. */
static const char tickets_sql[] =
    "SELECT t.ticket_id, t.grade, coalesce(t.site_id, ''), "
    "floor(extract(epoch FROM t.visit_opened_at))::bigint, "
    "coalesce(s.distance_km, -1)::float8, t.visit, "
    "floor(extract(epoch FROM t.acknowledged_at))::bigint, "
    "floor(extract(epoch FROM t.dispatched_at))::bigint, coalesce(t.dispatched_to, ''), "
    "floor(extract(epoch FROM t.remote_started_at))::bigint, "
    "floor(extract(epoch FROM t.on_site_at))::bigint, "
    "floor(extract(epoch FROM t.resolved_at))::bigint, "
    "CASE WHEN t.closed_as IS NOT NULL THEN floor(extract(epoch FROM t.closed_at))::bigint END, "
    "CASE t.closed_as WHEN 'cancelled' THEN 'ticket cancelled' "
    "WHEN 'duplicate' THEN 'duplicate of ticket ' || t.duplicate_of END, "
    "t.state IN ('resolved', 'closed') "
    "FROM tickets t LEFT JOIN sites s USING (site_id) "
    "WHERE NOT t.sla_settled OR t.ticket_id = ANY($1::bigint[]) ORDER BY t.ticket_id";

/* Visits archived by a reopening before their clocks were settled (the
 * ticket was resolved and reopened between two rounds): the same columns as
 * tickets_sql, then C_UNTIL, the reopening. A visit reopened without being
 * resolved or closed ends at the reopening. */
#define C_UNTIL (C_DONE + 1)
static const char visits_sql[] =
    "SELECT v.ticket_id, v.grade, coalesce(t.site_id, ''), "
    "floor(extract(epoch FROM v.opened_at))::bigint, coalesce(s.distance_km, -1)::float8, "
    "v.visit, floor(extract(epoch FROM v.acknowledged_at))::bigint, "
    "floor(extract(epoch FROM v.dispatched_at))::bigint, coalesce(v.dispatched_to, ''), "
    "floor(extract(epoch FROM v.remote_started_at))::bigint, "
    "floor(extract(epoch FROM v.on_site_at))::bigint, "
    "floor(extract(epoch FROM v.resolved_at))::bigint, "
    "CASE WHEN v.closed_as IS NOT NULL THEN floor(extract(epoch FROM v.closed_at))::bigint "
    "WHEN v.resolved_at IS NULL THEN floor(extract(epoch FROM v.reopened_at))::bigint END, "
    "CASE v.closed_as WHEN 'cancelled' THEN 'ticket cancelled' "
    "WHEN 'duplicate' THEN 'duplicate ticket' ELSE 'reopened before it was resolved' END, "
    "true, floor(extract(epoch FROM v.reopened_at))::bigint "
    "FROM ticket_visits v JOIN tickets t USING (ticket_id) "
    "LEFT JOIN sites s ON s.site_id = t.site_id "
    "WHERE NOT v.sla_settled ORDER BY v.ticket_id, v.visit LIMIT 100";

sla_sync_t *sla_sync_create(const struct contract_set *contracts, sla_sched_t *sched)
{
    sla_sync_t *y = fm_xcalloc(1, sizeof(*y));

    y->contracts = contracts;
    y->sched = sched;
    return y;
}

void sla_sync_destroy(sla_sync_t *y)
{
    free(y);
}

static int db_fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen)
{
    enum pg_verdict v = pg_classify(conn, r, what, why, whylen, NULL);

    PQclear(r);
    return pg_verdict_errno(v);
}

static int exec_cmd(PGconn *conn, const char *what, const char *sql, int n, const char *const *p,
                    char *why, size_t whylen)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_fail(conn, r, what, why, whylen);
    PQclear(r);
    return 0;
}

int sla_sync_publish(const struct contract_set *contracts, PGconn *conn, const char *publisher,
                     char *why, size_t whylen)
{
    int rc = pg_begin(conn, why, whylen);

    if (rc == 0)
        rc = exec_cmd(conn, "sla_contracts", "DELETE FROM sla_contracts", 0, NULL, why, whylen);
    for (size_t i = 0; rc == 0 && i < contracts->n_contracts; i++) {
        const struct contract *c = &contracts->contracts[i];
        char off[16], reopen[24];
        const char *p[6] = {c->customer, c->description, c->calendar.time_zone,
                            off,         reopen,         publisher};

        snprintf(off, sizeof(off), "%d", (int)c->calendar.utc_offset_s);
        snprintf(reopen, sizeof(reopen), "%lld", (long long)(c->reopen_within_ms / 1000));
        rc = exec_cmd(conn, "sla_contracts",
                      "INSERT INTO sla_contracts (customer, description, time_zone, utc_offset_s, "
                      "reopen_within, published_by) VALUES ($1, $2, $3, $4::integer, "
                      "$5::bigint * interval '1 second', $6)",
                      6, p, why, whylen);
        for (size_t j = 0; rc == 0 && j < c->n_sites; j++) {
            const char *q[2] = {c->sites[j], c->customer};

            rc = exec_cmd(conn, "sla_contract_sites",
                          "INSERT INTO sla_contract_sites (site_id, customer) VALUES ($1, $2) "
                          "ON CONFLICT DO NOTHING",
                          2, q, why, whylen);
        }
    }
    if (rc == 0)
        return pg_commit(conn, why, whylen);
    pg_rollback(conn);
    return rc;
}
static int64_t epoch_or_zero(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* "{1,2,3}": the tracked ticket ids as a PostgreSQL array literal. */
static char *tracked_ids(const sla_sched_t *s)
{
    size_t n = sla_sched_count(s), cap = 3 + n * 21, len = 1;
    char *buf = fm_xmalloc(cap);

    buf[0] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? "," : "",
                                sla_sched_id_at(s, i));
    snprintf(buf + len, cap - len, "}");
    return buf;
}

static bool warned_before(sla_sync_t *y, int64_t id)
{
    for (size_t i = 0; i < y->n_warned; i++) {
        if (y->warned[i] == id)
            return true;
    }
    if (y->n_warned < SYNC_MAX_WARNED)
        y->warned[y->n_warned++] = id;
    return false;
}

/* Opens the clocks of a ticket's visit seen for the first time on sched and
 * replays its grade history: the grade in force at the visit's opening, then
 * each change after it at its time, up to `until` (0: all; a visit archived
 * by a reopening ends there). */
static int open_ticket(sla_sync_t *y, sla_sched_t *sched, PGconn *conn, PGresult *t, int row,
                       int64_t until, char *why, size_t whylen)
{
    int64_t id = strtoll(PQgetvalue(t, row, C_ID), NULL, 10);
    int64_t opened = epoch_or_zero(t, row, C_OPENED);
    int visit = atoi(PQgetvalue(t, row, C_VISIT));
    const char *site = PQgetvalue(t, row, C_SITE);
    const struct contract *c = contract_for_site(y->contracts, site);
    double km = strtod(PQgetvalue(t, row, C_DISTANCE), NULL);
    const char *params[1] = {PQgetvalue(t, row, C_ID)};
    PGresult *g;
    int rc, grade, first = 0;

    g = PQexecParams(conn,
                     "SELECT new_grade, floor(extract(epoch FROM ts))::bigint FROM ticket_grades "
                     "WHERE ticket_id = $1::bigint ORDER BY ts, old_grade NULLS FIRST",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(g) != PGRES_TUPLES_OK)
        return db_fail(conn, g, "ticket_grades", why, whylen);
    grade = atoi(PQgetvalue(t, row, C_GRADE));
    for (int i = 0; i < PQntuples(g); i++) {
        if (i > 0 && epoch_or_zero(g, i, 1) > opened)
            break;
        grade = atoi(PQgetvalue(g, i, 0));
        first = i + 1;
    }
    rc = sla_sched_open(sched, conn, id, visit, c->customer, grade, km, opened, why, whylen);
    for (int i = first; rc == 0 && i < PQntuples(g); i++) {
        int64_t at = epoch_or_zero(g, i, 1);
        int to = atoi(PQgetvalue(g, i, 0));

        if (until != 0 && at >= until)
            break;
        if (to == sla_sched_clock(sched, id)->grade)
            continue;
        rc = sla_sched_regrade(sched, conn, id, to, at < opened ? opened : at, why, whylen);
    }
    PQclear(g);
    return rc;
}

/* A grade change not yet applied: at the time of the history row that set
 * the ticket's current grade. */
static int follow_grade(sla_sync_t *y, PGconn *conn, int64_t id, int grade,
                        struct sla_sync_result *res, char *why, size_t whylen)
{
    const struct sla_clock *c = sla_sched_clock(y->sched, id);
    char sid[24], sg[8];
    const char *params[2] = {sid, sg};
    int64_t at = c->opened_at;
    PGresult *g;
    int rc;

    if (c->grade == grade)
        return 0;
    snprintf(sid, sizeof(sid), "%" PRId64, id);
    snprintf(sg, sizeof(sg), "%d", grade);
    g = PQexecParams(conn,
                     "SELECT floor(extract(epoch FROM max(ts)))::bigint FROM ticket_grades "
                     "WHERE ticket_id = $1::bigint AND new_grade = $2::smallint",
                     2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(g) != PGRES_TUPLES_OK)
        return db_fail(conn, g, "ticket_grades", why, whylen);
    if (PQntuples(g) == 1 && !PQgetisnull(g, 0, 0) && epoch_or_zero(g, 0, 0) > at)
        at = epoch_or_zero(g, 0, 0);
    PQclear(g);
    rc = sla_sched_regrade(y->sched, conn, id, grade, at, why, whylen);
    if (rc == 0)
        res->regraded++;
    return rc;
}

/* The pauses of the current visits of the tracked tickets ($1). */
static const char pauses_sql[] =
    "SELECT p.ticket_id, floor(extract(epoch FROM p.started_at))::bigint, "
    "floor(extract(epoch FROM p.ended_at))::bigint, p.reason "
    "FROM sla_pauses p JOIN tickets t USING (ticket_id) "
    "WHERE p.ticket_id = ANY($1::bigint[]) AND p.started_at >= t.visit_opened_at "
    "ORDER BY p.ticket_id, p.started_at";

/* The pauses of one archived visit: $1 ticket, $2 visit. */
static const char visit_pauses_sql[] =
    "SELECT p.ticket_id, floor(extract(epoch FROM p.started_at))::bigint, "
    "floor(extract(epoch FROM p.ended_at))::bigint, p.reason "
    "FROM sla_pauses p JOIN ticket_visits v USING (ticket_id) "
    "WHERE v.ticket_id = $1::bigint AND v.visit = $2::smallint "
    "AND p.started_at >= v.opened_at AND p.started_at < v.reopened_at ORDER BY p.started_at";

/* Applies the pauses that sql (params) returns and sched's clocks do not
 * have yet. */
static int follow_pauses(sla_sync_t *y, sla_sched_t *sched, PGconn *conn, const char *sql, int n,
                         const char *const *params, char *why, size_t whylen)
{
    PGresult *p = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    int64_t cur = -1;
    size_t idx = 0;

    if (PQresultStatus(p) != PGRES_TUPLES_OK)
        return db_fail(conn, p, "sla_pauses", why, whylen);
    for (int i = 0; i < PQntuples(p); i++) {
        int64_t id = strtoll(PQgetvalue(p, i, 0), NULL, 10);
        int64_t start = epoch_or_zero(p, i, 1), end = epoch_or_zero(p, i, 2);
        const struct sla_clock *c = sla_sched_clock(sched, id);
        char w[256];

        idx = id == cur ? idx + 1 : 0;
        cur = id;
        if (c == NULL)
            continue;
        /* Errors here are rows the clock refuses (a pause starting before the
         * opening): logged, not fatal to the round. Refused rows come back
         * every round: log each ticket once (the warned list holds pause
         * warnings under the negated id). */
        if (idx >= c->n_pauses &&
            sla_sched_pause(sched, NULL, id, PQgetvalue(p, i, 3), start, w, sizeof(w)) != 0 &&
            !warned_before(y, -id))
            FM_WARN("sla: ticket %" PRId64 ": pause ignored: %s", id, w);
        c = sla_sched_clock(sched, id);
        if (idx < c->n_pauses && c->paused[idx].end == SLA_NEVER && end != 0 &&
            sla_sched_pause(sched, NULL, id, NULL, end, w, sizeof(w)) != 0 &&
            !warned_before(y, -id))
            FM_WARN("sla: ticket %" PRId64 ": resume ignored: %s", id, w);
    }
    PQclear(p);
    return 0;
}

static void set_time(char *buf, size_t len, int64_t t, const char **param)
{
    snprintf(buf, len, "%" PRId64, t);
    *param = (t == 0 || t == SLA_NEVER) ? NULL : buf;
}

/* Writes the deadlines of every tracked ticket whose deadlines changed. */
static int write_deadlines(sla_sync_t *y, PGconn *conn, char *why, size_t whylen)
{
    for (size_t i = 0; i < sla_sched_count(y->sched); i++) {
        int64_t id = sla_sched_id_at(y->sched, i), d[SLA_KINDS];
        const struct sla_clock *c = sla_sched_clock(y->sched, id);
        char sid[24], t[SLA_KINDS][24];
        const char *params[6] = {sid, c->contract->customer};
        PGresult *r;

        if (!sla_sched_deadlines_changed(y->sched, id, d))
            continue;
        snprintf(sid, sizeof(sid), "%" PRId64, id);
        for (int k = 0; k < SLA_KINDS; k++)
            set_time(t[k], sizeof(t[k]), d[k], &params[2 + k]);
        r = PQexecParams(conn,
                         "UPDATE tickets SET sla_contract = $2, "
                         "response_due = to_timestamp($3::bigint), "
                         "remote_due = to_timestamp($4::bigint), "
                         "onsite_due = to_timestamp($5::bigint), "
                         "resolution_due = to_timestamp($6::bigint), sla_updated_at = now() "
                         "WHERE ticket_id = $1::bigint",
                         6, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return db_fail(conn, r, "tickets deadlines", why, whylen);
        PQclear(r);
    }
    return 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* What happened on the ticket's visit, for its clocks and its ladder. */
static void note_events(sla_sched_t *sched, PGresult *t, int row, int64_t id)
{
    struct sla_steps st = {
        .acknowledged = epoch_or_zero(t, row, C_ACK),
        .dispatched = epoch_or_zero(t, row, C_DISPATCHED),
        .remote = epoch_or_zero(t, row, C_REMOTE),
        .on_site = epoch_or_zero(t, row, C_ONSITE),
        .dispatched_to = PQgetvalue(t, row, C_DISPATCHED_TO),
    };
    struct sla_events ev = {
        .at = {earliest(earliest(st.acknowledged, st.dispatched), earliest(st.remote, st.on_site)),
               st.remote, st.on_site, epoch_or_zero(t, row, C_RESOLVED)},
        .resolved_at = epoch_or_zero(t, row, C_RESOLVED),
        .ended_at = epoch_or_zero(t, row, C_ENDED),
        .ended_why = PQgetvalue(t, row, C_ENDED_WHY),
    };

    sla_sched_events(sched, id, &ev, &st);
}

/* A ticket no contract covers: warned once while it runs; its clocks are
 * settled as not applicable when it ends. */
static int no_contract(sla_sync_t *y, PGconn *conn, PGresult *t, int row, char *why, size_t whylen)
{
    int64_t id = strtoll(PQgetvalue(t, row, C_ID), NULL, 10);
    const char *site = PQgetvalue(t, row, C_SITE);
    char reason[96];

    if (PQgetvalue(t, row, C_DONE)[0] == 't') {
        snprintf(reason, sizeof(reason), "no contract covers site \"%s\"", site);
        return sla_store_settle_none(conn, id, atoi(PQgetvalue(t, row, C_VISIT)),
                                     atoi(PQgetvalue(t, row, C_GRADE)),
                                     epoch_or_zero(t, row, C_OPENED), reason, why, whylen);
    }
    if (!warned_before(y, id))
        FM_WARN("sla: ticket %" PRId64 ": no contract covers site \"%s\" and there is no "
                "default contract; it has no deadlines",
                id, site);
    return 0;
}

/* Settles one archived visit (row of visits_sql) on a scheduler of its own. */
static int settle_visit(sla_sync_t *y, PGconn *conn, PGresult *t, int row,
                        struct sla_sync_result *res, char *why, size_t whylen)
{
    int64_t id = strtoll(PQgetvalue(t, row, C_ID), NULL, 10);
    const char *params[2] = {PQgetvalue(t, row, C_ID), PQgetvalue(t, row, C_VISIT)};
    sla_sched_t *own;
    unsigned q = 0;
    int rc;

    if (contract_for_site(y->contracts, PQgetvalue(t, row, C_SITE)) == NULL)
        return no_contract(y, conn, t, row, why, whylen);
    own = sla_sched_sibling(y->sched);
    rc = open_ticket(y, own, conn, t, row, epoch_or_zero(t, row, C_UNTIL), why, whylen);
    if (rc == 0)
        rc = follow_pauses(y, own, conn, visit_pauses_sql, 2, params, why, whylen);
    if (rc == 0) {
        note_events(own, t, row, id);
        rc = sla_sched_finish(own, conn, id, &q, why, whylen);
        res->queued += q;
        res->finished++;
    }
    sla_sched_destroy(own);
    return rc;
}

/* Settles the visits archived before their clocks were. */
static int settle_archived(sla_sync_t *y, PGconn *conn, struct sla_sync_result *res, char *why,
                           size_t whylen)
{
    PGresult *t = PQexecParams(conn, visits_sql, 0, NULL, NULL, NULL, NULL, 0);
    int rc = 0;

    if (PQresultStatus(t) != PGRES_TUPLES_OK)
        return db_fail(conn, t, "ticket_visits", why, whylen);
    for (int i = 0; i < PQntuples(t) && rc == 0; i++)
        rc = settle_visit(y, conn, t, i, res, why, whylen);
    PQclear(t);
    return rc;
}

int sla_sync_round(sla_sync_t *y, PGconn *conn, struct sla_sync_result *res, char *why,
                   size_t whylen)
{
    char *ids = tracked_ids(y->sched), publisher[128] = "fieldmon-collector@";
    const char *params[1] = {ids};
    struct sla_sync_result r0 = {0};
    PGresult *t = NULL;
    unsigned q;
    int rc = 0;

    if (!y->published) {
        size_t n = strlen(publisher);

        if (gethostname(publisher + n, sizeof(publisher) - n - 1) != 0)
            snprintf(publisher + n, sizeof(publisher) - n, "?");
        publisher[sizeof(publisher) - 1] = '\0';
        rc = sla_sync_publish(y->contracts, conn, publisher, why, whylen);
        if (rc != 0)
            goto out;
        y->published = true;
    }
    rc = settle_archived(y, conn, &r0, why, whylen);
    if (rc != 0)
        goto out;
    t = PQexecParams(conn, tickets_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(t) != PGRES_TUPLES_OK) {
        rc = db_fail(conn, t, "tickets", why, whylen);
        t = NULL;
        goto out;
    }
    for (int i = 0; i < PQntuples(t) && rc == 0; i++) {
        int64_t id = strtoll(PQgetvalue(t, i, C_ID), NULL, 10);
        int visit = atoi(PQgetvalue(t, i, C_VISIT));

        /* A reopened ticket's new visit starts its clocks afresh. */
        if (sla_sched_visit(y->sched, id) != 0 && sla_sched_visit(y->sched, id) != visit)
            sla_sched_close(y->sched, id);
        if (sla_sched_clock(y->sched, id) == NULL) {
            if (contract_for_site(y->contracts, PQgetvalue(t, i, C_SITE)) == NULL) {
                rc = no_contract(y, conn, t, i, why, whylen);
                continue;
            }
            rc = open_ticket(y, y->sched, conn, t, i, 0, why, whylen);
            if (rc != 0)
                continue;
            r0.opened++;
        } else {
            rc = follow_grade(y, conn, id, atoi(PQgetvalue(t, i, C_GRADE)), &r0, why, whylen);
        }
        note_events(y->sched, t, i, id);
    }
    free(ids);
    ids = tracked_ids(y->sched);
    params[0] = ids;
    if (rc == 0)
        rc = follow_pauses(y, y->sched, conn, pauses_sql, 1, params, why, whylen);
    if (rc == 0)
        rc = write_deadlines(y, conn, why, whylen);
    /* Settle resolved and closed tickets, then tick the rest. */
    for (int i = 0; i < PQntuples(t) && rc == 0; i++) {
        int64_t id = strtoll(PQgetvalue(t, i, C_ID), NULL, 10);

        if (PQgetvalue(t, i, C_DONE)[0] != 't' || sla_sched_clock(y->sched, id) == NULL)
            continue;
        rc = sla_sched_finish(y->sched, conn, id, &q, why, whylen);
        r0.queued += q;
        r0.finished++;
    }
    if (rc == 0) {
        rc = sla_sched_tick(y->sched, conn, &q, why, whylen);
        r0.queued += q;
    }
out:
    PQclear(t);
    free(ids);
    if (res != NULL)
        *res = r0;
    return rc;
}
