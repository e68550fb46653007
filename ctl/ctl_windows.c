/* ctl_windows: maintenance windows (planned inspection). While a window
 * lasts, alarms of the devices it covers are recorded but open no ticket;
 * the collector reloads the windows every few seconds. */
#include "ctl.h"
#include "ctl_out.h"

#include "fm_conf.h"
#include "tickets_ops.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A time as PostgreSQL reads timestamptz ("now", "2026-05-01 08:00+08",
 * "tomorrow 09:00"), in Unix ms. */
static int parse_time(PGconn *conn, const char *text, int64_t *ms)
{
    const char *p[1] = {text};
    PGresult *r = PQexecParams(conn, "SELECT (extract(epoch FROM $1::timestamptz) * 1000)::bigint",
                               1, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -EINVAL;
    }
    *ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static int window_add(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"site", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"start", required_argument, NULL, 'S'},
        {"end", required_argument, NULL, 'e'},
        {"for", required_argument, NULL, 'f'},
        {"reason", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *site = NULL, *device = NULL, *start = "now", *end = NULL, *reason = NULL;
    int64_t dur = 0, start_ms, end_ms;
    long long id;
    char why[512];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            site = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'S':
            start = optarg;
            break;
        case 'e':
            end = optarg;
            break;
        case 'f':
            if (fmc_parse_duration(optarg, &dur) != 0 || dur <= 0)
                return ctl_usage("window add", "--for %s: not a duration like 90m, 4h", optarg);
            break;
        case 'r':
            reason = optarg;
            break;
        default:
            return ctl_usage("window add", "unknown option");
        }
    }
    if (optind != argc)
        return ctl_usage("window add", "unexpected argument \"%s\"", argv[optind]);
    if ((end == NULL) == (dur == 0))
        return ctl_usage("window add", "give exactly one of --end TIME and --for DURATION");
    if (reason == NULL || reason[0] == '\0')
        return ctl_usage("window add", "--reason is required (it is shown on the alarms it"
                                       " suppresses)");
    if (device && site == NULL)
        return ctl_usage("window add", "--device needs --site");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (parse_time(c->conn, start, &start_ms) != 0)
        return ctl_usage("window add", "--start %s: not a time PostgreSQL understands", start);
    if (end && parse_time(c->conn, end, &end_ms) != 0)
        return ctl_usage("window add", "--end %s: not a time PostgreSQL understands", end);
    if (end == NULL)
        end_ms = start_ms + dur;
    rc = tickets_window_add(c->conn, c->actor, site, device, start_ms, end_ms, reason, &id, why,
                            sizeof(why));
    if (rc == -EINVAL)
        return ctl_usage("window add", "%s", why);
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(json_pack("{s:I}", "window", (json_int_t)id), stdout);
    else
        printf("window %lld: added\n", id);
    return CTL_OK;
}

static int window_list(struct ctl *c, int argc, char **argv)
{
    bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
    const char *p[1] = {all ? "t" : "f"};

    if (argc > 2 || (argc == 2 && !all))
        return ctl_usage("window list", "the only option is --all");
    return ctl_query_print(
        c,
        "SELECT window_id AS id, coalesce(site_id, '*') AS site,"
        " coalesce(device_glob, '*') AS device,"
        " " TS("starts_at") " AS starts_at, " TS(
            "ends_at") " AS ends_at,"
                       " reason, created_by, " TS(
                           "cancelled_at") " AS cancelled_at,"
                                           " cancelled_by, (SELECT count(*) FROM suppressed_alarms "
                                           "s"
                                           "  WHERE s.window_id = w.window_id) AS suppressed"
                                           " FROM maintenance_windows w"
                                           " WHERE $1::boolean OR (cancelled_at IS NULL AND "
                                           "ends_at > now())"
                                           " ORDER BY starts_at, window_id",
        1, p);
}

static int window_cancel(struct ctl *c, int argc, char **argv)
{
    long long id;
    char why[512];
    int rc;

    if (argc != 2 || !ctl_parse_id(argv[1], &id))
        return ctl_usage("window cancel", "expected one window id");
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    rc = tickets_window_cancel(c->conn, c->actor, id, why, sizeof(why));
    if (rc != 0)
        return ctl_fail("%s", why);
    if (c->json)
        ctl_out_json(json_pack("{s:I, s:b}", "window", (json_int_t)id, "cancelled", 1), stdout);
    else
        printf("window %lld: cancelled\n", id);
    return CTL_OK;
}

int ctl_cmd_window(struct ctl *c, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("window", "expected add, list or cancel");
    if (strcmp(argv[1], "add") == 0)
        return window_add(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return window_list(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "cancel") == 0)
        return window_cancel(c, argc - 1, argv + 1);
    return ctl_usage("window", "unknown subcommand \"%s\"", argv[1]);
}
