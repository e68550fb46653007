/* ctl_trend: one point's values over a time range, at the resolution the
 * range calls for (schema 024's fm_series: raw values for a day, 5-minute
 * rollups up to ten days, hourly ones beyond, or the one asked for). The
 * point is named by device and point, with the agent or site when a device
 * name is not unique, and the row's labels for a table column. */
#include "ctl.h"
#include "ctl_out.h"
#include "ctl_time.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 device, $2 point, $3 labels (jsonb), $4 agent or site (NULL: any).
 * Every series that matches, so an ambiguous name is refused with the
 * candidates. */
static const char sql_find[] =
    "SELECT s.series_id, d.agent_id, a.site_id, s.labels::text, p.unit FROM series s"
    " JOIN points p ON p.point_id = s.point_id JOIN devices d ON d.device_id = p.device_id"
    " JOIN agents a ON a.agent_id = d.agent_id"
    " WHERE d.name = $1 AND p.name = $2 AND s.labels = $3::jsonb"
    " AND ($4::text IS NULL OR d.agent_id = $4 OR a.site_id = $4)"
    " ORDER BY d.agent_id LIMIT 20";

/* $1 series, $2 from, $3 to (Unix seconds), $4 resolution, $5 time format. */
static const char sql_series[] =
    "SELECT to_char(f.ts, $5) AS ts, f.resolution, f.n, f.min, f.avg, f.max, f.last"
    " FROM fm_series($1::int, to_timestamp($2::float8), to_timestamp($3::float8), $4) f";

/* "k=v" arguments of --label into a JSON object text (owned). */
static char *labels_json(char **labels, int n, const char **bad)
{
    json_t *o = json_object();
    char *text;

    for (int i = 0; i < n; i++) {
        char *eq = strchr(labels[i], '=');

        if (eq == NULL || eq == labels[i]) {
            *bad = labels[i];
            json_decref(o);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(o, labels[i], json_string(eq + 1));
        *eq = '=';
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

/* The one series the arguments name into *id (and its unit); CTL_FAIL
 * after printing why when none or several match. */
static int find_series(struct ctl *c, const char *const *p, char *id, size_t idlen, char *unit,
                       size_t unitlen)
{
    PGresult *r = PQexecParams(c->conn, sql_find, 4, NULL, p, NULL, NULL, 0);
    int rc = CTL_FAIL;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_fail("find %s/%s: %s", p[0], p[1], ctl_pg_reason(c->conn, r));
    } else if (PQntuples(r) == 0) {
        ctl_fail("no measurements of point \"%s\" of device \"%s\"%s%s%s%s (a table column needs"
                 " its row's --label, e.g. --label line=1)",
                 p[1], p[0], strcmp(p[2], "{}") ? " with labels " : "",
                 strcmp(p[2], "{}") ? p[2] : "", p[3] ? " at " : "", p[3] ? p[3] : "");
    } else if (PQntuples(r) > 1) {
        fprintf(stderr,
                "fieldmonctl: device \"%s\" is known to several agents; name one with"
                " --agent (or --site):\n",
                p[0]);
        for (int i = 0; i < PQntuples(r); i++)
            fprintf(stderr, "  agent %s, site %s\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    } else {
        snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
        snprintf(unit, unitlen, "%s", PQgetvalue(r, 0, 4));
        rc = CTL_OK;
    }
    PQclear(r);
    return rc;
}

int ctl_cmd_trend(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"agent", required_argument, NULL, 'a'}, {"site", required_argument, NULL, 'a'},
        {"label", required_argument, NULL, 'l'}, {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},    {"resolution", required_argument, NULL, 'r'},
        {"csv", no_argument, NULL, 'c'},         {NULL, 0, NULL, 0},
    };
    const char *where = NULL, *from_s = NULL, *to_s = NULL, *res = "auto", *bad = NULL;
    char *labels[16];
    int nlabels = 0, opt, rc;
    bool csv = false;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            where = optarg;
            break;
        case 'l':
            if (nlabels == 16)
                return ctl_usage("trend", "at most 16 --label");
            labels[nlabels++] = optarg;
            break;
        case 'f':
            from_s = optarg;
            break;
        case 't':
            to_s = optarg;
            break;
        case 'r':
            res = optarg;
            break;
        case 'c':
            csv = true;
            break;
        default:
            return ctl_usage("trend", "unknown option (trend DEVICE POINT [--agent A|--site S]"
                                      " [--label K=V] [--from TIME] [--to TIME]"
                                      " [--resolution auto|raw|5m|1h] [--csv])");
        }
    }
    if (argc - optind != 2)
        return ctl_usage("trend", "want DEVICE POINT");
    if (strcmp(res, "auto") && strcmp(res, "raw") && strcmp(res, "5m") && strcmp(res, "1h"))
        return ctl_usage("trend", "--resolution %s: want auto, raw, 5m or 1h", res);
    if (csv && c->json)
        return ctl_usage("trend", "--csv and --json: choose one");
    char *lj = labels_json(labels, nlabels, &bad);
    if (lj == NULL)
        return ctl_usage("trend", "--label %s: want KEY=VALUE", bad);
    if (ctl_conn(c) == NULL) {
        free(lj);
        return CTL_FAIL;
    }
    double from, to;
    char fp[32], tp[32], id[16], unit[64];
    if (to_s == NULL)
        to_s = "now";
    if ((rc = ctl_parse_time(c, "trend", "--to", to_s, CTL_DAY_END, &to)) != CTL_OK)
        goto out;
    if (from_s == NULL)
        from = to - 86400;
    else if ((rc = ctl_parse_time(c, "trend", "--from", from_s, CTL_DAY_START, &from)) != CTL_OK)
        goto out;
    if (from >= to) {
        rc = ctl_usage("trend", "--from %s --to %s: empty or reversed range",
                       from_s ? from_s : "(a day before --to)", to_s);
        goto out;
    }
    const char *fq[] = {argv[optind], argv[optind + 1], lj, where};
    if ((rc = find_series(c, fq, id, sizeof(id), unit, sizeof(unit))) != CTL_OK)
        goto out;
    ctl_time_param(from, fp, sizeof(fp));
    ctl_time_param(to, tp, sizeof(tp));
    const char *sp[] = {id, fp, tp, res, CTL_TS_FORMAT};
    PGresult *r = PQexecParams(c->conn, sql_series, 5, NULL, sp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ctl_fail("read %s/%s: %s", argv[optind], argv[optind + 1], ctl_pg_reason(c->conn, r));
    } else if (csv) {
        ctl_out_csv(r, stdout);
    } else {
        if (!c->json)
            printf("%s/%s%s%s%s%s\n", argv[optind], argv[optind + 1], nlabels ? " " : "",
                   nlabels ? lj : "", unit[0] ? ", in " : "", unit);
        ctl_out_print(r, c->json, stdout);
    }
    PQclear(r);
out:
    free(lj);
    return rc;
}
