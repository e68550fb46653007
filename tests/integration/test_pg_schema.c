/* Integration test against a real PostgreSQL (started by tests/lib/with-pg.sh):
 * schema/ migrations apply in order, idempotently and transactionally, and the
 * agent tables hold what is written to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "migrate.h"
#include "pg.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static PGconn *connect_db(const char *dbname)
{
    char dsn[512];
    PGconn *c;

    snprintf(dsn, sizeof(dsn), "dbname=%s", dbname);
    c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s (PGHOST=%s): %s", dbname, getenv("PGHOST") ? getenv("PGHOST") : "",
                 PQerrorMessage(c));
    return c;
}

static void exec_or_fail(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static char *query_one(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_migrations_apply_once_and_record_versions(void **state)
{
    PGconn *c = connect_db("fieldmon");
    char why[512];
    int applied = -1;
    int latest = migrate_latest_version(FM_SCHEMA_DIR);

    (void)state;
    assert_true(latest >= 1);
    assert_int_equal(pg_schema_version(c, why, sizeof(why)), 0);
    if (migrate_apply(c, FM_SCHEMA_DIR, &applied, why, sizeof(why)) != 0)
        fail_msg("migrate: %s", why);
    assert_true(applied >= 1);
    assert_int_equal(pg_schema_version(c, why, sizeof(why)), latest);
    char *rows = query_one(c, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(atoi(rows), applied);
    free(rows);
    /* Second run: nothing left to do, nothing changes. */
    assert_int_equal(migrate_apply(c, FM_SCHEMA_DIR, &applied, why, sizeof(why)), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(pg_schema_version(c, why, sizeof(why)), latest);
    PQfinish(c);
}

static void test_agent_tables_store_and_return_committed_sequence(void **state)
{
    PGconn *c = connect_db("fieldmon");
    char *v;

    (void)state;
    exec_or_fail(c, "INSERT INTO sites (site_id, name, distance_km) VALUES ('site-a', 'A', 80)");
    exec_or_fail(c, "INSERT INTO agents (agent_id, site_id, software_version)"
                    " VALUES ('agent-a', 'site-a', '0.1.0')");
    exec_or_fail(c, "INSERT INTO agent_progress (agent_id, epoch, committed_seq)"
                    " VALUES ('agent-a', 7, 1234)");
    exec_or_fail(c, "UPDATE agent_progress SET committed_seq = 1300"
                    " WHERE agent_id = 'agent-a' AND epoch = 7");
    v = query_one(c, "SELECT a.site_id || ':' || p.epoch || ':' || p.committed_seq"
                     " FROM agents a JOIN agent_progress p USING (agent_id)");
    assert_string_equal(v, "site-a:7:1300");
    free(v);

    /* The constraints hold: epoch 0 and an unknown agent are refused. */
    PGresult *r = PQexec(c, "INSERT INTO agent_progress (agent_id, epoch) VALUES ('agent-a', 0)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514"); /* check_violation */
    PQclear(r);
    r = PQexec(c, "INSERT INTO agent_progress (agent_id, epoch) VALUES ('nobody', 1)");
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23503"); /* foreign key */
    PQclear(r);
    PQfinish(c);
}

/* A migration that fails leaves the database at the previous version and the
 * error names the file. */
static void test_failed_migration_rolls_back_and_names_file(void **state)
{
    char dir[] = "/tmp/fm-schema.XXXXXX";
    char why[512];
    int applied = -1;
    PGconn *admin = connect_db("fieldmon");

    (void)state;
    exec_or_fail(admin, "CREATE DATABASE fm_broken");
    PGconn *c = connect_db("fm_broken");
    assert_non_null(mkdtemp(dir));
    write_file(dir, "001_ok.sql", "CREATE TABLE t1 (x int);");
    write_file(dir, "002_bad.sql", "CREATE TABLE t2 (y int); SELECT * FROM no_such_table;");
    write_file(dir, "README.md", "not a migration");
    assert_int_equal(migrate_apply(c, dir, &applied, why, sizeof(why)), -EIO);
    assert_non_null(strstr(why, "002_bad.sql"));
    assert_non_null(strstr(why, "no_such_table"));
    assert_int_equal(pg_schema_version(c, why, sizeof(why)), 1);
    char *t2 = query_one(c, "SELECT count(*) FROM pg_tables WHERE tablename = 't2'");
    assert_string_equal(t2, "0");
    free(t2);

    /* Two files with one version are refused before anything runs. */
    write_file(dir, "002_dup.sql", "SELECT 1;");
    assert_int_equal(migrate_apply(c, dir, &applied, why, sizeof(why)), -EEXIST);
    assert_non_null(strstr(why, "share version 2"));

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    PQfinish(c);
    PQfinish(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_apply_once_and_record_versions),
        cmocka_unit_test(test_agent_tables_store_and_return_committed_sequence),
        cmocka_unit_test(test_failed_migration_rolls_back_and_names_file),
    };
    if (getenv("PGHOST") == NULL) {
        fprintf(stderr, "test_pg_schema: PGHOST not set; run under tests/lib/with-pg.sh\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
