/* fieldmonctl: contract clocks. `deadlines` lists open tickets' deadlines
 * and time left; `pause`/`resume` stop and restart a ticket's clocks with a
 * reason; `remote` records that remote support began; `sla` reports met and
 * breached clocks per ticket and per grade for a period. The collector's SLA
 * scheduler picks pauses and remote starts up from the database within one
 * round (sla.interval) and moves the deadlines. */
#include "ctl.h"
#include "ctl_out.h"
#include "pg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per clock: deadline and state. met: the column that says it was met. */
#define CLOCK_COLS(due, met, name)                                                                 \
    "to_char(" due " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS " name "_due, "      \
    "CASE WHEN EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = t.ticket_id AND "          \
    "b.clock = '" name "') AND " met " IS NULL THEN 'breached' ELSE fm_sla_state(" due ", " met    \
    ", p.paused, now()) END AS " name

static const char deadlines_sql[] =
    "SELECT t.ticket_id AS id, t.grade, coalesce(t.site_id, '') AS site, t.state, "
    "coalesce(t.sla_contract, '') AS contract, " CLOCK_COLS(
        "t.response_due", "t.acknowledged_at",
        "response") ", " CLOCK_COLS("t.remote_due", "t.remote_started_at",
                                    "remote") ", " CLOCK_COLS("t.onsite_due", "t.on_site_at",
                                                              "onsite") ", " CLOCK_COLS("t."
                                                                                        "resolution"
                                                                                        "_due",
                                                                                        "t."
                                                                                        "resolved_"
                                                                                        "at",
                                                                                        "resolutio"
                                                                                        "n") ", "
                                                                                             "coale"
                                                                                             "sce("
                                                                                             "p."
                                                                                             "reaso"
                                                                                             "n, "
                                                                                             "'') "
                                                                                             "AS "
                                                                                             "pause"
                                                                                             "d_"
                                                                                             "for "
                                                                                             "FROM "
                                                                                             "ticke"
                                                                                             "ts t "
                                                                                             "LEFT "
                                                                                             "JOIN "
                                                                                             "LATER"
                                                                                             "AL "
                                                                                             "(SELE"
                                                                                             "CT "
                                                                                             "true "
                                                                                             "AS "
                                                                                             "pause"
                                                                                             "d, "
                                                                                             "reaso"
                                                                                             "n "
                                                                                             "FROM "
                                                                                             "sla_"
                                                                                             "pause"
                                                                                             "s s "
                                                                                             "WHERE"
                                                                                             " s."
                                                                                             "ticke"
                                                                                             "t_id "
                                                                                             "= "
                                                                                             "t."
                                                                                             "ticke"
                                                                                             "t_id "
                                                                                             "AND "
                                                                                             "s."
                                                                                             "ended"
                                                                                             "_at "
                                                                                             "IS "
                                                                                             "NULL)"
                                                                                             " p "
                                                                                             "ON "
                                                                                             "true "
                                                                                             "WHERE"
                                                                                             " t."
                                                                                             "state"
                                                                                             " NOT "
                                                                                             "IN "
                                                                                             "('"
                                                                                             "resol"
                                                                                             "ved',"
                                                                                             " '"
                                                                                             "close"
                                                                                             "d') "
                                                                                             "OR "
                                                                                             "$1::"
                                                                                             "boole"
                                                                                             "an "
                                                                                             "ORDER"
                                                                                             " BY "
                                                                                             "t."
                                                                                             "grade"
                                                                                             ", "
                                                                                             "t."
                                                                                             "ticke"
                                                                                             "t_id";

int ctl_cmd_deadlines(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    const char *params[1] = {"false"};
    PGconn *conn;
    PGresult *r;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'a')
            return ctl_usage("deadlines", "unknown option");
        params[0] = "true";
    }
    if (optind != argc)
        return ctl_usage("deadlines", "unexpected argument %s", argv[optind]);
    conn = ctl_conn(c);
    if (conn == NULL)
        return CTL_FAIL;
    r = PQexecParams(conn, deadlines_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("deadlines: %s", PQresultErrorMessage(r));
        PQclear(r);
        return CTL_FAIL;
    }
    ctl_out_print(r, c->json, stdout);
    PQclear(r);
    return CTL_OK;
}

/* Runs sql (params) in a transaction with an audit row; expects one row
 * changed, else prints `none` and fails. */
static int change(struct ctl *c, const char *cmd, const char *sql, int n, const char *const *params,
                  long long id, const char *action, const char *detail, const char *none)
{
    PGconn *conn = ctl_conn(c);
    char sid[24];
    const char *ap[4] = {c->actor, sid, action, detail};
    char why[512];
    PGresult *r;

    if (conn == NULL)
        return CTL_FAIL;
    if (c->actor == NULL || c->actor[0] == '\0')
        return ctl_usage(cmd, "who is acting? give -a NAME or set FM_ACTOR");
    snprintf(sid, sizeof(sid), "%lld", id);
    if (pg_begin(conn, why, sizeof(why)) != 0)
        return ctl_fail("%s %lld: %s", cmd, id, why);
    r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(r), "1") != 0) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            ctl_fail("%s %lld: %s", cmd, id, PQresultErrorMessage(r));
        else
            ctl_fail("%s %lld: %s", cmd, id, none);
        PQclear(r);
        pg_rollback(conn);
        return CTL_FAIL;
    }
    PQclear(r);
    r = PQexecParams(conn,
                     "INSERT INTO ticket_audit (actor, ticket_id, action, detail) VALUES "
                     "($1, $2::bigint, $3, $4::jsonb)",
                     4, NULL, ap, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        ctl_fail("%s %lld: audit: %s", cmd, id, PQresultErrorMessage(r));
        PQclear(r);
        pg_rollback(conn);
        return CTL_FAIL;
    }
    PQclear(r);
    if (pg_commit(conn, why, sizeof(why)) != 0)
        return ctl_fail("%s %lld: %s", cmd, id, why);
    printf("ticket %lld: %s\n", id, action);
    return CTL_OK;
}

/* pause ID --reason TEXT | resume ID | remote ID */
int ctl_cmd_clock(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"reason", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = argv[0], *reason = NULL;
    char sid[24], detail[600];
    const char *params[2] = {sid, NULL};
    long long id;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'r' || strcmp(cmd, "pause") != 0)
            return ctl_usage(cmd, "unknown option");
        reason = optarg;
    }
    if (optind + 1 != argc || !ctl_parse_id(argv[optind], &id))
        return ctl_usage(cmd, "expected one ticket id");
    snprintf(sid, sizeof(sid), "%lld", id);
    if (strcmp(cmd, "pause") == 0) {
        json_t *d;
        char *text;

        if (reason == NULL || reason[0] == '\0')
            return ctl_usage(cmd, "a pause needs --reason (e.g. \"site access refused\")");
        params[1] = reason;
        d = json_pack("{ss}", "reason", reason);
        text = json_dumps(d, JSON_COMPACT);
        snprintf(detail, sizeof(detail), "%s", text ? text : "{}");
        free(text);
        json_decref(d);
        return change(c, cmd,
                      "INSERT INTO sla_pauses (ticket_id, started_at, reason) SELECT ticket_id, "
                      "now(), $2 FROM tickets WHERE ticket_id = $1::bigint AND state NOT IN "
                      "('resolved', 'closed') AND NOT EXISTS (SELECT 1 FROM sla_pauses p WHERE "
                      "p.ticket_id = $1::bigint AND p.ended_at IS NULL)",
                      2, params, id, "pause", detail,
                      "no such open ticket, or its clocks are paused already");
    }
    if (strcmp(cmd, "resume") == 0)
        return change(c, cmd,
                      "UPDATE sla_pauses SET ended_at = now() WHERE ticket_id = $1::bigint AND "
                      "ended_at IS NULL",
                      1, params, id, "resume", "{}", "its clocks are not paused");
    return change(c, cmd,
                  "UPDATE tickets SET remote_started_at = now(), updated_at = now() WHERE "
                  "ticket_id = $1::bigint AND remote_started_at IS NULL AND state NOT IN "
                  "('resolved', 'closed')",
                  1, params, id, "remote", "{}",
                  "no such open ticket, or remote support was recorded already");
}

/* Per ticket opened in [from, to): each clock's outcome; then per grade. */
static const char report_sql[] =
    "WITH c AS (SELECT t.ticket_id, t.grade, coalesce(t.site_id, '') AS site, "
    "to_char(t.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "
    "opened, " CLOCK_COLS("t.response_due", "t.acknowledged_at", "response") ", " CLOCK_COLS(
        "t.remote_due", "t.remote_started_at",
        "remote") ", " CLOCK_COLS("t.onsite_due", "t.on_site_at",
                                  "onsite") ", " CLOCK_COLS("t.resolution_due", "t.resolved_at",
                                                            "resolution") " "
                                                                          "FROM tickets t LEFT "
                                                                          "JOIN LATERAL "
                                                                          "(SELECT true AS "
                                                                          "paused FROM "
                                                                          "sla_pauses s "
                                                                          "WHERE s.ticket_id = "
                                                                          "t.ticket_id AND "
                                                                          "s.ended_at IS NULL) "
                                                                          "p ON true "
                                                                          "WHERE t.first_seen "
                                                                          ">= $1::timestamptz "
                                                                          "AND t.first_seen < "
                                                                          "$2::timestamptz) ";

static int report(PGconn *conn, const char *sql, const char *const *params, bool json,
                  const char *title)
{
    PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("sla: %s", PQresultErrorMessage(r));
        PQclear(r);
        return CTL_FAIL;
    }
    if (!json)
        printf("%s\n", title);
    ctl_out_print(r, json, stdout);
    PQclear(r);
    return CTL_OK;
}

/* Used inside a printf format, hence the doubled percent sign. */
#define OUTCOME(k)                                                                                 \
    "count(*) FILTER (WHERE " k " = 'met') AS " k "_met, count(*) FILTER (WHERE " k                \
    " = 'breached' OR " k " LIKE 'overdue%%') AS " k "_breached"

int ctl_cmd_sla(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *params[2] = {"-infinity", "infinity"};
    char tickets_sql[4096], grades_sql[4096];
    PGconn *conn;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'f')
            params[0] = optarg;
        else if (opt == 't')
            params[1] = optarg;
        else
            return ctl_usage("sla", "unknown option");
    }
    if (optind != argc)
        return ctl_usage("sla", "unexpected argument %s", argv[optind]);
    conn = ctl_conn(c);
    if (conn == NULL)
        return CTL_FAIL;
    snprintf(tickets_sql, sizeof(tickets_sql),
             "%sSELECT ticket_id AS id, grade, site, opened, response, remote, onsite, "
             "resolution FROM c ORDER BY ticket_id",
             report_sql);
    snprintf(grades_sql, sizeof(grades_sql),
             "%sSELECT grade, count(*) AS tickets, " OUTCOME("response") ", " OUTCOME(
                 "remote") ", " OUTCOME("onsite") ", " OUTCOME("resolution") " FROM c "
                                                                             "GROUP BY grade "
                                                                             "ORDER BY grade",
             report_sql);
    if (c->json) {
        PGresult *a = PQexecParams(conn, tickets_sql, 2, NULL, params, NULL, NULL, 0);
        PGresult *b = PQexecParams(conn, grades_sql, 2, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(a) != PGRES_TUPLES_OK || PQresultStatus(b) != PGRES_TUPLES_OK) {
            ctl_fail("sla: %s", PQerrorMessage(conn));
            PQclear(a);
            PQclear(b);
            return CTL_FAIL;
        }
        ctl_out_json(json_pack("{soso}", "tickets", ctl_out_rows(a), "grades", ctl_out_rows(b)),
                     stdout);
        PQclear(a);
        PQclear(b);
        return CTL_OK;
    }
    rc = report(conn, tickets_sql, params, false, "Tickets:");
    if (rc == CTL_OK) {
        printf("\n");
        rc = report(conn, grades_sql, params, false, "Per grade (met / breached):");
    }
    return rc;
}
