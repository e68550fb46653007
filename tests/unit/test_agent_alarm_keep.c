/* Unit tests for the threshold stage's state across restarts: what one run
 * raised starts raised in the next, so the first normal evaluation sends
 * the clear (alarms, comm loss) or the reachable event, and nothing is
 * raised twice; alarms of rules that left the configuration are cleared;
 * a corrupt file starts clean; saves in a storm are paced and catch up; a
 * failed save is logged once and retried at the next transition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_samples.h"
#include "alarm_sink.h"
#include "alarm_state.h"
#include "config.h"
#include "fm_log.h"
#include "poll_health.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000LL

static const char *yaml =
    "agent_id: a1\nsite: lab\n"
    "devices:\n"
    "  - {name: ups1, profile: ups, snmp: {host: 127.0.0.1},\n"
    "     comm_loss: {fail_polls: 2, fail_time: 0s, clear_polls: 2}}\n"
    "  - {name: cam1, profile: ups, snmp: {host: 127.0.0.2}}\n"
    "profiles:\n"
    "  - name: ups\n"
    "    points:\n"
    "      - {name: temp, oid: 1.3.6.1.2.1.33.1.2.7.0, unit: C,\n"
    "         alarm: {limits: [{dir: high, value: 35}], on_delay: 0s, off_delay: 0s}}\n"
    "      - {name: load, oid: 1.3.6.1.2.1.33.1.4.4.1.5, table: true, index_label: line,\n"
    "         alarm: {limits: [{dir: high, level: critical, value: 95}], on_delay: 0s,\n"
    "                 off_delay: 0s}}\n";

/* The next sink: what passed, in order, as short strings such as
 * "alarm ups1 temp high_warning raised" or "reach cam1 up". */
struct rec {
    event_sink_t sink;
    char ev[32][96];
    size_t n;
};

static void on_emit(event_sink_t *s, const Fm__Event *ev)
{
    struct rec *r = (struct rec *)s;

    assert_true(r->n < 32);
    if (ev->kind_case == FM__EVENT__KIND_ALARM)
        snprintf(r->ev[r->n++], sizeof(r->ev[0]), "alarm %s %s %s %s", ev->device,
                 ev->alarm->point[0] ? ev->alarm->point : "-", ev->alarm->code,
                 ev->alarm->state == FM__ALARM_STATE__ALARM_STATE_RAISED ? "raised" : "cleared");
    else if (ev->kind_case == FM__EVENT__KIND_REACHABILITY)
        snprintf(r->ev[r->n++], sizeof(r->ev[0]), "reach %s %s", ev->device,
                 ev->reachability->reachable ? "up" : "down");
    /* measurements are not recorded: the tests are about transitions */
}

static void measure(alarm_sink_t *as, const char *dev, const char *point, const char *line,
                    double v, int64_t ts)
{
    struct agent_sample s;

    agent_sample_point(&s, dev, point, "line", line, v, ts);
    event_sink_emit(alarm_sink_as_sink(as), &s.ev);
}

/* What a poller emits when a device crosses unreachable_after. */
static void reach(alarm_sink_t *as, const char *dev, bool up, int64_t ts)
{
    poll_emit_reachability(alarm_sink_as_sink(as), dev, ts, up, "timeout", up ? 0 : 3);
}

/* One run of the agent: a loop, a configuration, a stage keeping its state. */
struct run {
    uv_loop_t loop;
    struct agent_cfg cfg;
    struct rec r;
    alarm_sink_t *as;
};

static char dir[64], path[256];

static void run_start(struct run *x, const char *conf)
{
    char err[512];

    memset(x, 0, sizeof(*x));
    x->r.sink.emit = on_emit;
    assert_int_equal(config_load_string("agent.yaml", conf, &x->cfg, err, sizeof(err)), 0);
    uv_loop_init(&x->loop);
    x->as = alarm_sink_create(&x->loop, &x->cfg, &x->r.sink);
    alarm_sink_keep_state(x->as, path);
}

/* Runs the loop until the save that is due, if any, is done: at the end
 * of the iteration, or up to 250 ms later when the last save was that
 * recent (the handles keep the loop alive only while a save is due). */
static void iterate(struct run *x)
{
    uv_run(&x->loop, UV_RUN_DEFAULT);
}

/* SIGKILL: the next run must see only what the killed one saved while it
 * ran, not the final save of a clean stop, so the file is moved aside
 * while the stage is freed and put back afterwards. */
static void run_kill(struct run *x)
{
    char killed[300];
    bool had = false;

    snprintf(killed, sizeof(killed), "%s.killed", path);
    had = rename(path, killed) == 0;
    alarm_sink_destroy(x->as);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    config_free(&x->cfg);
    if (had)
        assert_int_equal(rename(killed, path), 0);
    else
        unlink(path);
}

static void run_stop(struct run *x)
{
    alarm_sink_destroy(x->as);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    config_free(&x->cfg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fm-alarm-keep.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, ALARM_STATE_FILE);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static size_t saved_records(void)
{
    struct alarm_state st;
    char why[256];
    size_t n;

    alarm_state_init(&st);
    assert_int_equal(alarm_state_load(path, &st, why, sizeof(why)), 0);
    n = st.n;
    alarm_state_clear(&st);
    return n;
}

static void test_alarm_keep_restart_sends_the_clears_of_what_recovered_meanwhile(void **state)
{
    (void)state;
    struct run a, b;

    unlink(path);
    /* First run: a high temperature, a table row over its limit, comm loss
     * of ups1 and cam1 unreachable. */
    run_start(&a, yaml);
    measure(a.as, "ups1", "temp", NULL, 36, T0);
    measure(a.as, "ups1", "load", "2", 99, T0);
    alarm_sink_poll_result(a.as, "ups1", false, T0 + 1, "timeout");
    alarm_sink_poll_result(a.as, "ups1", false, T0 + 2, "timeout");
    reach(a.as, "cam1", false, T0 + 3);
    assert_int_equal(a.r.n, 4);
    assert_string_equal(a.r.ev[3], "reach cam1 down");
    iterate(&a); /* the end of the iteration saves */
    assert_int_equal(saved_records(), 4);
    run_kill(&a);

    /* Second run, after everything recovered while the agent was down. */
    run_start(&b, yaml);
    assert_int_equal(b.r.n, 0); /* restored without a word */
    /* Still abnormal: no second raise. */
    measure(b.as, "ups1", "temp", NULL, 36.5, T0 + 100);
    measure(b.as, "ups1", "load", "2", 99, T0 + 100);
    reach(b.as, "cam1", false, T0 + 100); /* the new poller's first report */
    alarm_sink_poll_result(b.as, "ups1", false, T0 + 100, "timeout");
    assert_int_equal(b.r.n, 0);
    /* Normal again: each clear once, through the usual rules. */
    measure(b.as, "ups1", "temp", NULL, 30, T0 + 200);
    assert_int_equal(b.r.n, 1);
    assert_string_equal(b.r.ev[0], "alarm ups1 temp high_warning cleared");
    measure(b.as, "ups1", "load", "1", 10, T0 + 200); /* another row: never raised */
    measure(b.as, "ups1", "load", "2", 10, T0 + 200);
    assert_int_equal(b.r.n, 2);
    assert_string_equal(b.r.ev[1], "alarm ups1 load high_critical cleared");
    /* cam1 answers a poller that never saw it fail: reachable, once. */
    alarm_sink_poll_result(b.as, "cam1", true, T0 + 200, "");
    assert_int_equal(b.r.n, 3);
    assert_string_equal(b.r.ev[2], "reach cam1 up");
    alarm_sink_poll_result(b.as, "cam1", true, T0 + 300, "");
    assert_int_equal(b.r.n, 3);
    /* ups1's comm loss clears after clear_polls (2) good polls. */
    alarm_sink_poll_result(b.as, "ups1", true, T0 + 200, "");
    assert_int_equal(b.r.n, 3);
    alarm_sink_poll_result(b.as, "ups1", true, T0 + 300, "");
    assert_int_equal(b.r.n, 4);
    assert_string_equal(b.r.ev[3], "alarm ups1 - comm_loss cleared");
    iterate(&b);
    assert_int_equal(saved_records(), 0);
    run_stop(&b);
}

static void test_alarm_keep_reload_keeps_unreachable_devices(void **state)
{
    (void)state;
    struct run a;
    struct agent_cfg cfg2;
    char err[512];

    unlink(path);
    run_start(&a, yaml);
    reach(a.as, "cam1", false, T0);
    /* SIGHUP: the pollers are built again and know nothing of cam1. */
    memset(&cfg2, 0, sizeof(cfg2));
    assert_int_equal(config_load_string("agent.yaml", yaml, &cfg2, err, sizeof(err)), 0);
    alarm_sink_reload(a.as, &cfg2);
    reach(a.as, "cam1", false, T0 + 10); /* the new poller's report: already said */
    alarm_sink_poll_result(a.as, "cam1", true, T0 + 20, "");
    assert_int_equal(a.r.n, 2);
    assert_string_equal(a.r.ev[0], "reach cam1 down");
    assert_string_equal(a.r.ev[1], "reach cam1 up");
    run_stop(&a);
    config_free(&cfg2);
}

static void test_alarm_keep_clears_saved_alarms_no_longer_configured(void **state)
{
    (void)state;
    struct run b;

    write_file("{\"format\": \"fieldmon-agent alarm state\", \"version\": 1,\n"
               " \"unreachable\": [{\"device\":\"gone\",\"since_ms\":1,\"fails\":3}],\n"
               " \"comm_loss\": [{\"device\":\"gone\",\"since_ms\":1,\"fails\":3}],\n"
               " \"alarms\": [\n"
               "  {\"device\":\"ups1\",\"point\":\"temp\",\"labels\":[],\"code\":"
               "\"high_critical\",\"level\":\"ALARM_LEVEL_CRITICAL\",\"limit\":40,"
               "\"since_ms\":1},\n"
               "  {\"device\":\"ups1\",\"point\":\"nope\",\"labels\":[],\"code\":"
               "\"high_warning\",\"level\":\"ALARM_LEVEL_WARNING\",\"limit\":40,"
               "\"since_ms\":1},\n"
               "  {\"device\":\"gone\",\"point\":\"temp\",\"labels\":[],\"code\":"
               "\"high_warning\",\"level\":\"ALARM_LEVEL_WARNING\",\"limit\":40,"
               "\"since_ms\":1},\n"
               "  {\"device\":\"ups1\",\"point\":\"temp\",\"labels\":[],\"code\":"
               "\"high_warning\",\"level\":\"ALARM_LEVEL_WARNING\",\"limit\":35,"
               "\"since_ms\":1}]}\n");
    run_start(&b, yaml);
    /* The rule, the point and the device that left: cleared, as a reload
     * clears them. The device states of "gone" are dropped silently. */
    assert_int_equal(b.r.n, 3);
    assert_string_equal(b.r.ev[0], "alarm ups1 temp high_critical cleared");
    assert_string_equal(b.r.ev[1], "alarm ups1 nope high_warning cleared");
    assert_string_equal(b.r.ev[2], "alarm gone temp high_warning cleared");
    iterate(&b);
    assert_int_equal(saved_records(), 1); /* ups1 temp high_warning, still raised */
    measure(b.as, "ups1", "temp", NULL, 20, T0);
    assert_string_equal(b.r.ev[3], "alarm ups1 temp high_warning cleared");
    run_stop(&b);
    assert_int_equal(saved_records(), 0); /* the final save at a clean stop */
}

static void test_alarm_keep_corrupt_file_starts_clean(void **state)
{
    (void)state;
    struct run b;

    write_file("{\"format\": \"fieldmon-agent alarm state\", \"version\": 1,\n \"unreach");
    run_start(&b, yaml);
    assert_int_equal(b.r.n, 0);
    measure(b.as, "ups1", "temp", NULL, 36, T0); /* started clean: raised anew */
    assert_int_equal(b.r.n, 1);
    assert_string_equal(b.r.ev[0], "alarm ups1 temp high_warning raised");
    iterate(&b);
    assert_int_equal(saved_records(), 1); /* the file is good again */
    run_stop(&b);
}

/* A storm: transitions in iteration after iteration. The first four are
 * saved at the end of their iteration; then saves are paced (one per
 * 250 ms), and the state catches up with a later save, never lost. */
static void test_alarm_keep_storm_saves_are_paced_and_catch_up(void **state)
{
    (void)state;
    struct run b;
    static const char *const devs[] = {"ups1", "cam1"};
    uint64_t t0;

    unlink(path);
    run_start(&b, yaml);
    t0 = uv_hrtime();
    for (size_t i = 0; i < 4; i++) {
        measure(b.as, devs[i % 2], "load", i < 2 ? "1" : "2", 99, T0);
        uv_run(&b.loop, UV_RUN_NOWAIT);
        assert_int_equal(saved_records(), i + 1);
    }
    measure(b.as, "ups1", "temp", NULL, 40, T0);
    uv_run(&b.loop, UV_RUN_NOWAIT);
    /* Unless this machine stalled for most of the pace just now, the fifth
     * save waits for its turn. */
    if (uv_hrtime() - t0 < 200 * 1000000ull) {
        assert_int_equal(saved_records(), 4);
        assert_true(uv_loop_alive(&b.loop));
    }
    iterate(&b);
    assert_int_equal(saved_records(), 5);
    assert_false(uv_loop_alive(&b.loop));
    run_stop(&b);
}

/* The log, read back from a temporary file. */
static int log_fd = -1;

static size_t log_count(const char *needle)
{
    char buf[8192];
    ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
    size_t c = 0;

    assert_true(n >= 0);
    buf[n] = '\0';
    for (char *p = buf; (p = strstr(p, needle)) != NULL; p++)
        c++;
    return c;
}

static void test_alarm_keep_failed_save_is_logged_once_and_retried(void **state)
{
    (void)state;
    struct run b;
    char sub[128], logp[128];
    char *saved = strdup(path);

    snprintf(logp, sizeof(logp), "%s/log", dir);
    log_fd = open(logp, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(log_fd >= 0);
    fm_log_init("test", log_fd);
    /* The state directory does not exist yet: every save fails. */
    snprintf(sub, sizeof(sub), "%s/later", dir);
    snprintf(path, sizeof(path), "%s/%s", sub, ALARM_STATE_FILE);
    run_start(&b, yaml);
    measure(b.as, "ups1", "temp", NULL, 36, T0);
    iterate(&b);
    measure(b.as, "ups1", "load", "1", 99, T0);
    iterate(&b);
    iterate(&b); /* no transition: no retry */
    assert_int_equal(log_count("cannot save the alarm state (open failed): No such file"), 1);
    assert_non_null(strstr(path, "later/alarms.state"));
    assert_int_equal(log_count(path), 2); /* "no saved state" and the one error */
    /* The directory appears; the next transition saves both alarms. */
    assert_int_equal(mkdir(sub, 0700), 0);
    iterate(&b);
    assert_int_equal(access(path, F_OK), -1);
    measure(b.as, "cam1", "temp", NULL, 40, T0);
    iterate(&b);
    assert_int_equal(saved_records(), 3);
    assert_int_equal(log_count("alarm state saved again"), 1);
    run_stop(&b);
    fm_log_init("test", 2);
    close(log_fd);
    snprintf(path, sizeof(path), "%s", saved);
    free(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarm_keep_restart_sends_the_clears_of_what_recovered_meanwhile),
        cmocka_unit_test(test_alarm_keep_reload_keeps_unreachable_devices),
        cmocka_unit_test(test_alarm_keep_clears_saved_alarms_no_longer_configured),
        cmocka_unit_test(test_alarm_keep_corrupt_file_starts_clean),
        cmocka_unit_test(test_alarm_keep_storm_saves_are_paced_and_catch_up),
        cmocka_unit_test(test_alarm_keep_failed_save_is_logged_once_and_retried),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
