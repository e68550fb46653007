/* tickets_manual: tickets people open by hand (a phoned-in fault, a
 * request) and the archiving of closed tickets in bulk. */
#include "tickets_ops.h"
#include "tickets_ops_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static const char *or_null(const char *s)
{
    return tickets_blank(s) ? NULL : s;
}

int tickets_open_manual(PGconn *conn, const struct tickets_manual *m, long long *id, char *why,
                        size_t whylen)
{
    char g[8], at[32];
    const char *p[9];
    PGresult *r;

    if (tickets_blank(m->actor) || tickets_blank(m->title) || m->grade < 1 || m->grade > 4 ||
        tickets_blank(m->site)) {
        snprintf(why, whylen, "a manual ticket needs an actor, a title, a site and a grade 1..4");
        return -EINVAL;
    }
    snprintf(g, sizeof(g), "%d", m->grade);
    snprintf(at, sizeof(at), "%.3f", m->reported_at);
    p[0] = g;
    p[1] = m->site;
    p[2] = or_null(m->device);
    p[3] = m->title;
    p[4] = m->actor;
    p[5] = m->reported_at > 0 ? at : NULL;
    p[6] = or_null(m->caller);
    p[7] = or_null(m->contact);
    p[8] = or_null(m->description);
    r = tickets_query_rows(
        conn, "open manual ticket",
        "SELECT EXISTS (SELECT 1 FROM sites WHERE site_id = $1) OR EXISTS (SELECT 1 FROM "
        "sla_contract_sites WHERE site_id = $1), $2::float8 > extract(epoch FROM now()) + 1",
        2, (const char *const[]){m->site, p[5]}, why, whylen);
    if (r == NULL)
        return -EIO;
    if (PQgetvalue(r, 0, 0)[0] != 't' || PQgetvalue(r, 0, 1)[0] == 't') {
        bool unknown = PQgetvalue(r, 0, 0)[0] != 't';

        PQclear(r);
        if (unknown)
            snprintf(why, whylen,
                     "no site \"%s\" (sites are those agents report, or that a contract lists)",
                     m->site);
        else
            snprintf(why, whylen, "the reported time is in the future");
        return unknown ? -ENOENT : -ERANGE;
    }
    PQclear(r);
    /* A manual ticket is its own fault: a key nobody else can produce. Its
     * clocks start when it was reported. */
    r = tickets_query_rows(
        conn, "open manual ticket",
        "WITH t AS (INSERT INTO tickets (dedupe_key, kind, grade, site_id, device, title, "
        "first_seen, last_seen, opened_by, caller, contact, description) VALUES ('manual:' || "
        "md5(random()::text || clock_timestamp()::text), 'manual', $1::smallint, $2, $3, $4, "
        "coalesce(to_timestamp($6::float8), now()), coalesce(to_timestamp($6::float8), now()), "
        "$5, $7, $8, $9) RETURNING ticket_id, first_seen), "
        "g AS (INSERT INTO ticket_grades SELECT ticket_id, first_seen, NULL, $1::smallint, NULL, "
        "$5 FROM t), "
        "a AS (INSERT INTO ticket_audit (actor, ticket_id, action, detail) SELECT $5, ticket_id, "
        "'open', jsonb_strip_nulls(jsonb_build_object('grade', $1::int, 'title', $4::text, "
        "'manual', true, 'caller', $7::text, 'contact', $8::text, 'at', first_seen)) "
        "FROM t) SELECT ticket_id FROM t",
        9, p, why, whylen);
    if (r == NULL)
        return -EIO;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int tickets_archive_before(PGconn *conn, const char *actor, double before, long long *n, char *why,
                           size_t whylen)
{
    char b[32];
    const char *p[2] = {actor, b};
    PGresult *r;

    if (tickets_blank(actor)) {
        snprintf(why, whylen, "an actor is required");
        return -EINVAL;
    }
    snprintf(b, sizeof(b), "%.3f", before);
    r = tickets_query_rows(conn, "archive",
                           "WITH t AS (UPDATE tickets SET archived_at = now(), archived_by = $1 "
                           "WHERE state = 'closed' AND archived_at IS NULL AND closed_at < "
                           "to_timestamp($2::float8) RETURNING ticket_id), "
                           "a AS (INSERT INTO ticket_audit (actor, ticket_id, action) "
                           "SELECT $1, ticket_id, 'archive' FROM t) SELECT count(*) FROM t",
                           2, p, why, whylen);
    if (r == NULL)
        return -EIO;
    *n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}
