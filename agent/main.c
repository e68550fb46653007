/* fieldmon-agent: parses arguments, loads the configuration, wires the
 * poller, the trap receiver and an event sink together, and runs the loop.
 * Exit status: 0 ok; 1 run-time failure; 2 bad usage or configuration;
 * 3 (--once) some device did not answer. */
#include "config.h"
#include "daemon.h"
#include "mb_poll.h"
#include "sink_count.h"
#include "sink_json.h"
#include "snmp_poll.h"
#include "snmp_target.h"
#include "snmp_trap.h"

#include "fm_log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

struct opts {
    const char *config;
    const char *output;
    const char *log_level;
    bool test, once, reference;
    unsigned cycles;
};

struct run {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    snmp_poll_t *poll;
    mb_poll_t *mpoll;
    snmp_trap_t *trap;
    int pollers_running; /* with --cycles: pollers that have not finished */
    bool stopped;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: fieldmon-agent -c FILE [options]\n"
        "  -c, --config FILE          configuration file (YAML, see docs/config.md)\n"
        "  -t, --test                 check the configuration and exit\n"
        "      --once                 poll every device once, print events as JSON lines,\n"
        "                             exit 0 if all answered, 3 if some did not\n"
        "      --cycles N             poll every device N times, then exit\n"
        "      --output spool|json|count  where events go: the spool and the collectors\n"
        "                             (default when collectors are configured), JSON lines\n"
        "                             on stdout (default otherwise, and with --once), or\n"
        "                             only counted, to measure the pollers (summary on stderr)\n"
        "  -l, --log-level LEVEL      err, warning, notice, info, debug (overrides config)\n"
        "      --print-config-reference  print the configuration reference (Markdown)\n"
        "  -V, --version              print the version\n"
        "  -h, --help                 this text\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_ONCE = 256, OPT_CYCLES, OPT_OUTPUT, OPT_REF };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"cycles", required_argument, NULL, OPT_CYCLES},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"log-level", required_argument, NULL, 'l'},
        {"print-config-reference", no_argument, NULL, OPT_REF},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;

    o->output = NULL; /* decided once the configuration is loaded */
    while ((c = getopt_long(argc, argv, "c:tl:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 't':
            o->test = true;
            break;
        case OPT_ONCE:
            o->once = true;
            break;
        case OPT_CYCLES:
            o->cycles = (unsigned)strtoul(optarg, &end, 10);
            if (*end != '\0' || o->cycles == 0 || o->cycles > 100000) {
                fprintf(stderr, "fieldmon-agent: --cycles: '%s' is not 1..100000\n", optarg);
                return 2;
            }
            break;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "count") != 0 &&
                strcmp(optarg, "spool") != 0) {
                fprintf(stderr, "fieldmon-agent: --output: '%s' is not spool, json or count\n",
                        optarg);
                return 2;
            }
            o->output = optarg;
            break;
        case 'l':
            if (fm_log_parse_level(optarg) < 0) {
                fprintf(stderr, "fieldmon-agent: --log-level: unknown level '%s'\n", optarg);
                return 2;
            }
            o->log_level = optarg;
            break;
        case OPT_REF:
            o->reference = true;
            break;
        case 'V':
            printf("fieldmon-agent %s\n", FM_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldmon-agent: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->once)
        o->cycles = 1;
    if (!o->reference && o->config == NULL) {
        fprintf(stderr, "fieldmon-agent: -c FILE is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static void stop(struct run *r)
{
    if (r->stopped)
        return;
    r->stopped = true;
    uv_signal_stop(&r->sigint);
    uv_signal_stop(&r->sigterm);
    snmp_trap_set_poller(r->trap, NULL);
    snmp_poll_destroy(r->poll);
    r->poll = NULL;
    mb_poll_destroy(r->mpoll);
    r->mpoll = NULL;
    snmp_trap_destroy(r->trap);
    r->trap = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct run *r = h->data;

    FM_NOTICE("agent: signal %d: shutting down", signum);
    stop(r);
}

static struct snmp_poll_stats last_stats;
static struct mb_poll_stats last_mstats;
static size_t last_failed;
static double poll_cpu_start, poll_cpu_s;

static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void poller_done(struct run *r)
{
    if (--r->pollers_running > 0)
        return;
    poll_cpu_s = cpu_now() - poll_cpu_start;
    stop(r);
}

static void on_cycles_done(snmp_poll_t *p, void *arg)
{
    last_stats = *snmp_poll_stats(p);
    last_failed += snmp_poll_failed_devices(p);
    poller_done(arg);
}

static void on_modbus_cycles_done(mb_poll_t *p, void *arg)
{
    last_mstats = *mb_poll_stats(p);
    last_failed += mb_poll_failed_devices(p);
    poller_done(arg);
}

static void print_summary(const event_sink_t *count_sink, unsigned cycles)
{
    const struct sink_count_stats *c = count_sink ? sink_count_stats(count_sink) : NULL;
    const struct mb_poll_stats *m = &last_mstats;
    double max_cycle = last_stats.polls.max_cycle_s > m->polls.max_cycle_s
                           ? last_stats.polls.max_cycle_s
                           : m->polls.max_cycle_s;
    uint32_t rounds =
        last_stats.polls.rounds > m->polls.rounds ? last_stats.polls.rounds : m->polls.rounds;
    double sum_cycle = last_stats.polls.sum_cycle_s > m->polls.sum_cycle_s
                           ? last_stats.polls.sum_cycle_s
                           : m->polls.sum_cycle_s;

    /* poll_cpu_s: CPU of this process from the first poll to the last
     * answer, start-up (configuration, sessions) excluded. */
    fprintf(stderr,
            "summary: cycles=%u values=%llu good=%llu events=%llu polls_ok=%llu "
            "polls_failed=%llu requests=%llu toobig=%llu bulk_fallbacks=%llu overruns=%llu "
            "max_cycle_s=%.3f "
            "avg_cycle_s=%.3f poll_cpu_s=%.3f\n",
            cycles, (unsigned long long)(last_stats.values + m->values),
            (unsigned long long)(c ? c->good : 0), (unsigned long long)(c ? c->events : 0),
            (unsigned long long)(last_stats.polls.polls_ok + m->polls.polls_ok),
            (unsigned long long)(last_stats.polls.polls_failed + m->polls.polls_failed),
            (unsigned long long)(last_stats.requests + m->requests),
            (unsigned long long)last_stats.toobig, (unsigned long long)last_stats.bulk_fallbacks,
            (unsigned long long)(last_stats.overruns + m->overruns), max_cycle,
            rounds ? sum_cycle / rounds : 0.0, poll_cpu_s);
    if (m->polls.rounds > 0)
        fprintf(stderr,
                "summary: modbus polls_ok=%llu polls_failed=%llu requests=%llu registers=%llu "
                "values=%llu overruns=%llu max_cycle_s=%.3f avg_cycle_s=%.3f\n",
                (unsigned long long)m->polls.polls_ok, (unsigned long long)m->polls.polls_failed,
                (unsigned long long)m->requests, (unsigned long long)m->registers,
                (unsigned long long)m->values, (unsigned long long)m->overruns,
                m->polls.max_cycle_s, m->polls.sum_cycle_s / m->polls.rounds);
}

static int run(const struct opts *o, const struct agent_cfg *cfg)
{
    struct run r;
    event_sink_t *sink;
    bool counting = strcmp(o->output, "count") == 0;
    int rc;

    memset(&r, 0, sizeof(r));
    uv_loop_init(&r.loop);
    sink = counting ? sink_count_create() : sink_json_create(stdout);
    /* Each protocol's poller runs only if it has devices; with --cycles
     * the run ends when every poller has finished its rounds. */
    if (mb_poll_count_devices(cfg) < cfg->n_devices || cfg->n_devices == 0) {
        rc = snmp_poll_create(&r.loop, cfg, sink, o->cycles, on_cycles_done, &r, &r.poll);
        if (rc != 0)
            goto out_sink;
        r.pollers_running++;
    }
    if (mb_poll_count_devices(cfg) > 0) {
        rc = mb_poll_create(&r.loop, cfg, sink, o->cycles, on_modbus_cycles_done, &r, &r.mpoll);
        if (rc != 0) {
            snmp_poll_destroy(r.poll);
            uv_run(&r.loop, UV_RUN_DEFAULT);
            goto out_sink;
        }
        r.pollers_running++;
    }
    /* Traps are for the running daemon; --once and --cycles only poll. */
    if (cfg->trap_receiver.enabled && o->cycles == 0) {
        rc = snmp_trap_create(&r.loop, cfg, sink, &r.trap);
        if (rc != 0) {
            snmp_poll_destroy(r.poll);
            mb_poll_destroy(r.mpoll);
            uv_run(&r.loop, UV_RUN_DEFAULT);
            goto out_sink;
        }
        snmp_trap_set_poller(r.trap, r.poll);
    }
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigterm);
    r.sigint.data = &r;
    r.sigterm.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    FM_INFO("agent: %s: polling %zu devices", cfg->agent_id, cfg->n_devices);
    poll_cpu_start = cpu_now();
    if (r.poll != NULL)
        snmp_poll_start(r.poll);
    if (r.mpoll != NULL)
        mb_poll_start(r.mpoll);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&r.sigint, NULL);
    uv_close((uv_handle_t *)&r.sigterm, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    if (o->cycles > 0 && !o->once)
        print_summary(counting ? sink : NULL, o->cycles);
    rc = 0;
    if (o->once && last_failed > 0)
        rc = 3;
out_sink:
    uv_loop_close(&r.loop);
    snmp_target_shutdown();
    if (counting)
        sink_count_destroy(sink);
    else
        sink_json_destroy(sink);
    return rc < 0 ? 1 : rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct agent_cfg cfg;
    char err[1024];
    int rc;

    memset(&o, 0, sizeof(o));
    fm_log_init("fieldmon-agent", 2);
    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (o.reference) {
        config_print_reference(stdout);
        return 0;
    }
    memset(&cfg, 0, sizeof(cfg));
    if (config_load(o.config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fieldmon-agent: %s\n", err);
        return 2;
    }
    if (o.test) {
        printf("fieldmon-agent: %s: configuration OK (%zu devices, %zu profiles)\n", o.config,
               cfg.n_devices, cfg.n_profiles);
        config_free(&cfg);
        return 0;
    }
    fm_log_level = fm_log_parse_level(o.log_level ? o.log_level : cfg.log_level);
    if (o.output == NULL)
        o.output = cfg.n_collectors > 0 && o.cycles == 0 ? "spool" : "json";
    if (strcmp(o.output, "spool") == 0 && o.cycles > 0) {
        fprintf(stderr, "fieldmon-agent: --output spool runs until stopped; it does not go "
                        "with --once or --cycles\n");
        rc = 2;
    } else if (strcmp(o.output, "spool") == 0)
        rc = daemon_run(o.config, &cfg, o.log_level);
    else
        rc = run(&o, &cfg);
    config_free(&cfg);
    return rc;
}
