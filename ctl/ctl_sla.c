/* fieldmonctl: contract clocks as people read them. `deadlines` lists the
 * open tickets with each clock of the current visit (deadline and state);
 * `sla` is the report a manager signs: per grade and per clock, how many
 * visits met, breached, did not need or still run the clock, the time taken,
 * the breaches, satisfaction and what was left out.
 *
 * Both read only: the collector settles the clocks (ticket_clocks) and
 * writes the deadlines; docs/contracts.md ("The SLA report") says how each
 * figure is computed. Times print in the session's zone (ctl_time.h). */
#include "ctl.h"
#include "ctl_out.h"
#include "ctl_time.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The open tickets (not archived; $1: also resolved and closed ones), each
 * clock of the current visit: its deadline (the settled one if there is a
 * row; $2 = CTL_TS_FORMAT) and its state for people (fm_clock_state). */
static const char deadlines_sql[] =
    "SELECT t.ticket_id AS id, t.grade, t.visit, t.site_id AS site, t.state,"
    " t.sla_contract AS contract,"
    " max(d.due) FILTER (WHERE c.clock = 'response') AS response_due,"
    " max(d.state) FILTER (WHERE c.clock = 'response') AS response,"
    " max(d.due) FILTER (WHERE c.clock = 'remote') AS remote_due,"
    " max(d.state) FILTER (WHERE c.clock = 'remote') AS remote,"
    " max(d.due) FILTER (WHERE c.clock = 'onsite') AS onsite_due,"
    " max(d.state) FILTER (WHERE c.clock = 'onsite') AS onsite,"
    " max(d.due) FILTER (WHERE c.clock = 'resolution') AS resolution_due,"
    " max(d.state) FILTER (WHERE c.clock = 'resolution') AS resolution,"
    " coalesce(p.reason, '') AS paused_for"
    " FROM tickets t"
    " LEFT JOIN sla_pauses p ON p.ticket_id = t.ticket_id AND p.ended_at IS NULL"
    " CROSS JOIN LATERAL (VALUES ('response', t.response_due), ('remote', t.remote_due),"
    "  ('onsite', t.onsite_due), ('resolution', t.resolution_due)) c (clock, due)"
    " LEFT JOIN ticket_clocks k"
    "  ON k.ticket_id = t.ticket_id AND k.visit = t.visit AND k.clock = c.clock"
    " CROSS JOIN LATERAL (SELECT to_char(coalesce(k.due, c.due), $2) AS due,"
    "  fm_clock_state(k.outcome, coalesce(k.due, c.due), p.reason IS NOT NULL, now()) AS state"
    " ) d"
    " WHERE t.archived_at IS NULL AND ($1::boolean OR t.state NOT IN ('resolved', 'closed'))"
    " GROUP BY t.ticket_id, p.reason"
    " ORDER BY t.grade, t.ticket_id";

int ctl_cmd_deadlines(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    const char *params[2] = {"false", CTL_TS_FORMAT};
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'a')
            return ctl_usage("deadlines", "unknown option (deadlines [--all])");
        params[0] = "true";
    }
    if (optind != argc)
        return ctl_usage("deadlines", "unexpected argument \"%s\"", argv[optind]);
    return ctl_query_print(c, deadlines_sql, 2, params);
}

/* The report's data, the common head of its queries. Parameters: $1 from,
 * $2 to (Unix seconds, NULL: unbounded), $3 contract, $4 grade (NULL: all),
 * $5 CTL_TS_FORMAT.
 *   visits:  every visit, current (tickets) and finished (ticket_visits),
 *            of the contract's tickets;
 *   scope:   those whose clocks started (the visit's opening) in [from, to);
 *   clocks:  the clocks of the scope's visits that were not cancelled or
 *            duplicates: settled ones as ticket_clocks says; for a current
 *            visit, a clock without a row runs if it has a deadline, is
 *            paused, or the collector has not settled or seen it yet (a
 *            resolved ticket between two rounds, a collector down), else
 *            its grade has no such clock (n/a);
 *   counted: those judged under the grade asked for. */
static const char scope_sql[] =
    "WITH visits AS ("
    "  SELECT t.ticket_id, t.visit, t.visit_opened_at AS opened_at, t.grade, t.closed_as,"
    "   t.satisfaction"
    "  FROM tickets t WHERE $3::text IS NULL OR t.sla_contract = $3"
    "  UNION ALL"
    "  SELECT h.ticket_id, h.visit, h.opened_at, h.grade, h.closed_as, h.satisfaction"
    "  FROM ticket_visits h JOIN tickets t USING (ticket_id)"
    "  WHERE $3::text IS NULL OR t.sla_contract = $3"
    "), scope AS ("
    "  SELECT * FROM visits"
    "  WHERE ($1::float8 IS NULL OR opened_at >= to_timestamp($1::float8))"
    "   AND ($2::float8 IS NULL OR opened_at < to_timestamp($2::float8))"
    "), clocks AS ("
    "  SELECT s.ticket_id, s.visit, k.clock, k.grade, k.outcome, k.due, k.event_at, k.taken_s"
    "  FROM scope s JOIN ticket_clocks k USING (ticket_id, visit)"
    "  WHERE s.closed_as IS NULL"
    "  UNION ALL"
    "  SELECT t.ticket_id, t.visit, c.clock, t.grade,"
    "   CASE WHEN c.due IS NOT NULL OR p.paused OR t.state IN ('resolved', 'closed')"
    "    OR t.sla_updated_at IS NULL THEN 'running' ELSE 'na' END, c.due,"
    "   NULL, NULL"
    "  FROM scope s JOIN tickets t ON t.ticket_id = s.ticket_id AND t.visit = s.visit"
    "  CROSS JOIN LATERAL (VALUES ('response', t.response_due), ('remote', t.remote_due),"
    "   ('onsite', t.onsite_due), ('resolution', t.resolution_due)) c (clock, due)"
    "  CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM sla_pauses q"
    "   WHERE q.ticket_id = t.ticket_id AND q.ended_at IS NULL) AS paused) p"
    "  WHERE s.closed_as IS NULL AND NOT EXISTS (SELECT 1 FROM ticket_clocks k"
    "   WHERE k.ticket_id = t.ticket_id AND k.visit = t.visit AND k.clock = c.clock)"
    "), counted AS ("
    "  SELECT * FROM clocks WHERE $4::smallint IS NULL OR grade = $4"
    "), grades AS ("
    "  SELECT grade, clock, count(*) AS visits,"
    "   count(*) FILTER (WHERE outcome = 'met') AS met,"
    "   count(*) FILTER (WHERE outcome = 'breached') AS breached,"
    "   count(*) FILTER (WHERE outcome = 'na') AS na,"
    "   count(*) FILTER (WHERE outcome = 'running') AS running,"
    "   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY taken_s)"
    "    FILTER (WHERE outcome IN ('met', 'breached') AND event_at IS NOT NULL)::numeric, 1)"
    "    AS median_s,"
    "   round(percentile_cont(0.9) WITHIN GROUP (ORDER BY taken_s)"
    "    FILTER (WHERE outcome IN ('met', 'breached') AND event_at IS NOT NULL)::numeric, 1)"
    "    AS p90_s"
    "  FROM counted GROUP BY grade, clock"
    ") ";

/* After scope_sql: one row per grade and clock. For people, the time taken
 * reads as an interval ("00:12:30", "1 day 02:00:00"); for --json and --csv,
 * as seconds. */
static const char grades_text_sql[] =
    "SELECT grade, clock, visits, met, breached, na AS \"n/a\", running,"
    " round(100.0 * met / nullif(met + breached, 0), 1) AS \"met_%\","
    " justify_hours(round(median_s) * interval '1 second')::text AS median,"
    " justify_hours(round(p90_s) * interval '1 second')::text AS p90"
    " FROM grades"
    " ORDER BY grade, array_position(ARRAY['response', 'remote', 'onsite', 'resolution'], clock)";
static const char grades_data_sql[] =
    "SELECT grade, clock, visits, met, breached, na, running,"
    " round(100.0 * met / nullif(met + breached, 0), 1) AS met_pct, median_s, p90_s"
    " FROM grades"
    " ORDER BY grade, array_position(ARRAY['response', 'remote', 'onsite', 'resolution'], clock)";

/* After scope_sql: the breached clocks, with how late the event came. */
static const char breaches_text_sql[] =
    "SELECT ticket_id AS id, visit, grade, clock, to_char(due, $5) AS due,"
    " coalesce(to_char(event_at, $5), 'not met') AS met_at,"
    " justify_hours(date_trunc('second', event_at - due))::text AS late"
    " FROM counted WHERE outcome = 'breached' ORDER BY due, ticket_id, visit";
static const char breaches_data_sql[] =
    "SELECT ticket_id AS id, visit, grade, clock, to_char(due, $5) AS due,"
    " to_char(event_at, $5) AS met_at, extract(epoch FROM event_at - due)::float8 AS late_s"
    " FROM counted WHERE outcome = 'breached' ORDER BY due, ticket_id, visit";

/* After scope_sql: the range as read, satisfaction of the closed visits of
 * the grade, and the visits left out. */
static const char summary_sql[] =
    "SELECT to_char(to_timestamp($1::float8), $5) AS \"from\","
    " to_char(to_timestamp($2::float8), $5) AS \"to\","
    " round(avg(satisfaction) FILTER (WHERE closed_as IS NULL), 2) AS avg,"
    " count(satisfaction) FILTER (WHERE closed_as IS NULL) AS n,"
    " count(*) FILTER (WHERE closed_as = 'cancelled') AS cancelled,"
    " count(*) FILTER (WHERE closed_as = 'duplicate') AS duplicate"
    " FROM scope WHERE $4::smallint IS NULL OR grade = $4";

enum sla_format { SLA_TABLE, SLA_JSON, SLA_CSV };

struct sla_report {
    PGresult *grades, *breaches, *summary;
};

/* Runs scope_sql + tail; the result, or NULL after printing why. */
static PGresult *report_query(PGconn *conn, const char *tail, const char *const *params)
{
    /* Typed here, as not every query uses every parameter: float8, float8,
     * text, int2, text (fixed catalog OIDs). */
    static const Oid types[5] = {701, 701, 25, 21, 25};
    size_t n = strlen(scope_sql) + strlen(tail) + 1;
    char *sql = malloc(n);
    PGresult *r;

    if (sql == NULL) {
        ctl_fail("sla: out of memory");
        return NULL;
    }
    snprintf(sql, n, "%s%s", scope_sql, tail);
    r = PQexecParams(conn, sql, 5, types, params, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("sla: %s", ctl_pg_reason(conn, r));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Runs the report's three queries on one snapshot, so that its parts add
 * up. Returns CTL_OK (fill *rep; free with report_clear) or CTL_FAIL. */
static int report_run(PGconn *conn, const char *const *params, bool data, struct sla_report *rep)
{
    PGresult *r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok)
        ctl_fail("sla: %s", ctl_pg_reason(conn, r));
    PQclear(r);
    if (!ok)
        return CTL_FAIL;
    rep->grades = report_query(conn, data ? grades_data_sql : grades_text_sql, params);
    rep->breaches = rep->grades
                        ? report_query(conn, data ? breaches_data_sql : breaches_text_sql, params)
                        : NULL;
    rep->summary = rep->breaches ? report_query(conn, summary_sql, params) : NULL;
    PQclear(PQexec(conn, "ROLLBACK"));
    return rep->summary ? CTL_OK : CTL_FAIL;
}

static void report_clear(struct sla_report *rep)
{
    PQclear(rep->grades);
    PQclear(rep->breaches);
    PQclear(rep->summary);
}

/* Column col of the summary row as JSON (typed; null if NULL). */
static json_t *summary_value(const PGresult *s, const char *col)
{
    json_t *row = ctl_out_row(s, 0), *v = json_incref(json_object_get(row, col));

    json_decref(row);
    return v ? v : json_null();
}

static void print_json(const struct sla_report *rep, const struct ctl *c)
{
    const PGresult *s = rep->summary;

    ctl_out_json(
        json_pack("{s{sososs}sosos{soso}s{soso}}", "range", "from", summary_value(s, "from"), "to",
                  summary_value(s, "to"), "tz", c->tz, "grades", ctl_out_rows(rep->grades),
                  "breaches", ctl_out_rows(rep->breaches), "satisfaction", "avg",
                  summary_value(s, "avg"), "n", summary_value(s, "n"), "excluded", "cancelled",
                  summary_value(s, "cancelled"), "duplicate", summary_value(s, "duplicate")),
        stdout);
}

/* Column col of row 0 of r, or unset if it is NULL. */
static const char *value_or(const PGresult *r, int col, const char *unset)
{
    return PQgetisnull(r, 0, col) ? unset : PQgetvalue(r, 0, col);
}

static void print_table(const struct sla_report *rep, const struct ctl *c, const char *contract,
                        const char *grade)
{
    const PGresult *s = rep->summary;

    printf("SLA report: visits opened from %s to %s (%s)", value_or(s, 0, "the first"),
           value_or(s, 1, "now"), c->tz);
    if (contract)
        printf(", contract %s", contract);
    if (grade)
        printf(", grade %s", grade);
    printf("\n\nPer grade and clock:\n");
    ctl_out_print(rep->grades, false, stdout);
    printf("\nBreaches:\n");
    ctl_out_print(rep->breaches, false, stdout);
    if (PQgetisnull(s, 0, 2))
        printf("\nSatisfaction: no closed visits\n");
    else
        printf("\nSatisfaction: %s average of %s closed visit%s\n", PQgetvalue(s, 0, 2),
               PQgetvalue(s, 0, 3), strcmp(PQgetvalue(s, 0, 3), "1") == 0 ? "" : "s");
    printf("Excluded: %s cancelled, %s duplicate%s\n", PQgetvalue(s, 0, 4), PQgetvalue(s, 0, 5),
           strcmp(PQgetvalue(s, 0, 5), "1") == 0 ? "" : "s");
}

/* Options read, checked and turned into the report's parameters. */
struct sla_args {
    const char *from, *to, *contract, *grade;
    enum sla_format format;
    char from_p[32], to_p[32];
    const char *params[5];
};

static int parse_args(struct ctl *c, int argc, char **argv, struct sla_args *a)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"contract", required_argument, NULL, 'c'},
        {"grade", required_argument, NULL, 'g'},
        {"csv", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    bool csv = false, json = c->json;
    double from = 0, to = 0;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            a->from = optarg;
            break;
        case 't':
            a->to = optarg;
            break;
        case 'c':
            a->contract = optarg;
            break;
        case 'g':
            a->grade = optarg;
            break;
        case 'v':
            csv = true;
            break;
        case 'j':
            json = true;
            break;
        default:
            return ctl_usage("sla", "unknown option (sla [--from TIME] [--to TIME] [--contract C]"
                                    " [--grade N] [--csv|--json])");
        }
    }
    if (optind != argc)
        return ctl_usage("sla", "unexpected argument \"%s\"", argv[optind]);
    if (csv && json)
        return ctl_usage("sla", "--csv and --json: choose one");
    a->format = csv ? SLA_CSV : json ? SLA_JSON : SLA_TABLE;
    if (a->grade && (strlen(a->grade) != 1 || a->grade[0] < '1' || a->grade[0] > '4'))
        return ctl_usage("sla", "--grade \"%s\": grades are 1 to 4", a->grade);
    if (a->contract && a->contract[0] == '\0')
        return ctl_usage("sla", "--contract: give the contract's customer name");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    /* The contract's zone reads --from and --to (unless --tz). */
    if (a->contract && (rc = ctl_tz_apply(c, a->contract)) != CTL_OK)
        return rc;
    if (a->from && (rc = ctl_parse_time(c, "sla", "--from", a->from, CTL_DAY_START, &from)) != 0)
        return rc;
    if (a->to && (rc = ctl_parse_time(c, "sla", "--to", a->to, CTL_DAY_END, &to)) != 0)
        return rc;
    if (a->from && a->to && from >= to)
        return ctl_usage("sla", "--from %s --to %s: empty or reversed range", a->from, a->to);
    if (a->from)
        ctl_time_param(from, a->from_p, sizeof(a->from_p));
    if (a->to)
        ctl_time_param(to, a->to_p, sizeof(a->to_p));
    a->params[0] = a->from ? a->from_p : NULL;
    a->params[1] = a->to ? a->to_p : NULL;
    a->params[2] = a->contract;
    a->params[3] = a->grade;
    a->params[4] = CTL_TS_FORMAT;
    return CTL_OK;
}

int ctl_cmd_sla(struct ctl *c, int argc, char **argv)
{
    struct sla_args a = {0};
    struct sla_report rep = {0};
    int rc = parse_args(c, argc, argv, &a);

    if (rc != CTL_OK)
        return rc;
    rc = report_run(c->conn, a.params, a.format != SLA_TABLE, &rep);
    if (rc == CTL_OK) {
        if (a.format == SLA_JSON)
            print_json(&rep, c);
        else if (a.format == SLA_CSV)
            ctl_out_csv(rep.grades, stdout);
        else
            print_table(&rep, c, a.contract, a.grade);
    }
    report_clear(&rep);
    return rc;
}
