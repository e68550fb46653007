/* site_load: reading one site's correlation history from PostgreSQL (see
 * site_load.h). */
#include "site_load.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "pg.h"

/* Every query takes $1 the site, $2 the agents (text[]) whose devices the
 * caller correlates, $3 the start of the horizon (Unix seconds). */

/* Devices of those agents that are in their agent's inventory. */
static const char devs_sql[] =
    "SELECT d.name, d.class, d.parent, d.tags::text FROM devices d"
    " JOIN agents a ON a.agent_id = d.agent_id"
    " WHERE a.site_id = $1 AND a.agent_id = ANY($2) AND d.in_inventory AND d.name <> ''"
    " ORDER BY d.name";

/* Transitions: alarm events, traps the agent mapped to an alarm, and
 * reachability (the code "unreachable"), every one within the horizon (the
 * flapping history); before it, from alarm_current (schema 022), each
 * alarm still raised, as the raise it was. */
static const char trs_sql[] =
    "SELECT device, code, point, raised, (extract(epoch FROM ts) * 1000)::bigint, id FROM ("
    " SELECT d.name AS device, e.code, e.point, e.state = 'raised' AS raised, e.ts,"
    "  e.alarm_event_id AS id, e.agent_key, e.epoch, e.seq"
    " FROM alarm_events e JOIN devices d USING (device_id) JOIN agents a ON a.agent_id = d.agent_id"
    " WHERE a.site_id = $1 AND a.agent_id = ANY($2) AND e.ts >= to_timestamp($3)"
    "  AND e.state IN ('raised', 'cleared')"
    " UNION ALL"
    " SELECT d.name, t.alarm_code, NULL, t.alarm_state = 'raised', t.ts, NULL, t.agent_key,"
    "  t.epoch, t.seq"
    " FROM traps t JOIN devices d USING (device_id) JOIN agents a ON a.agent_id = d.agent_id"
    " WHERE a.site_id = $1 AND a.agent_id = ANY($2) AND t.ts >= to_timestamp($3)"
    "  AND t.alarm_code <> '' AND t.alarm_state IN ('raised', 'cleared')"
    " UNION ALL"
    " SELECT d.name, 'unreachable', NULL, NOT s.reachable, s.ts, NULL, s.agent_key, s.epoch,"
    "  s.seq"
    " FROM device_status s JOIN devices d USING (device_id) JOIN agents a"
    "  ON a.agent_id = d.agent_id"
    " WHERE a.site_id = $1 AND a.agent_id = ANY($2) AND s.ts >= to_timestamp($3)"
    " UNION ALL"
    " SELECT d.name, c.code, nullif(c.point, ''), true, c.since, c.alarm_event_id, 0, 0, 0"
    " FROM alarm_current c JOIN devices d USING (device_id) JOIN agents a"
    "  ON a.agent_id = d.agent_id"
    " WHERE a.site_id = $1 AND a.agent_id = ANY($2) AND c.raised"
    "  AND c.since < to_timestamp($3)) x"
    " ORDER BY ts, agent_key, epoch, seq";

/* The latest ticket of each fault key of the site (manual and system
 * tickets are not the engine's). */
static const char tickets_sql[] =
    "SELECT DISTINCT ON (dedupe_key) dedupe_key, state NOT IN ('resolved', 'closed'),"
    " cleared_at IS NOT NULL, state = 'closed', (extract(epoch FROM last_seen) * 1000)::bigint"
    " FROM tickets WHERE site_id = $1 AND kind IN ('device', 'root', 'site', 'group')"
    " ORDER BY dedupe_key, ticket_id DESC";

static const char progress_sql[] =
    "SELECT p.agent_id, p.epoch, p.committed_seq FROM agent_progress p"
    " JOIN agents a ON a.agent_id = p.agent_id WHERE a.site_id = $1 AND a.agent_id = ANY($2)";

/* Whether those agents are every agent of the site. */
static const char whole_sql[] =
    "SELECT count(*) = count(*) FILTER (WHERE agent_id = ANY($2)) FROM agents"
    " WHERE site_id = $1";

static char *dup_or_null(PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);

    return PQgetisnull(r, row, col) || v[0] == '\0' ? NULL : fm_xstrdup(v);
}

static bool is_true(PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* Tags are a JSON object of strings; anything else is skipped. */
static void parse_tags(const char *text, struct site_load_dev *d)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;
    size_t n = 0;

    if (!json_is_object(o) || json_object_size(o) == 0) {
        json_decref(o);
        return;
    }
    d->tags = fm_xcalloc(json_object_size(o), sizeof(*d->tags));
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v))
            continue;
        d->tags[n].key = fm_xstrdup(k);
        d->tags[n].value = fm_xstrdup(json_string_value(v));
        n++;
    }
    d->n_tags = n;
    json_decref(o);
}

static void take_devs(PGresult *r, struct site_load *out)
{
    int rows = PQntuples(r);

    out->devs = fm_xcalloc(rows ? (size_t)rows : 1, sizeof(*out->devs));
    for (int i = 0; i < rows; i++) {
        struct site_load_dev *d = &out->devs[i];

        d->name = fm_xstrdup(PQgetvalue(r, i, 0));
        d->cls = dup_or_null(r, i, 1);
        d->parent = dup_or_null(r, i, 2);
        parse_tags(PQgetvalue(r, i, 3), d);
    }
    out->n_devs = (size_t)rows;
}

static void take_trs(PGresult *r, struct site_load *out)
{
    int rows = PQntuples(r);

    out->trs = fm_xcalloc(rows ? (size_t)rows : 1, sizeof(*out->trs));
    for (int i = 0; i < rows; i++) {
        struct site_load_tr *t = &out->trs[i];

        t->device = fm_xstrdup(PQgetvalue(r, i, 0));
        t->code = fm_xstrdup(PQgetvalue(r, i, 1));
        t->point = dup_or_null(r, i, 2);
        t->raised = is_true(r, i, 3);
        t->ts_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        t->alarm_event_id = PQgetisnull(r, i, 5) ? 0 : strtoll(PQgetvalue(r, i, 5), NULL, 10);
    }
    out->n_trs = (size_t)rows;
}

static void take_tickets(PGresult *r, struct site_load *out)
{
    int rows = PQntuples(r);

    out->tickets = fm_xcalloc(rows ? (size_t)rows : 1, sizeof(*out->tickets));
    for (int i = 0; i < rows; i++) {
        struct corr_ticket *t = &out->tickets[i];

        t->key = fm_xstrdup(PQgetvalue(r, i, 0));
        t->open = is_true(r, i, 1);
        t->cleared = is_true(r, i, 2);
        t->closed = is_true(r, i, 3);
        t->last_seen_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    }
    out->n_tickets = (size_t)rows;
}

static void take_whole(PGresult *r, struct site_load *out)
{
    out->whole_site = PQntuples(r) == 1 && is_true(r, 0, 0);
}

static void take_progress(PGresult *r, struct site_load *out)
{
    int rows = PQntuples(r);

    out->progress = fm_xcalloc(rows ? (size_t)rows : 1, sizeof(*out->progress));
    for (int i = 0; i < rows; i++) {
        out->progress[i].agent = fm_xstrdup(PQgetvalue(r, i, 0));
        out->progress[i].epoch = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        out->progress[i].committed_seq = strtoull(PQgetvalue(r, i, 2), NULL, 10);
    }
    out->n_progress = (size_t)rows;
}

int site_load(PGconn *conn, const char *site, const char *agents, int64_t since_ms,
              struct site_load *out, char *why, size_t whylen)
{
    static const struct {
        const char *what, *sql;
        void (*take)(PGresult *, struct site_load *);
    } steps[] = {
        {"load site inventory", devs_sql, take_devs},
        {"load site transitions", trs_sql, take_trs},
        {"load site tickets", tickets_sql, take_tickets},
        {"load agent progress", progress_sql, take_progress},
        {"count site agents", whole_sql, take_whole},
    };
    static const Oid types[3] = {25 /* text */, 1009 /* text[] */, 701 /* float8 */};
    char since[32];
    const char *p[3] = {site, agents, since};
    PGresult *r;
    int rc = 0;

    snprintf(since, sizeof(since), "%.3f", (double)since_ms / 1000.0);
    r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_verdict_errno(pg_classify(conn, r, "begin", why, whylen, NULL));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        r = PQexecParams(conn, steps[i].sql, 3, types, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pg_verdict_errno(pg_classify(conn, r, steps[i].what, why, whylen, NULL));
            PQclear(r);
            break;
        }
        steps[i].take(r, out);
        PQclear(r);
    }
    pg_rollback(conn); /* read only: nothing to keep */
    if (rc != 0)
        site_load_free(out);
    return rc;
}

void site_load_free(struct site_load *l)
{
    for (size_t i = 0; i < l->n_devs; i++) {
        free(l->devs[i].name);
        free(l->devs[i].cls);
        free(l->devs[i].parent);
        for (size_t k = 0; k < l->devs[i].n_tags; k++) {
            free(l->devs[i].tags[k].key);
            free(l->devs[i].tags[k].value);
        }
        free(l->devs[i].tags);
    }
    free(l->devs);
    for (size_t i = 0; i < l->n_trs; i++) {
        free(l->trs[i].device);
        free(l->trs[i].code);
        free(l->trs[i].point);
    }
    free(l->trs);
    for (size_t i = 0; i < l->n_tickets; i++)
        free((char *)l->tickets[i].key);
    free(l->tickets);
    for (size_t i = 0; i < l->n_progress; i++)
        free(l->progress[i].agent);
    free(l->progress);
    memset(l, 0, sizeof(*l));
}

uint64_t site_load_committed(const struct site_load *l, const char *agent, int64_t epoch)
{
    for (size_t i = 0; i < l->n_progress; i++)
        if (l->progress[i].epoch == epoch && strcmp(l->progress[i].agent, agent) == 0)
            return l->progress[i].committed_seq;
    return 0;
}

int site_load_agents_add(char *buf, size_t len, const char *id)
{
    size_t n = strlen(buf);
    size_t need = n + 4; /* separator, two quotes, the closing brace */
    char *p;

    for (const char *c = id; *c; c++)
        need += *c == '"' || *c == '\\' ? 2 : 1;
    if (n < 2 || buf[n - 1] != '}' || need + 1 > len)
        return -ENOSPC;
    p = buf + n - 1; /* over the closing brace */
    if (n > 2)
        *p++ = ',';
    *p++ = '"';
    for (const char *c = id; *c; c++) {
        if (*c == '"' || *c == '\\')
            *p++ = '\\';
        *p++ = *c;
    }
    *p++ = '"';
    *p++ = '}';
    *p = '\0';
    return 0;
}
