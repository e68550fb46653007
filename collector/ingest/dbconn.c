/* dbconn: the connection part of dbstore (see dbstore.h): connecting,
 * checking the schema version, registering the collector, statement helpers
 * and partition maintenance. */
#include "dbstore.h"

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
}

int dbs_lost(const struct dbs *s)
{
    return s->pg == NULL || PQstatus(s->pg) != CONNECTION_OK;
}

int dbs__fail(struct dbs *s)
{
    const char *st = s->sqlstate;

    if (dbs_lost(s) || st[0] == '\0' || strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
        strncmp(st, "53", 2) == 0)
        return -ENOTCONN;
    if (strncmp(st, "40", 2) == 0)
        return -EAGAIN;
    return -EIO;
}

/* Copies a libpq message as one line: logs are one line per event. */
static void set_why(struct dbs *s, const char *what, const char *msg)
{
    size_t n = (size_t)snprintf(s->why, sizeof(s->why), "%s: ", what);

    for (const char *p = msg; *p && n < sizeof(s->why) - 1; p++) {
        char c = (*p == '\n' || *p == '\t') ? ' ' : *p;

        if (c == ' ' && n > 0 && s->why[n - 1] == ' ')
            continue;
        s->why[n++] = c;
    }
    while (n > 0 && s->why[n - 1] == ' ')
        n--;
    s->why[n] = '\0';
}

void dbs__set_error(struct dbs *s, const char *what, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", st ? st : "");
    set_why(s, what, r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg));
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
    const char *keys[] = {"dbname", "application_name", "fallback_application_name", NULL};
    const char *vals[] = {dsn ? dsn : "", "fieldmon-collector", "fieldmon-collector", NULL};
    char host[256] = "";
    PGresult *r;
    int version;

    if (s->pg)
        PQfinish(s->pg);
    /* expand_dbname=1: dbname may hold a whole connection string. */
    s->pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        set_why(s, "connect", PQerrorMessage(s->pg));
        return -ENOTCONN;
    }
    PQsetNoticeProcessor(s->pg, on_notice, s);
    r = dbs__exec(s, "read schema version",
                  "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
    if (r == NULL) {
        if (dbs_lost(s))
            return -ENOTCONN;
        version = 0;
    } else {
        version = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (version < DBS_SCHEMA_VERSION) {
        snprintf(s->why, sizeof(s->why),
                 "database schema is at version %d, this collector needs %d: run "
                 "`fieldmon-collector -c CONFIG --migrate`",
                 version, DBS_SCHEMA_VERSION);
        return -EPROTO;
    }
    gethostname(host, sizeof(host) - 1);
    const char *p[] = {s->collector_id, host, FM_VERSION};
    return exec_ok(s, "register collector",
                   "INSERT INTO collectors (collector_id, hostname, software_version)"
                   " VALUES ($1, $2, $3) ON CONFLICT (collector_id) DO UPDATE SET"
                   " hostname = EXCLUDED.hostname, software_version = EXCLUDED.software_version,"
                   " started_at = now(), last_seen = now()",
                   3, p);
}

int dbs_bye(struct dbs *s, const char *agent_id)
{
    const char *p[] = {agent_id, s->collector_id};

    return exec_ok(s, "mark agent disconnected",
                   "UPDATE agents SET connected = false, last_seen = now()"
                   " WHERE agent_id = $1 AND collector_id = $2",
                   2, p);
}

int dbs_maintain(struct dbs *s, unsigned ahead_days, unsigned retention_days)
{
    char a[16], b[16];
    const char *p[] = {a, b};
    PGresult *r;
    int dropped;

    snprintf(a, sizeof(a), "%u", ahead_days);
    snprintf(b, sizeof(b), "%u", retention_days);
    r = dbs__exec(s, "maintain measurement partitions",
                  "SELECT fm_maintain_measurement_partitions($1, $2)", 2, p);
    if (r == NULL)
        return dbs__fail(s);
    dropped = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    /* Partitions may be gone: forget which days are known to exist. */
    chash_clear(s->ids);
    const char *q[] = {s->collector_id};
    int rc = exec_ok(s, "collector heartbeat",
                     "UPDATE collectors SET last_seen = now() WHERE collector_id = $1", 1, q);
    return rc ? rc : dropped;
}
