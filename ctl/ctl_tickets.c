/* ctl_tickets: listing, showing and moving tickets, and manual tickets. */
#include "ctl.h"
#include "ctl_out.h"

#include "tickets_ops.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"open",     "acknowledged", "dispatched", "on_site",
                                     "resolved", "closed",       NULL};

static bool valid_state(const char *s)
{
    for (size_t i = 0; states[i]; i++)
        if (strcmp(states[i], s) == 0)
            return true;
    return false;
}

int ctl_cmd_tickets(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'}, {"all", no_argument, NULL, 'A'},
        {"grade", required_argument, NULL, 'g'}, {"site", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
    };
    const char *state = NULL, *grade = NULL, *site = NULL, *limit = "100";
    bool all = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (!valid_state(optarg))
                return ctl_usage("tickets",
                                 "--state %s: not one of open, acknowledged,"
                                 " dispatched, on_site, resolved, closed",
                                 optarg);
            state = optarg;
            break;
        case 'A':
            all = true;
            break;
        case 'g':
            if (strlen(optarg) != 1 || optarg[0] < '1' || optarg[0] > '4')
                return ctl_usage("tickets", "--grade %s: not 1..4", optarg);
            grade = optarg;
            break;
        case 'S':
            site = optarg;
            break;
        case 'l':
            if (atoi(optarg) < 1)
                return ctl_usage("tickets", "--limit %s: not a positive number", optarg);
            limit = optarg;
            break;
        default:
            return ctl_usage("tickets", "unknown option");
        }
    }
    if (optind != argc)
        return ctl_usage("tickets", "unexpected argument \"%s\"", argv[optind]);
    const char *p[5] = {state, grade, site, limit, all ? "t" : "f"};
    return ctl_query_print(
        c,
        "SELECT ticket_id AS id, grade, state, kind, coalesce(site_id, '') AS site,"
        " coalesce(device, '') AS device, title, occurrences, flapping,"
        " (SELECT count(*) FROM ticket_devices d WHERE d.ticket_id = t.ticket_id"
        "  AND d.detached_at IS NULL) AS devices,"
        " " TS("first_seen") " AS first_seen, " TS(
            "last_seen") " AS last_seen,"
                         " " TS("cleared_at") " AS cleared_at"
                                              " FROM tickets t"
                                              " WHERE ($1::text IS NULL OR state = $1) AND "
                                              "($2::smallint IS NULL OR grade = $2)"
                                              " AND ($3::text IS NULL OR site_id = $3)"
                                              " AND ($1::text IS NOT NULL OR $5::boolean OR state "
                                              "<> 'closed')"
                                              " ORDER BY grade, ticket_id LIMIT $4::int",
        5, p);
}

static PGresult *query(struct ctl *c, const char *sql, const char *id)
{
    const char *p[1] = {id};
    PGresult *r = PQexecParams(c->conn, sql, 1, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("query: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static const char *const show_parts[][2] = {
    {"devices", "SELECT site_id AS site, device, child_key, " TS(
                    "attached_at") " AS attached_at,"
                                   " " TS("detached_at") " AS detached_at FROM ticket_devices "
                                                         "WHERE ticket_id = $1"
                                                         " ORDER BY site_id, device"},
    {"alarms",
     "SELECT " TS("ts") " AS ts, site_id AS site, device, code, state, alarm_event_id"
                        " FROM ticket_alarms WHERE ticket_id = $1 ORDER BY ts, ticket_alarm_id"},
    {"grades", "SELECT " TS("ts") " AS ts, old_grade, new_grade, rule, actor FROM ticket_grades"
                                  " WHERE ticket_id = $1 ORDER BY ts"},
    {"audit", "SELECT " TS("ts") " AS ts, actor, action, detail FROM ticket_audit"
                                 " WHERE ticket_id = $1 ORDER BY audit_id"},
};

int ctl_cmd_show(struct ctl *c, int argc, char **argv)
{
    char ids[24];
    long long id;
    PGresult *r;
    json_t *out;

    if (argc != 2 || !ctl_parse_id(argv[1], &id))
        return ctl_usage("show", "expected one ticket id");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    snprintf(ids, sizeof(ids), "%lld", id);
    r = query(
        c,
        "SELECT ticket_id AS id, dedupe_key, kind, grade, state, site_id AS site, device,"
        " code, title, rule, flapping, occurrences, reopen_count,"
        " " TS("first_seen") " AS first_seen, " TS(
            "last_seen") " AS last_seen,"
                         " " TS("cleared_at") " AS cleared_at, " TS(
                             "opened_at") " AS opened_at, opened_by,"
                                          " " TS(
                                              "acknowledged_at") " AS acknowledged_at, "
                                                                 "acknowledged_by,"
                                                                 " " TS(
                                                                     "dispatched_at") " AS "
                                                                                      "dispatched_"
                                                                                      "at, "
                                                                                      "dispatched_"
                                                                                      "by, "
                                                                                      "dispatched_"
                                                                                      "to,"
                                                                                      " " TS(
                                                                                          "on_site_"
                                                                                          "at") " A"
                                                                                                "S "
                                                                                                "on"
                                                                                                "_s"
                                                                                                "it"
                                                                                                "e_"
                                                                                                "at"
                                                                                                ", "
                                                                                                "on"
                                                                                                "_s"
                                                                                                "it"
                                                                                                "e_"
                                                                                                "by"
                                                                                                ","
                                                                                                " " TS(
                                                                                                    "resolved_at") " AS resolved_at, resolved_by, cause,"
                                                                                                                   " action_taken AS action, prevention,"
                                                                                                                   " " TS(
                                                                                                                       "closed_at") " AS closed_at, closed_by, customer_confirmed, confirmed_by,"
                                                                                                                                    " satisfaction FROM tickets WHERE ticket_id = $1",
        ids);
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
                printf("%-16s %s\n", PQfname(r, j), PQgetvalue(r, 0, j));
    }
    PQclear(r);
    for (size_t i = 0; i < sizeof(show_parts) / sizeof(show_parts[0]); i++) {
        r = query(c, show_parts[i][1], ids);
        if (r == NULL) {
            json_decref(out);
            return CTL_FAIL;
        }
        if (c->json) {
            json_object_set_new(out, show_parts[i][0], ctl_out_rows(r));
        } else {
            printf("\n%s:\n", show_parts[i][0]);
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

/* Which options each step takes. */
struct step_cmd {
    const char *name;
    enum tickets_step step;
    const char *opts; /* letters of the options allowed */
    const char *state_after;
};

static const struct step_cmd step_cmds[] = {
    {"ack", TICKETS_ACK, "n", "acknowledged"},
    {"dispatch", TICKETS_DISPATCH, "nt", "dispatched"},
    {"on-site", TICKETS_ON_SITE, "n", "on_site"},
    {"resolve", TICKETS_RESOLVE, "ncap", "resolved"},
    {"close", TICKETS_CLOSE, "nsCb", "closed"},
    {"reopen", TICKETS_REOPEN, "n", "acknowledged"},
};

int ctl_cmd_step(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"note", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},
        {"cause", required_argument, NULL, 'c'},
        {"action", required_argument, NULL, 'a'},
        {"prevention", required_argument, NULL, 'p'},
        {"satisfaction", required_argument, NULL, 's'},
        {"confirmed", no_argument, NULL, 'C'},
        {"confirmed-by", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const struct step_cmd *sc = NULL;
    struct tickets_op op = {.actor = c->actor};
    char why[512], *end;
    int opt, rc;

    for (size_t i = 0; i < sizeof(step_cmds) / sizeof(step_cmds[0]); i++)
        if (strcmp(step_cmds[i].name, argv[0]) == 0)
            sc = &step_cmds[i];
    if (sc == NULL)
        return ctl_usage(argv[0], "unknown step");
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == '?' || strchr(sc->opts, opt) == NULL)
            return ctl_usage(sc->name, "option not valid for %s", sc->name);
        switch (opt) {
        case 'n':
            op.note = optarg;
            break;
        case 't':
            op.dispatched_to = optarg;
            break;
        case 'c':
            op.cause = optarg;
            break;
        case 'a':
            op.action = optarg;
            break;
        case 'p':
            op.prevention = optarg;
            break;
        case 's':
            op.satisfaction = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg)
                return ctl_usage(sc->name, "--satisfaction %s: not a number 1..5", optarg);
            break;
        case 'C':
            op.confirmed = true;
            break;
        case 'b':
            op.confirmed_by = optarg;
            break;
        }
    }
    if (optind != argc - 1 || !ctl_parse_id(argv[optind], &op.ticket_id))
        return ctl_usage(sc->name, "expected one ticket id");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    rc = tickets_step(c->conn, sc->step, &op, why, sizeof(why));
    if (rc == -EINVAL)
        return ctl_usage(sc->name, "%s", why);
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(json_pack("{s:I, s:s, s:s}", "ticket", (json_int_t)op.ticket_id, "state",
                               sc->state_after, "actor", op.actor),
                     stdout);
    else
        printf("ticket %lld: %s by %s\n", op.ticket_id, sc->state_after, op.actor);
    return CTL_OK;
}

int ctl_cmd_open(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"grade", required_argument, NULL, 'g'},
        {"title", required_argument, NULL, 't'},
        {"site", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *title = NULL, *site = NULL, *device = NULL;
    int grade = 0, opt, rc;
    long long id;
    char why[512];

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'g':
            grade = atoi(optarg);
            break;
        case 't':
            title = optarg;
            break;
        case 's':
            site = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        default:
            return ctl_usage("open", "unknown option");
        }
    }
    if (optind != argc)
        return ctl_usage("open", "unexpected argument \"%s\"", argv[optind]);
    if (grade < 1 || grade > 4 || title == NULL)
        return ctl_usage("open", "needs --grade 1..4 and --title");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    rc = tickets_open_manual(c->conn, c->actor, grade, site, device, title, &id, why, sizeof(why));
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(
            json_pack("{s:I, s:s, s:i}", "ticket", (json_int_t)id, "state", "open", "grade", grade),
            stdout);
    else
        printf("ticket %lld: opened, grade %d\n", id, grade);
    return CTL_OK;
}
