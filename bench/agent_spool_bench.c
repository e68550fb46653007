/* agent_spool_bench: events per second the agent's spool and sender sustain
 * to a local receiver, with the default fsync policy, and the agent's CPU
 * per million events. Run through bench/agent-spool.
 *
 * One process plays the agent: an idle handle produces measurement events
 * as fast as the pipeline takes them (at most `--window` events spooled and
 * not yet acknowledged, so the producer cannot run away from the link), and
 * the real uplink pipeline (spool on disk, sender, TLS or plain TCP) carries
 * them to fieldmon-test-receiver, a separate process that writes and
 * fdatasyncs every event before acknowledging it. The clock runs from the
 * first event to the acknowledgement of the last; the CPU figure is this
 * process's user + system time over the same span. The receiver's output
 * is counted afterwards: every sequence exactly once, or the run fails. */
#include "uplink.h"

#include "fm_log.h"

#include "../tests/unit/agent_samples.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bench {
    uv_loop_t *loop;
    uplink_t *uplink;
    uv_idle_t idle;
    uv_timer_t watch;
    uint64_t n, made, window;
    double t0, t1, cpu0, cpu1;
    int64_t deadline_ms;
    bool done, timed_out;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void finish(struct bench *b)
{
    if (b->done)
        return;
    b->done = true;
    b->t1 = now_s();
    b->cpu1 = cpu_s();
    uv_idle_stop(&b->idle);
    uv_timer_stop(&b->watch);
    uv_close((uv_handle_t *)&b->idle, NULL);
    uv_close((uv_handle_t *)&b->watch, NULL);
    uplink_stop(b->uplink, NULL, NULL);
}

static void on_idle(uv_idle_t *h)
{
    struct bench *b = h->data;
    struct sender_stats st;
    struct agent_sample s;

    sender_get_stats(uplink_sender(b->uplink), &st);
    if (st.acked_seq >= b->n) {
        finish(b);
        return;
    }
    agent_sample_init(&s, 0, 0);
    for (int i = 0; i < 2000 && b->made < b->n && b->made - st.acked_seq < b->window; i++) {
        s.m.value = (double)b->made;
        s.m.raw = (double)b->made;
        s.ev.ts_ms = 1700000000000LL + (int64_t)b->made;
        uplink_emit(b->uplink, &s.ev);
        b->made++;
    }
}

static void on_watch(uv_timer_t *t)
{
    struct bench *b = t->data;

    if (uv_now(b->loop) >= (uint64_t)b->deadline_ms) {
        b->timed_out = true;
        finish(b);
    }
}

static pid_t spawn_receiver(const char *exe, const char *dir, const char *certs)
{
    char out[512], port[512], ca[512], cert[512], key[512];
    pid_t pid;

    snprintf(out, sizeof(out), "%s/recv.out", dir);
    snprintf(port, sizeof(port), "%s/port", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", certs ? certs : "");
    snprintf(cert, sizeof(cert), "%s/collector.crt", certs ? certs : "");
    snprintf(key, sizeof(key), "%s/collector.key", certs ? certs : "");
    pid = fork();
    if (pid == 0) {
        if (certs != NULL)
            execl(exe, exe, "--out", out, "--port-file", port, "--ca", ca, "--cert", cert, "--key",
                  key, (char *)NULL);
        else
            execl(exe, exe, "--out", out, "--port-file", port, "--plain", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_port(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/port", dir);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        int port = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
            if (port > 0)
                return port;
        }
        usleep(50000);
    }
    return -1;
}

/* Lines in the receiver's output, and whether sequences ran 1..n once. */
static int check_output(const char *dir, uint64_t n)
{
    char path[512], line[512];
    uint64_t want = 1, epoch, seq;
    char agent[80];
    FILE *f;

    snprintf(path, sizeof(path), "%s/recv.out", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%79s %" SCNu64 " %" SCNu64, agent, &epoch, &seq) != 3 || seq != want) {
            fclose(f);
            fprintf(stderr, "bench: receiver output: expected seq %" PRIu64 ", got: %s", want,
                    line);
            return -1;
        }
        want++;
    }
    fclose(f);
    return want - 1 == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"receiver", required_argument, NULL, 'r'},
        {"events", required_argument, NULL, 'n'},
        {"tls", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    const char *receiver = NULL, *certs = NULL;
    struct bench b = {.n = 2000000, .window = 200000};
    int timeout_s = 120, o;
    char dir[] = "/tmp/fm-bench-spool.XXXXXX", spooldir[600], ep[64], cafile[512], certfile[512],
         keyfile[512];

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'r')
            receiver = optarg;
        else if (o == 'n')
            b.n = strtoull(optarg, NULL, 10);
        else if (o == 't')
            certs = optarg;
        else if (o == 'T')
            timeout_s = atoi(optarg);
        else
            return 2;
    }
    if (receiver == NULL || b.n == 0) {
        fprintf(stderr, "usage: agent_spool_bench --receiver PATH [--events N] [--tls CERTDIR] "
                        "[--timeout S]\n");
        return 2;
    }
    fm_log_init("agent-spool-bench", 2);
    fm_log_level = FM_LOG_WARNING;
    if (mkdtemp(dir) == NULL)
        return 1;
    pid_t rpid = spawn_receiver(receiver, dir, certs);
    int port = wait_port(dir);
    if (port < 0) {
        fprintf(stderr, "bench: the receiver did not start\n");
        kill(rpid, SIGKILL);
        return 1;
    }
    snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", port);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", certs ? certs : "");
    snprintf(certfile, sizeof(certfile), "%s/agent-bench.crt", certs ? certs : "");
    snprintf(keyfile, sizeof(keyfile), "%s/agent-bench.key", certs ? certs : "");

    /* The defaults of the configuration tables, except what a benchmark
     * must pin: a cap that never overflows, no metrics port. */
    struct uplink_cfg cfg = {
        .spool = {.dir = spooldir,
                  .max_bytes = 4ull << 30,
                  .fsync = SPOOL_FSYNC_INTERVAL,
                  .fsync_interval_ms = 1000,
                  .write_buffer = 256u << 10},
        .sender = {.transport = certs ? SENDER_TLS : SENDER_PLAIN,
                   .tls = {.ca_file = cafile, .cert_file = certfile, .key_file = keyfile},
                   .connect_timeout_ms = 5000,
                   .heartbeat_ms = 10000,
                   .dead_after_ms = 30000,
                   .backoff_min_ms = 100,
                   .backoff_max_ms = 2000,
                   .batch_events = 5000,
                   .batch_bytes = 1u << 20,
                   .window_bytes = 8u << 20},
        .status = {.interval_ms = 60000, .metrics_listen = ""},
    };
    char *eps[] = {ep};
    struct sender_identity id = {.agent_id = "agent-bench", .site_id = "bench"};
    Fm__Inventory inv = FM__INVENTORY__INIT;
    id.inventory = &inv;

    b.loop = uv_default_loop();
    if (uplink_create(b.loop, &cfg, eps, 1, &id, 0, &b.uplink) != 0)
        return 1;
    uv_idle_init(b.loop, &b.idle);
    uv_timer_init(b.loop, &b.watch);
    b.idle.data = &b;
    b.watch.data = &b;
    uplink_start(b.uplink, NULL);
    b.t0 = now_s();
    b.cpu0 = cpu_s();
    b.deadline_ms = (int64_t)uv_now(b.loop) + timeout_s * 1000;
    uv_idle_start(&b.idle, on_idle);
    uv_timer_start(&b.watch, on_watch, 200, 200);
    uv_run(b.loop, UV_RUN_DEFAULT);
    uv_loop_close(b.loop);

    kill(rpid, SIGTERM);
    waitpid(rpid, NULL, 0);
    if (b.timed_out) {
        fprintf(stderr, "bench: timed out after %d s with %" PRIu64 " events made\n", timeout_s,
                b.made);
        return 1;
    }
    if (check_output(dir, b.n) != 0) {
        fprintf(stderr, "bench: the receiver did not get every sequence exactly once\n");
        return 1;
    }
    double secs = b.t1 - b.t0, cpu = b.cpu1 - b.cpu0;
    double eps_rate = (double)b.n / secs, cpu_m = cpu / ((double)b.n / 1e6);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    printf("agent-spool: %" PRIu64 " events over %s, fsync interval 1s, %.2f s wall, %.2f s CPU\n",
           b.n, certs ? "mutual TLS" : "plain TCP", secs, cpu);
    printf("target_ratio=%.2f (events_per_s / 100000 target)\n", eps_rate / 100000.0);
    printf("events_per_s=%.0f cpu_s_per_mevent=%.2f\n", eps_rate, cpu_m);
    return 0;
}
