/* ctl_time: see ctl_time.h. */
#include "ctl_time.h"

#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_S (15 * 3600)

int ctl_tz_parse(const char *text, int *offset_s, char *name, size_t namelen)
{
    int h = 0, m = 0, sign, n = 0;
    const char *p = text;

    if (text == NULL)
        return -EINVAL;
    if (strcmp(text, "UTC") == 0 || strcmp(text, "Z") == 0 || strcmp(text, "utc") == 0) {
        *offset_s = 0;
        snprintf(name, namelen, "UTC");
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -EINVAL;
    sign = *p++ == '-' ? -1 : 1;
    while (isdigit((unsigned char)*p) && n < 2)
        h = h * 10 + (*p++ - '0'), n++;
    if (n == 0)
        return -EINVAL;
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return -EINVAL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
    }
    if (*p != '\0' || m >= 60 || h * 3600 + m * 60 > TZ_MAX_S)
        return -EINVAL;
    *offset_s = sign * (h * 3600 + m * 60);
    if (*offset_s == 0)
        snprintf(name, namelen, "UTC");
    else
        snprintf(name, namelen, "%c%02d:%02d", sign < 0 ? '-' : '+', h, m);
    return 0;
}

/* The zone of contract (NULL: default, else the only one) from
 * sla_contracts; "" when none is published. */
static int contract_zone(PGconn *conn, const char *contract, char *zone, size_t len)
{
    const char *p[1] = {contract};
    PGresult *r =
        PQexecParams(conn,
                     "SELECT time_zone FROM sla_contracts WHERE customer = $1"
                     " UNION ALL SELECT time_zone FROM sla_contracts WHERE $1::text IS NULL"
                     " AND (customer = 'default' OR (SELECT count(*) FROM sla_contracts) = 1)"
                     " ORDER BY 1 LIMIT 1",
                     1, NULL, p, NULL, NULL, 0);

    zone[0] = '\0';
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -EIO;
    }
    if (PQntuples(r) == 1)
        snprintf(zone, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (contract != NULL && zone[0] == '\0')
        return -ENOENT;
    return 0;
}

int ctl_tz_apply(struct ctl *c, const char *contract)
{
    char zone[32], sql[96];
    const char *src = c->tz_arg;
    PGresult *r;
    int rc;

    if (src == NULL) {
        rc = contract_zone(c->conn, contract, zone, sizeof(zone));
        if (rc == -ENOENT)
            return ctl_fail("no contract \"%s\" is published (the collector publishes the "
                            "contracts it runs when it starts)",
                            contract);
        if (rc != 0)
            return ctl_fail("read the contracts' time zone: %s", PQerrorMessage(c->conn));
        src = zone[0] ? zone : "UTC";
    }
    if (ctl_tz_parse(src, &c->tz_offset_s, c->tz, sizeof(c->tz)) != 0)
        return c->tz_arg
                   ? ctl_usage("--tz", "\"%s\" is not a UTC offset like +08:00, -05:30 or UTC", src)
                   : ctl_fail("the contract's time zone \"%s\" is not a UTC offset", src);
    snprintf(sql, sizeof(sql), "SET TIME ZONE INTERVAL '%c%02d:%02d' HOUR TO MINUTE",
             c->tz_offset_s < 0 ? '-' : '+', abs(c->tz_offset_s) / 3600,
             abs(c->tz_offset_s) % 3600 / 60);
    r = PQexec(c->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        ctl_fail("set the time zone %s: %s", c->tz, PQerrorMessage(c->conn));
        PQclear(r);
        return CTL_FAIL;
    }
    PQclear(r);
    return CTL_OK;
}

static bool is_date(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return false;
    }
    return s[10] == '\0';
}

int ctl_parse_time(struct ctl *c, const char *cmd, const char *opt, const char *text,
                   enum ctl_time_day day, double *t)
{
    const char *p[2] = {text, day == CTL_DAY_END && is_date(text) ? "1 day" : "0"};
    PGconn *conn = ctl_conn(c);
    PGresult *r;

    if (conn == NULL)
        return CTL_FAIL;
    if (text == NULL || text[0] == '\0' || strlen(text) > 64)
        return ctl_usage(cmd, "%s: give a time like 2026-12-04 or \"2026-12-04 08:00\"", opt);
    /* A savepoint would be needed inside a transaction; commands parse
     * their times before they begin one. */
    r = PQexecParams(conn,
                     "SELECT extract(epoch FROM $1::timestamptz + $2::interval)::float8"
                     " WHERE $1::text NOT IN ('infinity', '-infinity', 'epoch')",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return ctl_usage(cmd,
                         "%s \"%s\": not a time; give a date (2026-12-04), a local time "
                         "(\"2026-12-04 08:00\", in %s) or one with an offset "
                         "(2026-12-04T08:00+08:00)",
                         opt, text, c->tz[0] ? c->tz : "UTC");
    }
    *t = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return CTL_OK;
}

void ctl_time_param(double t, char *buf, size_t len)
{
    snprintf(buf, len, "%.3f", t);
}
