/* migrate: see migrate.h. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define MIGRATE_MAX_FILES 1000
#define MIGRATE_MAX_SQL (8u * 1024u * 1024u)

struct mfile {
    int version;
    char name[256];
};

__attribute__((format(printf, 4, 5))) static int mfail(char *why, size_t whylen, int rc,
                                                       const char *fmt, ...)
{
    va_list ap;

    if (whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* "012_alarms.sql" -> 12; anything else -> -1. */
static int file_version(const char *name)
{
    size_t n = strlen(name);
    int v = 0, digits = 0;

    if (n < 5 || strcmp(name + n - 4, ".sql") != 0)
        return -1;
    while (isdigit((unsigned char)name[digits]) && digits < 6)
        v = v * 10 + (name[digits++] - '0');
    if (digits == 0 || name[digits] != '_')
        return -1;
    return v;
}

static int cmp_mfile(const void *a, const void *b)
{
    return ((const struct mfile *)a)->version - ((const struct mfile *)b)->version;
}

/* Lists the migration files of dir sorted by version; rejects two files with
 * one version. Returns the count or a negative errno. *out: free(). */
static int list_files(const char *dir, struct mfile **out, char *why, size_t whylen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct mfile *files;
    int n = 0;

    if (d == NULL)
        return mfail(why, whylen, -errno, "schema directory %s: %s", dir, strerror(errno));
    files = calloc(MIGRATE_MAX_FILES, sizeof(*files));
    if (files == NULL) {
        closedir(d);
        return -ENOMEM;
    }
    while ((de = readdir(d)) != NULL) {
        int v = file_version(de->d_name);

        if (v < 0)
            continue;
        if (n == MIGRATE_MAX_FILES || strlen(de->d_name) >= sizeof(files[0].name)) {
            closedir(d);
            free(files);
            return mfail(why, whylen, -E2BIG, "schema directory %s: too many files", dir);
        }
        files[n].version = v;
        snprintf(files[n].name, sizeof(files[n].name), "%s", de->d_name);
        n++;
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof(*files), cmp_mfile);
    for (int i = 1; i < n; i++) {
        if (files[i].version == files[i - 1].version) {
            int v = files[i].version;
            char a[256], b[256];

            snprintf(a, sizeof(a), "%s", files[i - 1].name);
            snprintf(b, sizeof(b), "%s", files[i].name);
            free(files);
            return mfail(why, whylen, -EEXIST, "schema: %s and %s share version %d", a, b, v);
        }
    }
    *out = files;
    return n;
}

int migrate_latest_version(const char *dir)
{
    struct mfile *files;
    char why[64];
    int n = list_files(dir, &files, why, sizeof(why));
    int v;

    if (n < 0)
        return n;
    v = n > 0 ? files[n - 1].version : 0;
    free(files);
    return v;
}

static char *read_sql(const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        mfail(why, whylen, 0, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(MIGRATE_MAX_SQL + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, MIGRATE_MAX_SQL + 1, f);
    fclose(f);
    if (n > MIGRATE_MAX_SQL) {
        free(buf);
        mfail(why, whylen, 0, "%s: larger than %u bytes", path, MIGRATE_MAX_SQL);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Runs one command; returns 0 or -EIO with PostgreSQL's message in why. */
static int exec_ok(PGconn *conn, const char *sql, const char *what, char *why, size_t whylen)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(r);
        size_t len = strlen(msg);

        while (len > 0 && msg[len - 1] == '\n')
            len--;
        rc = mfail(why, whylen, -EIO, "%s: %.*s", what, (int)len, msg);
    }
    PQclear(r);
    return rc;
}

static int apply_one(PGconn *conn, const char *dir, const struct mfile *m, char *why, size_t whylen)
{
    char path[4096], what[320], ins[128];
    char *sql;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, m->name);
    sql = read_sql(path, why, whylen);
    if (sql == NULL)
        return -EIO;
    snprintf(what, sizeof(what), "schema %s", m->name);
    snprintf(ins, sizeof(ins), "INSERT INTO schema_migrations (version, name) VALUES (%d, ",
             m->version);
    rc = pg_begin(conn, why, whylen);
    if (rc == 0)
        rc = exec_ok(conn, sql, what, why, whylen);
    if (rc == 0) {
        char *esc = PQescapeLiteral(conn, m->name, strlen(m->name));
        char stmt[512];

        snprintf(stmt, sizeof(stmt), "%s%s)", ins, esc ? esc : "''");
        PQfreemem(esc);
        rc = exec_ok(conn, stmt, what, why, whylen);
    }
    if (rc == 0)
        rc = pg_commit(conn, why, whylen);
    else
        pg_rollback(conn);
    free(sql);
    return rc;
}

int migrate_apply(PGconn *conn, const char *dir, int *applied, char *why, size_t whylen)
{
    struct mfile *files = NULL;
    char lock[96];
    int n, cur, rc, count = 0;

    if (applied)
        *applied = 0;
    n = list_files(dir, &files, why, whylen);
    if (n < 0)
        return n;
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%d)", MIGRATE_LOCK_KEY);
    rc = exec_ok(conn, lock, "take migration lock", why, whylen);
    if (rc)
        goto out_free;
    rc = exec_ok(conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY,"
                 " name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "create schema_migrations", why, whylen);
    if (rc)
        goto out_unlock;
    cur = pg_schema_version(conn, why, whylen);
    if (cur < 0) {
        rc = cur;
        goto out_unlock;
    }
    for (int i = 0; i < n; i++) {
        if (files[i].version <= cur)
            continue;
        rc = apply_one(conn, dir, &files[i], why, whylen);
        if (rc)
            goto out_unlock;
        count++;
    }
    if (applied)
        *applied = count;
out_unlock:
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%d)", MIGRATE_LOCK_KEY);
    PQclear(PQexec(conn, lock));
out_free:
    free(files);
    return rc;
}
