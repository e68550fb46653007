/* dbs_conn: the connection part of dbs (see dbs.h): connecting,
 * checking the schema version, registering the collector, statement helpers
 * and partition maintenance. */
#include "dbs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fm_log.h"

#define DBS_ID_CACHE_MAX 2000000

void dbs_init(struct dbs *s, const char *collector_id)
{
    memset(s, 0, sizeof(*s));
    s->collector_id = collector_id;
    s->ids = chash_create(DBS_ID_CACHE_MAX);
    copybuf_init(&s->meas);
    copybuf_init(&s->alarms);
    copybuf_init(&s->status);
    copybuf_init(&s->traps);
    copybuf_init(&s->agent_status);
    copybuf_init(&s->overflows);
    copybuf_init(&s->series_key);
}

void dbs_close(struct dbs *s)
{
    if (s->pg)
        PQfinish(s->pg);
    s->pg = NULL;
    chash_destroy(s->ids);
    s->ids = NULL;
    copybuf_close(&s->meas);
    copybuf_close(&s->alarms);
    copybuf_close(&s->status);
    copybuf_close(&s->traps);
    copybuf_close(&s->agent_status);
    copybuf_close(&s->overflows);
    copybuf_close(&s->series_key);
}

int dbs_lost(const struct dbs *s)
{
    return s->pg == NULL || PQstatus(s->pg) != CONNECTION_OK;
}

int dbs_check(struct dbs *s)
{
    int rc = pg_check(s->pg, s->why, sizeof(s->why));

    if (rc != 0)
        s->verdict = PG_RECONNECT;
    return rc;
}

int dbs__fail(struct dbs *s)
{
    if (dbs_lost(s))
        return -ENOTCONN;
    return pg_verdict_errno(s->verdict);
}

void dbs__set_error(struct dbs *s, const char *what, const PGresult *r)
{
    s->verdict = pg_classify(s->pg, r, what, s->why, sizeof(s->why), NULL);
}

/* Server notices (e.g. "terminating connection due to administrator
 * command") go to the log as one line, not to stderr as libpq would. */
static void on_notice(void *arg, const char *msg)
{
    struct dbs *s = arg;
    char line[512];
    size_t n = 0;

    (void)s;
    for (const char *p = msg; *p && n < sizeof(line) - 1; p++)
        line[n++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    FM_INFO("db: server says: %s", line);
}

PGresult *dbs__exec(struct dbs *s, const char *what, const char *sql, int n,
                    const char *const *params)
{
    PGresult *r =
        n > 0 ? PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0) : PQexec(s->pg, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    dbs__set_error(s, what, r);
    PQclear(r);
    return NULL;
}

static int exec_ok(struct dbs *s, const char *what, const char *sql, int n,
                   const char *const *params)
{
    PGresult *r = dbs__exec(s, what, sql, n, params);

    if (r == NULL)
        return dbs__fail(s);
    PQclear(r);
    return 0;
}

int dbs_connect(struct dbs *s, const char *dsn)
{
    char msg[400];
    PGconn *c;
    int rc;

    if (s->pg)
        PQfinish(s->pg);
    s->pg = NULL;
    c = pg_connect(dsn, DBS_APP, msg, sizeof(msg));
    if (c == NULL) {
        snprintf(s->why, sizeof(s->why), "connect: %s", msg);
        return -ENOTCONN;
    }
    rc = dbs_attach(s, c);
    if (rc != 0)
        PQfinish(c);
    return rc;
}

int dbs_attach(struct dbs *s, PGconn *conn)
{
    char host[256] = "";
    int version, rc;

    if (s->pg != NULL && s->pg != conn)
        PQfinish(s->pg);
    s->pg = conn;
    PQsetNoticeProcessor(s->pg, on_notice, s);
    version = pg_schema_version(s->pg, s->why, sizeof(s->why));
    if (version < 0 && dbs_lost(s)) {
        rc = -ENOTCONN;
        goto out_detach;
    }
    if (version < DBS_SCHEMA_VERSION) {
        /* A version that cannot be read counts as none. */
        snprintf(s->why, sizeof(s->why),
                 "database schema is at version %d, this collector needs %d: run "
                 "`fieldmon-collector -c CONFIG --migrate`",
                 version < 0 ? 0 : version, DBS_SCHEMA_VERSION);
        rc = -EPROTO;
        goto out_detach;
    }
    gethostname(host, sizeof(host) - 1);
    const char *p[] = {s->collector_id, host, FM_VERSION};
    rc = exec_ok(s, "register collector",
                 "INSERT INTO collectors (collector_id, hostname, software_version)"
                 " VALUES ($1, $2, $3) ON CONFLICT (collector_id) DO UPDATE SET"
                 " hostname = EXCLUDED.hostname, software_version = EXCLUDED.software_version,"
                 " started_at = now(), last_seen = now()",
                 3, p);
    if (rc == 0)
        return 0;
out_detach:
    s->pg = NULL; /* conn stays the caller's: it closes it */
    return rc;
}

int dbs_bye(struct dbs *s, const char *agent_id)
{
    const char *p[] = {agent_id, s->collector_id};

    return exec_ok(s, "mark agent disconnected",
                   "UPDATE agents SET connected = false, last_seen = now()"
                   " WHERE agent_id = $1 AND collector_id = $2",
                   2, p);
}

int dbs_maintain(struct dbs *s, const struct dbs_retention *ret, int *rollups_dropped)
{
    char a[16], b[16], c[16], d[16];
    const char *p[] = {a, b, c, d};
    PGresult *r;
    int dropped;

    snprintf(a, sizeof(a), "%u", ret->ahead_days);
    snprintf(b, sizeof(b), "%u", ret->raw_days);
    snprintf(c, sizeof(c), "%u", ret->rollup_5m_days);
    snprintf(d, sizeof(d), "%u", ret->rollup_1h_days);
    r = dbs__exec(s, "maintain measurement partitions",
                  "SELECT measurements_dropped, rollups_dropped"
                  " FROM fm_maintain_measurement_partitions($1, $2, $3, $4)",
                  4, p);
    if (r == NULL)
        return dbs__fail(s);
    dropped = atoi(PQgetvalue(r, 0, 0));
    *rollups_dropped = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    /* Partitions may be gone: forget which days are known to exist. */
    chash_clear(s->ids);
    const char *q[] = {s->collector_id};
    int rc = exec_ok(s, "collector heartbeat",
                     "UPDATE collectors SET last_seen = now() WHERE collector_id = $1", 1, q);
    return rc ? rc : dropped;
}
