/* ctl_tickets: listing, showing and moving tickets, and manual tickets. */
#include "ctl.h"
#include "ctl_out.h"

#include "ctl_time.h"
#include "tickets_ops.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"open",   "acknowledged", "dispatched", "on_site", "resolved",
                                     "closed", "cancelled",    "duplicate",  NULL};

static bool valid_state(const char *s)
{
    for (size_t i = 0; states[i]; i++)
        if (strcmp(states[i], s) == 0)
            return true;
    return false;
}

/* $1 state, $2 grade, $3 site, $4 limit, $5 all, $6 archived, $7 time format. */
static const char tickets_sql[] =
    "SELECT t.ticket_id AS id, t.grade, coalesce(t.closed_as, t.state) AS state, "
    "fm_sla_span(now() - CASE t.state WHEN 'open' THEN t.visit_opened_at "
    "WHEN 'acknowledged' THEN t.acknowledged_at WHEN 'dispatched' THEN t.dispatched_at "
    "WHEN 'on_site' THEN t.on_site_at WHEN 'resolved' THEN t.resolved_at "
    "ELSE t.closed_at END) AS in_state, "
    "coalesce(t.dispatched_to, '') AS assignee, n.next_due, t.kind, "
    "coalesce(t.site_id, '') AS site, coalesce(t.device, '') AS device, t.title, t.occurrences, "
    "t.flapping, (SELECT count(*) FROM ticket_devices d WHERE d.ticket_id = t.ticket_id "
    "AND d.detached_at IS NULL) AS devices, t.visit, to_char(t.opened_at, $7) AS opened, "
    "to_char(t.last_seen, $7) AS last_seen, to_char(t.cleared_at, $7) AS cleared_at "
    "FROM tickets t LEFT JOIN LATERAL (SELECT k.clock || ' ' || fm_clock_state(NULL, k.due, "
    "false, now()) AS next_due FROM (VALUES ('response', t.response_due), ('remote', "
    "t.remote_due), ('onsite', t.onsite_due), ('resolution', t.resolution_due)) k (clock, due) "
    "WHERE k.due IS NOT NULL AND t.state NOT IN ('resolved', 'closed') AND NOT EXISTS "
    "(SELECT 1 FROM ticket_clocks c WHERE c.ticket_id = t.ticket_id AND c.visit = t.visit "
    "AND c.clock = k.clock AND c.outcome <> 'breached') ORDER BY k.due LIMIT 1) n ON true "
    "WHERE ($1::text IS NULL OR coalesce(t.closed_as, t.state) = $1) "
    "AND ($2::smallint IS NULL OR t.grade = $2::smallint) "
    "AND ($3::text IS NULL OR t.site_id = $3) "
    "AND ($1::text IS NOT NULL OR $5::boolean OR t.state <> 'closed') "
    "AND (t.archived_at IS NULL OR $6::boolean) "
    "ORDER BY t.grade, t.ticket_id LIMIT $4::int";

int ctl_cmd_tickets(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"all", no_argument, NULL, 'A'},
        {"grade", required_argument, NULL, 'g'},
        {"site", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'l'},
        {"archived", no_argument, NULL, 'R'},
        {NULL, 0, NULL, 0},
    };
    const char *state = NULL, *grade = NULL, *site = NULL, *limit = "100";
    bool all = false, archived = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (!valid_state(optarg))
                return ctl_usage("tickets",
                                 "--state %s: not one of open, acknowledged, dispatched, "
                                 "on_site, resolved, closed, cancelled, duplicate",
                                 optarg);
            state = optarg;
            break;
        case 'A':
            all = true;
            break;
        case 'R':
            archived = all = true;
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
            return ctl_usage("tickets", "an option it does not take (usage: tickets [--state S] "
                                        "[--all] [--archived] [--grade N] [--site S] [--limit N])");
        }
    }
    if (optind != argc)
        return ctl_usage("tickets", "unexpected argument \"%s\"", argv[optind]);
    const char *p[7] = {state,        grade, site, limit, all ? "t" : "f", archived ? "t" : "f",
                        CTL_TS_FORMAT};
    return ctl_query_print(c, tickets_sql, 7, p);
}

/* The step commands: which options each takes, and what it prints. */
struct step_cmd {
    const char *name;
    enum tickets_step step;
    const char *opts; /* letters of the options allowed */
    const char *done; /* "ticket N: <done> by ACTOR" */
};

static const struct step_cmd step_cmds[] = {
    {"ack", TICKETS_ACK, "n@", "acknowledged"},
    {"dispatch", TICKETS_DISPATCH, "nt@", "dispatched"},
    {"on-site", TICKETS_ON_SITE, "n@", "on site"},
    {"remote", TICKETS_REMOTE, "n@", "remote support begun"},
    {"resolve", TICKETS_RESOLVE, "ncap@", "resolved"},
    {"close", TICKETS_CLOSE, "nsCb@", "closed"},
    {"reopen", TICKETS_REOPEN, "nr@", "reopened"},
    {"cancel", TICKETS_CANCEL, "nr@", "cancelled"},
    {"duplicate-of", TICKETS_DUPLICATE, "n@", "closed as a duplicate"},
    {"note", TICKETS_NOTE, "", "noted"},
    {"pause", TICKETS_PAUSE, "nr@", "paused"},
    {"resume", TICKETS_RESUME, "n@", "resumed"},
    {"regrade", TICKETS_REGRADE, "ngr@", "regraded"},
    {"archive", TICKETS_ARCHIVE, "B", "archived"},
};

/* The one-line usage of each step command, for its errors. */
static const char *step_usage(const char *name)
{
    static const char *const u[][2] = {
        {"dispatch", "dispatch ID --to WHO [--at TIME] [--note T]"},
        {"resolve", "resolve ID --cause T --action T [--prevention T] [--at TIME] [--note T]"},
        {"close", "close ID --satisfaction 1-5 [--confirmed [--confirmed-by WHO]] [--at TIME]"},
        {"reopen", "reopen ID --reason T [--at TIME]"},
        {"cancel", "cancel ID --reason T [--at TIME]"},
        {"duplicate-of", "duplicate-of ID OTHER [--note T] [--at TIME]"},
        {"note", "note ID TEXT..."},
        {"pause", "pause ID --reason T [--at TIME]"},
        {"regrade", "regrade ID --grade 1-4 --reason T [--at TIME]"},
        {"archive", "archive ID | archive --closed-before TIME"},
    };

    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        if (strcmp(u[i][0], name) == 0)
            return u[i][1];
    }
    return NULL;
}

static int step_usage_fail(const char *name, const char *what)
{
    const char *u = step_usage(name);

    if (u != NULL)
        return ctl_usage(name, "%s (usage: %s)", what, u);
    return ctl_usage(name, "%s (usage: %s ID [--at TIME] [--note T])", what, name);
}

/* archive --closed-before TIME */
static int archive_before(struct ctl *c, const char *when)
{
    char why[512];
    long long n;
    double t;
    int rc;

    if ((rc = ctl_parse_time(c, "archive", "--closed-before", when, CTL_DAY_START, &t)) != CTL_OK)
        return rc;
    if (tickets_archive_before(c->conn, c->actor, t, &n, why, sizeof(why)) != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(json_pack("{s:I}", "archived", (json_int_t)n), stdout);
    else
        printf("%lld closed ticket%s archived\n", n, n == 1 ? "" : "s");
    return CTL_OK;
}

/* Joins argv[from..argc) with spaces into buf (note TEXT...). */
static const char *join_words(int argc, char **argv, int from, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int i = from; i < argc && n + 1 < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i > from ? " " : "", argv[i]);
    return buf;
}

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
        {"reason", required_argument, NULL, 'r'},
        {"grade", required_argument, NULL, 'g'},
        {"at", required_argument, NULL, '@'},
        {"closed-before", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    const struct step_cmd *sc = NULL;
    struct tickets_op op = {.actor = c->actor};
    const char *at = NULL, *before = NULL;
    char why[512], text[2048], *end;
    int opt, rc, npos;

    for (size_t i = 0; i < sizeof(step_cmds) / sizeof(step_cmds[0]); i++)
        if (strcmp(step_cmds[i].name, argv[0]) == 0)
            sc = &step_cmds[i];
    if (sc == NULL)
        return ctl_usage(argv[0], "unknown step");
    while ((opt = getopt_long(argc, argv, sc->step == TICKETS_NOTE ? "+" : "", opts, NULL)) != -1) {
        if (opt == '?' || strchr(sc->opts, opt) == NULL)
            return step_usage_fail(sc->name, "an option it does not take");
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
            if (*end != '\0' || end == optarg || op.satisfaction < 1 || op.satisfaction > 5)
                return step_usage_fail(sc->name, "--satisfaction takes 1..5");
            break;
        case 'C':
            op.confirmed = true;
            break;
        case 'b':
            op.confirmed_by = optarg;
            break;
        case 'r':
            op.reason = optarg;
            break;
        case 'g':
            op.grade = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg || op.grade < 1 || op.grade > 4)
                return step_usage_fail(sc->name, "--grade takes 1..4");
            break;
        case '@':
            at = optarg;
            break;
        case 'B':
            before = optarg;
            break;
        }
    }
    npos = argc - optind;
    if (before != NULL) {
        if (npos != 0)
            return step_usage_fail(sc->name, "give a ticket id or --closed-before, not both");
        if (!ctl_need_actor(c, sc->name))
            return CTL_USAGE;
        return ctl_conn(c) ? archive_before(c, before) : CTL_FAIL;
    }
    if (npos < 1 || !ctl_parse_id(argv[optind], &op.ticket_id))
        return step_usage_fail(sc->name, "which ticket?");
    if (sc->step == TICKETS_DUPLICATE) {
        if (npos != 2 || !ctl_parse_id(argv[optind + 1], &op.other))
            return step_usage_fail(sc->name, "which ticket does it duplicate?");
    } else if (sc->step == TICKETS_NOTE) {
        if (npos < 2)
            return step_usage_fail(sc->name, "a note needs its text");
        op.note = join_words(argc, argv, optind + 1, text, sizeof(text));
    } else if (npos != 1) {
        return step_usage_fail(sc->name, "one ticket id only");
    }
    if (op.confirmed_by != NULL && !op.confirmed)
        return step_usage_fail(sc->name,
                               "--confirmed-by names who confirmed: give --confirmed too");
    if (!ctl_need_actor(c, sc->name))
        return CTL_USAGE;
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (at != NULL &&
        (rc = ctl_parse_time(c, sc->name, "--at", at, CTL_DAY_START, &op.at)) != CTL_OK)
        return rc;
    rc = tickets_step(c->conn, sc->step, &op, why, sizeof(why));
    if (rc == -EINVAL)
        return step_usage_fail(sc->name, why);
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json) {
        json_t *o = json_pack("{s:I, s:s, s:s}", "ticket", (json_int_t)op.ticket_id, "done",
                              sc->done, "actor", op.actor);

        if (tickets_step_state(sc->step) != NULL)
            json_object_set_new(o, "state", json_string(tickets_step_state(sc->step)));
        ctl_out_json(o, stdout);
    } else
        printf("ticket %lld: %s by %s\n", op.ticket_id, sc->done, op.actor);
    return CTL_OK;
}

int ctl_cmd_open(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"grade", required_argument, NULL, 'g'},
        {"title", required_argument, NULL, 't'},
        {"site", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"caller", required_argument, NULL, 'c'},
        {"contact", required_argument, NULL, 'C'},
        {"description", required_argument, NULL, 'D'},
        {"reported-at", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] = "open --grade 1-4 --title T --site S [--device D] [--caller NAME] "
                                "[--contact PHONE] [--description T] [--reported-at TIME]";
    struct tickets_manual m = {.actor = c->actor};
    const char *reported = NULL;
    char why[512], *end;
    long long id;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'g':
            m.grade = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg || m.grade < 1 || m.grade > 4)
                return ctl_usage("open", "--grade takes 1..4 (usage: %s)", usage);
            break;
        case 't':
            m.title = optarg;
            break;
        case 's':
            m.site = optarg;
            break;
        case 'd':
            m.device = optarg;
            break;
        case 'c':
            m.caller = optarg;
            break;
        case 'C':
            m.contact = optarg;
            break;
        case 'D':
            m.description = optarg;
            break;
        case 'r':
            reported = optarg;
            break;
        default:
            return ctl_usage("open", "an option it does not take (usage: %s)", usage);
        }
    }
    if (optind != argc)
        return ctl_usage("open", "unexpected argument \"%s\" (usage: %s)", argv[optind], usage);
    if (m.grade == 0 || m.title == NULL || m.title[0] == '\0' || m.site == NULL ||
        m.site[0] == '\0')
        return ctl_usage("open", "needs --grade, --title and --site (usage: %s)", usage);
    if (!ctl_need_actor(c, "open"))
        return CTL_USAGE;
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (reported != NULL && (rc = ctl_parse_time(c, "open", "--reported-at", reported,
                                                 CTL_DAY_START, &m.reported_at)) != CTL_OK)
        return rc;
    rc = tickets_open_manual(c->conn, &m, &id, why, sizeof(why));
    if (rc == -EINVAL)
        return ctl_usage("open", "%s (usage: %s)", why, usage);
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(json_pack("{s:I, s:s, s:i}", "ticket", (json_int_t)id, "state", "open",
                               "grade", m.grade),
                     stdout);
    else
        printf("ticket %lld: opened, grade %d\n", id, m.grade);
    return CTL_OK;
}
