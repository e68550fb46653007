/* tickets: the batch of engine actions and applying it to PostgreSQL.
 *
 * Each action becomes one or two statements in one transaction. An action on
 * a fault key finds its ticket with fm_ticket_current() (the open one, else
 * the latest), cached per key within the batch because a site storm sends
 * hundreds of ATTACH lines for one key. A raise on a fault whose ticket was
 * resolved or closed meanwhile goes through fm_ticket_open() again, which
 * reopens it within `reopen_within` or opens a new one. */
#include "tickets.h"

#include "fm_alloc.h"
#include "fm_log.h"
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tickets_batch {
    struct corr_action *a;
    size_t n, cap;
};

tickets_batch_t *tickets_batch_create(void)
{
    return fm_xcalloc(1, sizeof(tickets_batch_t));
}

static char *dup_opt(const char *s)
{
    return s ? fm_xstrdup(s) : NULL;
}

static void action_free(struct corr_action *a)
{
    free((char *)a->key);
    free((char *)a->site);
    free((char *)a->device);
    free((char *)a->code);
    free((char *)a->child);
    free((char *)a->title);
    free((char *)a->rule);
}

void tickets_batch_add(tickets_batch_t *b, const struct corr_action *a)
{
    struct corr_action *c;

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->a = fm_xrealloc(b->a, b->cap * sizeof(*b->a));
    }
    c = &b->a[b->n++];
    *c = *a;
    c->key = dup_opt(a->key);
    c->site = dup_opt(a->site);
    c->device = dup_opt(a->device);
    c->code = dup_opt(a->code);
    c->child = dup_opt(a->child);
    c->title = dup_opt(a->title);
    c->rule = dup_opt(a->rule);
}

void tickets_batch_cb(void *data, const struct corr_action *a)
{
    tickets_batch_add(data, a);
}

size_t tickets_batch_count(const tickets_batch_t *b)
{
    return b->n;
}

const struct corr_action *tickets_batch_get(const tickets_batch_t *b, size_t i)
{
    return i < b->n ? &b->a[i] : NULL;
}

void tickets_batch_clear(tickets_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        action_free(&b->a[i]);
    b->n = 0;
}

void tickets_batch_move(tickets_batch_t *dst, tickets_batch_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 64;
            dst->a = fm_xrealloc(dst->a, dst->cap * sizeof(*dst->a));
        }
        dst->a[dst->n++] = src->a[i]; /* ownership of the strings moves */
    }
    src->n = 0;
}

void tickets_batch_destroy(tickets_batch_t *b)
{
    if (b == NULL)
        return;
    tickets_batch_clear(b);
    free(b->a);
    free(b);
}

/* ---------------------------------------------------------------- applying */

/* The alarm_events row of a transition: $7 when the caller knows it, else
 * the row the collector stored for this site, device, code and state at
 * this time ($2, Unix seconds; the millisecond either side absorbs the
 * rounding of the two conversions). Reachability has no such row. */
#define EVENT_ID_SQL                                                                               \
    "coalesce($7::bigint, (SELECT e.alarm_event_id FROM alarm_events e"                            \
    " JOIN devices d USING (device_id) JOIN agents a ON a.agent_id = d.agent_id"                   \
    " WHERE a.site_id = $3 AND d.name = $4 AND e.code = $5 AND e.state = $6"                       \
    " AND e.ts BETWEEN to_timestamp($2::double precision) - interval '1 ms'"                       \
    " AND to_timestamp($2::double precision) + interval '1 ms'"                                    \
    " ORDER BY e.alarm_event_id DESC LIMIT 1))"

struct apply {
    PGconn *conn;
    const char *actor;
    char reopen[32];
    struct tickets_result *res;
    char *why;
    size_t whylen;
    /* One-entry cache: consecutive actions mostly share a key. */
    char *cached_key;
    long long cached_id;
    enum pg_verdict verdict; /* of the last failure */
};

static int fail(struct apply *ap, const char *what, PGresult *r)
{
    ap->verdict = pg_classify(ap->conn, r, what, ap->why, ap->whylen, NULL);
    PQclear(r);
    return -EIO;
}

/* Runs sql with text params; returns the result on success (caller clears)
 * or NULL after filling why. */
static PGresult *exec(struct apply *ap, const char *what, const char *sql, int n,
                      const char *const *params)
{
    PGresult *r = PQexecParams(ap->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail(ap, what, r);
        return NULL;
    }
    return r;
}

static int exec_cmd(struct apply *ap, const char *what, const char *sql, int n,
                    const char *const *params)
{
    PGresult *r = exec(ap, what, sql, n, params);

    if (r == NULL)
        return -EIO;
    PQclear(r);
    return 0;
}

static void fmt_ts(char *buf, size_t len, int64_t ms)
{
    snprintf(buf, len, "%.3f", (double)ms / 1000.0);
}

/* A ticket id and a time as statement parameters. */
struct idts {
    char id[24];
    char ts[32];
};

static void idts_set(struct idts *x, long long id, int64_t ts_ms)
{
    snprintf(x->id, sizeof(x->id), "%lld", id);
    fmt_ts(x->ts, sizeof(x->ts), ts_ms);
}

static void cache_set(struct apply *ap, const char *key, long long id)
{
    free(ap->cached_key);
    ap->cached_key = fm_xstrdup(key);
    ap->cached_id = id;
}

/* Ticket of key: the open one, else the latest; 0 when none. */
static int current_ticket(struct apply *ap, const char *key, long long *id)
{
    const char *p[1] = {key};
    PGresult *r;

    if (ap->cached_key && strcmp(ap->cached_key, key) == 0) {
        *id = ap->cached_id;
        return 0;
    }
    r = exec(ap, "fm_ticket_current", "SELECT fm_ticket_current($1)", 1, p);
    if (r == NULL)
        return -EIO;
    *id = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (*id)
        cache_set(ap, key, *id);
    return 0;
}

static void count_outcome(struct apply *ap, const char *outcome)
{
    if (strcmp(outcome, "opened") == 0)
        ap->res->opened++;
    else if (strcmp(outcome, "reopened") == 0)
        ap->res->reopened++;
    else
        ap->res->joined++;
}

static int apply_open(struct apply *ap, const struct corr_action *a)
{
    char grade[8], ts[32];
    const char *p[12];
    PGresult *r;

    snprintf(grade, sizeof(grade), "%d", a->grade);
    fmt_ts(ts, sizeof(ts), a->ts_ms);
    p[0] = a->key;
    p[1] = corr_kind_name(a->kind);
    p[2] = grade;
    p[3] = a->site;
    p[4] = a->device;
    p[5] = a->code;
    p[6] = a->title ? a->title : a->key;
    p[7] = a->rule;
    p[8] = a->flapping ? "t" : "f";
    p[9] = ts;
    p[10] = ap->actor;
    p[11] = ap->reopen;
    r = exec(ap, "fm_ticket_open",
             "SELECT ticket_id, outcome FROM fm_ticket_open($1, $2, $3::smallint, $4, $5, $6, $7,"
             " $8, $9::boolean, to_timestamp($10::double precision), $11,"
             " ($12 || ' milliseconds')::interval)",
             12, p);
    if (r == NULL)
        return -EIO;
    cache_set(ap, a->key, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
    count_outcome(ap, PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

/* A raise on a fault whose ticket is resolved or closed: reopen or renew it
 * from the latest ticket's description. */
static int renew_ticket(struct apply *ap, const char *key, int64_t ts_ms, long long *id)
{
    char ts[32];
    const char *p[4] = {key, ts, ap->actor, ap->reopen};
    PGresult *r;

    fmt_ts(ts, sizeof(ts), ts_ms);
    r = exec(ap, "renew ticket",
             "SELECT o.ticket_id, o.outcome, t.state FROM tickets t,"
             " fm_ticket_open(t.dedupe_key, t.kind, t.grade, t.site_id, t.device, t.code,"
             " t.title, t.rule, false, to_timestamp($2::double precision), $3,"
             " ($4 || ' milliseconds')::interval) o"
             " WHERE t.ticket_id = fm_ticket_current($1)",
             4, p);
    if (r == NULL)
        return -EIO;
    *id = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    if (*id) {
        count_outcome(ap, PQgetvalue(r, 0, 1));
        cache_set(ap, key, *id);
    }
    PQclear(r);
    return 0;
}

static int ticket_is_open(struct apply *ap, long long id, bool *open)
{
    char ids[24];
    const char *p[1] = {ids};
    PGresult *r;

    snprintf(ids, sizeof(ids), "%lld", id);
    r = exec(ap, "ticket state",
             "SELECT state NOT IN ('resolved', 'closed') FROM tickets WHERE ticket_id = $1", 1, p);
    if (r == NULL)
        return -EIO;
    *open = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

static int apply_alarm(struct apply *ap, const struct corr_action *a, long long id)
{
    struct idts x;
    char ev[24];
    const char *p[7];
    int rc;

    if (a->raised && !a->initial) {
        bool open;

        rc = ticket_is_open(ap, id, &open);
        if (rc == 0 && !open)
            rc = renew_ticket(ap, a->key, a->ts_ms, &id);
        if (rc != 0)
            return rc;
    }
    idts_set(&x, id, a->ts_ms);
    snprintf(ev, sizeof(ev), "%" PRId64, a->alarm_event_id);
    p[0] = x.id;
    p[1] = x.ts;
    p[2] = a->site ? a->site : "";
    p[3] = a->device ? a->device : "";
    p[4] = a->code ? a->code : "";
    p[5] = a->raised ? "raised" : "cleared";
    p[6] = a->alarm_event_id ? ev : NULL;
    /* A transition the ticket already lists is not listed twice: a site
     * rebuilt from PostgreSQL (faults_restore.c) may report it again. */
    rc =
        exec_cmd(ap, "record alarm",
                 "INSERT INTO ticket_alarms (ticket_id, ts, site_id, device, code, state,"
                 " alarm_event_id) SELECT $1::bigint, to_timestamp($2::double precision), $3::text,"
                 " $4::text, $5::text, $6::text, " EVENT_ID_SQL " WHERE NOT EXISTS (SELECT 1"
                 " FROM ticket_alarms x WHERE x.ticket_id = $1::bigint AND x.ts = "
                 "to_timestamp($2::double precision)"
                 " AND x.site_id = $3 AND x.device = $4 AND x.code = $5 AND x.state = $6)",
                 7, p);
    if (rc != 0)
        return rc;
    ap->res->alarms++;
    if (a->initial)
        return 0;
    /* A new raise after the condition had cleared is another occurrence. */
    p[2] = a->raised ? "t" : "f";
    return exec_cmd(ap, "touch ticket",
                    "UPDATE tickets SET last_seen = GREATEST(last_seen,"
                    " to_timestamp($2::double precision)),"
                    " occurrences = occurrences + CASE WHEN $3::boolean AND cleared_at IS NOT NULL"
                    " THEN 1 ELSE 0 END,"
                    " cleared_at = CASE WHEN $3::boolean THEN NULL ELSE cleared_at END,"
                    " updated_at = now() WHERE ticket_id = $1",
                    3, p);
}

static int apply_link(struct apply *ap, const struct corr_action *a, long long id)
{
    struct idts x;
    const char *p[5];

    idts_set(&x, id, a->ts_ms);
    p[0] = x.id;
    p[1] = a->site ? a->site : "";
    p[2] = a->device ? a->device : "";
    p[3] = a->child;
    p[4] = x.ts;
    if (a->type == CORR_ACT_ATTACH) {
        ap->res->attached++;
        return exec_cmd(ap, "attach device",
                        "INSERT INTO ticket_devices (ticket_id, site_id, device, child_key,"
                        " attached_at) VALUES ($1, $2, $3, $4, to_timestamp($5::double precision))"
                        " ON CONFLICT (ticket_id, site_id, device) DO UPDATE SET"
                        " detached_at = NULL, child_key = EXCLUDED.child_key",
                        5, p);
    }
    ap->res->detached++;
    return exec_cmd(ap, "detach device",
                    "UPDATE ticket_devices SET detached_at = to_timestamp($5::double precision)"
                    " WHERE ticket_id = $1 AND site_id = $2 AND device = $3"
                    " AND ($4::text IS NULL OR child_key IS NULL OR child_key = $4)",
                    5, p);
}

static int apply_grade(struct apply *ap, const struct corr_action *a, long long id)
{
    struct idts x;
    char g[8];
    const char *p[5];

    idts_set(&x, id, a->ts_ms);
    snprintf(g, sizeof(g), "%d", a->grade);
    p[0] = x.id;
    p[1] = x.ts;
    p[2] = g;
    p[3] = a->rule;
    p[4] = ap->actor;
    ap->res->grades++;
    /* The ticket may already hold a grade at least as severe (another
     * collector, or an operator): only a rise is written. */
    return exec_cmd(ap, "raise grade",
                    "SELECT fm_ticket_raise_grade($1, $3::smallint, $4,"
                    " to_timestamp($2::double precision), $5)",
                    5, p);
}

static int apply_state(struct apply *ap, const struct corr_action *a, long long id)
{
    struct idts x;
    const char *p[3];

    idts_set(&x, id, a->ts_ms);
    p[0] = x.id;
    p[1] = x.ts;
    p[2] = ap->actor;
    if (a->type == CORR_ACT_FLAPPING) {
        ap->res->flapping++;
        return exec_cmd(ap, "mark flapping",
                        "WITH up AS (UPDATE tickets SET flapping = true, updated_at = now()"
                        " WHERE ticket_id = $1 AND NOT flapping RETURNING ticket_id)"
                        " INSERT INTO ticket_audit (actor, ticket_id, action, detail)"
                        " SELECT $3, ticket_id, 'flapping', jsonb_build_object('at',"
                        " to_timestamp($2::double precision)) FROM up",
                        3, p);
    }
    ap->res->clears++;
    return exec_cmd(
        ap, "record clear",
        "WITH up AS (UPDATE tickets SET cleared_at = to_timestamp($2::double precision),"
        " updated_at = now() WHERE ticket_id = $1 RETURNING ticket_id)"
        " INSERT INTO ticket_audit (actor, ticket_id, action, detail)"
        " SELECT $3, ticket_id, 'clear', jsonb_build_object('at',"
        " to_timestamp($2::double precision)) FROM up",
        3, p);
}

static int apply_suppress(struct apply *ap, const struct corr_action *a)
{
    char ts[32], w[24], ev[24];
    const char *p[7];

    fmt_ts(ts, sizeof(ts), a->ts_ms);
    snprintf(w, sizeof(w), "%" PRId64, a->window_id);
    snprintf(ev, sizeof(ev), "%" PRId64, a->alarm_event_id);
    p[0] = a->window_id ? w : NULL;
    p[1] = ts;
    p[2] = a->site ? a->site : "";
    p[3] = a->device ? a->device : "";
    p[4] = a->code ? a->code : "";
    p[5] = a->raised ? "raised" : "cleared";
    p[6] = a->alarm_event_id ? ev : NULL;
    ap->res->suppressed++;
    /* The window may have been deleted since; the record stays. */
    return exec_cmd(ap, "record suppressed alarm",
                    "INSERT INTO suppressed_alarms (window_id, ts, site_id, device, code, state,"
                    " alarm_event_id) SELECT (SELECT window_id FROM maintenance_windows"
                    " WHERE window_id = $1::bigint), to_timestamp($2::double precision), $3, $4,"
                    " $5, $6, " EVENT_ID_SQL,
                    7, p);
}

static int apply_one(struct apply *ap, const struct corr_action *a)
{
    long long id = 0;
    int rc;

    if (a->type == CORR_ACT_OPEN)
        return apply_open(ap, a);
    if (a->type == CORR_ACT_SUPPRESS)
        return apply_suppress(ap, a);
    rc = current_ticket(ap, a->key, &id);
    if (rc != 0)
        return rc;
    if (id == 0) {
        ap->res->skipped++;
        FM_DEBUG("tickets: %s: %s on a fault without a ticket", a->key, corr_act_name(a->type));
        return 0;
    }
    switch (a->type) {
    case CORR_ACT_ALARM:
        return apply_alarm(ap, a, id);
    case CORR_ACT_ATTACH:
    case CORR_ACT_DETACH:
        return apply_link(ap, a, id);
    case CORR_ACT_GRADE:
        return apply_grade(ap, a, id);
    default:
        return apply_state(ap, a, id);
    }
}

/* One attempt at the whole batch in one transaction. */
static int apply_once(struct apply *ap, const tickets_batch_t *b)
{
    int rc = pg_begin(ap->conn, ap->why, ap->whylen);

    if (rc != 0)
        ap->verdict = pg_errno_verdict(rc);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = apply_one(ap, &b->a[i]);
    if (rc == 0) {
        rc = pg_commit(ap->conn, ap->why, ap->whylen);
        if (rc != 0)
            ap->verdict = pg_errno_verdict(rc);
    }
    if (rc != 0) {
        pg_rollback(ap->conn);
        rc = pg_verdict_errno(ap->verdict);
    }
    free(ap->cached_key);
    ap->cached_key = NULL;
    return rc;
}

static void add_result(struct tickets_result *t, const struct tickets_result *l)
{
    t->opened += l->opened;
    t->joined += l->joined;
    t->reopened += l->reopened;
    t->attached += l->attached;
    t->detached += l->detached;
    t->alarms += l->alarms;
    t->grades += l->grades;
    t->flapping += l->flapping;
    t->clears += l->clears;
    t->suppressed += l->suppressed;
    t->skipped += l->skipped;
}

int tickets_apply(PGconn *conn, const tickets_batch_t *b, const char *actor,
                  int64_t reopen_within_ms, struct tickets_result *res, char *why, size_t whylen)
{
    struct apply ap = {.conn = conn, .actor = actor, .why = why, .whylen = whylen};
    int rc = 0;

    if (b->n == 0)
        return 0;
    snprintf(ap.reopen, sizeof(ap.reopen), "%" PRId64, reopen_within_ms);
    /* Two collectors touching the same tickets in another order can
     * deadlock; PostgreSQL aborts one of them, which then simply retries. */
    for (int attempt = 0; attempt < 5; attempt++) {
        struct tickets_result local = {0};

        ap.res = &local;
        rc = apply_once(&ap, b);
        if (rc == 0) {
            if (res)
                add_result(res, &local);
            return 0;
        }
        if (rc != -EAGAIN)
            break;
        FM_INFO("tickets: %s; retrying the batch", why);
    }
    return rc;
}

int tickets_load_windows(PGconn *conn, struct corr_window **out, size_t *n, char *why,
                         size_t whylen)
{
    PGresult *r = PQexec(conn, "SELECT window_id, site_id, device_glob,"
                               " (extract(epoch FROM starts_at) * 1000)::bigint,"
                               " (extract(epoch FROM ends_at) * 1000)::bigint"
                               " FROM maintenance_windows"
                               " WHERE cancelled_at IS NULL AND ends_at > now()"
                               " ORDER BY window_id");
    struct corr_window *w;
    int rows;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc =
            pg_verdict_errno(pg_classify(conn, r, "load maintenance windows", why, whylen, NULL));

        PQclear(r);
        return rc;
    }
    rows = PQntuples(r);
    w = rows ? fm_xcalloc((size_t)rows, sizeof(*w)) : NULL;
    for (int i = 0; i < rows; i++) {
        w[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        w[i].site = PQgetisnull(r, i, 1) ? NULL : fm_xstrdup(PQgetvalue(r, i, 1));
        w[i].device = PQgetisnull(r, i, 2) ? NULL : fm_xstrdup(PQgetvalue(r, i, 2));
        w[i].start_ms = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        w[i].end_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    }
    PQclear(r);
    *out = w;
    *n = (size_t)rows;
    return 0;
}

void tickets_windows_free(struct corr_window *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)w[i].site);
        free((char *)w[i].device);
    }
    free(w);
}
