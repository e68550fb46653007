/* fm-faultgen: plays agents at a running fieldmon-collector and checks, in
 * PostgreSQL, the tickets the collector opens. It is the driver of the
 * end-to-end fault tests (tests/integration/tickets_e2e.sh) and of
 * bench/alarm-storm.
 *
 *   fm-faultgen --port P [--port2 P2] [--site S] [--devices N]
 *               [--group-wait-ms G] [--lost-ms L] [--burst] SCENARIO
 *
 * Scenarios (each uses its own site, default "fg-<scenario>"):
 *   ups       on battery: one grade-3 ticket; low battery raises it to 2;
 *             mains back records the clear on it
 *   smoke     smoke alarm: one grade-1 ticket
 *   flap      temperature raised and cleared 8 times: one ticket, flapping
 *   window    alarm inside a maintenance window: recorded, no ticket
 *   dead      agent killed: one grade-2 site ticket with its N devices
 *   storm     N devices unreachable within a second behind an agent that
 *             keeps talking: one site ticket with N devices, nothing per
 *             device; prints site_ticket_s= and tickets_opened= last
 *             (--burst: the 20 batches back to back instead of 50 ms apart)
 *   dual      two agents of one site at two collectors (--port, --port2)
 *             report the same N smoke alarms at once: N tickets, not 2N
 *   restart   a water leak raised just before the collector is killed and
 *             restarted (--restart-cmd, run by the shell; the collector
 *             must come back on the same port): one grade-2 ticket, opened
 *             a group wait after the original raise; killed and restarted
 *             again, the clear sent afterwards clears it
 *   comm      comm_loss and unreachable of one camera: one ticket
 *   failover  a water leak raised at --port, the agent killed and back at
 *             --port2 within the group wait: one ticket from the original
 *             raise, cleared by the clear sent there, nothing from the first
 *   tamper1   a camera's tamper alarm: one grade-1 ticket (rules that make
 *             tamper an emergency, for the reload test)
 *   idle-agent  stays connected, idle, for 60 s (a connection across a
 *             reload)
 *   hello     says Hello with N cameras, stays a second, says goodbye
 *             (bench/alarm-storm/restore.sh)
 *
 * PostgreSQL is found through FM_PG_DSN or libpq's PG* variables. Exit 0
 * when every check holds; 1 with the failed check on stderr. */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fg_agent.h"
#include "fm_alloc.h"
#include "tickets_ops.h"

struct opts {
    int port, port2;
    const char *site;
    unsigned devices;
    int64_t group_wait_ms, lost_ms;
    bool burst; /* storm: batches back to back, so the collector commits several at once */
    const char *restart_cmd; /* restart: kills and restarts the collector */
};

static PGconn *pg;

static char *q1(const char *sql, const char *site)
{
    const char *p[1] = {site};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fprintf(stderr, "fm-faultgen: %s: %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        return fm_xstrdup("(error)");
    }
    v = fm_xstrdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Polls sql ($1 = site) until it returns want, for at most timeout_ms. */
static int expect(const char *what, const char *sql, const char *site, const char *want,
                  int64_t timeout_ms)
{
    int64_t end = fg_now_ms() + timeout_ms;
    char *got = NULL;

    for (;;) {
        free(got);
        got = q1(sql, site);
        if (strcmp(got, want) == 0)
            break;
        if (fg_now_ms() >= end) {
            fprintf(stderr, "fm-faultgen: FAIL: %s: got %s, want %s\n", what, got, want);
            free(got);
            return -1;
        }
        usleep(20000);
    }
    printf("ok: %s (%s)\n", what, got);
    free(got);
    return 0;
}

/* Sends events and waits until they are committed. */
static int send_acked(struct fg_agent *a, const struct fg_event *ev, size_t n)
{
    uint64_t last;
    int rc = fg_agent_send(a, ev, n, &last);

    return rc ? rc : fg_agent_wait_acked(a, last, 10000);
}

#define TICKETS_OF_SITE                                                                            \
    "SELECT count(*) || ':' || coalesce(min(grade)::text, '-') FROM tickets"                       \
    " WHERE site_id = $1"

static int scenario_ups(struct fg_agent *a, const struct opts *o)
{
    const struct fg_event bat = {"ups1", "ups_on_battery", true};
    const struct fg_event low = {"ups1", "ups_low_battery", true};
    const struct fg_event back[] = {{"ups1", "ups_low_battery", false},
                                    {"ups1", "ups_on_battery", false}};

    (void)o;
    if (send_acked(a, &bat, 1) ||
        expect("UPS on battery: one grade-3 ticket", TICKETS_OF_SITE, a->site, "1:3", 5000))
        return -1;
    if (send_acked(a, &low, 1) ||
        expect("low battery: the same ticket at grade 2", TICKETS_OF_SITE, a->site, "1:2", 5000))
        return -1;
    if (expect("grade history 3 then 2",
               "SELECT string_agg(coalesce(old_grade::text, '-') || '>' || new_grade, ','"
               " ORDER BY ts) FROM ticket_grades JOIN tickets USING (ticket_id)"
               " WHERE site_id = $1",
               a->site, "->3,3>2", 2000))
        return -1;
    if (send_acked(a, back, 2) ||
        expect("mains back: the clear is recorded on the ticket",
               "SELECT count(*) || ':' || bool_and(cleared_at IS NOT NULL) FROM tickets"
               " WHERE site_id = $1",
               a->site, "1:true", 5000))
        return -1;
    return expect("four alarm transitions linked to their alarm_events rows",
                  "SELECT count(*) || ':' || count(alarm_event_id) FROM ticket_alarms"
                  " WHERE site_id = $1",
                  a->site, "4:4", 2000);
}

static int scenario_smoke(struct fg_agent *a, const struct opts *o)
{
    const struct fg_event smoke = {"env1", "smoke", true};

    (void)o;
    if (send_acked(a, &smoke, 1))
        return -1;
    return expect("smoke: one grade-1 ticket", TICKETS_OF_SITE, a->site, "1:1", 5000);
}

static int scenario_flap(struct fg_agent *a, const struct opts *o)
{
    for (int i = 0; i < 8; i++) {
        const struct fg_event t = {"env1", "temp_high", i % 2 == 0};

        if (send_acked(a, &t, 1))
            return -1;
    }
    if (expect("flapping temperature: one ticket marked flapping",
               "SELECT count(*) || ':' || coalesce(bool_and(flapping)::text, '-') FROM tickets"
               " WHERE site_id = $1",
               a->site, "1:true", 5000))
        return -1;
    /* Still one after the group wait. */
    fg_agent_idle(a, o->group_wait_ms + 1000);
    return expect("still one ticket after the group wait", TICKETS_OF_SITE, a->site, "1:3", 1000);
}

static int scenario_window(struct fg_agent *a, const struct opts *o)
{
    const struct fg_event tamper = {"cam1", "tamper", true};
    char why[512];
    long long id;
    int64_t now = fg_now_ms();

    if (tickets_window_add(pg, "fm-faultgen", a->site, "cam*", now - 1000, now + 3600000,
                           "inspection", &id, why, sizeof(why)) != 0) {
        fprintf(stderr, "fm-faultgen: %s\n", why);
        return -1;
    }
    /* The collector reloads windows every faults.windows_reload. */
    fg_agent_idle(a, 1500);
    if (send_acked(a, &tamper, 1))
        return -1;
    if (expect("alarm inside the window is recorded",
               "SELECT count(*) FROM suppressed_alarms WHERE site_id = $1", a->site, "1", 5000))
        return -1;
    fg_agent_idle(a, o->group_wait_ms + 1500);
    return expect("and opens no ticket", TICKETS_OF_SITE, a->site, "0:-", 500);
}

static int scenario_dead(struct fg_agent *a, const struct opts *o)
{
    char want[64];

    fg_agent_idle(a, 300);
    fg_agent_close(a, false);
    snprintf(want, sizeof(want), "1:site:2:%u", o->devices);
    return expect("agent killed: one grade-2 site ticket with the site's devices",
                  "SELECT count(*) || ':' || min(kind) || ':' || min(grade) || ':' ||"
                  " (SELECT count(*) FROM ticket_devices d JOIN tickets t2 USING (ticket_id)"
                  "  WHERE t2.site_id = $1) FROM tickets WHERE site_id = $1",
                  a->site, want, o->lost_ms + 10000);
}

/* Drops the connection as a killed agent would, has the shell kill and
 * restart the collector, and comes back as the same agent. */
static int restart_collector(struct fg_agent *a, const struct opts *o, const struct fg_dev *devs,
                             size_t nd)
{
    char id[FMW_MAX_ID + 1], site[FMW_MAX_ID + 1];

    snprintf(id, sizeof(id), "%s", a->id);
    snprintf(site, sizeof(site), "%s", a->site);
    fg_agent_close(a, false);
    if (system(o->restart_cmd) != 0) {
        fprintf(stderr, "fm-faultgen: FAIL: restart command failed: %s\n", o->restart_cmd);
        return -1;
    }
    return fg_agent_open(a, "127.0.0.1", o->port, id, site, devs, nd);
}

static int scenario_restart(struct fg_agent *a, const struct opts *o, const struct fg_dev *devs,
                            size_t nd)
{
    const struct fg_event leak = {"env1", "water_leak", true};
    const struct fg_event dry = {"env1", "water_leak", false};
    char sql[1024];

    if (o->restart_cmd == NULL) {
        fprintf(stderr, "fm-faultgen: restart needs --restart-cmd\n");
        return -1;
    }
    if (send_acked(a, &leak, 1) || restart_collector(a, o, devs, nd))
        return -1;
    if (expect("leak raised before a restart: one grade-2 ticket", TICKETS_OF_SITE, a->site, "1:2",
               o->group_wait_ms + 15000))
        return -1;
    /* Opened a group wait after the raise the agent reported: the wait
     * counts from that raise, not from the restart. */
    snprintf(
        sql, sizeof(sql),
        "SELECT (abs(extract(epoch FROM t.first_seen - e.ts)) < 0.002) || ':' || (t.recorded_at "
        ">= e.ts + interval '%lld ms')"
        " FROM tickets t, alarm_events e JOIN devices d USING (device_id)"
        " WHERE t.site_id = $1 AND d.name = 'env1' AND e.code = 'water_leak'"
        " AND e.state = 'raised' AND d.agent_id = 'fg-' || $1",
        (long long)o->group_wait_ms);
    if (expect("the ticket's first_seen is the original raise, opened after the group wait", sql,
               a->site, "true:true", 2000))
        return -1;
    if (restart_collector(a, o, devs, nd) || send_acked(a, &dry, 1))
        return -1;
    return expect("the clear sent after a second restart clears the ticket",
                  "SELECT count(*) || ':' || bool_and(cleared_at IS NOT NULL) FROM tickets"
                  " WHERE site_id = $1",
                  a->site, "1:true", 10000);
}

/* The agent fails over between two collectors with an alarm waiting out
 * its group wait: the second collector rebuilds the site from what the
 * first committed, opens the ticket from the original raise, and the clear
 * sent there clears it; the first opens nothing of its own meanwhile. */
static int scenario_failover(struct fg_agent *a, const struct opts *o, const struct fg_dev *devs,
                             size_t nd)
{
    const struct fg_event leak = {"env1", "water_leak", true};
    const struct fg_event dry = {"env1", "water_leak", false};
    char id[FMW_MAX_ID + 1], site[FMW_MAX_ID + 1];

    if (o->port2 <= 0) {
        fprintf(stderr, "fm-faultgen: failover needs --port2\n");
        return -1;
    }
    snprintf(id, sizeof(id), "%s", a->id);
    snprintf(site, sizeof(site), "%s", a->site);
    if (send_acked(a, &leak, 1))
        return -1;
    fg_agent_close(a, false);
    if (fg_agent_open(a, "127.0.0.1", o->port2, id, site, devs, nd))
        return -1;
    if (expect("failed over with a leak in its group wait: one grade-2 ticket", TICKETS_OF_SITE,
               a->site, "1:2", o->group_wait_ms + 10000) ||
        expect("opened from the original raise",
               "SELECT bool_and(abs(extract(epoch FROM t.first_seen - e.ts)) < 0.002)"
               " FROM tickets t, alarm_events e JOIN devices d USING (device_id)"
               " WHERE t.site_id = $1 AND d.agent_id = 'fg-' || $1 AND e.code = 'water_leak'",
               a->site, "t", 2000))
        return -1;
    if (send_acked(a, &dry, 1) ||
        expect("the clear at the second collector clears it",
               "SELECT count(*) || ':' || bool_and(cleared_at IS NOT NULL) FROM tickets"
               " WHERE site_id = $1",
               a->site, "1:true", 5000))
        return -1;
    /* Past the first collector's agent_lost_after: it finds the agent
     * elsewhere, and neither reopened nor added anything. */
    fg_agent_idle(a, o->lost_ms + 2000);
    return expect("still one ticket, cleared, opened by the collector the agent is at",
                  "SELECT count(*) || ':' || bool_and(cleared_at IS NOT NULL) || ':' ||"
                  " bool_and(opened_by = (SELECT 'collector:' || collector_id FROM agents"
                  "  WHERE agent_id = 'fg-' || $1))"
                  " FROM tickets WHERE site_id = $1",
                  a->site, "1:true:true", 5000);
}

static int scenario_comm(struct fg_agent *a, const struct opts *o)
{
    const struct fg_event down[] = {{"cam1", "comm_loss", true}, {"cam1", NULL, false}};
    const struct fg_event up[] = {{"cam1", NULL, true}, {"cam1", "comm_loss", false}};

    if (send_acked(a, down, 2))
        return -1;
    fg_agent_idle(a, o->group_wait_ms + 1000);
    if (expect("comm_loss and unreachable of one camera: one ticket",
               "SELECT count(*) || ':' || min(dedupe_key) FROM tickets WHERE site_id = $1", a->site,
               "1:device:fg-comm/cam1/unreachable", 5000))
        return -1;
    if (send_acked(a, up, 2))
        return -1;
    return expect("both cleared: the ticket is cleared",
                  "SELECT count(*) || ':' || bool_and(cleared_at IS NOT NULL) FROM tickets"
                  " WHERE site_id = $1",
                  a->site, "1:true", 5000);
}

static int scenario_tamper1(struct fg_agent *a)
{
    const struct fg_event tamper = {"cam1", "tamper", true};

    if (send_acked(a, &tamper, 1))
        return -1;
    return expect("tamper: one grade-1 ticket", TICKETS_OF_SITE, a->site, "1:1", 5000);
}

/* All devices unreachable within about a second, in 20 batches. */
static int scenario_storm(struct fg_agent *a, const struct opts *o)
{
    unsigned n = o->devices, per = (n + 19) / 20;
    struct fg_event *ev = fm_xcalloc(n, sizeof(*ev));
    char(*names)[32] = fm_xcalloc(n, 32);
    char site_key[96], want[64], *got;
    int64_t t_last = 0, t_ticket;
    const char *p[1] = {site_key};
    int rc = 0;

    for (unsigned i = 0; i < n; i++) {
        snprintf(names[i], 32, "dev-%04u", i);
        ev[i] = (struct fg_event){names[i], NULL, false};
    }
    snprintf(site_key, sizeof(site_key), "site:%s", a->site);
    for (unsigned i = 0; i < n && rc == 0; i += per) {
        rc = fg_agent_send(a, ev + i, i + per <= n ? per : n - i, NULL);
        t_last = fg_now_ms();
        if (i + per < n && !o->burst)
            rc = rc ? rc : fg_agent_idle(a, 50);
    }
    /* Poll for the committed site ticket; the agent keeps talking. */
    for (t_ticket = 0; rc == 0 && fg_now_ms() - t_last < 30000;) {
        PGresult *r = PQexecParams(pg, "SELECT 1 FROM tickets WHERE dedupe_key = $1", 1, NULL, p,
                                   NULL, NULL, 0);
        bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

        PQclear(r);
        if (found) {
            t_ticket = fg_now_ms();
            break;
        }
        rc = fg_agent_idle(a, 2);
    }
    if (rc == 0 && t_ticket == 0) {
        fprintf(stderr, "fm-faultgen: FAIL: no site ticket within 30 s\n");
        rc = -1;
    }
    /* Past the group wait nothing may open per device. */
    if (rc == 0)
        rc = fg_agent_idle(a, o->group_wait_ms + 1500);
    snprintf(want, sizeof(want), "1:%u", n);
    got = q1("SELECT count(*) || ':' || (SELECT count(*) FROM ticket_devices d"
             " JOIN tickets t2 USING (ticket_id) WHERE t2.site_id = $1 AND d.detached_at IS NULL)"
             " FROM tickets WHERE site_id = $1",
             a->site);
    if (rc == 0 && strcmp(got, want) != 0) {
        fprintf(stderr, "fm-faultgen: FAIL: tickets:devices attached %s, want %s\n", got, want);
        rc = -1;
    }
    printf("devices=%u tickets_devices=%s\n", n, got);
    printf("site_ticket_s=%.3f tickets_opened=%ld\n",
           t_ticket ? (double)(t_ticket - t_last) / 1000.0 : -1.0, strtol(got, NULL, 10));
    free(got);
    free(ev);
    free(names);
    return rc;
}

static int scenario_dual(const struct opts *o, const struct fg_dev *devs)
{
    struct fg_agent a, b;
    struct fg_event *ev = fm_xcalloc(o->devices, sizeof(*ev));
    char want[64];
    uint64_t la, lb;
    int rc;

    if (fg_agent_open(&a, "127.0.0.1", o->port, "fg-dual-a", o->site, devs, o->devices) ||
        fg_agent_open(&b, "127.0.0.1", o->port2, "fg-dual-b", o->site, devs, o->devices)) {
        free(ev);
        return -1;
    }
    for (unsigned i = 0; i < o->devices; i++)
        ev[i] = (struct fg_event){devs[i].name, "smoke", true};
    rc = fg_agent_send(&a, ev, o->devices, &la);
    rc = rc ? rc : fg_agent_send(&b, ev, o->devices, &lb);
    rc = rc ? rc : fg_agent_wait_acked(&a, la, 10000);
    rc = rc ? rc : fg_agent_wait_acked(&b, lb, 10000);
    snprintf(want, sizeof(want), "%u:%u:%u", o->devices, o->devices, 2 * o->devices);
    rc = rc ? rc
            : expect("two collectors, one fault each: one ticket per fault, seen twice",
                     "SELECT count(*) || ':' || count(DISTINCT dedupe_key) || ':' ||"
                     " sum(occurrences) FROM tickets WHERE site_id = $1",
                     o->site, want, 10000);
    fg_agent_close(&a, true);
    fg_agent_close(&b, true);
    free(ev);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"port2", required_argument, NULL, 'P'},
        {"site", required_argument, NULL, 's'},
        {"devices", required_argument, NULL, 'n'},
        {"group-wait-ms", required_argument, NULL, 'g'},
        {"lost-ms", required_argument, NULL, 'l'},
        {"burst", no_argument, NULL, 'b'},
        {"restart-cmd", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.devices = 0, .group_wait_ms = 30000, .lost_ms = 30000};
    const char *scenario;
    char site[64], agent_id[FMW_MAX_ID + 1];
    struct fg_dev *devs;
    struct fg_agent a;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'P':
            o.port2 = atoi(optarg);
            break;
        case 's':
            o.site = optarg;
            break;
        case 'n':
            o.devices = (unsigned)atoi(optarg);
            break;
        case 'g':
            o.group_wait_ms = atoll(optarg);
            break;
        case 'l':
            o.lost_ms = atoll(optarg);
            break;
        case 'b':
            o.burst = true;
            break;
        case 'r':
            o.restart_cmd = optarg;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1 || o.port <= 0) {
        fprintf(stderr, "usage: fm-faultgen --port P [--port2 P2] [--site S] [--devices N]"
                        " [--group-wait-ms G] [--lost-ms L] [--restart-cmd CMD] ups|smoke|flap|"
                        "window|dead|storm|dual|restart|comm|tamper1|idle-agent|hello|failover\n");
        return 2;
    }
    scenario = argv[optind];
    snprintf(site, sizeof(site), "fg-%s", scenario);
    if (o.site == NULL)
        o.site = site;
    if (o.devices == 0)
        o.devices = strcmp(scenario, "storm") == 0 ? 500 : 20;
    pg = PQconnectdb(getenv("FM_PG_DSN") ? getenv("FM_PG_DSN") : "");
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "fm-faultgen: connect to PostgreSQL: %s", PQerrorMessage(pg));
        return 1;
    }
    /* Inventory: a UPS, a sensor, cameras; storm and dead: N cameras. */
    devs = fm_xcalloc(o.devices + 3, sizeof(*devs));
    char(*names)[32] = fm_xcalloc(o.devices + 3, 32);
    size_t nd = 0;
    if (strcmp(scenario, "storm") != 0 && strcmp(scenario, "dead") != 0 &&
        strcmp(scenario, "dual") != 0 && strcmp(scenario, "hello") != 0) {
        devs[nd++] = (struct fg_dev){"ups1", FM__DEVICE_CLASS__DEVICE_CLASS_UPS, NULL, NULL, NULL};
        devs[nd++] =
            (struct fg_dev){"env1", FM__DEVICE_CLASS__DEVICE_CLASS_ENV_SENSOR, NULL, NULL, NULL};
        devs[nd++] =
            (struct fg_dev){"cam1", FM__DEVICE_CLASS__DEVICE_CLASS_CAMERA, NULL, NULL, NULL};
    } else {
        for (unsigned i = 0; i < o.devices; i++) {
            snprintf(names[i], 32, "%s-%04u", strcmp(scenario, "storm") ? "cam" : "dev", i);
            devs[nd++] =
                (struct fg_dev){names[i], FM__DEVICE_CLASS__DEVICE_CLASS_CAMERA, NULL, NULL, NULL};
        }
    }
    if (strcmp(scenario, "dual") == 0) {
        rc = o.port2 > 0 ? scenario_dual(&o, devs) : -1;
        goto out;
    }
    snprintf(agent_id, sizeof(agent_id), "fg-%.*s", (int)(FMW_MAX_ID - 3), o.site);
    if (fg_agent_open(&a, "127.0.0.1", o.port, agent_id, o.site, devs, nd) != 0) {
        rc = -1;
        goto out;
    }
    if (strcmp(scenario, "ups") == 0)
        rc = scenario_ups(&a, &o);
    else if (strcmp(scenario, "smoke") == 0)
        rc = scenario_smoke(&a, &o);
    else if (strcmp(scenario, "flap") == 0)
        rc = scenario_flap(&a, &o);
    else if (strcmp(scenario, "window") == 0)
        rc = scenario_window(&a, &o);
    else if (strcmp(scenario, "dead") == 0)
        rc = scenario_dead(&a, &o);
    else if (strcmp(scenario, "storm") == 0)
        rc = scenario_storm(&a, &o);
    else if (strcmp(scenario, "restart") == 0)
        rc = scenario_restart(&a, &o, devs, nd);
    else if (strcmp(scenario, "comm") == 0)
        rc = scenario_comm(&a, &o);
    else if (strcmp(scenario, "failover") == 0)
        rc = scenario_failover(&a, &o, devs, nd);
    else if (strcmp(scenario, "tamper1") == 0)
        rc = scenario_tamper1(&a);
    else if (strcmp(scenario, "idle-agent") == 0)
        rc = fg_agent_idle(&a, 60000);
    else if (strcmp(scenario, "hello") == 0)
        rc = fg_agent_idle(&a, 1000);
    else {
        fprintf(stderr, "fm-faultgen: unknown scenario %s\n", scenario);
        rc = -1;
    }
    fg_agent_close(&a, true);
out:
    free(devs);
    free(names);
    PQfinish(pg);
    return rc == 0 ? 0 : 1;
}
