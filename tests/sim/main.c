/* fieldmon-sim: the device fleet simulator. main only parses arguments,
 * loads the fleet, wires the modules and runs the loop. */
#include "ctl.h"
#include "fleet.h"
#include "fm_log.h"
#include "generate.h"
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FM_SIM_DATA_DIR
#define FM_SIM_DATA_DIR "tests/sim/data"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fieldmon-sim [options] FLEET.yaml\n"
            "       fieldmon-sim ctl [--control PATH] COMMAND [ARGS...]   (ctl help: commands)\n"
            "       fieldmon-sim --generate N_SNMP N_MODBUS [--data-dir DIR] [-o FILE]\n"
            "                    [--snmp-templates A,B] [--modbus-templates C,D] "
            "[--per-site N]\n"
            "options:\n"
            "  -p, --ports-file FILE  write the bound ports there once serving\n"
            "  -s, --control PATH     control socket (default %s)\n"
            "  -d, --duration SECS    exit after SECS seconds (default: run until a signal)\n"
            "  -l, --log-level LEVEL  err, warning, notice (default), info, debug\n"
            "  -t, --check            check the fleet file and exit (0 ok, 1 error)\n"
            "      --reference        print the fleet file key reference (Markdown)\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this text\n",
            ctl_default_path());
}

struct runtime {
    struct sim *sim;
    uv_signal_t sigint, sigterm;
    uv_timer_t duration;
};

static void shutdown_all(struct runtime *rt)
{
    if (uv_is_closing((uv_handle_t *)&rt->sigint))
        return;
    FM_NOTICE("sim: stopping");
    sim_stop(rt->sim);
    ctl_stop(rt->sim);
    uv_close((uv_handle_t *)&rt->sigint, NULL);
    uv_close((uv_handle_t *)&rt->sigterm, NULL);
    uv_close((uv_handle_t *)&rt->duration, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    shutdown_all(h->data);
}

static void on_duration(uv_timer_t *t)
{
    shutdown_all(t->data);
}

static int run_generate(int argc, char **argv)
{
    struct generate_opts o = {.data_dir = FM_SIM_DATA_DIR};
    const char *outpath = NULL;
    char err[256];
    FILE *out = stdout;
    int rc;

    if (argc < 4) {
        usage(stderr);
        return 2;
    }
    o.n_snmp = (unsigned)strtoul(argv[2], NULL, 10);
    o.n_modbus = (unsigned)strtoul(argv[3], NULL, 10);
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL) {
            fprintf(stderr, "fieldmon-sim: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--data-dir") == 0)
            o.data_dir = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            outpath = v;
        else if (strcmp(a, "--snmp-templates") == 0)
            o.snmp_use = v;
        else if (strcmp(a, "--modbus-templates") == 0)
            o.modbus_use = v;
        else if (strcmp(a, "--per-site") == 0)
            o.per_site = (unsigned)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "fieldmon-sim: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (o.n_snmp + o.n_modbus == 0 || o.n_snmp > 60000 || o.n_modbus > 60000) {
        fprintf(stderr, "fieldmon-sim: --generate wants 1..60000 devices in all\n");
        return 2;
    }
    if (outpath != NULL && (out = fopen(outpath, "w")) == NULL) {
        fprintf(stderr, "fieldmon-sim: %s: %s\n", outpath, strerror(errno));
        return 1;
    }
    rc = generate_fleet(out, &o, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "fieldmon-sim: --generate: %s\n", err);
    if (out != stdout && fclose(out) != 0)
        rc = -errno;
    return rc == 0 ? 0 : 1;
}

static int run_ctl(int argc, char **argv)
{
    const char *path = ctl_default_path();
    int i = 2;

    if (i + 1 < argc && (strcmp(argv[i], "--control") == 0 || strcmp(argv[i], "-s") == 0)) {
        path = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: fieldmon-sim ctl [--control PATH] COMMAND [ARGS...]\n");
        return 2;
    }
    return ctl_client(path, argc - i, argv + i);
}

static int serve(const char *fleet, const char *ports, const char *control, long duration,
                 bool check)
{
    struct sim s;
    struct runtime rt = {.sim = &s};
    char err[1024];
    int rc;

    memset(&s, 0, sizeof(s));
    s.loop = uv_default_loop();
    rc = fleet_load(&s, fleet, err, sizeof(err));
    if (rc != 0) {
        FM_ERR("sim: %s", err);
        goto out;
    }
    if (check) {
        printf("%s: ok (%zu devices)\n", fleet, s.n_devs);
        goto out;
    }
    rc = sim_start(&s, err, sizeof(err));
    if (rc == 0)
        rc = ctl_start(&s, control, err, sizeof(err));
    if (rc == 0 && ports != NULL)
        rc = sim_write_ports(&s, ports, err, sizeof(err));
    uv_signal_init(s.loop, &rt.sigint);
    uv_signal_init(s.loop, &rt.sigterm);
    uv_timer_init(s.loop, &rt.duration);
    rt.sigint.data = rt.sigterm.data = rt.duration.data = &rt;
    if (rc != 0) {
        FM_ERR("sim: %s", err);
        shutdown_all(&rt);
    } else {
        uv_signal_start(&rt.sigint, on_signal, SIGINT);
        uv_signal_start(&rt.sigterm, on_signal, SIGTERM);
        if (duration > 0)
            uv_timer_start(&rt.duration, on_duration, (uint64_t)duration * 1000, 0);
        FM_NOTICE("sim: serving %zu devices from %s (control %s)", s.n_devs, fleet, control);
    }
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
out:
    sim_free(&s);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ports-file", required_argument, NULL, 'p'},
        {"control", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"check", no_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"reference", no_argument, NULL, 'R'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *fleet = NULL, *ports = NULL, *control = ctl_default_path();
    long duration = 0;
    bool check = false;
    int c;

    fm_log_init("fieldmon-sim", 2);
    fm_log_level = FM_LOG_NOTICE;
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return run_ctl(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "--generate") == 0)
        return run_generate(argc, argv);
    while ((c = getopt_long(argc, argv, "p:s:d:l:tc:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            ports = optarg;
            break;
        case 's':
            control = optarg;
            break;
        case 'd':
            duration = strtol(optarg, NULL, 10);
            break;
        case 'l':
            /* Parsed first: an _Atomic assignment is no operand for clang's "<". */
            if (fm_log_parse_level(optarg) < 0) {
                fprintf(stderr, "fieldmon-sim: unknown log level '%s'\n", optarg);
                return 2;
            }
            fm_log_level = fm_log_parse_level(optarg);
            break;
        case 't':
            check = true;
            break;
        case 'c':
            fleet = optarg;
            break;
        case 'R':
            fleet_print_reference(stdout);
            return 0;
        case 'V':
            printf("fieldmon-sim %s\n", FM_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (fleet == NULL && optind < argc)
        fleet = argv[optind++];
    if (fleet == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    return serve(fleet, ports, control, duration, check);
}
