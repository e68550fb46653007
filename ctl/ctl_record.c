/* ctl_record: a ticket's whole record (`show`), the escalations and
 * breaches (`escalations`), and the audit trail (`audit`). Times print in
 * the session's (contract's) zone. */
#include "ctl.h"
#include "ctl_out.h"
#include "ctl_time.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 ticket id, $2 time format. */
static const char header_sql[] =
    "SELECT t.ticket_id AS id, t.title, t.grade, coalesce(t.closed_as, t.state) AS state, "
    "t.kind, t.site_id AS site, t.device, t.code, t.dedupe_key, t.rule, "
    "to_char(t.opened_at, $2) AS opened, t.visit, to_char(t.visit_opened_at, $2) AS "
    "visit_opened, t.sla_contract AS contract, t.dispatched_to AS assignee, t.caller, t.contact, "
    "t.description, t.occurrences, t.flapping, t.reopen_count, "
    "to_char(t.first_seen, $2) AS first_seen, to_char(t.last_seen, $2) AS last_seen, "
    "to_char(t.cleared_at, $2) AS cleared_at, to_char(t.recorded_at, $2) AS recorded_at, "
    "t.opened_by, to_char(t.acknowledged_at, $2) AS acknowledged_at, t.acknowledged_by, "
    "to_char(t.dispatched_at, $2) AS dispatched_at, t.dispatched_by, "
    "to_char(t.remote_started_at, $2) AS remote_started_at, "
    "to_char(t.on_site_at, $2) AS on_site_at, t.on_site_by, "
    "to_char(t.resolved_at, $2) AS resolved_at, t.resolved_by, t.cause, "
    "t.action_taken AS action, t.prevention, to_char(t.closed_at, $2) AS closed_at, t.closed_by, "
    "t.close_reason, t.duplicate_of, t.customer_confirmed, t.confirmed_by, t.satisfaction, "
    "to_char(t.archived_at, $2) AS archived_at, t.archived_by "
    "FROM tickets t WHERE t.ticket_id = $1::bigint";

static const char *const parts[][2] = {
    {"clocks",
     "SELECT k.clock, to_char(coalesce(c.due, k.due), $2) AS due, fm_clock_state(c.outcome, "
     "k.due, p.paused IS NOT NULL AND t.state NOT IN ('resolved', 'closed'), now()) AS state, "
     "CASE WHEN c.taken_s IS NOT NULL THEN fm_sla_span(c.taken_s * interval '1 second') END AS "
     "taken, to_char(c.event_at, $2) AS "
     "event_at, c.reason FROM tickets t CROSS JOIN LATERAL (VALUES (1, 'response', "
     "t.response_due), (2, 'remote', t.remote_due), (3, 'onsite', t.onsite_due), "
     "(4, 'resolution', t.resolution_due)) k (n, clock, due) LEFT JOIN ticket_clocks c ON "
     "c.ticket_id = t.ticket_id AND c.visit = t.visit AND c.clock = k.clock LEFT JOIN LATERAL "
     "(SELECT true AS paused FROM sla_pauses s WHERE s.ticket_id = t.ticket_id AND s.ended_at IS "
     "NULL) p ON true WHERE t.ticket_id = $1::bigint ORDER BY k.n"},
    {"visits",
     "SELECT v.visit, to_char(v.opened_at, $2) AS opened, v.grade, to_char(v.resolved_at, $2) "
     "AS resolved_at, v.cause, v.action_taken AS action, coalesce(v.closed_as, CASE WHEN "
     "v.closed_at IS NOT NULL THEN 'closed' END) AS closed, v.satisfaction, to_char(v.reopened_at, "
     "$2) AS reopened_at, v.reopened_by, v.reopen_reason, (SELECT string_agg(c.clock || ' ' || "
     "CASE c.outcome WHEN 'na' THEN 'n/a' ELSE c.outcome END, ', ' ORDER BY c.clock) FROM "
     "ticket_clocks c WHERE c.ticket_id = v.ticket_id AND c.visit = v.visit) AS clocks "
     "FROM ticket_visits v WHERE v.ticket_id = $1::bigint ORDER BY v.visit"},
    {"devices",
     "SELECT site_id AS site, device, child_key, to_char(attached_at, $2) AS attached_at, "
     "to_char(detached_at, $2) AS detached_at FROM ticket_devices WHERE ticket_id = $1::bigint "
     "ORDER BY site_id, device"},
    /* One timeline: when it happened, what, who, the detail. An audit row
     * is placed at the time the step happened (detail.at; a manual ticket's
     * opening at reported_at), its state or grade change shown as
     * "from -> to" when there is one; pauses come from sla_pauses (also
     * those a resolution ended), with who paused or resumed them. */
    {"timeline",
     "SELECT to_char(e.at, $2) AS at, e.what, e.who, e.detail FROM ("
     "SELECT ts AS at, 'alarm' AS what, '' AS who, device || ' ' || code || ' ' || state AS "
     "detail, 1 AS o FROM ticket_alarms WHERE ticket_id = $1::bigint "
     "UNION ALL SELECT coalesce((a.detail->>'at')::timestamptz, "
     "(a.detail->>'reported_at')::timestamptz, a.ts), a.action, a.actor, concat_ws(', ', "
     "CASE WHEN a.detail->>'from' IS DISTINCT FROM a.detail->>'to' THEN CASE a.action WHEN "
     "'grade' THEN 'grade ' ELSE '' END || (a.detail->>'from') || ' -> ' || (a.detail->>'to') "
     "END, (SELECT string_agg(key || ': ' || CASE WHEN key LIKE '%\\_at' AND value ~ "
     "'^[0-9]{4}-' THEN to_char(value::timestamptz, $2) ELSE value END, ', ' ORDER BY key) FROM "
     "jsonb_each_text(a.detail) WHERE key NOT IN ('at', 'from', 'to'))), 2 FROM ticket_audit a "
     "WHERE a.ticket_id = $1::bigint AND a.action NOT IN ('pause', 'resume') "
     "UNION ALL SELECT p.started_at, 'clocks paused', coalesce((SELECT a.actor FROM ticket_audit "
     "a WHERE a.ticket_id = p.ticket_id AND a.action = 'pause' AND abs(extract(epoch FROM "
     "coalesce((a.detail->>'at')::timestamptz, a.ts) - p.started_at)) < 1 LIMIT 1), ''), "
     "p.reason, 3 FROM sla_pauses p WHERE p.ticket_id = $1::bigint "
     "UNION ALL SELECT p.ended_at, 'clocks resumed', coalesce((SELECT a.actor FROM ticket_audit "
     "a WHERE a.ticket_id = p.ticket_id AND a.action = 'resume' AND abs(extract(epoch FROM "
     "coalesce((a.detail->>'at')::timestamptz, a.ts) - p.ended_at)) < 1 LIMIT 1), ''), "
     "fm_sla_span(p.ended_at - p.started_at) || ' paused', 3 FROM sla_pauses p "
     "WHERE p.ticket_id = $1::bigint AND p.ended_at IS NOT NULL "
     "UNION ALL SELECT changed_at, 'deadlines moved', '', 'grade ' || from_grade || ' -> ' || "
     "to_grade || ': ' || (SELECT string_agg(b.key || ' ' || coalesce(to_char(b.value::text::"
     "timestamptz, $2), '-') || ' -> ' || coalesce(to_char((after->>b.key)::timestamptz, $2), "
     "'-'), ', ' ORDER BY b.key) FROM jsonb_each(before) b WHERE b.value IS DISTINCT FROM "
     "after->b.key), 4 FROM sla_grade_changes WHERE ticket_id = $1::bigint "
     "UNION ALL SELECT fired_at, 'ladder', role, CASE WHEN engaged_by IS NULL THEN "
     "'engaged by the ladder (step due ' || to_char(due_at, $2) || ')' ELSE 'engaged by ' || "
     "engaged_by || ': step not fired' END || ', visit ' || visit, 5 FROM ticket_escalations "
     "WHERE ticket_id = $1::bigint "
     "UNION ALL SELECT detected_at, 'breach', '', clock || ' deadline ' || to_char(deadline, $2) "
     "|| ' passed, visit ' || visit, 6 FROM sla_breaches WHERE ticket_id = $1::bigint "
     "UNION ALL SELECT coalesce(delivered_at, created_at), 'webhook', CASE WHEN idem_key LIKE "
     "'fieldmon-esc-%' THEN 'ladder ' ELSE 'breach ' END || regexp_replace(idem_key, "
     "'^fieldmon-(esc|breach)-[0-9]+-', ''), url || ': ' "
     "|| CASE WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE 'not delivered yet' END || "
     "' after ' || attempts || ' attempt(s)' || coalesce(' (' || last_error || ')', ''), 7 "
     "FROM notify_outbox WHERE idem_key LIKE 'fieldmon-esc-' || $1 || '-%' OR idem_key LIKE "
     "'fieldmon-breach-' || $1 || '-%') e ORDER BY e.at, e.o"},
};

static PGresult *fetch(struct ctl *c, const char *sql, const char *id)
{
    const char *p[2] = {id, CTL_TS_FORMAT};
    PGresult *r = PQexecParams(c->conn, sql, 2, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("show %s: %s", id, ctl_pg_reason(c->conn, r));
        PQclear(r);
        return NULL;
    }
    return r;
}

int ctl_cmd_show(struct ctl *c, int argc, char **argv)
{
    char ids[24];
    long long id;
    PGresult *r;
    json_t *out;

    if (argc != 2 || !ctl_parse_id(argv[1], &id))
        return ctl_usage("show", "which ticket? (usage: show ID)");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    snprintf(ids, sizeof(ids), "%lld", id);
    r = fetch(c, header_sql, ids);
    if (r == NULL)
        return CTL_FAIL;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_fail("no ticket %lld", id);
    }
    out = ctl_out_row(r, 0);
    if (!c->json) {
        for (int j = 0; j < PQnfields(r); j++)
            if (!PQgetisnull(r, 0, j))
                printf("%-18s %s\n", PQfname(r, j), PQgetvalue(r, 0, j));
    }
    PQclear(r);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        r = fetch(c, parts[i][1], ids);
        if (r == NULL) {
            json_decref(out);
            return CTL_FAIL;
        }
        if (c->json) {
            json_object_set_new(out, parts[i][0], ctl_out_rows(r));
        } else if (PQntuples(r) > 0 || strcmp(parts[i][0], "clocks") == 0) {
            printf("\n%s:\n", parts[i][0]);
            ctl_out_print(r, false, stdout);
        }
        PQclear(r);
    }
    if (c->json)
        ctl_out_json(out, stdout);
    else
        json_decref(out);
    return CTL_OK;
}

/* escalations [ID] [--since TIME]: ladder steps and breaches, newest last,
 * with the delivery of their webhooks. */
int ctl_cmd_escalations(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    static const char sql[] =
        "SELECT to_char(e.at, $3) AS at, e.ticket, e.visit, e.what, e.detail, "
        "(SELECT count(*) FILTER (WHERE o.delivered_at IS NOT NULL) || '/' || count(*) FROM "
        "notify_outbox o WHERE o.idem_key LIKE e.key || '-%') AS webhooks_delivered FROM ("
        "SELECT fired_at AS at, ticket_id AS ticket, visit, 'step: ' || role AS what, "
        "CASE WHEN engaged_by IS NULL THEN 'fired, due ' || to_char(due_at, $3) ELSE "
        "'engaged by ' || engaged_by END AS detail, 'fieldmon-esc-' || ticket_id || '-' || role "
        "|| CASE WHEN visit > 1 THEN '-v' || visit ELSE '' END AS key FROM ticket_escalations "
        "UNION ALL SELECT detected_at, ticket_id, visit, 'breach: ' || clock, 'deadline ' || "
        "to_char(deadline, $3) || ', grade ' || grade, 'fieldmon-breach-' || ticket_id || '-' || "
        "clock FROM sla_breaches) e WHERE ($1::bigint IS NULL OR e.ticket = $1::bigint) "
        "AND ($2::float8 IS NULL OR e.at >= to_timestamp($2::float8)) ORDER BY e.at, e.ticket";
    const char *p[3] = {NULL, NULL, CTL_TS_FORMAT};
    char ids[24], since[32];
    long long id;
    double t;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 's')
            return ctl_usage("escalations", "usage: escalations [ID] [--since TIME]");
        p[1] = optarg;
    }
    if (argc - optind > 1 || (argc - optind == 1 && !ctl_parse_id(argv[optind], &id)))
        return ctl_usage("escalations", "usage: escalations [ID] [--since TIME]");
    if (argc - optind == 1) {
        snprintf(ids, sizeof(ids), "%lld", id);
        p[0] = ids;
    }
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (p[1] != NULL) {
        if ((rc = ctl_parse_time(c, "escalations", "--since", p[1], CTL_DAY_START, &t)) != CTL_OK)
            return rc;
        ctl_time_param(t, since, sizeof(since));
        p[1] = since;
    }
    return ctl_query_print(c, sql, 3, p);
}

/* audit [--actor A] [--since TIME] [--ticket ID] [--limit N]: every change
 * to tickets and maintenance windows, newest first. */
int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"actor", required_argument, NULL, 'a'},
        {"since", required_argument, NULL, 's'},
        {"ticket", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] = "usage: audit [--actor A] [--since TIME] [--ticket ID] [--limit N]";
    static const char sql[] =
        "SELECT to_char(a.ts, $5) AS ts, a.actor, a.action, a.ticket_id AS ticket, a.window_id "
        "AS window, to_char((a.detail->>'at')::timestamptz, $5) AS happened_at, "
        "(SELECT string_agg(key || ': ' || value, ', ' ORDER BY key) FROM "
        "jsonb_each_text(a.detail) WHERE key <> 'at') AS detail FROM ticket_audit a "
        "WHERE ($1::text IS NULL OR a.actor = $1) AND ($2::float8 IS NULL OR a.ts >= "
        "to_timestamp($2::float8)) AND ($3::bigint IS NULL OR a.ticket_id = $3::bigint) "
        "ORDER BY a.audit_id DESC LIMIT $4::int";
    const char *p[5] = {NULL, NULL, NULL, "100", CTL_TS_FORMAT};
    char since[32], ids[24];
    const char *since_text = NULL;
    long long id;
    double t;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            p[0] = optarg;
            break;
        case 's':
            since_text = optarg;
            break;
        case 't':
            if (!ctl_parse_id(optarg, &id))
                return ctl_usage("audit", "--ticket %s: not a ticket id (%s)", optarg, usage);
            snprintf(ids, sizeof(ids), "%lld", id);
            p[2] = ids;
            break;
        case 'l':
            if (atoi(optarg) < 1)
                return ctl_usage("audit", "--limit %s: not a positive number", optarg);
            p[3] = optarg;
            break;
        default:
            return ctl_usage("audit", "%s", usage);
        }
    }
    if (optind != argc)
        return ctl_usage("audit", "unexpected argument \"%s\" (%s)", argv[optind], usage);
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (since_text != NULL) {
        if ((rc = ctl_parse_time(c, "audit", "--since", since_text, CTL_DAY_START, &t)) != CTL_OK)
            return rc;
        ctl_time_param(t, since, sizeof(since));
        p[1] = since;
    }
    return ctl_query_print(c, sql, 5, p);
}
