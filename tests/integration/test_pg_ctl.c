/* Integration test of fieldmonctl: the real binary against a real
 * PostgreSQL (tests/lib/with-pg.sh), with tickets produced by the
 * correlation engine and the ticket store. Checks output (table and JSON),
 * exit statuses, error messages, and the audit rows each change leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "migrate.h"
#include "tickets.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#define DEFAULT_RULES FM_SOURCE_DIR "/deploy/rules-default.yaml"

static PGconn *conn;

/* Runs fieldmonctl with args (a shell word list), stdout into out (may be
 * NULL), stderr into err (may be NULL); returns its exit status. */
static int ctl(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char cmd[2048], errfile[] = "/tmp/fm-ctl-err.XXXXXX";
    int fd = mkstemp(errfile);
    FILE *p;
    size_t n;
    int st;

    assert_true(fd >= 0);
    snprintf(cmd, sizeof(cmd), "FM_ACTOR=tester %s %s 2>%s", FM_CTL, args, errfile);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out ? out : cmd, 1, out ? outlen - 1 : sizeof(cmd) - 1, p);
    if (out)
        out[n] = '\0';
    st = pclose(p);
    if (err) {
        FILE *e = fdopen(fd, "r");

        n = fread(err, 1, errlen - 1, e);
        err[n] = '\0';
        fclose(e);
    } else {
        close(fd);
    }
    unlink(errfile);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *q1(const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void exec_sql(const char *sql)
{
    PGresult *r = PQexec(conn, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

#define ASSERT_Q(sql, want)                                                                        \
    do {                                                                                           \
        char *v_ = q1(sql);                                                                        \
        if (strcmp(v_, (want)) != 0)                                                               \
            fail_msg("%s: got '%s', want '%s'", (sql), v_, (want));                                \
        free(v_);                                                                                  \
    } while (0)

/* Unix time t as an ISO 8601 argument in UTC ("2026-12-04T08:00:00+00:00"). */
static const char *iso(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    return buf;
}

/* Runs fieldmonctl with the args formatted from fmt and checks its exit
 * status and the first line of its stderr ("" for none); returns stdout
 * (static). */
static const char *expect(int code, const char *first, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *expect(int code, const char *first, const char *fmt, ...)
{
    static char out[65536];
    char args[1536], err[4096];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    rc = ctl(args, out, sizeof(out), err, sizeof(err));
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
    if (rc != code || strcmp(err, first) != 0)
        fail_msg("fieldmonctl %s: exit %d \"%s\", want exit %d \"%s\"", args, rc, err, code, first);
    if (strstr(err, "ERROR") || strstr(err, "syntax"))
        fail_msg("fieldmonctl %s: a raw SQL message: %s", args, err);
    return out;
}

/* Expects `fieldmonctl CMD --at AT` on ticket id refused: AT is before
 * WHAT, which happened at PREV. */
static void expect_before(int id, const char *cmd, time_t at, const char *what, time_t prev)
{
    char a[40], b[40], want[256];

    snprintf(want, sizeof(want), "fieldmonctl: ticket %d: %s is before %s (%s)", id,
             iso(at, a, sizeof(a)), what, iso(prev, b, sizeof(b)));
    expect(1, want, "%s --at '%s'", cmd, a);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tickets to look at: 1 = smoke (grade 1), 2 = site s7 with 3 devices. */
static int seed(void **state)
{
    struct rules_conf rules = {0};
    tickets_batch_t *b = tickets_batch_create();
    const struct corr_device_info devs[] = {{"a", "camera", NULL, NULL, 0},
                                            {"b", "camera", NULL, NULL, 0},
                                            {"c", "camera", NULL, NULL, 0}};
    char why[512];
    int64_t t = now_ms();
    corr_t *e;

    (void)state;
    conn = PQconnectdb("dbname=fieldmon");
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(conn));
    if (migrate_apply(conn, FM_SCHEMA_DIR, NULL, why, sizeof(why)) != 0)
        fail_msg("migrate: %s", why);
    if (rules_load_file(DEFAULT_RULES, &rules, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    e = corr_create(&rules, tickets_batch_cb, b);
    /* The collector's rows for one smoke alarm, as ingest writes them. */
    char *ev = q1("WITH s AS (INSERT INTO sites (site_id) VALUES ('s1')),"
                  " a AS (INSERT INTO agents (agent_id, site_id) VALUES ('ag1', 's1')"
                  "  RETURNING agent_key),"
                  " d AS (INSERT INTO devices (agent_id, name, class)"
                  "  VALUES ('ag1', 'env1', 'env_sensor') RETURNING device_id),"
                  " x AS (INSERT INTO devices (agent_id, name, class)"
                  "  VALUES ('ag1', 'cam1', 'camera') RETURNING device_id),"
                  " e2 AS (INSERT INTO alarm_events (ts, device_id, code, state, level, agent_key,"
                  "  epoch, seq) SELECT now() - interval '2 days', device_id, 'tamper', 'raised',"
                  "  'state', agent_key, 1, 1 FROM x, a)"
                  " INSERT INTO alarm_events (ts, device_id, code, point, state, level, message,"
                  "  agent_key, epoch, seq) SELECT now(), device_id, 'smoke', 'smoke', 'raised',"
                  "  'state', 'smoke detector 2', agent_key, 1, 2 FROM d, a"
                  " RETURNING alarm_event_id");
    corr_alarm(e, "s1", "env1", "smoke", "smoke", true, t, strtoll(ev, NULL, 10));
    free(ev);
    corr_inventory(e, "s7", devs, 3, t);
    corr_agent(e, "s7", true, t + 10);
    if (tickets_apply(conn, b, "collector:c1", rules.reopen_within_ms, NULL, why, sizeof(why)))
        fail_msg("apply: %s", why);
    corr_destroy(e);
    tickets_batch_destroy(b);
    rules_free(&rules);
    return 0;
}

static int unseed(void **state)
{
    (void)state;
    PQfinish(conn);
    return 0;
}

static void test_ctl_lists_tickets_as_table_and_json(void **state)
{
    char out[16384];
    json_t *j;
    json_error_t jerr;

    (void)state;
    assert_int_equal(ctl("tickets", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "id  grade  state"));
    assert_non_null(strstr(out, "s1/env1: smoke"));
    assert_non_null(strstr(out, "(2 rows)"));
    assert_int_equal(ctl("--json tickets --grade 2", out, sizeof(out), NULL, 0), 0);
    j = json_loads(out, 0, &jerr);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, out);
    assert_int_equal(json_array_size(j), 1);
    json_t *t = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(t, "grade")), 2);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "site");
    assert_int_equal(json_integer_value(json_object_get(t, "devices")), 3);
    assert_true(json_is_false(json_object_get(t, "flapping")));
    json_decref(j);
}

static void test_ctl_show_lists_devices_alarms_grades_and_audit(void **state)
{
    char out[32768];
    json_t *j;

    (void)state;
    assert_int_equal(ctl("-j show 2", out, sizeof(out), NULL, 0), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "dedupe_key")), "site:s7");
    assert_int_equal(json_array_size(json_object_get(j, "devices")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "clocks")), 4);
    /* The timeline starts with the opening, by the collector, at grade 2. */
    json_t *tl = json_object_get(j, "timeline"), *open = NULL;
    for (size_t i = 0; i < json_array_size(tl); i++) {
        json_t *e = json_array_get(tl, i);

        if (open == NULL && strcmp(json_string_value(json_object_get(e, "what")), "open") == 0)
            open = e;
    }
    assert_non_null(open);
    assert_string_equal(json_string_value(json_object_get(open, "who")), "collector:c1");
    assert_non_null(strstr(json_string_value(json_object_get(open, "detail")), "grade: 2"));
    json_decref(j);
    assert_int_equal(ctl("show 1", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "timeline:"));
    assert_non_null(strstr(out, "smoke raised"));
    assert_non_null(strstr(out, "clocks:"));
}

static void test_ctl_moves_a_ticket_through_its_states_with_audit(void **state)
{
    char out[4096], err[4096];

    (void)state;
    assert_int_equal(ctl("close 1 --satisfaction 5", out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(err, "fieldmonctl: ticket 1 is open: cannot close it\n");
    assert_int_equal(ctl("ack 1 --note 'on it'", out, sizeof(out), NULL, 0), 0);
    assert_string_equal(out, "ticket 1: acknowledged by tester\n");
    assert_int_equal(ctl("dispatch 1", out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "dispatch needs who is sent (--to)"));
    assert_int_equal(ctl("-a dave dispatch 1 --to 'team north'", out, sizeof(out), NULL, 0), 0);
    assert_int_equal(ctl("on-site 1", out, sizeof(out), NULL, 0), 0);
    assert_int_equal(ctl("ack 1 --cause x", out, sizeof(out), err, sizeof(err)), 2);
    assert_int_equal(ctl("resolve 1 --cause 'dust in detector' --action 'cleaned, tested'"
                         " --prevention 'quarterly cleaning'",
                         out, sizeof(out), NULL, 0),
                     0);
    assert_int_equal(ctl("close 1 --satisfaction 9", out, sizeof(out), err, sizeof(err)), 2);
    assert_int_equal(ctl("-j close 1 --satisfaction 5 --confirmed --confirmed-by 'duty officer'",
                         out, sizeof(out), NULL, 0),
                     0);
    assert_non_null(strstr(out, "\"state\": \"closed\""));
    ASSERT_Q("SELECT state || '|' || dispatched_by || '|' || dispatched_to || '|' || satisfaction"
             " || '|' || confirmed_by FROM tickets WHERE ticket_id = 1",
             "closed|dave|team north|5|duty officer");
    ASSERT_Q("SELECT string_agg(actor || '/' || action, ',' ORDER BY audit_id) FROM ticket_audit"
             " WHERE ticket_id = 1",
             "collector:c1/open,tester/acknowledge,tester/note,dave/dispatch,tester/on-site,"
             "tester/resolve,tester/close");
    assert_int_equal(ctl("ack 999", out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(err, "fieldmonctl: no ticket 999\n");
    assert_int_equal(ctl("ack x", out, sizeof(out), err, sizeof(err)), 2);
}

static void test_ctl_opens_manual_ticket(void **state)
{
    char out[4096];

    (void)state;
    assert_int_equal(
        ctl("open --grade 4 --title 'add camera to NVR' --site s1", out, sizeof(out), NULL, 0), 0);
    assert_string_equal(out, "ticket 3: opened, grade 4\n");
    assert_int_equal(ctl("open --title x", out, sizeof(out), NULL, 0), 2);
    ASSERT_Q("SELECT kind || '/' || opened_by FROM tickets WHERE ticket_id = 3", "manual/tester");
}

static void test_ctl_manages_maintenance_windows(void **state)
{
    char out[8192], err[4096];

    (void)state;
    assert_int_equal(ctl("window add --site s1 --device 'cam*' --for 2h --reason inspection", out,
                         sizeof(out), NULL, 0),
                     0);
    assert_string_equal(out, "window 1: added\n");
    assert_int_equal(ctl("window add --site s1 --for 2h --end tomorrow --reason x", out,
                         sizeof(out), err, sizeof(err)),
                     2);
    assert_int_equal(ctl("window add --site s1 --for 2h", out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "--reason is required"));
    assert_int_equal(ctl("window add --site s1 --start 'not a time' --for 1h --reason x", out,
                         sizeof(out), err, sizeof(err)),
                     2);
    assert_int_equal(ctl("window add --start '2030-01-01 10:00+00' --end '2030-01-01 09:00+00'"
                         " --reason x",
                         out, sizeof(out), err, sizeof(err)),
                     2);
    assert_non_null(strstr(err, "must end after it starts"));
    assert_int_equal(ctl("-j window list", out, sizeof(out), NULL, 0), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "device")), "cam*");
    json_decref(j);
    assert_int_equal(ctl("window cancel 1", out, sizeof(out), NULL, 0), 0);
    assert_int_equal(ctl("window cancel 1", out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(err, "fieldmonctl: no active maintenance window 1\n");
    assert_int_equal(ctl("window list", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "(0 rows)"));
    assert_int_equal(ctl("window list --all", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "(1 row)"));
    ASSERT_Q("SELECT string_agg(actor || '/' || action, ',' ORDER BY audit_id) FROM ticket_audit"
             " WHERE window_id = 1",
             "tester/window_add,tester/window_cancel");
}

static void test_ctl_lists_alarms_recorded_on_tickets(void **state)
{
    char out[8192];

    (void)state;
    assert_int_equal(ctl("alarms --site s1", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "smoke detector 2"));
    assert_non_null(strstr(out, "(2 rows)"));
    assert_int_equal(ctl("alarms --active --since 1h", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "(1 row)"));
    assert_int_equal(ctl("-j alarms --device env1", out, sizeof(out), NULL, 0), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(j), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "ticket")), 1);
    json_decref(j);
    assert_int_equal(ctl("alarms --since soon", out, sizeof(out), NULL, 0), 2);
}

static void test_ctl_checks_rules_files(void **state)
{
    char out[8192], err[4096];
    char path[] = "/tmp/fm-rules.XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_int_equal(ctl("rules -t " DEFAULT_RULES, out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, ": ok"));
    assert_true(write(fd, "rules:\n  - name: x\n    grade: 7\n", 32) == 32);
    close(fd);
    char args[256];
    snprintf(args, sizeof(args), "rules -t %s", path);
    assert_int_equal(ctl(args, out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, ":3: rules[0].grade"));
    unlink(path);
    assert_int_equal(ctl("rules --reference", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "group_wait"));
}

/* A phoned-in fault recorded after the fact, worked through every step
 * with --at, every refusal in one line with its exit status, and what each
 * step leaves in the database: visits, pauses, grades, audit. */
static void test_ctl_records_a_manual_ticket_after_the_fact(void **state)
{
    const time_t t0 = time(NULL) / 60 * 60 - 3 * 3600; /* reported 3 hours ago */
    char a[40];
    const char *out;

    (void)state;
    expect(1,
           "fieldmonctl: no site \"deopt\" (sites are those agents report, or that a contract "
           "lists)",
           "open --grade 2 --title x --site deopt");
    expect(2,
           "fieldmonctl open: needs --grade, --title and --site (usage: open --grade 1-4 "
           "--title T --site S [--device D] [--caller NAME] [--contact PHONE] [--description "
           "T] [--reported-at TIME])",
           "open --grade 2 --title x");
    expect(2,
           "fieldmonctl open: --grade takes 1..4 (usage: open --grade 1-4 --title T --site S "
           "[--device D] [--caller NAME] [--contact PHONE] [--description T] [--reported-at "
           "TIME])",
           "open --grade 5 --title x --site s1");
    expect(1, "fieldmonctl: the reported time is in the future",
           "open --grade 2 --title x --site s1 --reported-at '%s'", iso(t0 + 86400, a, 40));
    expect(2,
           "fieldmonctl open: who is acting? give -a NAME or set FM_ACTOR (every change is "
           "audited)",
           "-a '' open --grade 2 --title x --site s1");
    ASSERT_Q("SELECT count(*) FROM tickets", "3");
    out = expect(0, "",
                 "open --grade 2 --title 'smoke in the hall' --site s1 --caller 'guard Li' "
                 "--contact '+86 10 5555 0100' --description 'smells burnt, no flames' "
                 "--reported-at '%s'",
                 iso(t0, a, 40));
    assert_string_equal(out, "ticket 4: opened, grade 2\n");
    ASSERT_Q("SELECT (opened_at = first_seen AND visit_opened_at = opened_at AND "
             "extract(epoch FROM opened_at)::bigint = extract(epoch FROM now())::bigint / 60 * 60 "
             "- 10800) || ':' || caller || ':' || contact || ':' || description FROM tickets "
             "WHERE ticket_id = 4",
             "true:guard Li:+86 10 5555 0100:smells burnt, no flames");

    /* Every step checks its time against the clock and the steps before. */
    expect(1, "fieldmonctl: no ticket 999", "ack 999");
    expect(1, "fieldmonctl: no ticket 999", "note 999 called");
    expect(1, "fieldmonctl: no ticket 999", "show 999");
    expect_before(4, "ack 4", t0 - 60, "the visit opened", t0);
    {
        char want[256];

        snprintf(want, sizeof(want), "fieldmonctl: ticket 4: %s is in the future",
                 iso(t0 + 86400, a, 40));
        expect(1, want, "ack 4 --at '%s'", a);
    }
    expect(2,
           "fieldmonctl ack: --at \"soon\": not a time; give a date (2026-12-04), a local time "
           "(\"2026-12-04 08:00\", in UTC) or one with an offset (2026-12-04T08:00+08:00)",
           "ack 4 --at soon");
    expect(2,
           "fieldmonctl ack: who is acting? give -a NAME or set FM_ACTOR (every change is "
           "audited)",
           "-a '' ack 4");
    expect(0, "", "ack 4 --at '%s' --note 'called the guard'", iso(t0 + 600, a, 40));
    expect(1, "fieldmonctl: ticket 4 is acknowledged: cannot acknowledge it", "ack 4");
    expect_before(4, "-a dave dispatch 4 --to field-engineer", t0 + 300, "it was acknowledged",
                  t0 + 600);
    expect(2,
           "fieldmonctl dispatch: dispatch needs who is sent (--to) (usage: dispatch ID --to "
           "WHO [--at TIME] [--note T])",
           "dispatch 4");
    expect(0, "", "-a dave dispatch 4 --to field-engineer --at '%s'", iso(t0 + 900, a, 40));
    expect(0, "", "remote 4 --at '%s'", iso(t0 + 700, a, 40));
    expect(1, "fieldmonctl: ticket 4: remote support was recorded already", "remote 4");
    out = expect(0, "", "note 4 door locked, waiting for the key");
    assert_string_equal(out, "ticket 4: noted by tester\n");
    expect(2, "fieldmonctl note: a note needs its text (usage: note ID TEXT...)", "note 4");
    expect(2,
           "fieldmonctl pause: give the reason (--reason) (usage: pause ID --reason T [--at "
           "TIME])",
           "pause 4 --at '%s'", iso(t0 + 1000, a, 40));
    expect(0, "", "pause 4 --reason 'site access refused' --at '%s'", a);
    expect(1, "fieldmonctl: ticket 4: its clocks are paused already",
           "pause 4 --reason 'site access refused'");
    expect_before(4, "resume 4", t0 + 950, "the pause began", t0 + 1000);
    expect(2,
           "fieldmonctl regrade: give the reason (--reason) (usage: regrade ID --grade 1-4 "
           "--reason T [--at TIME])",
           "regrade 4 --grade 1");
    expect(2,
           "fieldmonctl regrade: --grade takes 1..4 (usage: regrade ID --grade 1-4 --reason T "
           "[--at TIME])",
           "regrade 4 --grade 9 --reason x");
    expect(1, "fieldmonctl: ticket 4 is grade 2 already", "regrade 4 --grade 2 --reason x");
    expect(0, "", "regrade 4 --grade 1 --reason 'fire brigade called' --at '%s'",
           iso(t0 + 1100, a, 40));
    ASSERT_Q("SELECT string_agg(coalesce(old_grade::text, '-') || '>' || new_grade || '/' || "
             "coalesce(rule, 'no rule') || '/' || actor, ',' ORDER BY ts) FROM ticket_grades "
             "WHERE ticket_id = 4",
             "->2/no rule/tester,2>1/no rule/tester");
    ASSERT_Q("SELECT detail->>'reason' || ':' || (detail->>'from') || '>' || (detail->>'to') "
             "FROM ticket_audit WHERE ticket_id = 4 AND action = 'grade'",
             "fire brigade called:2>1");
    expect(2,
           "fieldmonctl resolve: resolve needs the fault's cause and the action taken (usage: "
           "resolve ID --cause T --action T [--prevention T] [--at TIME] [--note T])",
           "resolve 4 --cause dust");
    /* Resolved while paused: the pause ends at the resolution. */
    expect(0, "", "resolve 4 --cause 'dust in the detector' --action cleaned --at '%s'",
           iso(t0 + 1800, a, 40));
    ASSERT_Q("SELECT count(*) FROM sla_pauses WHERE ticket_id = 4 AND ended_at = "
             "(SELECT resolved_at FROM tickets WHERE ticket_id = 4)",
             "1");
    expect(1, "fieldmonctl: ticket 4 is resolved: cannot resume it", "resume 4");
    expect(2,
           "fieldmonctl close: --confirmed-by names who confirmed: give --confirmed too "
           "(usage: close ID --satisfaction 1-5 [--confirmed [--confirmed-by WHO]] [--at "
           "TIME])",
           "close 4 --satisfaction 4 --confirmed-by Zhang");
    expect(2,
           "fieldmonctl close: --satisfaction takes 1..5 (usage: close ID --satisfaction 1-5 "
           "[--confirmed [--confirmed-by WHO]] [--at TIME])",
           "close 4 --satisfaction 0");
    ASSERT_Q("SELECT state FROM tickets WHERE ticket_id = 4", "resolved");
    expect(0, "", "close 4 --satisfaction 4 --confirmed --confirmed-by Zhang --at '%s'",
           iso(t0 + 2400, a, 40));

    /* Reopened after closing: visit 2, the first visit's times kept. */
    expect(2,
           "fieldmonctl reopen: give the reason (--reason) (usage: reopen ID --reason T [--at "
           "TIME])",
           "reopen 4");
    expect_before(4, "reopen 4 --reason 'smoke again'", t0 + 2000, "it was closed", t0 + 2400);
    out = expect(0, "", "reopen 4 --reason 'smoke again' --at '%s'", iso(t0 + 3600, a, 40));
    assert_string_equal(out, "ticket 4: reopened by tester\n");
    ASSERT_Q("SELECT t.visit || ':' || t.state || ':' || (t.opened_at = v.opened_at) || ':' || "
             "(t.visit_opened_at - t.opened_at) || ':' || (v.acknowledged_at - v.opened_at) || "
             "':' || v.dispatched_to || ':' || (v.remote_started_at - v.opened_at) || ':' || "
             "v.cause || ':' || v.satisfaction || ':' || v.confirmed_by || ':' || v.reopen_reason "
             "|| ':' || (t.cause IS NULL AND t.resolved_at IS NULL AND t.satisfaction IS NULL) "
             "FROM tickets t JOIN ticket_visits v USING (ticket_id) WHERE t.ticket_id = 4",
             "2:acknowledged:true:01:00:00:00:10:00:field-engineer:00:11:40:dust in the "
             "detector:4:Zhang:smoke again:true");
    ASSERT_Q("SELECT acknowledged_by || ':' || (acknowledged_at = visit_opened_at) FROM tickets "
             "WHERE ticket_id = 4",
             "tester:true");
    expect(1, "fieldmonctl: ticket 4 is acknowledged: cannot reopen it", "reopen 4 --reason again");
}

/* Closing without repair, merging a duplicate, archiving, and what the
 * lists and the record show of it. Ticket 2 is the site s7 outage (three
 * devices), 4 the manual smoke ticket of the test above. */
static void test_ctl_cancels_merges_archives_and_shows_the_record(void **state)
{
    const char *out;
    json_t *j;

    (void)state;
    /* A second report of the s7 outage, phoned in; the outage ticket gets
     * an alarm and a pause, then is merged into it. */
    expect(0, "", "open --grade 2 --title 's7 cameras dark' --site s1 --caller 'guard Wu'");
    exec_sql("UPDATE tickets SET response_due = now() + interval '1 hour', resolution_due = now() "
             "+ interval '5 hours' WHERE ticket_id = 5");
    exec_sql("INSERT INTO ticket_alarms (ticket_id, ts, site_id, device, code, state) VALUES "
             "(2, now() - interval '5 minutes', 's7', 'a', 'unreachable', 'raised')");
    expect(0, "", "pause 2 --reason 'waiting for the landlord'");
    expect(2,
           "fieldmonctl duplicate-of: a ticket cannot duplicate itself (usage: duplicate-of ID "
           "OTHER [--note T] [--at TIME])",
           "duplicate-of 2 2");
    expect(2,
           "fieldmonctl duplicate-of: which ticket does it duplicate? (usage: duplicate-of ID "
           "OTHER [--note T] [--at TIME])",
           "duplicate-of 2");
    expect(1, "fieldmonctl: no ticket 999", "duplicate-of 2 999");
    out = expect(0, "", "duplicate-of 2 5 --note 'same outage, reported by phone'");
    assert_string_equal(out, "ticket 2: closed as a duplicate by tester\n");
    ASSERT_Q("SELECT state || ':' || closed_as || ':' || duplicate_of || ':' || close_reason || "
             "':' || (SELECT count(*) FROM sla_pauses p WHERE p.ticket_id = 2 AND p.ended_at = "
             "t.closed_at) FROM tickets t WHERE ticket_id = 2",
             "closed:duplicate:5:same outage, reported by phone:1");
    ASSERT_Q("SELECT (SELECT string_agg(device, ',' ORDER BY device) FROM ticket_devices WHERE "
             "ticket_id = 5) || ':' || (SELECT string_agg(device || ' ' || code, ',') FROM "
             "ticket_alarms WHERE ticket_id = 5)",
             "a,b,c:a unreachable");
    ASSERT_Q("SELECT string_agg(ticket_id || '/' || action, ',' ORDER BY audit_id) FROM "
             "ticket_audit WHERE action IN ('merge', 'duplicate')",
             "5/merge,2/duplicate");
    expect(1,
           "fieldmonctl: ticket 2 is a duplicate itself: mark it a duplicate of the ticket it "
           "belongs to",
           "duplicate-of 5 2");

    /* Cancelled: closed without repair, counted apart. */
    expect(2,
           "fieldmonctl cancel: give the reason (--reason) (usage: cancel ID --reason T [--at "
           "TIME])",
           "cancel 4");
    expect(2,
           "fieldmonctl cancel: who is acting? give -a NAME or set FM_ACTOR (every change is "
           "audited)",
           "-a '' cancel 4 --reason x");
    expect(0, "", "cancel 4 --reason 'burnt toast, no fault'");
    expect(1, "fieldmonctl: ticket 4 is closed (cancelled or a duplicate): cannot cancel it",
           "cancel 4 --reason again");
    ASSERT_Q("SELECT state || ':' || closed_as || ':' || close_reason || ':' || closed_by FROM "
             "tickets WHERE ticket_id = 4",
             "closed:cancelled:burnt toast, no fault:tester");

    /* The lists: not closed by default; the state a person understands;
     * the assignee, the state's age and the nearest running deadline. */
    expect(0, "", "-a dave dispatch 5 --to 'team north'");
    out = expect(0, "", "tickets");
    printf("%s", out);
    assert_non_null(strstr(out, "in_state"));
    assert_null(strstr(out, "burnt"));
    j = json_loads(expect(0, "", "-j tickets --grade 2"), 0, NULL);
    assert_int_equal(json_array_size(j), 1);
    json_t *t5 = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(t5, "id")), 5);
    assert_string_equal(json_string_value(json_object_get(t5, "assignee")), "team north");
    assert_string_equal(json_string_value(json_object_get(t5, "in_state")), "0m");
    assert_non_null(strstr(json_string_value(json_object_get(t5, "next_due")), "response left 5"));
    json_decref(j);
    out = expect(0, "", "tickets --state cancelled");
    assert_non_null(strstr(out, "cancelled"));
    assert_non_null(strstr(out, "(1 row)"));
    out = expect(0, "", "tickets --state duplicate");
    assert_non_null(strstr(out, "(1 row)"));
    expect(2,
           "fieldmonctl tickets: --state gone: not one of open, acknowledged, dispatched, "
           "on_site, resolved, closed, cancelled, duplicate",
           "tickets --state gone");

    /* Archived: closed tickets only, hidden unless --archived. */
    expect(1, "fieldmonctl: ticket 5 is dispatched: cannot archive it", "archive 5");
    expect(0, "", "archive 4");
    expect(1, "fieldmonctl: ticket 4 is archived already", "archive 4");
    expect(1, "fieldmonctl: ticket 4 is archived: cannot reopen it", "reopen 4 --reason x");
    out = expect(0, "", "tickets --state cancelled");
    assert_non_null(strstr(out, "(0 rows)"));
    out = expect(0, "", "tickets --archived --state cancelled");
    assert_non_null(strstr(out, "(1 row)"));
    expect(2,
           "fieldmonctl archive: give a ticket id or --closed-before, not both (usage: archive "
           "ID | archive --closed-before TIME)",
           "archive 1 --closed-before today");
    expect(2,
           "fieldmonctl archive: who is acting? give -a NAME or set FM_ACTOR (every change is "
           "audited)",
           "-a '' archive --closed-before today");
    /* Ticket 1 was closed long ago: past the reopen period, then archived
     * with the others closed before tomorrow. */
    exec_sql("UPDATE tickets SET closed_at = now() - interval '40 days', resolved_at = now() - "
             "interval '40 days' WHERE ticket_id = 1");
    {
        char want[256];
        char *closed = q1("SELECT to_char(closed_at, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM') FROM "
                          "tickets WHERE ticket_id = 1");

        snprintf(want, sizeof(want),
                 "fieldmonctl: ticket 1 was closed at %s, longer ago than its contract's reopen "
                 "period (30 days): open a new ticket",
                 closed);
        free(closed);
        expect(1, want, "reopen 1 --reason 'still smoking'");
    }
    /* A contract with a longer reopen period allows it. */
    exec_sql("INSERT INTO sla_contracts (customer, time_zone, utc_offset_s, reopen_within, "
             "published_by) VALUES ('default', 'UTC', 0, '60 days', 'test')");
    expect(0, "", "reopen 1 --reason 'still smoking'");
    ASSERT_Q("SELECT visit || ':' || state FROM tickets WHERE ticket_id = 1", "2:acknowledged");
    out = expect(0, "", "archive --closed-before tomorrow");
    assert_string_equal(out, "1 closed ticket archived\n");
    ASSERT_Q("SELECT string_agg(ticket_id::text, ',' ORDER BY ticket_id) FROM tickets WHERE "
             "archived_at IS NOT NULL",
             "2,4");
    expect(2,
           "fieldmonctl archive: --closed-before \"whenever\": not a time; give a date "
           "(2026-12-04), a local time (\"2026-12-04 08:00\", in UTC) or one with an offset "
           "(2026-12-04T08:00+08:00)",
           "archive --closed-before whenever");
}

/* The whole record of ticket 5 as a person reads it, the ladder steps and
 * breaches with their webhooks, the audit trail, and the alarms with their
 * current ticket. */
static void test_ctl_shows_the_record_escalations_and_audit(void **state)
{
    const char *out;
    json_t *j, *tl;

    (void)state;
    exec_sql("INSERT INTO ticket_escalations (ticket_id, role, grade, step_after, due_at, "
             "fired_at, visit, engaged_by) VALUES (5, 'duty-manager', 2, '30 minutes', now() - "
             "interval '1 minute', now() - interval '1 minute', 1, NULL), (5, 'field-engineer', "
             "2, '0', now(), now(), 1, 'dispatch')");
    exec_sql("INSERT INTO sla_breaches (ticket_id, clock, grade, deadline, detected_at, visit) "
             "VALUES (5, 'remote', 2, now() - interval '2 minutes', now() - interval '30 seconds', "
             "1)");
    exec_sql("INSERT INTO notify_outbox (idem_key, url, body, attempts, delivered_at, last_error) "
             "VALUES ('fieldmon-esc-5-duty-manager', 'http://127.0.0.1:9/hook', "
             "'{\"role\": \"duty-manager\"}', 1, now(), NULL), ('fieldmon-breach-5-remote', "
             "'http://127.0.0.1:9/hook', '{}', 3, NULL, 'connection refused'), "
             "('fieldmon-esc-55-duty-manager', 'http://127.0.0.1:9/hook', '{}', 1, now(), NULL)");
    expect(0, "", "note 5 guard says the NVR room is flooded");
    out = expect(0, "", "show 5");
    printf("---- fieldmonctl show 5 ----\n%s----\n", out);
    static const char *const record[] = {
        "caller             guard Wu",
        "assignee           team north",
        "\nclocks:\n",
        "\ntimeline:\n",
        "engaged by dispatch: step not fired",
        "remote deadline",
        "ladder duty-manager",
        "http://127.0.0.1:9/hook: delivered after 1 attempt(s)",
        "breach remote",
        "http://127.0.0.1:9/hook: not delivered yet after 3 attempt(s) (connection refused)",
        "guard says the NVR room is flooded",
        "duplicate: 2",
    };
    for (size_t i = 0; i < sizeof(record) / sizeof(record[0]); i++)
        if (strstr(out, record[i]) == NULL)
            fail_msg("show 5 lacks \"%s\"", record[i]);
    j = json_loads(expect(0, "", "-j show 5"), 0, NULL);
    assert_non_null(j);
    tl = json_object_get(j, "timeline");
    /* One timeline, in time order, with each webhook of this ticket once. */
    int webhooks = 0;
    for (size_t i = 0; i < json_array_size(tl); i++) {
        json_t *e = json_array_get(tl, i);

        if (strcmp(json_string_value(json_object_get(e, "what")), "webhook") == 0)
            webhooks++;
        if (i > 0)
            assert_true(strcmp(json_string_value(json_object_get(json_array_get(tl, i - 1), "at")),
                               json_string_value(json_object_get(e, "at"))) <= 0);
    }
    assert_int_equal(webhooks, 2);
    assert_int_equal(json_array_size(json_object_get(j, "clocks")), 4);
    json_decref(j);
    /* The record of a reopened ticket lists its earlier visit. */
    out = expect(0, "", "show 4");
    printf("---- fieldmonctl show 4 ----\n%s----\n", out);
    assert_non_null(strstr(out, "\nvisits:\n"));
    assert_non_null(strstr(out, "dust in the detector"));
    /* Each entry at the time it happened, whenever it was recorded: the
     * report 3 hours ago first, the note given with the acknowledgement
     * next to it, the pause once, ended by the resolution. */
    {
        const char *open = strstr(out, "  open "), *ack = strstr(out, "open -> acknowledged"),
                   *note = strstr(out, "note: called the guard"),
                   *dispatch = strstr(out, "acknowledged -> dispatched"),
                   *paused = strstr(out, "clocks paused   tester  site access refused"),
                   *grade = strstr(out, "grade 2 -> 1, reason: fire brigade called"),
                   *resumed = strstr(out, "clocks resumed          13m paused");

        assert_true(open && ack && note && dispatch && paused && grade && resumed);
        assert_true(open < ack && ack < note && note < dispatch && dispatch < paused &&
                    paused < grade && grade < resumed);
        assert_null(strstr(paused + 40, "site access refused"));
    }
    expect(2, "fieldmonctl show: which ticket? (usage: show ID)", "show x");

    out = expect(0, "", "escalations 5");
    printf("%s", out);
    assert_non_null(strstr(out, "step: duty-manager"));
    assert_non_null(strstr(out, "breach: remote"));
    assert_non_null(strstr(out, "(3 rows)"));
    out = expect(0, "", "escalations --since tomorrow");
    assert_non_null(strstr(out, "(0 rows)"));
    expect(2, "fieldmonctl escalations: usage: escalations [ID] [--since TIME]", "escalations x");

    out = expect(0, "", "audit --actor dave");
    assert_non_null(strstr(out, "dispatch"));
    assert_non_null(strstr(out, "(3 rows)"));
    out = expect(0, "", "audit --ticket 4 --limit 2");
    assert_non_null(strstr(out, "(2 rows)"));
    assert_non_null(strstr(out, "archive"));
    out = expect(0, "", "audit --since tomorrow");
    assert_non_null(strstr(out, "(0 rows)"));
    expect(2,
           "fieldmonctl audit: --ticket x: not a ticket id (usage: audit [--actor A] [--since "
           "TIME] [--ticket ID] [--limit N])",
           "audit --ticket x");

    /* The smoke alarm: recorded on ticket 1, which is its fault's ticket now. */
    j = json_loads(expect(0, "", "-j alarms --device env1"), 0, NULL);
    json_t *al = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(al, "ticket")), 1);
    assert_int_equal(json_integer_value(json_object_get(al, "current_ticket")), 1);
    assert_int_equal(json_integer_value(json_object_get(al, "grade")), 1);
    assert_string_equal(json_string_value(json_object_get(al, "ticket_state")), "acknowledged");
    json_decref(j);
}

static void test_ctl_reports_database_problems(void **state)
{
    char out[4096], err[4096];
    PGresult *r;

    (void)state;
    assert_int_equal(
        ctl("-d 'host=/nonexistent dbname=x' tickets", out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "fieldmonctl: connect to PostgreSQL:"));
    r = PQexec(conn, "CREATE DATABASE fm_ctl_empty");
    PQclear(r);
    assert_int_equal(ctl("-d dbname=fm_ctl_empty tickets", out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "schema version 0; fieldmonctl needs 24 or later"));
    assert_int_equal(ctl("frobnicate", out, sizeof(out), err, sizeof(err)), 2);
    assert_int_equal(ctl("--version", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "fieldmonctl "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_lists_tickets_as_table_and_json),
        cmocka_unit_test(test_ctl_show_lists_devices_alarms_grades_and_audit),
        cmocka_unit_test(test_ctl_moves_a_ticket_through_its_states_with_audit),
        cmocka_unit_test(test_ctl_opens_manual_ticket),
        cmocka_unit_test(test_ctl_manages_maintenance_windows),
        cmocka_unit_test(test_ctl_lists_alarms_recorded_on_tickets),
        cmocka_unit_test(test_ctl_checks_rules_files),
        cmocka_unit_test(test_ctl_records_a_manual_ticket_after_the_fact),
        cmocka_unit_test(test_ctl_cancels_merges_archives_and_shows_the_record),
        cmocka_unit_test(test_ctl_shows_the_record_escalations_and_audit),
        cmocka_unit_test(test_ctl_reports_database_problems),
    };
    if (getenv("PGHOST") == NULL) {
        fprintf(stderr, "test_pg_ctl: PGHOST not set; run under tests/lib/with-pg.sh\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, seed, unseed);
}
