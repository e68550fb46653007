/* collconf: the configuration of fieldmon-collector, as a table.
 *
 * The table below (collconf_schema) is the only place keys, defaults, ranges
 * and descriptions live; `fieldmon-collector --print-config-reference` prints
 * it as docs/collector.md's reference. Loading happens before the loop starts. */
#ifndef COLLCONF_H
#define COLLCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fm_conf.h"
#include "sla_conf.h"

enum collconf_transport {
    COLLCONF_TLS = 0,
    COLLCONF_PLAIN = 1,
};

struct collconf_listen {
    char *address;
    uint64_t port;
    int transport; /* enum collconf_transport */
    char *cert;    /* PEM: the collector's certificate (chain) */
    char *key;     /* PEM: its private key */
    char *ca;      /* PEM: the CA(s) agent certificates must chain to */
};

struct collconf_limits {
    uint64_t max_connections;
    uint64_t max_frame;
    uint64_t max_conn_memory;
    int64_t hello_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t heartbeat_ms;
    uint64_t max_write_queue;
};

struct collconf_db {
    char *dsn;
    uint64_t workers;
    uint64_t txn_max_events;
    int64_t txn_max_delay_ms;
    uint64_t queue_max_events;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    uint64_t partitions_ahead_days;
    uint64_t retention_days; /* raw measurements */
    uint64_t rollup_5m_days;
    uint64_t rollup_1h_days;
    int64_t maintenance_interval_ms;
};

struct collconf_metrics {
    bool enabled;
    char *address;
    uint64_t port;
};

/* Fault grading, correlation and tickets (faults.c). */
struct collconf_faults {
    bool enabled;
    char *rules_file;            /* NULL: the built-in copy of deploy/rules-default.yaml */
    int64_t agent_lost_after_ms; /* grace after a connection ends before the site is lost */
    int64_t windows_reload_ms;   /* how often maintenance windows are reloaded */
};

struct collconf {
    char *collector_id;
    char *log_level;
    char *schema_dir;
    struct collconf_listen listen;
    struct collconf_limits limits;
    struct collconf_db database;
    struct collconf_metrics metrics;
    struct sla_conf sla;
    struct collconf_faults faults;
};

extern const struct fmc_schema collconf_schema;

/* Loads path into *cfg (zeroed by the caller) and checks what the table cannot
 * (TLS files present when transport is tls, reconnect_min <= reconnect_max).
 * Returns 0 or a negative errno with "file:line: key: what" in err. Free with
 * collconf_free. */
int collconf_load(const char *path, struct collconf *cfg, char *err, size_t errlen);

/* Same from memory (tests); name stands for the file name in errors. */
int collconf_load_string(const char *name, const char *text, struct collconf *cfg, char *err,
                         size_t errlen);

void collconf_free(struct collconf *cfg);

#endif
