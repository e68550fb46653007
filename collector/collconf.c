/* collconf: see collconf.h. */
#include "collconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fm_log.h"

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)

static const char *const transport_names[] = {"tls", "plain", NULL};

static int check_log_level(const void *value, char *why, size_t whylen)
{
    const char *s = *(char *const *)value;

    if (s != NULL && fm_log_parse_level(s) < 0) {
        snprintf(why, whylen, "\"%s\" is not one of err, warning, notice, info, debug", s);
        return -EINVAL;
    }
    return 0;
}

#define F(st, k, t, m) .key = k, .type = t, .offset = offsetof(st, m)

static const struct fmc_field listen_fields[] = {
    {F(struct collconf_listen, "address", FMC_STR, address), .def = "0.0.0.0",
     .doc = "address agents connect to (IPv4 or IPv6 literal)"},
    {F(struct collconf_listen, "port", FMC_UINT, port), .def = "7300", .min = 0, .max = 65535,
     .doc = "TCP port; 0 picks a free port and logs it"},
    {F(struct collconf_listen, "transport", FMC_ENUM, transport), .def = "tls",
     .enum_names = transport_names,
     .doc = "tls (mutual authentication) or plain (unencrypted, trusted networks only)"},
    {F(struct collconf_listen, "cert", FMC_STR, cert),
     .doc = "PEM file: the collector's certificate (chain); required with tls"},
    {F(struct collconf_listen, "key", FMC_STR, key), .doc = "PEM file: its private key"},
    {F(struct collconf_listen, "ca", FMC_STR, ca),
     .doc = "PEM file: CA certificate(s) that agent certificates must chain to"},
    {0}};

static const struct fmc_schema listen_schema = {"listen", sizeof(struct collconf_listen),
                                                listen_fields, FMC_NO_LINE};

static const struct fmc_field limits_fields[] = {
    {F(struct collconf_limits, "max_connections", FMC_UINT, max_connections), .def = "4096",
     .min = 1, .max = 100000,
     .doc = "agent connections held at once; more are accepted and closed at once"},
    {F(struct collconf_limits, "max_frame", FMC_SIZE, max_frame), .def = "4MiB", .min = 1 * KIB,
     .max = 64 * MIB, .doc = "largest frame accepted from an agent (told to it in HelloAck)"},
    {F(struct collconf_limits, "max_conn_memory", FMC_SIZE, max_conn_memory), .def = "16MiB",
     .min = 64 * KIB, .max = 1024 * MIB,
     .doc = "per connection: memory of decoded batches waiting for commit, counted by their "
            "arenas; above it the collector stops reading that connection"},
    {F(struct collconf_limits, "hello_timeout", FMC_DURATION, hello_timeout_ms), .def = "10s",
     .min = 100, .max = 600000,
     .doc = "time from accept to a valid Hello (TLS handshake included)"},
    {F(struct collconf_limits, "idle_timeout", FMC_DURATION, idle_timeout_ms), .def = "90s",
     .min = 1000, .max = 86400000, .doc = "a connection silent this long is closed"},
    {F(struct collconf_limits, "heartbeat", FMC_DURATION, heartbeat_ms), .def = "30s", .min = 1000,
     .max = 3600000, .doc = "heartbeat interval asked of agents in HelloAck"},
    {F(struct collconf_limits, "max_write_queue", FMC_SIZE, max_write_queue), .def = "1MiB",
     .min = 4 * KIB, .max = 256 * MIB,
     .doc = "bytes queued to a peer and not taken by it (in the collector and in its socket); "
            "above it the connection is closed"},
    {0}};

static const struct fmc_schema limits_schema = {"limits", sizeof(struct collconf_limits),
                                                limits_fields, FMC_NO_LINE};

static const struct fmc_field db_fields[] = {
    {F(struct collconf_db, "dsn", FMC_STR, dsn), .flags = FMC_SECRET,
     .doc = "libpq connection string; empty uses the PG* environment variables"},
    {F(struct collconf_db, "workers", FMC_UINT, workers), .def = "4", .min = 1, .max = 16,
     .doc = "writer threads, each with its own PostgreSQL connection"},
    {F(struct collconf_db, "txn_max_events", FMC_UINT, txn_max_events), .def = "10000", .min = 1,
     .max = 1000000, .doc = "events (from any agents) committed in one transaction"},
    {F(struct collconf_db, "txn_max_delay", FMC_DURATION, txn_max_delay_ms), .def = "5ms", .min = 0,
     .max = 10000, .doc = "how long a writer waits to fill a transaction"},
    {F(struct collconf_db, "queue_max_events", FMC_UINT, queue_max_events), .def = "200000",
     .min = 1000, .max = 100000000,
     .doc = "events waiting for the writers; above it the collector stops reading from agents"},
    {F(struct collconf_db, "reconnect_min", FMC_DURATION, reconnect_min_ms), .def = "500ms",
     .min = 10, .max = 600000, .doc = "first wait before reconnecting to PostgreSQL"},
    {F(struct collconf_db, "reconnect_max", FMC_DURATION, reconnect_max_ms), .def = "1s", .min = 10,
     .max = 3600000,
     .doc = "the wait doubles up to this; writers reconnect within it of PostgreSQL's return"},
    {F(struct collconf_db, "partitions_ahead_days", FMC_UINT, partitions_ahead_days), .def = "3",
     .min = 1, .max = 366, .doc = "daily measurement partitions created ahead"},
    {F(struct collconf_db, "retention_days", FMC_UINT, retention_days), .def = "30", .min = 1,
     .max = 36500, .doc = "raw measurement partitions (days) older than this are dropped"},
    {F(struct collconf_db, "rollup_5m_days", FMC_UINT, rollup_5m_days), .def = "90", .min = 1,
     .max = 36500,
     .doc = "5-minute rollup partitions (months) wholly older than this are dropped; at least "
            "retention_days"},
    {F(struct collconf_db, "rollup_1h_days", FMC_UINT, rollup_1h_days), .def = "1830", .min = 1,
     .max = 36500,
     .doc = "hourly rollup partitions (months) wholly older than this are dropped; at least "
            "retention_days"},
    {F(struct collconf_db, "maintenance_interval", FMC_DURATION, maintenance_interval_ms),
     .def = "1h", .min = 1000, .max = 86400000, .doc = "how often partitions are maintained"},
    {0}};

static const struct fmc_schema db_schema = {"database", sizeof(struct collconf_db), db_fields,
                                            FMC_NO_LINE};

static const struct fmc_field metrics_fields[] = {
    {F(struct collconf_metrics, "enabled", FMC_BOOL, enabled), .def = "true",
     .doc = "serve Prometheus self-metrics at GET /metrics"},
    {F(struct collconf_metrics, "address", FMC_STR, address), .def = "127.0.0.1",
     .doc = "address of the metrics HTTP listener"},
    {F(struct collconf_metrics, "port", FMC_UINT, port), .def = "9310", .min = 0, .max = 65535,
     .doc = "its port; 0 picks a free port and logs it"},
    {0}};

static const struct fmc_schema metrics_schema = {"metrics", sizeof(struct collconf_metrics),
                                                 metrics_fields, FMC_NO_LINE};

static const struct fmc_field faults_fields[] = {
    {F(struct collconf_faults, "enabled", FMC_BOOL, enabled), .def = "true",
     .doc = "grade alarms, correlate them and open tickets (docs/faults.md)"},
    {F(struct collconf_faults, "rules_file", FMC_STR, rules_file),
     .doc = "rules file; empty: the built-in copy of deploy/rules-default.yaml"},
    {F(struct collconf_faults, "agent_lost_after", FMC_DURATION, agent_lost_after_ms), .def = "30s",
     .min = 0, .max = 86400000,
     .doc = "an agent whose connection ended and that has not come back (here or to another"
            " collector) after this long makes its site unreachable"},
    {F(struct collconf_faults, "windows_reload", FMC_DURATION, windows_reload_ms), .def = "5s",
     .min = 100, .max = 3600000, .doc = "how often maintenance windows are read from PostgreSQL"},
    {0}};

static const struct fmc_schema faults_schema = {"faults", sizeof(struct collconf_faults),
                                                faults_fields, FMC_NO_LINE};

static const struct fmc_field root_fields[] = {
    {F(struct collconf, "collector_id", FMC_STR, collector_id),
     .doc = "this collector's name in the database; empty: the host name"},
    {F(struct collconf, "log_level", FMC_STR, log_level), .def = "info", .check = check_log_level,
     .doc = "err, warning, notice, info or debug"},
    {F(struct collconf, "schema_dir", FMC_STR, schema_dir),
     .doc = "folder of schema migrations; empty: the schema/ folder it was built with"},
    {F(struct collconf, "listen", FMC_MAP, listen), .sub = &listen_schema,
     .doc = "where agents connect"},
    {F(struct collconf, "limits", FMC_MAP, limits), .sub = &limits_schema,
     .doc = "per-connection limits and timeouts"},
    {F(struct collconf, "database", FMC_MAP, database), .sub = &db_schema,
     .doc = "PostgreSQL and the writer threads"},
    {F(struct collconf, "metrics", FMC_MAP, metrics), .sub = &metrics_schema,
     .doc = "Prometheus self-metrics"},
    {F(struct collconf, "sla", FMC_MAP, sla), .sub = &sla_conf_schema,
     .doc = "contract clocks: deadlines, escalation ladder, webhook notifications"},
    {F(struct collconf, "faults", FMC_MAP, faults), .sub = &faults_schema,
     .doc = "fault grading, correlation and tickets"},
    {0}};

const struct fmc_schema collconf_schema = {"collector", sizeof(struct collconf), root_fields,
                                           FMC_NO_LINE};

/* The root's check: rules across keys, reported at the line of the key at
 * fault. */
static int check_cross(const fmc_doc_t *doc, void *obj, char *err, size_t errlen)
{
    const struct collconf *c = obj;

    if (c->listen.transport == COLLCONF_TLS) {
        if (c->listen.cert == NULL)
            return fmc_errorf(doc, err, errlen, "listen.cert",
                              "required with transport tls (or set transport: plain)");
        if (c->listen.key == NULL)
            return fmc_errorf(doc, err, errlen, "listen.key", "required with transport tls");
        if (c->listen.ca == NULL)
            return fmc_errorf(doc, err, errlen, "listen.ca",
                              "required with transport tls: agents are authenticated by it");
    }
    if (c->database.reconnect_min_ms > c->database.reconnect_max_ms)
        return fmc_errorf(
            doc, err, errlen, "database.reconnect_min", "%lld ms is above reconnect_max (%lld ms)",
            (long long)c->database.reconnect_min_ms, (long long)c->database.reconnect_max_ms);
    /* A kept raw day needs its month's rollup partitions. */
    const struct {
        const char *key;
        uint64_t days;
    } rollups[] = {{"database.rollup_5m_days", c->database.rollup_5m_days},
                   {"database.rollup_1h_days", c->database.rollup_1h_days}};
    for (size_t i = 0; i < 2; i++) {
        if (rollups[i].days < c->database.retention_days)
            return fmc_errorf(doc, err, errlen, rollups[i].key,
                              "%llu days is below retention_days (%llu): a kept raw day needs "
                              "its rollups",
                              (unsigned long long)rollups[i].days,
                              (unsigned long long)c->database.retention_days);
    }
    if (c->limits.max_conn_memory < c->limits.max_frame)
        return fmc_errorf(doc, err, errlen, "limits.max_conn_memory",
                          "%llu bytes is below limits.max_frame (%llu bytes)",
                          (unsigned long long)c->limits.max_conn_memory,
                          (unsigned long long)c->limits.max_frame);
    return 0;
}

static const struct fmc_root collconf_root = {&collconf_schema, check_cross, NULL};

int collconf_load(const char *path, struct collconf *cfg, char *err, size_t errlen)
{
    return fmc_root_load_file(&collconf_root, path, cfg, err, errlen);
}

int collconf_load_string(const char *name, const char *text, struct collconf *cfg, char *err,
                         size_t errlen)
{
    return fmc_root_load_string(&collconf_root, name, text, strlen(text), cfg, err, errlen);
}

void collconf_free(struct collconf *cfg)
{
    fmc_free(&collconf_schema, cfg);
}
