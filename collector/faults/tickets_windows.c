/* tickets_windows: maintenance windows (planned work): adding and
 * cancelling, each with its audit row in one statement. */
#include "tickets_ops.h"
#include "tickets_ops_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Runs a statement that returns rows; NULL with why filled on failure. */
PGresult *tickets_query_rows(PGconn *conn, const char *what, const char *sql, int n,
                             const char *const *p, char *why, size_t whylen)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    pg_classify(conn, r, what, why, whylen, NULL);
    PQclear(r);
    return NULL;
}

int tickets_window_add(PGconn *conn, const char *actor, const char *site, const char *device,
                       int64_t start_ms, int64_t end_ms, const char *reason, long long *id,
                       char *why, size_t whylen)
{
    char s[32], e[32];
    const char *p[6];
    PGresult *r;

    if (tickets_blank(actor) || tickets_blank(reason)) {
        snprintf(why, whylen, "a maintenance window needs an actor and a reason");
        return -EINVAL;
    }
    if (end_ms <= start_ms) {
        snprintf(why, whylen, "a maintenance window must end after it starts");
        return -EINVAL;
    }
    snprintf(s, sizeof(s), "%.3f", (double)start_ms / 1000.0);
    snprintf(e, sizeof(e), "%.3f", (double)end_ms / 1000.0);
    p[0] = tickets_blank(site) ? NULL : site;
    p[1] = tickets_blank(device) ? NULL : device;
    p[2] = s;
    p[3] = e;
    p[4] = reason;
    p[5] = actor;
    r = tickets_query_rows(
        conn, "add maintenance window",
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

    if (tickets_blank(actor)) {
        snprintf(why, whylen, "an actor is required");
        return -EINVAL;
    }
    snprintf(ids, sizeof(ids), "%lld", id);
    r = tickets_query_rows(conn, "cancel maintenance window",
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
