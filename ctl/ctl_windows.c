/* ctl_windows: maintenance windows (planned inspection). While a window
 * lasts, alarms of the devices it covers are recorded but open no ticket;
 * the collector reloads the windows every few seconds. */
#include "ctl.h"
#include "ctl_out.h"
#include "ctl_time.h"

#include "fm_conf.h"
#include "tickets_ops.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether site is known: reported by an agent (sites) or listed by a
 * published contract. -1 if the database could not say. */
static int site_known(struct ctl *c, const char *site)
{
    const char *p[1] = {site};
    PGresult *r = PQexecParams(c->conn,
                               "SELECT EXISTS (SELECT 1 FROM sites WHERE site_id = $1) OR EXISTS "
                               "(SELECT 1 FROM sla_contract_sites WHERE site_id = $1)",
                               1, NULL, p, NULL, NULL, 0);
    int known = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        known = PQgetvalue(r, 0, 0)[0] == 't';
    else
        ctl_fail("%s", ctl_pg_reason(c->conn, r));
    PQclear(r);
    return known;
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
    double t;
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
    if (!ctl_need_actor(c, "window add"))
        return CTL_USAGE;
    if (ctl_conn(c) == NULL)
        return CTL_FAIL;
    if (site != NULL && (rc = site_known(c, site)) != 1)
        return rc < 0 ? CTL_FAIL
                      : ctl_fail("no site \"%s\" (sites are those agents report, or that a "
                                 "contract lists)",
                                 site);
    if ((rc = ctl_parse_time(c, "window add", "--start", start, CTL_DAY_START, &t)) != CTL_OK)
        return rc;
    start_ms = (int64_t)(t * 1000.0);
    end_ms = start_ms + dur;
    if (end && (rc = ctl_parse_time(c, "window add", "--end", end, CTL_DAY_END, &t)) != CTL_OK)
        return rc;
    if (end)
        end_ms = (int64_t)(t * 1000.0);
    if (end_ms <= start_ms)
        return ctl_usage("window add", "the window must end after it starts (--start %s, --end %s)",
                         start, end);
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
    const char *p[2] = {all ? "t" : "f", CTL_TS_FORMAT};

    if (argc > 2 || (argc == 2 && !all))
        return ctl_usage("window list", "the only option is --all");
    return ctl_query_print(c,
                           "SELECT window_id AS id, coalesce(site_id, '*') AS site, "
                           "coalesce(device_glob, '*') AS device, to_char(starts_at, $2) AS "
                           "starts_at, to_char(ends_at, $2) AS ends_at, reason, created_by, "
                           "to_char(cancelled_at, $2) AS cancelled_at, cancelled_by, "
                           "(SELECT count(*) FROM suppressed_alarms s "
                           "WHERE s.window_id = w.window_id) AS suppressed "
                           "FROM maintenance_windows w "
                           "WHERE $1::boolean OR (cancelled_at IS NULL AND ends_at > now()) "
                           "ORDER BY starts_at, window_id",
                           2, p);
}

static int window_cancel(struct ctl *c, int argc, char **argv)
{
    long long id;
    char why[512];
    int rc;

    if (argc != 2 || !ctl_parse_id(argv[1], &id))
        return ctl_usage("window cancel", "expected one window id");
    if (!ctl_need_actor(c, "window cancel"))
        return CTL_USAGE;
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
