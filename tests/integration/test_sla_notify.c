/* Integration test: contract clocks against a real PostgreSQL (with-pg.sh)
 * and a real HTTP receiver (tests/lib/webhook_receiver.py on a free
 * loopback port). The scheduler runs on a clock the test advances, so an
 * hour of ladder takes no time; the notifier runs on a real libuv loop with
 * libcurl and short backoffs.
 *
 *  - smoke alarm (grade 1): ladder steps at 15/30/45/60 min, the right role
 *    notified at the right URL, each once;
 *  - a missed deadline is recorded as a breach and notified;
 *  - receiver down: retried with backoff, delivered when it comes up, none
 *    lost, none doubled, also across a notifier restart;
 *  - receiver answering 500: retried until it accepts;
 *  - database unreachable: the notifier reports it and keeps trying. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "contract.h"
#include "fm_log.h"
#include "migrate.h"
#include "notify.h"
#include "sla_conf.h"
#include "sla_sched.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MINUTE 60
#define T0 1795500000 /* a fixed opening time for the test clock */

static PGconn *db;
static char tmpdir[] = "/tmp/fm-sla-notify.XXXXXX";
static int64_t test_now;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return test_now;
}

/* ------------------------------------------------------------ helpers */

static void exec_or_fail(const char *sql)
{
    PGresult *r = PQexec(db, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static long query_long(const char *sql)
{
    PGresult *r = PQexec(db, sql);
    long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* A port nothing listens on right now (bound and released). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

struct receiver {
    pid_t pid;
    int port;
    char log[600];
};

/* Starts the receiver on port (0: any) logging to log; waits for its port. */
static void receiver_start(struct receiver *rv, int port, const char *log, int fail_first)
{
    char script[512], portarg[16], failarg[16], portfile[600];
    char *argv[] = {"python3", script,      "--port",       portarg, "--port-file", portfile,
                    "--log",   (char *)log, "--fail-first", failarg, NULL};

    snprintf(script, sizeof(script), "%s/tests/lib/webhook_receiver.py", FM_SOURCE_DIR);
    snprintf(portarg, sizeof(portarg), "%d", port);
    snprintf(failarg, sizeof(failarg), "%d", fail_first);
    snprintf(portfile, sizeof(portfile), "%s/port.%d", tmpdir, rand());
    snprintf(rv->log, sizeof(rv->log), "%s", log);
    assert_int_equal(posix_spawnp(&rv->pid, "python3", NULL, NULL, argv, environ), 0);
    for (int i = 0; i < 500; i++) { /* up to 10 s */
        FILE *f = fopen(portfile, "r");

        if (f != NULL) {
            int ok = fscanf(f, "%d", &rv->port);

            fclose(f);
            if (ok == 1)
                return;
        }
        usleep(20000);
    }
    fail_msg("webhook receiver did not start");
}

static void receiver_stop(struct receiver *rv)
{
    int status;

    kill(rv->pid, SIGTERM);
    waitpid(rv->pid, &status, 0);
}

/* Lines of the receiver log, parsed. Returns a new JSON array. */
static json_t *receiver_log(const char *log)
{
    json_t *arr = json_array();
    FILE *f = fopen(log, "r");
    char line[8192];

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);

        assert_non_null(j);
        json_array_append_new(arr, j);
    }
    if (f != NULL)
        fclose(f);
    return arr;
}

static void load_contract(struct contract_set *set, int port)
{
    char text[4096], err[256];

    snprintf(text, sizeof(text),
             "contracts:\n"
             "  - customer: default\n"
             "    grades:\n"
             "      - grade: 1\n"
             "        response: 30m\n"
             "        remote: 30m\n"
             "        onsite: 2h\n"
             "        ladder:\n"
             "          - {after: 15m, role: field-engineer}\n"
             "          - {after: 30m, role: emergency-team}\n"
             "          - {after: 45m, role: customer-manager}\n"
             "          - {after: 60m, role: service-centre-manager}\n"
             "      - grade: 3\n"
             "        response: 2h\n"
             "        ladder: [{after: 15m, role: field-engineer}]\n"
             "    roles:\n"
             "      - {name: field-engineer, webhooks: [\"http://127.0.0.1:%d/hooks/fe\"]}\n"
             "      - {name: emergency-team, webhooks: [\"http://127.0.0.1:%d/hooks/et\"]}\n"
             "      - {name: customer-manager, webhooks: [\"http://127.0.0.1:%d/hooks/cm\"]}\n"
             "      - {name: service-centre-manager, webhooks: "
             "[\"http://127.0.0.1:%d/hooks/scm\"]}\n",
             port, port, port, port);
    if (contract_set_load_string("test.yaml", text, strlen(text), set, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

static long undelivered(void)
{
    return query_long("SELECT count(*) FROM notify_outbox WHERE delivered_at IS NULL");
}

/* Runs the loop until nothing is left undelivered, or timeout_ms. */
static void run_until_delivered(uv_loop_t *loop, notify_t *n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (undelivered() == 0)
            return;
        notify_kick(n);
        usleep(20000);
    }
    fail_msg("%ld notifications still undelivered after %d ms", undelivered(), timeout_ms);
}

static void run_for(uv_loop_t *loop, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void destroy_and_drain(uv_loop_t *loop, notify_t *n)
{
    notify_destroy(n);
    /* The thread-pool round (if any) and the close callbacks finish here. */
    for (int i = 0; i < 1000 && uv_loop_alive(loop); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_false(uv_loop_alive(loop));
}

/* The sla.notify settings with the key table's defaults (sla_conf.c, the
 * only place they are written down). */
static struct sla_conf_notify notify_defaults(void)
{
    struct sla_conf conf = {0};
    char err[256];

    if (fmc_load_string("test.yaml", "{}", 2, &sla_conf_schema, &conf, NULL, err, sizeof(err)))
        fail_msg("sla defaults: %s", err);
    fmc_free(&sla_conf_schema, &conf);
    return conf.notify;
}

static notify_t *start_notifier(uv_loop_t *loop)
{
    struct sla_conf_notify cfg = notify_defaults();
    notify_t *n = NULL;

    cfg.poll_ms = 50;
    cfg.backoff_min_ms = 100;
    cfg.backoff_max_ms = 400;
    cfg.timeout_ms = 3000;
    assert_int_equal(notify_create(loop, getenv("FM_PG_DSN"), &cfg, &n), 0);
    return n;
}

/* Advances the test clock minute by minute to `minutes` after T0, ticking. */
static unsigned advance(sla_sched_t *s, int minutes)
{
    unsigned total = 0, q;
    char why[256];

    for (int m = 0; m <= minutes; m++) {
        test_now = T0 + (int64_t)m * MINUTE;
        if (sla_sched_tick(s, db, &q, why, sizeof(why)) != 0)
            fail_msg("tick: %s", why);
        total += q;
    }
    return total;
}

/* ------------------------------------------------------------ tests */

static void test_sla_smoke_alarm_ladder_notifies_roles_at_15_30_45_60(void **state)
{
    static const struct {
        const char *role, *path;
        int minute;
    } want[] = {
        {"field-engineer", "/hooks/fe", 15},
        {"emergency-team", "/hooks/et", 30},
        {"customer-manager", "/hooks/cm", 45},
        {"service-centre-manager", "/hooks/scm", 60},
    };
    struct receiver rv;
    struct contract_set set = {0};
    char log[600], why[256], sql[256];
    sla_sched_t *s;
    uv_loop_t loop;
    notify_t *n;
    json_t *lines;
    PGresult *r;

    (void)state;
    snprintf(log, sizeof(log), "%s/ladder.log", tmpdir);
    receiver_start(&rv, 0, log, 0);
    load_contract(&set, rv.port);
    s = sla_sched_create(&set, test_clock, NULL);
    test_now = T0;
    if (sla_sched_open(s, db, 101, 1, "site-a-customer", 1, 10, T0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    /* Response and remote met in time: only the ladder speaks. */
    assert_int_equal(sla_sched_met(s, 101, SLA_RESPONSE, T0 + 10 * MINUTE), 0);
    assert_int_equal(sla_sched_met(s, 101, SLA_REMOTE, T0 + 20 * MINUTE), 0);
    assert_int_equal(sla_sched_next(s), T0 + 15 * MINUTE);
    /* Minute 14: nothing yet. */
    assert_int_equal(advance(s, 14), 0);
    assert_int_equal(query_long("SELECT count(*) FROM ticket_escalations WHERE ticket_id = 101"),
                     0);
    assert_int_equal(advance(s, 70), 4);
    /* Ticking again changes nothing. */
    assert_int_equal(advance(s, 70), 0);
    r = PQexec(db, "SELECT role, extract(epoch FROM due_at)::bigint, grade, "
                   "extract(epoch FROM step_after)::int FROM ticket_escalations "
                   "WHERE ticket_id = 101 ORDER BY due_at");
    assert_int_equal(PQntuples(r), 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(PQgetvalue(r, i, 0), want[i].role);
        assert_int_equal(atoll(PQgetvalue(r, i, 1)), T0 + want[i].minute * MINUTE);
        assert_string_equal(PQgetvalue(r, i, 2), "1");
        assert_int_equal(atoi(PQgetvalue(r, i, 3)), want[i].minute * MINUTE);
    }
    PQclear(r);

    assert_int_equal(uv_loop_init(&loop), 0);
    n = start_notifier(&loop);
    run_until_delivered(&loop, n, 20000);
    destroy_and_drain(&loop, n);
    lines = receiver_log(log);
    assert_int_equal(json_array_size(lines), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *l = json_array_get(lines, i), *b = json_object_get(l, "body");
        bool found = false;

        assert_false(json_is_true(json_object_get(l, "dup")));
        assert_string_equal(json_string_value(json_object_get(b, "event")), "escalation");
        assert_int_equal(json_integer_value(json_object_get(b, "ticket_id")), 101);
        for (size_t w = 0; w < 4; w++) {
            if (strcmp(json_string_value(json_object_get(b, "role")), want[w].role) == 0) {
                assert_string_equal(json_string_value(json_object_get(l, "path")), want[w].path);
                assert_int_equal(json_integer_value(json_object_get(b, "step_after_s")),
                                 want[w].minute * MINUTE);
                found = true;
            }
        }
        assert_true(found);
        assert_string_equal(json_string_value(json_object_get(l, "key")),
                            json_string_value(json_object_get(b, "idempotency_key")));
    }
    json_decref(lines);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM notify_outbox WHERE body->>'ticket_id' = '101' "
             "AND attempts = 1 AND delivered_at IS NOT NULL");
    assert_int_equal(query_long(sql), 4);
    uv_loop_close(&loop);
    receiver_stop(&rv);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

static void test_sla_missed_deadline_is_recorded_and_notified(void **state)
{
    struct receiver rv;
    struct contract_set set = {0};
    char log[600], why[256];
    sla_sched_t *s;
    uv_loop_t loop;
    notify_t *n;
    json_t *lines;

    (void)state;
    snprintf(log, sizeof(log), "%s/breach.log", tmpdir);
    receiver_start(&rv, 0, log, 0);
    load_contract(&set, rv.port);
    s = sla_sched_create(&set, test_clock, NULL);
    test_now = T0;
    if (sla_sched_open(s, db, 201, 1, "c", 3, 80, T0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    /* Grade 3 response is 2 h: at 120 min nothing, at 121 the breach. */
    advance(s, 120);
    assert_int_equal(query_long("SELECT count(*) FROM sla_breaches WHERE ticket_id = 201"), 0);
    advance(s, 121);
    assert_int_equal(query_long("SELECT count(*) FROM sla_breaches WHERE ticket_id = 201 AND "
                                "clock = 'response' AND grade = 3 AND "
                                "deadline = to_timestamp(1795500000 + 7200)"),
                     1);
    assert_int_equal(uv_loop_init(&loop), 0);
    n = start_notifier(&loop);
    run_until_delivered(&loop, n, 20000);
    destroy_and_drain(&loop, n);
    lines = receiver_log(log);
    /* The field engineer (15 min) and the breach, both to the engaged role;
     * they are sent concurrently, so in either order. */
    assert_int_equal(json_array_size(lines), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *b = json_object_get(json_array_get(lines, i), "body");

        assert_string_equal(json_string_value(json_object_get(b, "role")), "field-engineer");
        if (strcmp(json_string_value(json_object_get(b, "event")), "breach") == 0)
            assert_string_equal(json_string_value(json_object_get(b, "clock")), "response");
        else
            assert_string_equal(json_string_value(json_object_get(b, "event")), "escalation");
    }
    json_decref(lines);
    uv_loop_close(&loop);
    receiver_stop(&rv);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

/* Receiver down: attempts fail and back off; when it comes up everything is
 * delivered once. A notifier restarted with rows pending delivers them. */
static void test_sla_webhooks_survive_receiver_down_and_restart(void **state)
{
    struct receiver rv;
    struct contract_set set = {0};
    struct notify_stats st;
    char log[600], why[256];
    int port = free_port();
    sla_sched_t *s;
    uv_loop_t loop;
    notify_t *n;
    json_t *lines;

    (void)state;
    snprintf(log, sizeof(log), "%s/down.log", tmpdir);
    load_contract(&set, port);
    s = sla_sched_create(&set, test_clock, NULL);
    test_now = T0;
    if (sla_sched_open(s, db, 301, 1, "c", 1, 10, T0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    sla_sched_met(s, 301, SLA_RESPONSE, T0);
    sla_sched_met(s, 301, SLA_REMOTE, T0);
    assert_int_equal(advance(s, 60), 4);

    assert_int_equal(uv_loop_init(&loop), 0);
    n = start_notifier(&loop);
    run_for(&loop, 1500);
    notify_get_stats(n, &st);
    assert_int_equal(st.delivered, 0);
    assert_true(st.failed >= 8); /* at least two rounds of four */
    assert_int_equal(undelivered(), 4);
    /* Backoff: attempts are spaced out, not one per poll (1500 / 50 = 30). */
    assert_true(query_long("SELECT max(attempts) FROM notify_outbox WHERE delivered_at IS NULL") <
                10);
    assert_int_equal(query_long("SELECT count(*) FROM notify_outbox WHERE delivered_at IS NULL "
                                "AND last_error LIKE '%onnect%'"),
                     4);

    receiver_start(&rv, port, log, 0);
    run_until_delivered(&loop, n, 15000);
    destroy_and_drain(&loop, n);

    /* A restarted notifier finds nothing to send again. */
    n = start_notifier(&loop);
    run_for(&loop, 500);
    destroy_and_drain(&loop, n);
    lines = receiver_log(log);
    assert_int_equal(json_array_size(lines), 4);
    json_decref(lines);

    /* Rows queued while the receiver is down and the notifier is stopped
     * are delivered after both come back. */
    receiver_stop(&rv);
    test_now = T0;
    if (sla_sched_open(s, db, 302, 1, "c", 1, 10, T0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    sla_sched_met(s, 302, SLA_RESPONSE, T0);
    sla_sched_met(s, 302, SLA_REMOTE, T0);
    assert_int_equal(advance(s, 60), 4);
    n = start_notifier(&loop);
    run_for(&loop, 300);
    destroy_and_drain(&loop, n);
    assert_int_equal(undelivered(), 4);
    receiver_start(&rv, port, log, 0);
    n = start_notifier(&loop);
    run_until_delivered(&loop, n, 15000);
    destroy_and_drain(&loop, n);

    lines = receiver_log(log);
    assert_int_equal(json_array_size(lines), 8);
    /* Every key once (the receiver was restarted, so compare keys here). */
    for (size_t i = 0; i < 8; i++) {
        const char *ki = json_string_value(json_object_get(json_array_get(lines, i), "key"));

        for (size_t j = 0; j < i; j++) {
            if (strcmp(ki, json_string_value(json_object_get(json_array_get(lines, j), "key"))) ==
                0)
                fail_msg("key %s delivered twice", ki);
        }
    }
    json_decref(lines);
    uv_loop_close(&loop);
    receiver_stop(&rv);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

static void test_sla_webhook_http_errors_are_retried(void **state)
{
    struct receiver rv;
    struct contract_set set = {0};
    char log[600], why[256];
    sla_sched_t *s;
    uv_loop_t loop;
    notify_t *n;
    json_t *lines;

    (void)state;
    snprintf(log, sizeof(log), "%s/fail.log", tmpdir);
    receiver_start(&rv, 0, log, 3);
    load_contract(&set, rv.port);
    s = sla_sched_create(&set, test_clock, NULL);
    test_now = T0;
    if (sla_sched_open(s, db, 401, 1, "c", 3, 10, T0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    sla_sched_met(s, 401, SLA_RESPONSE, T0);
    assert_int_equal(advance(s, 20), 1);
    assert_int_equal(uv_loop_init(&loop), 0);
    n = start_notifier(&loop);
    run_until_delivered(&loop, n, 15000);
    destroy_and_drain(&loop, n);
    assert_int_equal(query_long("SELECT attempts FROM notify_outbox WHERE "
                                "idem_key = 'fieldmon-esc-401-field-engineer-0'"),
                     4);
    lines = receiver_log(log);
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
    uv_loop_close(&loop);
    receiver_stop(&rv);
    sla_sched_destroy(s);
    contract_set_free(&set);
}

static void test_sla_notifier_reports_unreachable_database(void **state)
{
    struct sla_conf_notify cfg = notify_defaults();
    const char *dsn = "host=/nonexistent-socket-dir dbname=x connect_timeout=1";
    struct notify_stats st;
    uv_loop_t loop;
    notify_t *n = NULL;

    (void)state;
    /* The defaults are the table's. */
    assert_int_equal(cfg.poll_ms, 1000);
    assert_int_equal(cfg.batch, 32);
    cfg.poll_ms = 50;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(notify_create(&loop, dsn, &cfg, &n), 0);
    run_for(&loop, 400);
    notify_get_stats(n, &st);
    assert_true(st.db_errors >= 2);
    assert_int_equal(st.delivered, 0);
    destroy_and_drain(&loop, n);
    uv_loop_close(&loop);
    /* Bad settings are refused before anything starts. */
    cfg.batch = 0;
    assert_int_equal(notify_create(&loop, dsn, &cfg, &n), -EINVAL);
}

static int setup(void **state)
{
    char why[512];
    int applied;

    (void)state;
    fm_log_init("test_sla_notify", 2);
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    db = PQconnectdb(getenv("FM_PG_DSN") ? getenv("FM_PG_DSN") : "");
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(db));
        return -1;
    }
    if (migrate_apply(db, FM_SCHEMA_DIR, &applied, why, sizeof(why)) != 0) {
        fprintf(stderr, "migrate: %s\n", why);
        return -1;
    }
    exec_or_fail("SET TIME ZONE 'UTC'");
    /* The tickets the scheduler tests track: settled clocks refer to them. */
    exec_or_fail("INSERT INTO tickets (ticket_id, dedupe_key, kind, grade, title, first_seen, "
                 "last_seen, opened_by) OVERRIDING SYSTEM VALUE SELECT id, 'k' || id, 'manual', 1, "
                 "'t', now(), now(), 'test' FROM unnest(ARRAY[101, 201, 301, 302, 401]) id");
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];

    (void)state;
    PQfinish(db);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sla_smoke_alarm_ladder_notifies_roles_at_15_30_45_60),
        cmocka_unit_test(test_sla_missed_deadline_is_recorded_and_notified),
        cmocka_unit_test(test_sla_webhooks_survive_receiver_down_and_restart),
        cmocka_unit_test(test_sla_webhook_http_errors_are_retried),
        cmocka_unit_test(test_sla_notifier_reports_unreachable_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
