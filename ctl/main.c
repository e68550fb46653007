/* fieldmonctl: the operators' command line for fieldmon's alarms, tickets
 * and maintenance windows. It talks to PostgreSQL directly (libpq, connected
 * through the collector's PostgreSQL layer, pg.h); every
 * change it makes is written to ticket_audit with the actor. docs/fieldmonctl.md
 * is its manual. */
#include "ctl.h"
#include "ctl_out.h"
#include "ctl_time.h"

#include "pg.h"
#include "rules.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The lowest schema version fieldmonctl works with (settled clocks, visits,
 * published contracts; series and rollups for trend). */
#define CTL_SCHEMA_MIN 24

static const char usage_text[] =
    "usage: fieldmonctl [-d DSN] [-a ACTOR] [--tz ZONE] [--json] COMMAND [ARGS]\n"
    "\n"
    "Tickets (every step takes --at TIME: when it happened, and --note T):\n"
    "  tickets [--state S] [--all] [--archived] [--grade N] [--site S] [--limit N]\n"
    "                                               list tickets (default: not closed)\n"
    "  show ID                                      the whole record: clocks, visits, timeline\n"
    "  open --grade N --title T --site S [--device D] [--caller NAME] [--contact C]\n"
    "       [--description T] [--reported-at TIME]  open a manual ticket\n"
    "  ack ID                                       acknowledge\n"
    "  dispatch ID --to WHO                         send an engineer, a team or a contract role\n"
    "  on-site ID                                   the engineer arrived\n"
    "  remote ID                                    remote support began\n"
    "  resolve ID --cause T --action T [--prevention T]\n"
    "  close ID --satisfaction 1-5 [--confirmed [--confirmed-by WHO]]\n"
    "  reopen ID --reason T                         a new visit (resolved, or closed within the\n"
    "                                               contract's reopen period)\n"
    "  note ID TEXT...                              add a note\n"
    "  cancel ID --reason T                         close without repair (not counted in the SLA)\n"
    "  duplicate-of ID OTHER                        close as a duplicate, its alarms merged\n"
    "  regrade ID --grade N --reason T              change the grade\n"
    "  archive ID | archive --closed-before TIME    hide closed tickets from lists\n"
    "  escalations [ID] [--since TIME]              ladder steps and breaches\n"
    "  audit [--actor A] [--since TIME] [--ticket ID] [--limit N]\n"
    "Contract clocks:\n"
    "  deadlines [--all]                            open tickets' clocks: deadline and state\n"
    "  pause ID --reason T                          stop a ticket's clocks (e.g. site access\n"
    "                                               refused)\n"
    "  resume ID                                    restart them\n"
    "  sla [--from TIME] [--to TIME] [--contract C] [--grade N] [--csv|--json]\n"
    "                                               the SLA report per grade and clock\n"
    "Measurements:\n"
    "  trend DEVICE POINT [--agent A|--site S] [--label K=V] [--from TIME] [--to TIME]\n"
    "        [--resolution auto|raw|5m|1h] [--csv]  one point's values over a range (default\n"
    "                                               the last day; auto: raw up to a day, 5m\n"
    "                                               up to 10 days, else 1h)\n"
    "Alarms:\n"
    "  alarms [--site S] [--device D] [--since DUR] [--limit N] [--active]\n"
    "Maintenance windows:\n"
    "  window add [--site S] [--device GLOB] [--start TIME] (--end TIME|--for DUR) --reason T\n"
    "  window list [--all]\n"
    "  window cancel ID\n"
    "Rules:\n"
    "  rules -t FILE                                check a rules file\n"
    "  rules --reference                            print every key of the rules file\n"
    "\n"
    "Options:\n"
    "  -d, --dsn DSN      PostgreSQL connection (default $FM_PG_DSN, else libpq's PG* variables)\n"
    "  -a, --actor NAME   who is acting, for the audit trail (default $FM_ACTOR); every change\n"
    "                     needs one\n"
    "      --tz ZONE      time zone of times read and printed (+08:00, -05:30, UTC); default\n"
    "                     the contract's\n"
    "  -j, --json         JSON output\n"
    "  -h, --help         this text\n"
    "      --version      print the version\n";

int ctl_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fieldmonctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CTL_FAIL;
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fieldmonctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(fieldmonctl --help lists the commands)\n", stderr);
    return CTL_USAGE;
}

bool ctl_parse_id(const char *s, long long *id)
{
    char *end;

    errno = 0;
    *id = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *id > 0;
}

PGconn *ctl_conn(struct ctl *c)
{
    char why[256];
    int v;

    if (c->conn)
        return c->conn;
    c->conn = pg_connect(c->dsn, "fieldmonctl", why, sizeof(why));
    if (c->conn == NULL) {
        ctl_fail("connect to PostgreSQL: %s", why);
        return NULL;
    }
    v = pg_schema_version(c->conn, why, sizeof(why));
    if (v < CTL_SCHEMA_MIN) {
        if (v < 0)
            ctl_fail("read the schema version: %s", why);
        else
            ctl_fail("the database is at schema version %d; fieldmonctl needs %d or later"
                     " (start fieldmon-collector once to migrate it)",
                     v, CTL_SCHEMA_MIN);
        PQfinish(c->conn);
        c->conn = NULL;
        return NULL;
    }
    if (ctl_tz_apply(c, NULL) != CTL_OK) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    return c->conn;
}

int ctl_query_print(struct ctl *c, const char *sql, int n, const char *const *params)
{
    PGconn *conn = ctl_conn(c);
    PGresult *r;

    if (conn == NULL)
        return CTL_FAIL;
    r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("%s", ctl_pg_reason(conn, r));
        PQclear(r);
        return CTL_FAIL;
    }
    ctl_out_print(r, c->json, stdout);
    PQclear(r);
    return CTL_OK;
}

int ctl_cmd_rules(struct ctl *c, int argc, char **argv)
{
    struct rules_conf conf = {0};
    char err[1024];

    (void)c;
    if (argc == 2 && strcmp(argv[1], "--reference") == 0) {
        rules_print_reference(stdout);
        return CTL_OK;
    }
    if (argc != 3 || strcmp(argv[1], "-t") != 0)
        return ctl_usage("rules", "expected -t FILE or --reference");
    if (rules_load_file(argv[2], &conf, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    printf("%s: %zu rules, %zu roots: ok\n", argv[2], conf.n_rules, conf.n_roots);
    rules_free(&conf);
    return CTL_OK;
}

const char *ctl_pg_reason(PGconn *conn, const PGresult *r)
{
    static char why[512];
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (PQstatus(conn) != CONNECTION_OK || primary == NULL) {
        pg_oneline(why, sizeof(why), "lost the database connection", PQerrorMessage(conn));
        return why;
    }
    pg_oneline(why, sizeof(why), "the database failed the request", primary);
    return why;
}

bool ctl_need_actor(struct ctl *c, const char *cmd)
{
    if (c->actor != NULL && c->actor[0] != '\0')
        return true;
    ctl_usage(cmd, "who is acting? give -a NAME or set FM_ACTOR (every change is audited)");
    return false;
}

struct command {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv);
};

static const struct command commands[] = {
    {"tickets", ctl_cmd_tickets},     {"show", ctl_cmd_show},
    {"open", ctl_cmd_open},           {"ack", ctl_cmd_step},
    {"dispatch", ctl_cmd_step},       {"on-site", ctl_cmd_step},
    {"remote", ctl_cmd_step},         {"resolve", ctl_cmd_step},
    {"close", ctl_cmd_step},          {"reopen", ctl_cmd_step},
    {"note", ctl_cmd_step},           {"cancel", ctl_cmd_step},
    {"duplicate-of", ctl_cmd_step},   {"regrade", ctl_cmd_step},
    {"archive", ctl_cmd_step},        {"pause", ctl_cmd_step},
    {"resume", ctl_cmd_step},         {"escalations", ctl_cmd_escalations},
    {"audit", ctl_cmd_audit},         {"alarms", ctl_cmd_alarms},
    {"window", ctl_cmd_window},       {"rules", ctl_cmd_rules},
    {"deadlines", ctl_cmd_deadlines}, {"sla", ctl_cmd_sla},
    {"trend", ctl_cmd_trend},
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dsn", required_argument, NULL, 'd'},
        {"actor", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"tz", required_argument, NULL, 'z'},
        {NULL, 0, NULL, 0},
    };
    struct ctl c = {.dsn = getenv("FM_PG_DSN") ? getenv("FM_PG_DSN") : ""};
    int opt, rc;

    c.actor = getenv("FM_ACTOR");
    while ((opt = getopt_long(argc, argv, "+d:a:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            c.dsn = optarg;
            break;
        case 'a':
            c.actor = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'z':
            if (ctl_tz_parse(optarg, &c.tz_offset_s, c.tz, sizeof(c.tz)) != 0)
                return ctl_usage("--tz", "\"%s\" is not a UTC offset like +08:00, -05:30 or UTC",
                                 optarg);
            c.tz_arg = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CTL_OK;
        case 'V':
            printf("fieldmonctl %s\n", FM_VERSION);
            return CTL_OK;
        default:
            fputs("fieldmonctl: (fieldmonctl --help lists the options)\n", stderr);
            return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("fieldmonctl: which command? (fieldmonctl --help lists them)\n", stderr);
        return CTL_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            char **sub = argv + optind;
            int subc = argc - optind;

            optind = 0; /* each subcommand parses its own options from its argv */
            rc = commands[i].run(&c, subc, sub);
            PQfinish(c.conn);
            return rc;
        }
    }
    fprintf(stderr, "fieldmonctl: unknown command \"%s\" (fieldmonctl --help lists them)\n",
            argv[optind]);
    return CTL_USAGE;
}
