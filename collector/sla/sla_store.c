/* sla_store: see sla_store.h. Notification bodies are built with jansson;
 * times go to PostgreSQL as Unix seconds through to_timestamp. */
#include "sla_store.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm_alloc.h"
#include "pg.h"

void sla_store_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t == 0 || t == SLA_NEVER || gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, len, "null");
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *time_json(int64_t t)
{
    char buf[32];

    sla_store_time(t, buf, sizeof(buf));
    return strcmp(buf, "null") == 0 ? json_null() : json_string(buf);
}

static json_t *deadlines_json(const int64_t *d)
{
    json_t *o = json_object();

    for (int k = 0; k < SLA_KINDS; k++)
        json_object_set_new(o, sla_kind_name(k), time_json(d[k]));
    return o;
}

/* "" for the first visit (keys as before visits existed), "-v2" after. */
static const char *visit_suffix(const struct sla_subject *s, char *buf, size_t len)
{
    if (s->visit <= 1)
        return "";
    snprintf(buf, len, "-v%d", s->visit);
    return buf;
}

/* The fields every notification carries. */
static json_t *body_base(const struct sla_subject *s, const char *event)
{
    json_t *o = json_object();

    json_object_set_new(o, "event", json_string(event));
    json_object_set_new(o, "ticket_id", json_integer(s->ticket_id));
    json_object_set_new(o, "visit", json_integer(s->visit));
    json_object_set_new(o, "customer", json_string(s->customer));
    json_object_set_new(o, "grade", json_integer(s->clock->grade));
    json_object_set_new(o, "opened_at", time_json(s->clock->opened_at));
    json_object_set_new(o, "paused", json_boolean(sla_clock_paused(s->clock)));
    json_object_set_new(o, "deadlines", deadlines_json(s->clock->deadline));
    return o;
}

/* A failed statement: the reason (pg_classify's one line) and the verdict
 * as an errno. Clears r. */
static int stmt_fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen)
{
    enum pg_verdict v = pg_classify(conn, r, what, why, whylen, NULL);

    PQclear(r);
    return pg_verdict_errno(v);
}

/* The same inside a transaction, which is rolled back. */
static int fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen)
{
    int rc = stmt_fail(conn, r, what, why, whylen);

    pg_rollback(conn);
    return rc;
}

static int exec_ok(PGconn *conn, const char *sql, int n, const char *const *params,
                   ExecStatusType want, PGresult **out)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

    *out = r;
    return PQresultStatus(r) == want ? 0 : -EIO;
}

/* Runs sql with $1 the ticket and $2 the visit; *out holds the result when
 * it has status want, else the failure is classified into why. */
static int by_visit(PGconn *conn, const char *what, const char *sql, int64_t ticket_id, int visit,
                    ExecStatusType want, PGresult **out, char *why, size_t whylen)
{
    char id[24], vi[8];
    const char *params[2] = {id, vi};

    snprintf(id, sizeof(id), "%" PRId64, ticket_id);
    snprintf(vi, sizeof(vi), "%d", visit);
    if (exec_ok(conn, sql, 2, params, want, out) != 0)
        return stmt_fail(conn, *out, what, why, whylen);
    return 0;
}

/* Queues body to every webhook of role; the key is prefix + "-" + index. */
static int enqueue_role(PGconn *conn, const struct contract_role *role, const char *prefix,
                        json_t *body, char *why, size_t whylen)
{
    for (size_t i = 0; i < role->n_webhooks; i++) {
        char key[256], *text;
        const char *params[3];
        PGresult *r;
        int rc;

        snprintf(key, sizeof(key), "%s-%zu", prefix, i);
        json_object_set_new(body, "idempotency_key", json_string(key));
        json_object_set_new(body, "role", json_string(role->name));
        text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        if (text == NULL) {
            snprintf(why, whylen, "outbox: cannot encode notification");
            pg_rollback(conn);
            return -ENOMEM;
        }
        params[0] = key;
        params[1] = role->webhooks[i];
        params[2] = text;
        rc = exec_ok(conn,
                     "INSERT INTO notify_outbox (idem_key, url, body) VALUES ($1, $2, $3::jsonb) "
                     "ON CONFLICT (idem_key) DO NOTHING",
                     3, params, PGRES_COMMAND_OK, &r);
        free(text);
        if (rc != 0)
            return fail(conn, r, "outbox", why, whylen);
        PQclear(r);
    }
    return 0;
}

static int commit(PGconn *conn, char *why, size_t whylen)
{
    int rc = pg_commit(conn, why, whylen);

    if (rc != 0)
        pg_rollback(conn);
    return rc;
}

int sla_store_escalate(PGconn *conn, const struct sla_subject *s, const struct ladder_due *d,
                       int64_t fired_at, int *recorded, char *why, size_t whylen)
{
    const struct contract_role *role = contract_role(s->clock->contract, d->step->role);
    char id[24], grade[8], after[24], due[24], fired[24], prefix[160], visit[8];
    const char *params[7] = {id, d->step->role, grade, after, due, fired, visit};
    char vs[16];
    PGresult *r;
    json_t *body;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, s->ticket_id);
    snprintf(grade, sizeof(grade), "%d", s->clock->grade);
    snprintf(after, sizeof(after), "%" PRId64, d->step->after_ms / 1000);
    snprintf(due, sizeof(due), "%" PRId64, d->due_at);
    snprintf(fired, sizeof(fired), "%" PRId64, fired_at);
    snprintf(visit, sizeof(visit), "%d", s->visit);
    rc = pg_begin(conn, why, whylen);
    if (rc != 0)
        return rc;
    if (exec_ok(conn,
                "INSERT INTO ticket_escalations (ticket_id, role, grade, step_after, due_at, "
                "fired_at, visit) VALUES ($1::bigint, $2, $3::smallint, "
                "$4::bigint * interval '1 second', to_timestamp($5::bigint), "
                "to_timestamp($6::bigint), $7::smallint) "
                "ON CONFLICT (ticket_id, visit, role) DO NOTHING",
                7, params, PGRES_COMMAND_OK, &r) != 0)
        return fail(conn, r, "ticket_escalations", why, whylen);
    *recorded = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (*recorded && role != NULL) {
        body = body_base(s, "escalation");
        json_object_set_new(body, "step_after_s", json_integer(d->step->after_ms / 1000));
        json_object_set_new(body, "due_at", time_json(d->due_at));
        json_object_set_new(body, "fired_at", time_json(fired_at));
        snprintf(prefix, sizeof(prefix), "fieldmon-esc-%" PRId64 "-%s%s", s->ticket_id,
                 d->step->role, visit_suffix(s, vs, sizeof(vs)));
        rc = enqueue_role(conn, role, prefix, body, why, whylen);
        json_decref(body);
        if (rc != 0)
            return rc;
    }
    return commit(conn, why, whylen);
}

/* Parameters of a ticket_clocks row: $1 id, $2 visit, $3 clock, $4 grade,
 * $5 opened, $6 due, $7 outcome, $8 reason, $9 event, $10 taken. */
#define SETTLE_PARAMS 10
struct settle_params {
    char id[24], visit[8], grade[8], opened[24], due[24], event[24], taken[24];
    const char *p[SETTLE_PARAMS];
};

static void settle_params(struct settle_params *sp, const struct sla_subject *s, enum sla_kind k,
                          const struct sla_verdict *v)
{
    snprintf(sp->id, sizeof(sp->id), "%" PRId64, s->ticket_id);
    snprintf(sp->visit, sizeof(sp->visit), "%d", s->visit);
    snprintf(sp->grade, sizeof(sp->grade), "%d", v->grade ? v->grade : s->clock->grade);
    snprintf(sp->opened, sizeof(sp->opened), "%" PRId64, s->clock->opened_at);
    snprintf(sp->due, sizeof(sp->due), "%" PRId64, v->due);
    snprintf(sp->event, sizeof(sp->event), "%" PRId64, v->event_at);
    snprintf(sp->taken, sizeof(sp->taken), "%" PRId64, v->taken_s);
    sp->p[0] = sp->id;
    sp->p[1] = sp->visit;
    sp->p[2] = sla_kind_name(k);
    sp->p[3] = sp->grade;
    sp->p[4] = sp->opened;
    sp->p[5] = v->due ? sp->due : NULL;
    sp->p[6] = sla_outcome_name(v->outcome);
    sp->p[7] = v->reason;
    sp->p[8] = v->event_at ? sp->event : NULL;
    sp->p[9] = v->taken_s >= 0 ? sp->taken : NULL;
}

/* A clock settled before keeps its end. A breach found before its event
 * was recorded takes the event when it comes, judged against the deadline
 * that was breached: met if the event (recorded after the fact) fell within
 * it, else still breached, met late. */
static const char settle_sql[] =
    "INSERT INTO ticket_clocks (ticket_id, visit, clock, grade, started_at, due, outcome, "
    "reason, event_at, taken_s) VALUES ($1::bigint, $2::smallint, $3, $4::smallint, "
    "to_timestamp($5::bigint), to_timestamp($6::bigint), $7, $8, to_timestamp($9::bigint), "
    "$10::bigint) ON CONFLICT (ticket_id, visit, clock) DO UPDATE SET "
    "outcome = CASE WHEN EXCLUDED.event_at <= ticket_clocks.due THEN 'met' ELSE 'breached' END, "
    "reason = regexp_replace(EXCLUDED.reason, ' after the deadline$', '') || CASE WHEN "
    "EXCLUDED.event_at <= ticket_clocks.due THEN '' ELSE ' after the deadline' END, "
    "event_at = EXCLUDED.event_at, taken_s = EXCLUDED.taken_s, settled_at = now() "
    "WHERE ticket_clocks.event_at IS NULL AND EXCLUDED.event_at IS NOT NULL "
    "AND ticket_clocks.outcome = 'breached'";

int sla_store_settle(PGconn *conn, const struct sla_subject *s, enum sla_kind k,
                     const struct sla_verdict *v, char *why, size_t whylen)
{
    struct settle_params sp;
    PGresult *r;

    settle_params(&sp, s, k, v);
    if (exec_ok(conn, settle_sql, SETTLE_PARAMS, sp.p, PGRES_COMMAND_OK, &r) != 0)
        return stmt_fail(conn, r, "ticket_clocks", why, whylen);
    PQclear(r);
    return 0;
}

int sla_store_breach(PGconn *conn, const struct sla_subject *s, enum sla_kind k,
                     const struct sla_verdict *v, int64_t detected_at, const char *const *roles,
                     size_t n_roles, int *recorded, char *why, size_t whylen)
{
    char detected[24], prefix[200], vs[16];
    struct settle_params sp;
    PGresult *r;
    int rc;

    /* The breach row takes its ticket, visit, clock, grade and deadline
     * from the settled clock's parameters. */
    settle_params(&sp, s, k, v);
    snprintf(detected, sizeof(detected), "%" PRId64, detected_at);
    rc = pg_begin(conn, why, whylen);
    if (rc != 0)
        return rc;
    if (exec_ok(conn,
                "INSERT INTO sla_breaches (ticket_id, clock, grade, deadline, detected_at, visit) "
                "VALUES ($1::bigint, $2, $3::smallint, to_timestamp($4::bigint), "
                "to_timestamp($5::bigint), $6::smallint) "
                "ON CONFLICT (ticket_id, visit, clock) DO NOTHING",
                6, (const char *const[]){sp.id, sp.p[2], sp.grade, sp.due, detected, sp.visit},
                PGRES_COMMAND_OK, &r) != 0)
        return fail(conn, r, "sla_breaches", why, whylen);
    *recorded = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (exec_ok(conn, settle_sql, SETTLE_PARAMS, sp.p, PGRES_COMMAND_OK, &r) != 0)
        return fail(conn, r, "ticket_clocks", why, whylen);
    PQclear(r);
    for (size_t i = 0; *recorded && i < n_roles; i++) {
        const struct contract_role *role = contract_role(s->clock->contract, roles[i]);
        json_t *body;

        if (role == NULL)
            continue;
        body = body_base(s, "breach");
        json_object_set_new(body, "clock", json_string(sla_kind_name(k)));
        json_object_set_new(body, "deadline", time_json(v->due));
        json_object_set_new(body, "detected_at", time_json(detected_at));
        snprintf(prefix, sizeof(prefix), "fieldmon-breach-%" PRId64 "-%s-%s%s", s->ticket_id,
                 sla_kind_name(k), roles[i], visit_suffix(s, vs, sizeof(vs)));
        rc = enqueue_role(conn, role, prefix, body, why, whylen);
        json_decref(body);
        if (rc != 0)
            return rc;
    }
    return commit(conn, why, whylen);
}

int sla_store_settle_none(PGconn *conn, int64_t ticket_id, int visit, int grade, int64_t opened,
                          const char *reason, char *why, size_t whylen)
{
    char id[24], vi[8], g[8], op[24];
    const char *params[5] = {id, vi, g, op, reason};
    PGresult *r;

    snprintf(id, sizeof(id), "%" PRId64, ticket_id);
    snprintf(vi, sizeof(vi), "%d", visit);
    snprintf(g, sizeof(g), "%d", grade);
    snprintf(op, sizeof(op), "%" PRId64, opened);
    if (exec_ok(conn,
                "INSERT INTO ticket_clocks (ticket_id, visit, clock, grade, started_at, outcome, "
                "reason) SELECT $1::bigint, $2::smallint, k, $3::smallint, "
                "to_timestamp($4::bigint), 'na', $5 FROM unnest(ARRAY['response', 'remote', "
                "'onsite', 'resolution']) k ON CONFLICT DO NOTHING",
                5, params, PGRES_COMMAND_OK, &r) != 0)
        return stmt_fail(conn, r, "ticket_clocks", why, whylen);
    PQclear(r);
    return sla_store_mark_settled(conn, ticket_id, visit, why, whylen);
}

int sla_store_mark_settled(PGconn *conn, int64_t ticket_id, int visit, char *why, size_t whylen)
{
    PGresult *r;
    /* The visit is the ticket's current one, or one archived by a reopening. */
    int rc = by_visit(conn, "tickets settled",
                      "WITH v AS (UPDATE ticket_visits SET sla_settled = true "
                      "WHERE ticket_id = $1::bigint AND visit = $2::smallint) "
                      "UPDATE tickets SET sla_settled = true WHERE ticket_id = $1::bigint "
                      "AND visit = $2::smallint",
                      ticket_id, visit, PGRES_COMMAND_OK, &r, why, whylen);

    if (rc == 0)
        PQclear(r);
    return rc;
}

int sla_store_engaged(PGconn *conn, const struct sla_subject *s, const char *role, const char *how,
                      int64_t due_at, int64_t at, char *why, size_t whylen)
{
    char id[24], grade[8], due[24], fired[24], visit[8];
    const char *params[7] = {id, role, grade, due, fired, visit, how};
    PGresult *r;

    snprintf(id, sizeof(id), "%" PRId64, s->ticket_id);
    snprintf(grade, sizeof(grade), "%d", s->clock->grade);
    snprintf(due, sizeof(due), "%" PRId64, due_at ? due_at : at);
    snprintf(fired, sizeof(fired), "%" PRId64, at);
    snprintf(visit, sizeof(visit), "%d", s->visit);
    if (exec_ok(conn,
                "INSERT INTO ticket_escalations (ticket_id, role, grade, step_after, due_at, "
                "fired_at, visit, engaged_by) VALUES ($1::bigint, $2, $3::smallint, "
                "greatest(to_timestamp($4::bigint) - to_timestamp($5::bigint), interval '0'), "
                "to_timestamp($4::bigint), to_timestamp($5::bigint), $6::smallint, $7) "
                "ON CONFLICT (ticket_id, visit, role) DO NOTHING",
                7, params, PGRES_COMMAND_OK, &r) != 0)
        return stmt_fail(conn, r, "ticket_escalations", why, whylen);
    PQclear(r);
    return 0;
}

int sla_store_pause(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen)
{
    const struct sla_clock *c = s->clock;
    char id[24], start[24], end[24];
    const char *params[4];
    PGresult *r;

    if (c->n_pauses == 0) {
        snprintf(why, whylen, "ticket %" PRId64 " was never paused", s->ticket_id);
        return -EINVAL;
    }
    snprintf(id, sizeof(id), "%" PRId64, s->ticket_id);
    snprintf(start, sizeof(start), "%" PRId64, c->paused[c->n_pauses - 1].start);
    snprintf(end, sizeof(end), "%" PRId64, c->paused[c->n_pauses - 1].end);
    params[0] = id;
    params[1] = start;
    params[2] = c->paused[c->n_pauses - 1].end == SLA_NEVER ? NULL : end;
    params[3] = c->pause_reason[c->n_pauses - 1];
    if (exec_ok(conn,
                "INSERT INTO sla_pauses (ticket_id, started_at, ended_at, reason) VALUES "
                "($1::bigint, to_timestamp($2::bigint), to_timestamp($3::bigint), $4) "
                "ON CONFLICT (ticket_id, started_at) DO UPDATE SET ended_at = EXCLUDED.ended_at",
                4, params, PGRES_COMMAND_OK, &r) != 0) {
        return stmt_fail(conn, r, "sla_pauses", why, whylen);
    }
    PQclear(r);
    return 0;
}

int sla_store_regrade(PGconn *conn, const struct sla_subject *s, char *why, size_t whylen)
{
    const struct sla_clock *c = s->clock;
    const struct sla_regrade *g;
    char id[24], at[24], from[8], to[8], *before, *after;
    json_t *jb, *ja;
    PGresult *r = NULL;
    int rc = 0;

    if (c->n_regrades == 0) {
        snprintf(why, whylen, "ticket %" PRId64 " never changed grade", s->ticket_id);
        return -EINVAL;
    }
    g = &c->regrades[c->n_regrades - 1];
    snprintf(id, sizeof(id), "%" PRId64, s->ticket_id);
    snprintf(at, sizeof(at), "%" PRId64, g->at);
    snprintf(from, sizeof(from), "%d", g->from);
    snprintf(to, sizeof(to), "%d", g->to);
    jb = deadlines_json(g->before);
    ja = deadlines_json(g->after);
    before = json_dumps(jb, JSON_COMPACT | JSON_SORT_KEYS);
    after = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jb);
    json_decref(ja);
    const char *params[6] = {id, at, from, to, before, after};
    if (before == NULL || after == NULL ||
        exec_ok(conn,
                "INSERT INTO sla_grade_changes (ticket_id, changed_at, from_grade, to_grade, "
                "before, after) VALUES ($1::bigint, to_timestamp($2::bigint), $3::smallint, "
                "$4::smallint, $5::jsonb, $6::jsonb) ON CONFLICT DO NOTHING",
                6, params, PGRES_COMMAND_OK, &r) != 0) {
        snprintf(why, whylen, "sla_grade_changes: %s", PQerrorMessage(conn));
        rc = -EIO;
    }
    if (before != NULL && after != NULL)
        PQclear(r);
    free(before);
    free(after);
    return rc;
}

int sla_store_settled_kinds(PGconn *conn, int64_t ticket_id, int visit, unsigned *mask, char *why,
                            size_t whylen)
{
    PGresult *r;
    int rc = by_visit(conn, "ticket_clocks",
                      "SELECT clock, event_at IS NOT NULL OR outcome <> 'breached' FROM "
                      "ticket_clocks WHERE ticket_id = $1::bigint AND visit = $2::smallint",
                      ticket_id, visit, PGRES_TUPLES_OK, &r, why, whylen);

    *mask = 0;
    if (rc != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        int k = sla_kind_parse(PQgetvalue(r, i, 0));

        /* Bits 0-3: settled; bits 4-7: nothing more to record (a breach
         * without its late event still waits for the event). */
        if (k >= 0)
            *mask |= (1u << k) | (PQgetvalue(r, i, 1)[0] == 't' ? 1u << (k + 4) : 0);
    }
    PQclear(r);
    return 0;
}

int sla_store_engaged_roles(PGconn *conn, int64_t ticket_id, int visit, char ***roles, size_t *n,
                            char *why, size_t whylen)
{
    PGresult *r;
    int rc = by_visit(conn, "ticket_escalations",
                      "SELECT role FROM ticket_escalations WHERE ticket_id = $1::bigint "
                      "AND visit = $2::smallint",
                      ticket_id, visit, PGRES_TUPLES_OK, &r, why, whylen);

    if (rc != 0)
        return rc;
    *n = (size_t)PQntuples(r);
    *roles = fm_xcalloc(*n ? *n : 1, sizeof(**roles));
    for (size_t i = 0; i < *n; i++)
        (*roles)[i] = fm_xstrdup(PQgetvalue(r, (int)i, 0));
    PQclear(r);
    return 0;
}

void sla_store_free_roles(char **roles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(roles[i]);
    free(roles);
}
