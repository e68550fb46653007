/* fieldmon-collector: parses arguments, loads the configuration, wires the
 * modules together and runs the loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "collconf.h"
#include "contract.h"
#include "dbs.h"
#include "faults.h"
#include "fm_log.h"
#include "fm_tls.h"
#include "metrics.h"
#include "metrics_http.h"
#include "migrate.h"
#include "pg.h"
#include "reload.h"
#include "server.h"
#include "sla_run.h"

#define DEFAULT_CONFIG "/etc/fieldmon/collector.yaml"
#define SHUTDOWN_GRACE_MS 10000

static const char usage[] =
    "usage: fieldmon-collector [-c FILE] [-t | --migrate]\n"
    "       fieldmon-collector --version | --print-config-reference\n"
    "  -c FILE                   configuration (default " DEFAULT_CONFIG ")\n"
    "  -t                        check the configuration (and TLS files) and exit\n"
    "  --migrate                 apply the schema migrations to PostgreSQL and exit\n"
    "  --version                 print the version and the schema version it needs\n"
    "  --print-config-reference  print every configuration key as Markdown\n";

struct app {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    const char *path;
    struct collconf *cfg;
    server_t *server;
    metrics_server_t *metrics;
    sla_run_t *sla;
    int stopping;
};

/* The TLS context of listen (transport tls): fm_tls_ctx_create's contract. */
static int listen_tls(const struct collconf *cfg, fm_tls_ctx_t **out, char *why, size_t whylen)
{
    const struct fm_tls_cfg tc = {
        .ca_file = cfg->listen.ca,
        .cert_file = cfg->listen.cert,
        .key_file = cfg->listen.key,
    };

    return fm_tls_ctx_create(&tc, FM_TLS_SERVER, out, why, whylen);
}

static const char *schema_dir(const struct collconf *cfg)
{
    return cfg->schema_dir ? cfg->schema_dir : FM_SCHEMA_DIR;
}

/* PostgreSQL's notices ("relation ... already exists, skipping") are noise
 * for an idempotent migration. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int run_migrate(const struct collconf *cfg)
{
    char why[1024];
    PGconn *pg = pg_connect(cfg->database.dsn, DBS_APP, why, sizeof(why));
    int applied = 0, rc = 1;

    if (pg == NULL) {
        fprintf(stderr, "fieldmon-collector: migrate: connect: %s\n", why);
        return 1;
    }
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    if (migrate_apply(pg, schema_dir(cfg), &applied, why, sizeof(why)) != 0) {
        fprintf(stderr, "fieldmon-collector: migrate: %s\n", why);
        goto out;
    }
    printf("fieldmon-collector: schema at version %d (%d migration(s) applied from %s)\n",
           pg_schema_version(pg, why, sizeof(why)), applied, schema_dir(cfg));
    rc = 0;
out:
    PQfinish(pg);
    return rc;
}

/* Refuses a database whose schema is older than this collector needs. An
 * unreachable PostgreSQL is not fatal: the writers keep trying. */
static int check_schema(const struct collconf *cfg, const char *collector_id)
{
    struct dbs db;
    int rc;

    dbs_init(&db, collector_id);
    rc = dbs_connect(&db, cfg->database.dsn);
    if (rc == -EPROTO)
        FM_ERR("db: %s", db.why);
    else if (rc != 0)
        FM_WARN("db: %s; starting anyway, agents are not read until it is reachable", db.why);
    dbs_close(&db);
    return rc == -EPROTO ? rc : 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct app *a = sig->data;

    if (a->stopping)
        return;
    a->stopping = 1;
    FM_NOTICE("collector: %s: shutting down", strsignal(signum));
    server_stop(a->server, SHUTDOWN_GRACE_MS);
    metrics_server_stop(a->metrics);
    sla_run_stop(a->sla);
    uv_close((uv_handle_t *)&a->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&a->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&a->sighup, on_handle_closed);
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    struct app *a = sig->data;
    const struct reload_target t = {
        .loop = &a->loop,
        .path = a->path,
        .cfg = a->cfg,
        .faults = server_faults(a->server),
        .sla = &a->sla,
    };

    (void)signum;
    if (!a->stopping)
        reload_apply(&t);
}

static int run(const char *path, struct collconf *cfg, const char *collector_id)
{
    struct app a = {.path = path, .cfg = cfg};
    fm_tls_ctx_t *tls = NULL;
    unsigned port, mport;
    char why[512];
    int rc = 1;

    if (check_schema(cfg, collector_id) != 0)
        return 1;
    if (cfg->listen.transport == COLLCONF_TLS) {
        if (listen_tls(cfg, &tls, why, sizeof(why)) < 0) {
            FM_ERR("listen: %s", why);
            return 1;
        }
    }
    uv_loop_init(&a.loop);
    a.server = server_create(&a.loop, cfg, tls, collector_id);
    if (a.server == NULL)
        goto out_run; /* the loop runs the close callbacks */
    if (server_listen(a.server, &port) != 0) {
        server_stop(a.server, 0);
        goto out_run;
    }
    if (cfg->metrics.enabled) {
        a.metrics = metrics_server_start(&a.loop, cfg->metrics.address, (unsigned)cfg->metrics.port,
                                         &mport);
        if (a.metrics == NULL) {
            server_stop(a.server, 0);
            goto out_run;
        }
    }
    if (cfg->sla.contracts != NULL &&
        sla_run_start(&a.loop, &cfg->sla, cfg->database.dsn, &a.sla, why, sizeof(why)) != 0) {
        FM_ERR("sla: %s", why);
        server_stop(a.server, 0);
        metrics_server_stop(a.metrics);
        goto out_run;
    }
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sighup);
    a.sigint.data = a.sigterm.data = a.sighup.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sighup, on_sighup, SIGHUP);
    FM_NOTICE("collector: %s version %s running", collector_id, FM_VERSION);
    rc = 0;
out_run:
    uv_run(&a.loop, UV_RUN_DEFAULT);
    server_destroy(a.server);
    if (uv_loop_close(&a.loop) == UV_EBUSY)
        FM_WARN("collector: handles left open at exit");
    fm_tls_ctx_destroy(tls);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_VERSION = 256, OPT_MIGRATE, OPT_REFERENCE };
    static const struct option opts[] = {
        {"version", no_argument, NULL, OPT_VERSION},
        {"migrate", no_argument, NULL, OPT_MIGRATE},
        {"print-config-reference", no_argument, NULL, OPT_REFERENCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG;
    int check = 0, migrate = 0, opt, rc;
    struct collconf cfg = {0};
    char err[1024], host[256] = "collector";

    fm_log_init("fieldmon-collector", 2);
    while ((opt = getopt_long(argc, argv, "c:th", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check = 1;
            break;
        case OPT_MIGRATE:
            migrate = 1;
            break;
        case OPT_VERSION:
            printf("fieldmon-collector %s (database schema version %d)\n", FM_VERSION,
                   DBS_SCHEMA_VERSION);
            return 0;
        case OPT_REFERENCE:
            fmc_print_reference(&collconf_schema, stdout, "fieldmon-collector configuration");
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldmon-collector: unexpected argument %s\n%s", argv[optind], usage);
        return 2;
    }
    if ((rc = collconf_load(path, &cfg, err, sizeof(err))) != 0) {
        fprintf(stderr, "fieldmon-collector: %s\n", err);
        return 1;
    }
    fm_log_level = fm_log_parse_level(cfg.log_level);
    if (check) {
        rc = 0;
        if (cfg.listen.transport == COLLCONF_TLS) {
            fm_tls_ctx_t *t;
            if (listen_tls(&cfg, &t, err, sizeof(err)) < 0) {
                fprintf(stderr, "fieldmon-collector: %s: listen: %s\n", path, err);
                rc = 1;
            }
            fm_tls_ctx_destroy(t);
        }
        if (rc == 0 && cfg.sla.contracts != NULL) {
            struct contract_set set = {0};

            if (contract_set_load_file(cfg.sla.contracts, &set, err, sizeof(err)) != 0) {
                fprintf(stderr, "fieldmon-collector: %s: sla.contracts: %s\n", path, err);
                rc = 1;
            }
            contract_set_free(&set);
        }
        if (rc == 0 && cfg.faults.enabled) {
            struct rules_conf rules = {0};

            if (faults_load_rules(&cfg, &rules, err, sizeof(err)) != 0) {
                fprintf(stderr, "fieldmon-collector: %s: faults: %s\n", path, err);
                rc = 1;
            }
            rules_free(&rules);
        }
        if (rc == 0)
            printf("fieldmon-collector: %s: configuration ok\n", path);
        collconf_free(&cfg);
        return rc;
    }
    if (migrate) {
        rc = run_migrate(&cfg);
        collconf_free(&cfg);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    gethostname(host, sizeof(host) - 1);
    rc = run(path, &cfg, cfg.collector_id ? cfg.collector_id : host);
    collconf_free(&cfg);
    return rc;
}
