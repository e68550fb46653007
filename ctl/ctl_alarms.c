/* ctl_alarms: alarm transitions from the collector's alarm_events table
 * (schema 002), each with the ticket it went to, the fault's current ticket
 * and its grade, or the maintenance window that suppressed it. */
#include "ctl.h"
#include "ctl_out.h"

#include "fm_conf.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 site, $2 device, $3 since (ms), $4 limit, $5 active only, $6 time
 * format.
 * Each transition with the ticket it was recorded on (ticket), the fault's
 * ticket now (current_ticket: the open one of the fault it went to, else
 * its latest; for an alarm recorded on no ticket, that of the device's own
 * fault) with its grade and state, and the window that suppressed it. */
static const char sql_events[] =
    "WITH ev AS (SELECT e.alarm_event_id, e.ts, a.site_id, d.name AS device, e.code, e.point, "
    " e.state, e.level, e.value, e.message FROM alarm_events e "
    " JOIN devices d USING (device_id) JOIN agents a ON a.agent_id = d.agent_id "
    " WHERE ($1::text IS NULL OR a.site_id = $1) AND ($2::text IS NULL OR d.name = $2) "
    " AND e.ts >= now() - ($3 || ' milliseconds')::interval), "
    "cur AS (SELECT DISTINCT ON (site_id, device, code) * FROM ev "
    " ORDER BY site_id, device, code, ts DESC), "
    "x AS (SELECT * FROM ev WHERE NOT $5::boolean "
    " UNION ALL SELECT * FROM cur WHERE $5::boolean AND state = 'raised' "
    " ORDER BY ts DESC LIMIT $4::int) "
    "SELECT to_char(x.ts, $6) AS ts, x.site_id AS site, "
    "x.device, x.code, x.point, x.state, x.level, x.value, x.message, ct.grade, "
    "rt.ticket_id AS ticket, ct.ticket_id AS current_ticket, "
    "coalesce(ct.closed_as, ct.state) AS ticket_state, "
    "(SELECT min(sa.window_id) FROM suppressed_alarms sa "
    " WHERE sa.alarm_event_id = x.alarm_event_id) AS window_id "
    "FROM x LEFT JOIN LATERAL (SELECT t.ticket_id, t.dedupe_key FROM ticket_alarms ta "
    " JOIN tickets t USING (ticket_id) WHERE ta.alarm_event_id = x.alarm_event_id "
    " ORDER BY t.ticket_id LIMIT 1) rt ON true "
    "LEFT JOIN tickets ct ON ct.ticket_id = fm_ticket_current(coalesce(rt.dedupe_key, "
    " 'device:' || x.site_id || '/' || x.device || '/' || x.code)) "
    "ORDER BY x.ts DESC";

int ctl_cmd_alarms(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"site", required_argument, NULL, 's'},  {"device", required_argument, NULL, 'd'},
        {"since", required_argument, NULL, 'S'}, {"limit", required_argument, NULL, 'l'},
        {"active", no_argument, NULL, 'a'},      {NULL, 0, NULL, 0},
    };
    const char *site = NULL, *device = NULL, *limit = "100";
    int64_t since_ms = 7LL * 86400 * 1000;
    bool active = false;
    char since[32];
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            site = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'S':
            if (fmc_parse_duration(optarg, &since_ms) != 0)
                return ctl_usage("alarms", "--since %s: not a duration like 30m, 2h, 7d", optarg);
            break;
        case 'l':
            if (atoi(optarg) < 1)
                return ctl_usage("alarms", "--limit %s: not a positive number", optarg);
            limit = optarg;
            break;
        case 'a':
            active = true;
            break;
        default:
            return ctl_usage("alarms", "unknown option");
        }
    }
    if (optind != argc)
        return ctl_usage("alarms", "unexpected argument \"%s\"", argv[optind]);
    snprintf(since, sizeof(since), "%" PRId64, since_ms);
    const char *p[6] = {site, device, since, limit, active ? "t" : "f", CTL_TS_FORMAT_MS};
    return ctl_query_print(c, sql_events, 6, p);
}
