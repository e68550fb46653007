/* tickets_ops: operator steps on tickets, manual tickets, maintenance
 * windows; each change and its audit row in one transaction.
 *
 * A step locks the ticket row (SELECT ... FOR UPDATE), checks that its
 * state allows the step, updates it and writes the audit row. Two operators
 * acknowledging at once: the second waits for the first, then sees the new
 * state and is told so. */
#include "tickets_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct step_def {
    const char *name;
    const char *to;
    const char *from[5]; /* states that allow the step, NULL-terminated */
    const char *set;     /* SET clause; $1 id, $2 actor, $3.. per step */
    const char *args[3]; /* names of $3..$5 in the audit detail */
};

static const struct step_def steps[] = {
    [TICKETS_ACK] = {"acknowledge",
                     "acknowledged",
                     {"open", NULL},
                     "acknowledged_at = now(), acknowledged_by = $2",
                     {"x3", "x4", "x5"}},
    [TICKETS_DISPATCH] = {"dispatch",
                          "dispatched",
                          {"open", "acknowledged", NULL},
                          "acknowledged_at = coalesce(acknowledged_at, now()),"
                          " acknowledged_by = coalesce(acknowledged_by, $2),"
                          " dispatched_at = now(), dispatched_by = $2, dispatched_to = $3",
                          {"dispatched_to", "x4", "x5"}},
    [TICKETS_ON_SITE] = {"on-site",
                         "on_site",
                         {"dispatched", NULL},
                         "on_site_at = now(), on_site_by = $2",
                         {"x3", "x4", "x5"}},
    [TICKETS_RESOLVE] = {"resolve",
                         "resolved",
                         {"open", "acknowledged", "dispatched", "on_site", NULL},
                         "resolved_at = now(), resolved_by = $2, cause = $3, action_taken = $4,"
                         " prevention = $5",
                         {"cause", "action", "prevention"}},
    [TICKETS_CLOSE] = {"close",
                       "closed",
                       {"resolved", NULL},
                       "closed_at = now(), closed_by = $2, satisfaction = $3::text::smallint,"
                       " customer_confirmed = $4::text::boolean, confirmed_by = $5",
                       {"satisfaction", "confirmed", "confirmed_by"}},
    [TICKETS_REOPEN] = {"reopen",
                        "acknowledged",
                        {"resolved", NULL},
                        "resolved_at = NULL, resolved_by = NULL, reopen_count = reopen_count + 1",
                        {"x3", "x4", "x5"}},
};

const char *tickets_step_name(enum tickets_step step)
{
    return step <= TICKETS_REOPEN ? steps[step].name : "?";
}

static int pg_fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen)
{
    char state[6];
    int rc = -EIO;

    pg_classify(conn, r, what, why, whylen, state);
    if (strcmp(state, "23505") == 0) /* unique_violation */
        rc = -EEXIST;
    PQclear(r);
    pg_rollback(conn);
    return rc;
}

/* Runs a statement that returns rows; NULL with why filled on failure. */
static PGresult *query_rows(PGconn *conn, const char *what, const char *sql, int n,
                            const char *const *p, char *why, size_t whylen)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    pg_classify(conn, r, what, why, whylen, NULL);
    PQclear(r);
    return NULL;
}

static bool blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static int check_args(enum tickets_step step, const struct tickets_op *op, char *why, size_t whylen)
{
    if (blank(op->actor)) {
        snprintf(why, whylen, "an actor is required");
        return -EINVAL;
    }
    if (step == TICKETS_DISPATCH && blank(op->dispatched_to)) {
        snprintf(why, whylen, "dispatch needs who is sent (--to)");
        return -EINVAL;
    }
    if (step == TICKETS_RESOLVE && (blank(op->cause) || blank(op->action))) {
        snprintf(why, whylen, "resolve needs the fault's cause and the action taken");
        return -EINVAL;
    }
    if (step == TICKETS_CLOSE && (op->satisfaction < 1 || op->satisfaction > 5)) {
        snprintf(why, whylen, "close needs the customer's satisfaction 1..5, not %d",
                 op->satisfaction);
        return -EINVAL;
    }
    return 0;
}

static bool state_allows(const struct step_def *d, const char *state)
{
    for (size_t i = 0; d->from[i]; i++)
        if (strcmp(d->from[i], state) == 0)
            return true;
    return false;
}

int tickets_step(PGconn *conn, enum tickets_step step, const struct tickets_op *op, char *why,
                 size_t whylen)
{
    const struct step_def *d;
    char ids[24], sat[8], sql[1024], state[32];
    const char *p[5];
    PGresult *r;
    int rc;

    if (step > TICKETS_REOPEN) {
        snprintf(why, whylen, "unknown step %d", (int)step);
        return -EINVAL;
    }
    d = &steps[step];
    rc = check_args(step, op, why, whylen);
    if (rc != 0)
        return rc;
    snprintf(ids, sizeof(ids), "%lld", op->ticket_id);
    rc = pg_begin(conn, why, whylen);
    if (rc != 0)
        return rc;
    p[0] = ids;
    r = PQexecParams(conn, "SELECT state FROM tickets WHERE ticket_id = $1 FOR UPDATE", 1, NULL, p,
                     NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(conn, r, "lock ticket", why, whylen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        pg_rollback(conn);
        snprintf(why, whylen, "no ticket %lld", op->ticket_id);
        return -ENOENT;
    }
    snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!state_allows(d, state)) {
        pg_rollback(conn);
        snprintf(why, whylen, "ticket %lld is %s: cannot %s it", op->ticket_id, state, d->name);
        return -EPERM;
    }
    p[1] = op->actor;
    p[2] = p[3] = p[4] = NULL;
    if (step == TICKETS_DISPATCH)
        p[2] = op->dispatched_to;
    if (step == TICKETS_RESOLVE) {
        p[2] = op->cause;
        p[3] = op->action;
        p[4] = op->prevention;
    }
    if (step == TICKETS_CLOSE) {
        snprintf(sat, sizeof(sat), "%d", op->satisfaction);
        p[2] = sat;
        p[3] = op->confirmed ? "t" : "f";
        p[4] = op->confirmed_by;
    }
    /* The audit detail names the step's arguments; NULLs drop out. */
    snprintf(sql, sizeof(sql),
             "WITH up AS (UPDATE tickets SET state = '%s', %s, updated_at = now()"
             " WHERE ticket_id = $1 RETURNING ticket_id)"
             " INSERT INTO ticket_audit (actor, ticket_id, action, detail)"
             " SELECT $2, ticket_id, '%s', jsonb_strip_nulls(jsonb_build_object('from', '%s',"
             " 'to', '%s', '%s', $3::text, '%s', $4::text, '%s', $5::text)) FROM up",
             d->to, d->set, d->name, state, d->to, d->args[0], d->args[1], d->args[2]);
    r = PQexecParams(conn, sql, 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(conn, r, d->name, why, whylen);
    PQclear(r);
    if (op->note && op->note[0]) {
        const char *np[3] = {op->actor, ids, op->note};

        r = PQexecParams(conn,
                         "INSERT INTO ticket_audit (actor, ticket_id, action, detail)"
                         " VALUES ($1, $2, 'note', jsonb_build_object('note', $3::text))",
                         3, NULL, np, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return pg_fail(conn, r, "note", why, whylen);
        PQclear(r);
    }
    return pg_commit(conn, why, whylen);
}

int tickets_open_manual(PGconn *conn, const char *actor, int grade, const char *site,
                        const char *device, const char *title, long long *id, char *why,
                        size_t whylen)
{
    char g[8];
    const char *p[5];
    PGresult *r;

    if (blank(actor) || blank(title) || grade < 1 || grade > 4) {
        snprintf(why, whylen, "a manual ticket needs an actor, a title and a grade 1..4");
        return -EINVAL;
    }
    snprintf(g, sizeof(g), "%d", grade);
    p[0] = g;
    p[1] = blank(site) ? NULL : site;
    p[2] = blank(device) ? NULL : device;
    p[3] = title;
    p[4] = actor;
    /* A manual ticket is its own fault: a key nobody else can produce. */
    r = query_rows(conn, "open manual ticket",
                   "WITH t AS (INSERT INTO tickets (dedupe_key, kind, grade, site_id, device,"
                   " title, first_seen, last_seen, opened_by) VALUES ('manual:' ||"
                   " md5(random()::text || clock_timestamp()::text), 'manual', $1::smallint,"
                   " $2, $3, $4, now(), now(), $5) RETURNING ticket_id),"
                   " g AS (INSERT INTO ticket_grades SELECT ticket_id, now(), NULL,"
                   " $1::smallint, NULL, $5 FROM t),"
                   " a AS (INSERT INTO ticket_audit (actor, ticket_id, action, detail)"
                   " SELECT $5, ticket_id, 'open', jsonb_build_object('grade', $1::int,"
                   " 'title', $4::text, 'manual', true) FROM t)"
                   " SELECT ticket_id FROM t",
                   5, p, why, whylen);
    if (r == NULL)
        return -EIO;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int tickets_window_add(PGconn *conn, const char *actor, const char *site, const char *device,
                       int64_t start_ms, int64_t end_ms, const char *reason, long long *id,
                       char *why, size_t whylen)
{
    char s[32], e[32];
    const char *p[6];
    PGresult *r;

    if (blank(actor) || blank(reason)) {
        snprintf(why, whylen, "a maintenance window needs an actor and a reason");
        return -EINVAL;
    }
    if (end_ms <= start_ms) {
        snprintf(why, whylen, "a maintenance window must end after it starts");
        return -EINVAL;
    }
    snprintf(s, sizeof(s), "%.3f", (double)start_ms / 1000.0);
    snprintf(e, sizeof(e), "%.3f", (double)end_ms / 1000.0);
    p[0] = blank(site) ? NULL : site;
    p[1] = blank(device) ? NULL : device;
    p[2] = s;
    p[3] = e;
    p[4] = reason;
    p[5] = actor;
    r = query_rows(conn, "add maintenance window",
                   "WITH w AS (INSERT INTO maintenance_windows (site_id, device_glob, starts_at,"
                   " ends_at, reason, created_by) VALUES ($1, $2,"
                   " to_timestamp($3::double precision), to_timestamp($4::double precision),"
                   " $5, $6) RETURNING *),"
                   " a AS (INSERT INTO ticket_audit (actor, window_id, action, detail)"
                   " SELECT $6, window_id, 'window_add', jsonb_strip_nulls(jsonb_build_object("
                   "'site', site_id, 'device', device_glob, 'starts_at', starts_at, 'ends_at',"
                   " ends_at, 'reason', reason)) FROM w)"
                   " SELECT window_id FROM w",
                   6, p, why, whylen);
    if (r == NULL)
        return -EIO;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int tickets_window_cancel(PGconn *conn, const char *actor, long long id, char *why, size_t whylen)
{
    char ids[24];
    const char *p[2] = {ids, actor};
    PGresult *r;

    if (blank(actor)) {
        snprintf(why, whylen, "an actor is required");
        return -EINVAL;
    }
    snprintf(ids, sizeof(ids), "%lld", id);
    r = query_rows(conn, "cancel maintenance window",
                   "WITH w AS (UPDATE maintenance_windows SET cancelled_at = now(),"
                   " cancelled_by = $2 WHERE window_id = $1 AND cancelled_at IS NULL"
                   " RETURNING window_id),"
                   " a AS (INSERT INTO ticket_audit (actor, window_id, action)"
                   " SELECT $2, window_id, 'window_cancel' FROM w)"
                   " SELECT count(*) FROM w",
                   2, p, why, whylen);
    if (r == NULL)
        return -EIO;
    if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        PQclear(r);
        snprintf(why, whylen, "no active maintenance window %lld", id);
        return -ENOENT;
    }
    PQclear(r);
    return 0;
}
