/* agent_state_bench: what keeping the alarm state (alarms.state) costs the
 * agent's loop.
 *
 * usage: agent_state_bench [DIR]   (default: a new directory under /var/tmp;
 *                                   give the spool's file system to measure it)
 *
 * 1. alarm_state_save alone, for 10, 1,000 and 10,000 raised alarms: the
 *    rewrite of the file (temporary file, write, fdatasync, rename, fsync of
 *    the directory); median of 31 saves.
 * 2. The threshold stage of a large gateway: 1,000 devices of 25 points
 *    (25,000 points with state), 100 alarms raised; one point's alarm
 *    toggles and the loop runs one iteration, which saves the state (collect
 *    from memory + rewrite): median of 31 iterations, against the same
 *    iteration with the state not kept.
 *
 * Last line: save_ms_10=N save_ms_1000=N save_ms_10000=N bytes_per_alarm=N
 *            iteration_ms_kept=N iteration_ms_not_kept=N */
#include "alarm_sink.h"
#include "alarm_state.h"
#include "config.h"

#include "fm_log.h"

#include "../tests/unit/agent_samples.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUNS 31
#define DEVICES 1000
#define POINTS 25
#define T0 1700000000000LL

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof(*v), cmp);
    return v[RUNS / 2];
}

static double bench_save(const char *path, size_t n, double *bytes_per)
{
    struct alarm_state st;
    Fm__Label l = FM__LABEL__INIT;
    Fm__Label *lp[1] = {&l};
    double t[RUNS];
    const char *step;
    struct stat sb;
    char dev[32];

    alarm_state_init(&st);
    l.key = "ifIndex";
    for (size_t i = 0; i < n; i++) {
        snprintf(dev, sizeof(dev), "cam-%05zu", i);
        l.value = "12";
        struct alarm_state_rec *r =
            alarm_state_add(&st, ALARM_STATE_RULE, dev, "ifInErrorsRate", lp, 1, "high_warning");
        r->level = FM__ALARM_LEVEL__ALARM_LEVEL_WARNING;
        r->limit = 30.5;
        r->since_ms = T0 + (int64_t)i;
    }
    for (int k = 0; k < RUNS; k++) {
        double t0 = now_ms();
        int rc = alarm_state_save(path, &st, &step);

        t[k] = now_ms() - t0;
        if (rc != 0) {
            fprintf(stderr, "save: %s: %s\n", step, strerror(-rc));
            exit(1);
        }
    }
    stat(path, &sb);
    *bytes_per = n ? (double)sb.st_size / (double)n : 0;
    alarm_state_clear(&st);
    return median(t);
}

/* The next sink: drops everything. */
static void on_emit(event_sink_t *s, const Fm__Event *ev)
{
    (void)s;
    (void)ev;
}

static void measure(alarm_sink_t *as, const char *dev, const char *point, double v, int64_t ts)
{
    struct agent_sample s;

    agent_sample_point(&s, dev, point, NULL, NULL, v, ts);
    event_sink_emit(alarm_sink_as_sink(as), &s.ev);
}

static void on_never(uv_timer_t *t)
{
    (void)t;
}

static char *gateway_yaml(void)
{
    size_t cap = 4u << 20, n = 0;
    char *y = malloc(cap);

    n += (size_t)snprintf(y + n, cap - n, "agent_id: a\nsite: s\ndevices:\n");
    for (int d = 0; d < DEVICES; d++)
        n += (size_t)snprintf(y + n, cap - n, "  - {name: dev-%04d, profile: p, snmp: {host: h}}\n",
                              d);
    n += (size_t)snprintf(y + n, cap - n, "profiles:\n  - name: p\n    points:\n");
    for (int p = 0; p < POINTS; p++)
        n += (size_t)snprintf(y + n, cap - n,
                              "      - {name: pt%02d, oid: 1.3.6.1.4.1.99999.%d.0, alarm: "
                              "{limits: [{dir: high, value: 50}], on_delay: 0s, off_delay: 0s}}\n",
                              p, p + 1);
    return y;
}

static double bench_iteration(const char *path, bool keep)
{
    struct agent_cfg cfg;
    event_sink_t next = {.emit = on_emit};
    uv_loop_t loop;
    uv_timer_t alive;
    double t[RUNS];
    char err[512], dev[32], pt[16];
    char *yaml = gateway_yaml();

    memset(&cfg, 0, sizeof(cfg));
    if (config_load_string("gw.yaml", yaml, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    free(yaml);
    uv_loop_init(&loop);
    uv_timer_init(&loop, &alive); /* keeps the loop alive for UV_RUN_NOWAIT */
    uv_timer_start(&alive, on_never, 3600000, 0);
    alarm_sink_t *as = alarm_sink_create(&loop, &cfg, &next);
    if (keep) {
        unlink(path);
        alarm_sink_keep_state(as, path);
    }
    for (int d = 0; d < DEVICES; d++) {
        snprintf(dev, sizeof(dev), "dev-%04d", d);
        for (int p = 0; p < POINTS; p++) {
            snprintf(pt, sizeof(pt), "pt%02d", p);
            measure(as, dev, pt, d % 10 == 0 && p == 0 ? 60 : 20, T0); /* 100 raised */
        }
    }
    uv_run(&loop, UV_RUN_NOWAIT); /* the first save */
    for (int k = 0; k < RUNS; k++) {
        /* Past a burst of 4, saves are paced at one per 250 ms: wait
         * that out, so each iteration saves at its end as a rare
         * transition does. */
        usleep(260000);
        uv_update_time(&loop);
        double t0 = now_ms();

        measure(as, "dev-0001", "pt01", k % 2 ? 20 : 60, T0 + 1 + k); /* a transition */
        uv_run(&loop, UV_RUN_NOWAIT);
        t[k] = now_ms() - t0;
    }
    alarm_sink_destroy(as);
    uv_close((uv_handle_t *)&alive, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    config_free(&cfg);
    return median(t);
}

int main(int argc, char **argv)
{
    char dir[256], path[512];
    double bpa, s10, s1k, s10k, it_keep, it_none;

    fm_log_level = FM_LOG_WARNING;
    if (argc > 1) {
        snprintf(dir, sizeof(dir), "%s", argv[1]);
    } else {
        snprintf(dir, sizeof(dir), "/var/tmp/fm-state-bench.XXXXXX");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", dir, ALARM_STATE_FILE);
    s10 = bench_save(path, 10, &bpa);
    s1k = bench_save(path, 1000, &bpa);
    s10k = bench_save(path, 10000, &bpa);
    printf("save of 10 / 1,000 / 10,000 alarms: %.3f / %.3f / %.3f ms (median of %d), %.0f "
           "bytes per alarm\n",
           s10, s1k, s10k, RUNS, bpa);
    it_keep = bench_iteration(path, true);
    it_none = bench_iteration(path, false);
    printf("loop iteration with one transition, %d points with state, 100 raised: %.3f ms with "
           "the state kept, %.3f ms without\n",
           DEVICES * POINTS, it_keep, it_none);
    unlink(path);
    if (argc <= 1)
        rmdir(dir);
    printf("save_ms_10=%.3f save_ms_1000=%.3f save_ms_10000=%.3f bytes_per_alarm=%.0f "
           "iteration_ms_kept=%.3f iteration_ms_not_kept=%.3f\n",
           s10, s1k, s10k, bpa, it_keep, it_none);
    return 0;
}
