/* tickets_ops: operator steps on tickets; each change and its audit row in
 * one transaction.
 *
 * A step locks the ticket row (SELECT ... FOR UPDATE), checks that its
 * state allows the step and that the time it happened (op.at) neither lies
 * ahead nor precedes a step it follows, applies the change and writes the
 * audit row. Two operators acknowledging at once: the second waits for the
 * first, then sees the new state and is told so. */
#include "tickets_ops.h"
#include "tickets_ops_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* States, as bits of step_def.from. */
enum {
    S_OPEN = 1u << 0,
    S_ACK = 1u << 1,
    S_DISPATCHED = 1u << 2,
    S_ON_SITE = 1u << 3,
    S_RESOLVED = 1u << 4,
    S_CLOSED = 1u << 5,
    S_LIVE = S_OPEN | S_ACK | S_DISPATCHED | S_ON_SITE,
    S_ANY = S_LIVE | S_RESOLVED | S_CLOSED,
};
static const char *const state_names[] = {"open",    "acknowledged", "dispatched",
                                          "on_site", "resolved",     "closed"};

/* Times of the ticket a step may not precede, as bits of step_def.after;
 * the lock query reads them in this order (columns 3..). */
enum {
    T_OPENED,
    T_ACK,
    T_DISPATCHED,
    T_ON_SITE,
    T_REMOTE,
    T_RESOLVED,
    T_CLOSED,
    T_PAUSE_START, /* of the open pause */
    T_PAUSE_LAST,  /* the latest pause's end (or start, if open) */
    T_GRADE,       /* the latest grade change */
    T_N,
};
static const char *const time_names[T_N] = {
    "the visit opened",     "it was acknowledged",   "it was dispatched", "the engineer arrived",
    "remote support began", "it was resolved",       "it was closed",     "the pause began",
    "the last pause",       "the last grade change",
};
#define T(x) (1u << (x))
#define T_STEPS (T(T_OPENED) | T(T_ACK) | T(T_DISPATCHED) | T(T_ON_SITE) | T(T_REMOTE))

/* Ends an open pause at the step's time (a pause cannot outlive a ticket). */
#define END_PAUSE                                                                                  \
    "WITH p AS (UPDATE sla_pauses SET ended_at = greatest(started_at, to_timestamp($3::float8)) "  \
    "WHERE ticket_id = $1::bigint AND ended_at IS NULL) "

struct step_def {
    const char *name;    /* audit action and messages */
    const char *to;      /* state after the step; NULL: unchanged */
    unsigned from;       /* states that allow it */
    unsigned after;      /* times it may not precede */
    const char *sql;     /* $1 id, $2 actor, $3 at (Unix s), $4..$7 the args */
    const char *args[4]; /* names of $4..$7 in the audit detail; NULL: not there */
};

static const struct step_def steps[TICKETS_STEPS] = {
    [TICKETS_ACK] = {"acknowledge",
                     "acknowledged",
                     S_OPEN,
                     T(T_OPENED),
                     "UPDATE tickets SET state = 'acknowledged', acknowledged_at = "
                     "to_timestamp($3::float8), acknowledged_by = $2, updated_at = now() "
                     "WHERE ticket_id = $1::bigint",
                     {NULL}},
    [TICKETS_DISPATCH] = {"dispatch",
                          "dispatched",
                          S_OPEN | S_ACK,
                          T(T_OPENED) | T(T_ACK),
                          "UPDATE tickets SET state = 'dispatched', acknowledged_at = "
                          "coalesce(acknowledged_at, to_timestamp($3::float8)), acknowledged_by "
                          "= coalesce(acknowledged_by, $2), dispatched_at = "
                          "to_timestamp($3::float8), dispatched_by = $2, dispatched_to = $4, "
                          "updated_at = now() WHERE ticket_id = $1::bigint",
                          {"dispatched_to"}},
    [TICKETS_ON_SITE] = {"on-site",
                         "on_site",
                         S_DISPATCHED,
                         T(T_OPENED) | T(T_ACK) | T(T_DISPATCHED),
                         "UPDATE tickets SET state = 'on_site', on_site_at = "
                         "to_timestamp($3::float8), on_site_by = $2, updated_at = now() "
                         "WHERE ticket_id = $1::bigint",
                         {NULL}},
    [TICKETS_RESOLVE] = {"resolve",
                         "resolved",
                         S_LIVE,
                         T_STEPS | T(T_PAUSE_START),
                         END_PAUSE "UPDATE tickets SET state = 'resolved', resolved_at = "
                                   "to_timestamp($3::float8), resolved_by = $2, cause = $4, "
                                   "action_taken = $5, prevention = $6, updated_at = now() "
                                   "WHERE ticket_id = $1::bigint",
                         {"cause", "action", "prevention"}},
    [TICKETS_CLOSE] = {"close",
                       "closed",
                       S_RESOLVED,
                       T(T_RESOLVED),
                       "UPDATE tickets SET state = 'closed', closed_at = to_timestamp($3::float8), "
                       "closed_by = $2, satisfaction = $4::smallint, customer_confirmed = "
                       "$5::boolean, confirmed_by = $6, updated_at = now() "
                       "WHERE ticket_id = $1::bigint",
                       {"satisfaction", "confirmed", "confirmed_by"}},
    [TICKETS_REOPEN] = {"reopen",
                        "acknowledged",
                        S_RESOLVED | S_CLOSED,
                        T(T_RESOLVED) | T(T_CLOSED),
                        "SELECT fm_ticket_new_visit($1::bigint, to_timestamp($3::float8), $2, $4, "
                        "'acknowledged')",
                        {"reason"}},
    [TICKETS_REMOTE] = {"remote",
                        NULL,
                        S_LIVE,
                        T(T_OPENED) | T(T_ACK),
                        "UPDATE tickets SET remote_started_at = to_timestamp($3::float8), "
                        "updated_at = now() WHERE ticket_id = $1::bigint",
                        {NULL}},
    [TICKETS_CANCEL] = {"cancel",
                        "closed",
                        S_LIVE | S_RESOLVED,
                        T_STEPS | T(T_RESOLVED) | T(T_PAUSE_START),
                        END_PAUSE "UPDATE tickets SET state = 'closed', closed_as = 'cancelled', "
                                  "close_reason = $4, closed_at = to_timestamp($3::float8), "
                                  "closed_by = $2, updated_at = now() WHERE ticket_id = $1::bigint",
                        {"reason"}},
    [TICKETS_DUPLICATE] =
        {"duplicate",
         "closed",
         S_LIVE | S_RESOLVED,
         T_STEPS | T(T_RESOLVED) | T(T_PAUSE_START),
         END_PAUSE ", a AS (INSERT INTO ticket_alarms (ticket_id, ts, site_id, device, code, "
                   "state, alarm_event_id) SELECT $4::bigint, x.ts, x.site_id, x.device, x.code, "
                   "x.state, x.alarm_event_id FROM ticket_alarms x WHERE x.ticket_id = $1::bigint "
                   "AND NOT EXISTS (SELECT 1 FROM ticket_alarms y WHERE y.ticket_id = $4::bigint "
                   "AND y.ts = x.ts AND y.device = x.device AND y.code = x.code AND y.state = "
                   "x.state)), d AS (INSERT INTO ticket_devices SELECT $4::bigint, site_id, "
                   "device, child_key, attached_at, detached_at FROM ticket_devices WHERE "
                   "ticket_id = $1::bigint ON CONFLICT DO NOTHING), o AS (INSERT INTO "
                   "ticket_audit (actor, ticket_id, action, detail) VALUES ($2, $4::bigint, "
                   "'merge', jsonb_build_object('duplicate', $1::bigint))) "
                   "UPDATE tickets SET state = 'closed', closed_as = 'duplicate', duplicate_of = "
                   "$4::bigint, close_reason = $5, closed_at = to_timestamp($3::float8), "
                   "closed_by = $2, updated_at = now() WHERE ticket_id = $1::bigint",
         {"duplicate_of", "note"}},
    [TICKETS_NOTE] = {"note", NULL, S_ANY, 0, NULL, {"note"}},
    [TICKETS_PAUSE] = {"pause",
                       NULL,
                       S_LIVE,
                       T(T_OPENED) | T(T_PAUSE_LAST),
                       "INSERT INTO sla_pauses (ticket_id, started_at, reason) VALUES "
                       "($1::bigint, to_timestamp($3::float8), $4)",
                       {"reason"}},
    [TICKETS_RESUME] = {"resume",
                        NULL,
                        S_LIVE,
                        T(T_PAUSE_START),
                        "UPDATE sla_pauses SET ended_at = to_timestamp($3::float8) "
                        "WHERE ticket_id = $1::bigint AND ended_at IS NULL",
                        {NULL}},
    [TICKETS_REGRADE] = {"regrade",
                         NULL,
                         S_LIVE,
                         T(T_OPENED) | T(T_GRADE),
                         "WITH g AS (INSERT INTO ticket_grades VALUES ($1::bigint, "
                         "to_timestamp($3::float8), $5::smallint, $4::smallint, NULL, $2)) "
                         "UPDATE tickets SET grade = $4::smallint, rule = NULL, updated_at = now() "
                         "WHERE ticket_id = $1::bigint",
                         {"to", "from", "reason"}},
    [TICKETS_ARCHIVE] = {"archive",
                         NULL,
                         S_CLOSED,
                         0,
                         "UPDATE tickets SET archived_at = now(), archived_by = $2 "
                         "WHERE ticket_id = $1::bigint",
                         {NULL}},
};

const char *tickets_step_state(enum tickets_step step)
{
    return (unsigned)step < TICKETS_STEPS ? steps[step].to : NULL;
}

int tickets_pg_fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char state[6], ctx[96];
    int rc = -EIO;

    /* People read this: PostgreSQL's primary message, without its
     * "ERROR:" and detail lines, says what went wrong. */
    pg_classify(conn, r, what, why, whylen, state);
    if (primary != NULL && PQstatus(conn) == CONNECTION_OK) {
        snprintf(ctx, sizeof(ctx), "the database refused to %s", what);
        pg_oneline(why, whylen, ctx, primary);
    }
    if (strcmp(state, "23505") == 0) /* unique_violation */
        rc = -EEXIST;
    PQclear(r);
    pg_rollback(conn);
    return rc;
}

bool tickets_blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

int tickets_refuse(PGconn *conn, int rc, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    pg_rollback(conn);
    return rc;
}

void tickets_fmt_time(PGconn *conn, double t, char *buf, size_t len)
{
    char param[32];
    const char *p[1] = {param};
    PGresult *r;

    snprintf(param, sizeof(param), "%.3f", t);
    r = PQexecParams(conn,
                     "SELECT to_char(to_timestamp($1::float8), "
                     "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(buf, len, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(buf, len, "%.0f (Unix time)", t);
    PQclear(r);
}

static int check_args(enum tickets_step step, const struct tickets_op *op, char *why, size_t whylen)
{
    const char *need = NULL;

    if (tickets_blank(op->actor))
        need = "an actor is required";
    else if (step == TICKETS_DISPATCH && tickets_blank(op->dispatched_to))
        need = "dispatch needs who is sent (--to)";
    else if (step == TICKETS_RESOLVE && (tickets_blank(op->cause) || tickets_blank(op->action)))
        need = "resolve needs the fault's cause and the action taken";
    else if (step == TICKETS_CLOSE && (op->satisfaction < 1 || op->satisfaction > 5))
        need = "close needs the customer's satisfaction 1..5";
    else if (step == TICKETS_CLOSE && !op->confirmed && !tickets_blank(op->confirmed_by))
        need = "--confirmed-by names who confirmed: give --confirmed too";
    else if ((step == TICKETS_REOPEN || step == TICKETS_CANCEL || step == TICKETS_PAUSE ||
              step == TICKETS_REGRADE) &&
             tickets_blank(op->reason))
        need = "give the reason (--reason)";
    else if (step == TICKETS_NOTE && tickets_blank(op->note))
        need = "a note needs its text";
    else if (step == TICKETS_REGRADE && (op->grade < 1 || op->grade > 4))
        need = "regrade needs --grade 1..4";
    else if (step == TICKETS_DUPLICATE && op->other <= 0)
        need = "duplicate-of needs the ticket it duplicates";
    else if (op->at < 0)
        need = "the time is before 1970";
    if (need == NULL)
        return 0;
    snprintf(why, whylen, "%s", need);
    return -EINVAL;
}

/* The ticket as the step sees it, read under the row lock. */
struct locked {
    unsigned state; /* S_* bit */
    char state_name[24];
    bool cancelled_or_dup, archived, remote_done, paused;
    double t[T_N]; /* 0: not happened */
    double now, reopen_within_s;
    int grade;
    char key[256];
};

static const char lock_sql[] =
    "SELECT t.state, t.closed_as IS NOT NULL, t.archived_at IS NOT NULL, "
    "extract(epoch FROM t.visit_opened_at)::float8, extract(epoch FROM t.acknowledged_at)::float8, "
    "extract(epoch FROM t.dispatched_at)::float8, extract(epoch FROM t.on_site_at)::float8, "
    "extract(epoch FROM t.remote_started_at)::float8, extract(epoch FROM t.resolved_at)::float8, "
    "extract(epoch FROM t.closed_at)::float8, "
    "(SELECT extract(epoch FROM started_at)::float8 FROM sla_pauses p "
    " WHERE p.ticket_id = t.ticket_id AND ended_at IS NULL), "
    "(SELECT extract(epoch FROM max(coalesce(ended_at, started_at)))::float8 FROM sla_pauses p "
    " WHERE p.ticket_id = t.ticket_id AND p.started_at >= t.visit_opened_at), "
    "(SELECT extract(epoch FROM max(ts))::float8 FROM ticket_grades g "
    " WHERE g.ticket_id = t.ticket_id), "
    "t.grade, extract(epoch FROM now())::float8, "
    "coalesce((SELECT extract(epoch FROM reopen_within)::float8 FROM sla_contracts c "
    " WHERE c.customer = coalesce(t.sla_contract, fm_contract_of_site(t.site_id))), 2592000), "
    "t.dedupe_key FROM tickets t WHERE t.ticket_id = $1::bigint FOR UPDATE OF t";

static double num(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtod(PQgetvalue(r, 0, col), NULL);
}

/* Locks op's ticket and reads it into k. The transaction is open on 0. */
static int lock_ticket(PGconn *conn, long long id, struct locked *k, char *why, size_t whylen)
{
    char ids[24];
    const char *p[1] = {ids};
    PGresult *r;

    snprintf(ids, sizeof(ids), "%lld", id);
    r = PQexecParams(conn, lock_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return tickets_pg_fail(conn, r, "lock ticket", why, whylen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return tickets_refuse(conn, -ENOENT, why, whylen, "no ticket %lld", id);
    }
    memset(k, 0, sizeof(*k));
    snprintf(k->state_name, sizeof(k->state_name), "%s", PQgetvalue(r, 0, 0));
    for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
        if (strcmp(state_names[i], k->state_name) == 0)
            k->state = 1u << i;
    }
    k->cancelled_or_dup = PQgetvalue(r, 0, 1)[0] == 't';
    k->archived = PQgetvalue(r, 0, 2)[0] == 't';
    for (int i = 0; i < T_N; i++)
        k->t[i] = num(r, 3 + i);
    k->paused = k->t[T_PAUSE_START] != 0;
    k->remote_done = k->t[T_REMOTE] != 0;
    k->grade = atoi(PQgetvalue(r, 0, 3 + T_N));
    k->now = num(r, 4 + T_N);
    k->reopen_within_s = num(r, 5 + T_N);
    snprintf(k->key, sizeof(k->key), "%s", PQgetvalue(r, 0, 6 + T_N));
    PQclear(r);
    return 0;
}

/* What the state and the ticket's record allow, beyond the state table. */
static int check_ticket(PGconn *conn, enum tickets_step step, const struct tickets_op *op,
                        const struct locked *k, char *why, size_t whylen)
{
    const struct step_def *d = &steps[step];
    long long id = op->ticket_id;

    if (!(d->from & k->state))
        return tickets_refuse(conn, -EPERM, why, whylen, "ticket %lld is %s%s: cannot %s it", id,
                              k->state_name,
                              k->cancelled_or_dup ? " (cancelled or a duplicate)" : "", d->name);
    if (step == TICKETS_REMOTE && k->remote_done)
        return tickets_refuse(conn, -EPERM, why, whylen,
                              "ticket %lld: remote support was recorded already", id);
    if (step == TICKETS_PAUSE && k->paused)
        return tickets_refuse(conn, -EPERM, why, whylen,
                              "ticket %lld: its clocks are paused already", id);
    if (step == TICKETS_RESUME && !k->paused)
        return tickets_refuse(conn, -EPERM, why, whylen, "ticket %lld: its clocks are not paused",
                              id);
    if (step == TICKETS_REGRADE && op->grade == k->grade)
        return tickets_refuse(conn, -EPERM, why, whylen, "ticket %lld is grade %d already", id,
                              k->grade);
    if (step == TICKETS_ARCHIVE && k->archived)
        return tickets_refuse(conn, -EPERM, why, whylen, "ticket %lld is archived already", id);
    if (step == TICKETS_REOPEN && k->state == S_CLOSED && k->archived)
        return tickets_refuse(conn, -EPERM, why, whylen,
                              "ticket %lld is archived: cannot reopen it", id);
    if (step == TICKETS_REOPEN && k->state == S_CLOSED &&
        k->t[T_CLOSED] + k->reopen_within_s < k->now) {
        char at[48];

        tickets_fmt_time(conn, k->t[T_CLOSED], at, sizeof(at));
        return tickets_refuse(conn, -EPERM, why, whylen,
                              "ticket %lld was closed at %s, longer ago than its contract's reopen "
                              "period (%.0f days): open a new ticket",
                              id, at, k->reopen_within_s / 86400);
    }
    return 0;
}

/* When a step given without a time happened: now, or, if a step it
 * follows is stamped later (a device clock ahead of the database's), then. */
static double default_time(enum tickets_step step, const struct locked *k)
{
    double at = k->now;

    for (int i = 0; i < T_N; i++) {
        if ((steps[step].after & T(i)) && k->t[i] > at)
            at = k->t[i];
    }
    return at;
}

/* A time given for a step (op.at) against the clock and the steps it may
 * not precede. */
static int check_time(PGconn *conn, enum tickets_step step, const struct locked *k, double at,
                      long long id, char *why, size_t whylen)
{
    char a[48], b[48];

    if (at > k->now + 1) {
        tickets_fmt_time(conn, at, a, sizeof(a));
        return tickets_refuse(conn, -ERANGE, why, whylen, "ticket %lld: %s is in the future", id,
                              a);
    }
    for (int i = 0; i < T_N; i++) {
        if (!(steps[step].after & T(i)) || k->t[i] == 0 || at >= k->t[i])
            continue;
        tickets_fmt_time(conn, at, a, sizeof(a));
        tickets_fmt_time(conn, k->t[i], b, sizeof(b));
        return tickets_refuse(conn, -ERANGE, why, whylen, "ticket %lld: %s is before %s (%s)", id,
                              a, time_names[i], b);
    }
    return 0;
}

/* The ticket op->other that a duplicate is merged into must be a live one. */
static int check_other(PGconn *conn, const struct tickets_op *op, char *why, size_t whylen)
{
    char ids[24];
    const char *p[1] = {ids};
    PGresult *r;
    int rc = 0;

    if (op->other == op->ticket_id)
        return tickets_refuse(conn, -EINVAL, why, whylen, "a ticket cannot duplicate itself");
    snprintf(ids, sizeof(ids), "%lld", op->other);
    r = PQexecParams(conn, "SELECT closed_as FROM tickets WHERE ticket_id = $1::bigint", 1, NULL, p,
                     NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return tickets_pg_fail(conn, r, "duplicate", why, whylen);
    if (PQntuples(r) == 0)
        rc = tickets_refuse(conn, -ENOENT, why, whylen, "no ticket %lld", op->other);
    else if (!PQgetisnull(r, 0, 0))
        rc = tickets_refuse(
            conn, -EPERM, why, whylen,
            "ticket %lld is %s itself: mark it a duplicate of the ticket it "
            "belongs to",
            op->other, strcmp(PQgetvalue(r, 0, 0), "cancelled") == 0 ? "cancelled" : "a duplicate");
    PQclear(r);
    return rc;
}

/* A reopening must not give the fault a second open ticket. */
static int check_reopen(PGconn *conn, const struct tickets_op *op, const struct locked *k,
                        char *why, size_t whylen)
{
    char ids[24];
    const char *p[2] = {k->key, ids};
    PGresult *r;
    int rc = 0;

    snprintf(ids, sizeof(ids), "%lld", op->ticket_id);
    r = PQexecParams(conn,
                     "SELECT ticket_id FROM tickets WHERE dedupe_key = $1 AND ticket_id <> "
                     "$2::bigint AND state NOT IN ('resolved', 'closed')",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return tickets_pg_fail(conn, r, "reopen", why, whylen);
    if (PQntuples(r) > 0)
        rc = tickets_refuse(conn, -EEXIST, why, whylen,
                            "the fault already has open ticket %s: work on that one",
                            PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The step's own parameters $4..$7. */
static void step_args(enum tickets_step step, const struct tickets_op *op, const struct locked *k,
                      const char *p[4], char *b1, char *b2, size_t len)
{
    memset(p, 0, 4 * sizeof(*p));
    switch (step) {
    case TICKETS_DISPATCH:
        p[0] = op->dispatched_to;
        break;
    case TICKETS_RESOLVE:
        p[0] = op->cause;
        p[1] = op->action;
        p[2] = tickets_blank(op->prevention) ? NULL : op->prevention;
        break;
    case TICKETS_CLOSE:
        snprintf(b1, len, "%d", op->satisfaction);
        p[0] = b1;
        p[1] = op->confirmed ? "true" : "false";
        p[2] = tickets_blank(op->confirmed_by) ? NULL : op->confirmed_by;
        break;
    case TICKETS_REOPEN:
    case TICKETS_CANCEL:
    case TICKETS_PAUSE:
        p[0] = op->reason;
        break;
    case TICKETS_DUPLICATE:
        snprintf(b1, len, "%lld", op->other);
        p[0] = b1;
        p[1] = tickets_blank(op->note) ? NULL : op->note;
        break;
    case TICKETS_NOTE:
        p[0] = op->note;
        break;
    case TICKETS_REGRADE:
        snprintf(b1, len, "%d", op->grade);
        snprintf(b2, len, "%d", k->grade);
        p[0] = b1;
        p[1] = b2;
        p[2] = op->reason;
        break;
    default:
        break;
    }
}

/* The audit row: from/to state, when it happened if given (detail.at), the
 * step's arguments; and a note given with the step. */
static int audit(PGconn *conn, enum tickets_step step, const struct tickets_op *op,
                 const struct locked *k, const char *const *params, char *why, size_t whylen)
{
    const struct step_def *d = &steps[step];
    json_t *detail =
        json_pack("{s:s, s:s}", "from", k->state_name, "to", d->to ? d->to : k->state_name);
    /* A grade change is 'grade' in the audit trail, as the collector's are. */
    const char *p[5] = {params[0], params[1], params[2],
                        step == TICKETS_REGRADE ? "grade" : d->name, NULL};
    char *text;
    PGresult *r;

    for (int i = 0; i < 4; i++) {
        if (d->args[i] != NULL && params[3 + i] != NULL)
            json_object_set_new(detail, d->args[i], json_string(params[3 + i]));
    }
    text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(detail);
    if (text == NULL)
        return tickets_refuse(conn, -ENOMEM, why, whylen, "audit: cannot encode the detail");
    p[4] = text;
    r = PQexecParams(conn,
                     "INSERT INTO ticket_audit (actor, ticket_id, action, detail) VALUES ($2, "
                     "$1::bigint, $4, $5::jsonb || CASE WHEN $6::boolean THEN jsonb_build_object("
                     "'at', to_timestamp($3::float8)) ELSE '{}' END)",
                     6, NULL,
                     (const char *const[]){p[0], p[1], p[2], p[3], p[4], op->at > 0 ? "t" : "f"},
                     NULL, NULL, 0);
    free(text);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return tickets_pg_fail(conn, r, "audit", why, whylen);
    PQclear(r);
    if (step != TICKETS_NOTE && step != TICKETS_DUPLICATE && !tickets_blank(op->note)) {
        const char *np[3] = {op->actor, params[0], op->note};

        /* The note is dated with its step. */
        r = PQexecParams(
            conn,
            "INSERT INTO ticket_audit (actor, ticket_id, action, detail) VALUES ($1, "
            "$2::bigint, 'note', jsonb_build_object('note', $3::text) || CASE WHEN "
            "$5::boolean THEN jsonb_build_object('at', to_timestamp($4::float8)) "
            "ELSE '{}' END)",
            5, NULL, (const char *const[]){np[0], np[1], np[2], params[2], op->at > 0 ? "t" : "f"},
            NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return tickets_pg_fail(conn, r, "note", why, whylen);
        PQclear(r);
    }
    return 0;
}

int tickets_step(PGconn *conn, enum tickets_step step, const struct tickets_op *op, char *why,
                 size_t whylen)
{
    char ids[24], at[32], b1[24], b2[24];
    const char *params[7];
    struct locked k;
    PGresult *r;
    int rc;

    if ((unsigned)step >= TICKETS_STEPS) {
        snprintf(why, whylen, "unknown step %d", (int)step);
        return -EINVAL;
    }
    rc = check_args(step, op, why, whylen);
    if (rc != 0)
        return rc;
    rc = pg_begin(conn, why, whylen);
    if (rc == 0)
        rc = lock_ticket(conn, op->ticket_id, &k, why, whylen);
    if (rc != 0)
        return rc;
    rc = check_ticket(conn, step, op, &k, why, whylen);
    if (rc == 0 && op->at > 0)
        rc = check_time(conn, step, &k, op->at, op->ticket_id, why, whylen);
    if (rc == 0 && step == TICKETS_DUPLICATE)
        rc = check_other(conn, op, why, whylen);
    if (rc == 0 && step == TICKETS_REOPEN)
        rc = check_reopen(conn, op, &k, why, whylen);
    if (rc != 0)
        return rc;
    snprintf(ids, sizeof(ids), "%lld", op->ticket_id);
    snprintf(at, sizeof(at), "%.3f", op->at > 0 ? op->at : default_time(step, &k));
    params[0] = ids;
    params[1] = op->actor;
    params[2] = at;
    step_args(step, op, &k, params + 3, b1, b2, sizeof(b1));
    if (steps[step].sql != NULL) {
        /* Every parameter is text: a step need not use them all. */
        static const Oid text[7] = {25, 25, 25, 25, 25, 25, 25};

        r = PQexecParams(conn, steps[step].sql, 7, text, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            return tickets_pg_fail(conn, r, steps[step].name, why, whylen);
        PQclear(r);
    }
    rc = audit(conn, step, op, &k, params, why, whylen);
    if (rc != 0)
        return rc;
    return pg_commit(conn, why, whylen);
}
