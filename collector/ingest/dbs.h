/* dbs: what the collector writes to PostgreSQL, one connection per
 * writer thread. Blocking (libpq): called only from a writer thread.
 *
 * Exactly once: every event batch is written in a transaction that first
 * locks the agent's agent_progress row (SELECT ... FOR UPDATE), skips events
 * whose seq is at or below committed_seq, writes the rest with COPY, and
 * moves committed_seq forward. A batch resent after a lost ack, or by an
 * agent that failed over to another collector sharing the database, so
 * finds its events already counted and writes nothing. */
#ifndef DBS_H
#define DBS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "chash.h"
#include "copybuf.h"
#include "fmwire.h"
#include "pg.h"

/* The schema version this collector needs: the highest in schema/ that its
 * code writes to (010: tickets, faults.c; 020/021: SLA clocks, sla_store.c;
 * 024: series and the narrow measurement row, dbs_batch.c).
 * coll_schema checks that a database one migration short is refused. */
#define DBS_SCHEMA_VERSION 24

struct dbs {
    PGconn *pg;
    const char *collector_id; /* borrowed */
    chash_t *ids;             /* device, point, series and partition-day ids */
    struct copybuf meas, alarms, status, traps, agent_status, overflows;
    struct copybuf series_key; /* scratch: a series' cache key and labels */
    char why[512];             /* reason of the last failure */
    enum pg_verdict verdict;   /* of the last failure (pg_classify) */
};

/* One batch to write, with its result. */
struct dbs_batch {
    const char *agent_id;        /* borrowed */
    const Fm__EventBatch *batch; /* borrowed */
    uint64_t committed_seq;      /* out: agent's high-water mark after commit */
    uint64_t applied;            /* out: events written (not skipped as already committed) */
};

void dbs_init(struct dbs *s, const char *collector_id);
void dbs_close(struct dbs *s);

/* The application_name of the collector's connections. */
#define DBS_APP "fieldmon-collector"

/* Connects once (pg_connect, closing any previous connection) and attaches
 * the connection as dbs_attach does. Returns 0, -ENOTCONN (PostgreSQL
 * unreachable), -EPROTO (schema older than DBS_SCHEMA_VERSION) or another
 * negative errno; reason in s->why. */
int dbs_connect(struct dbs *s, const char *dsn);

/* Checks conn's schema version and registers the collector; then s owns
 * conn (closing any previous connection). On failure (the errors of
 * dbs_connect) s holds no connection and conn stays the caller's. */
int dbs_attach(struct dbs *s, PGconn *conn);

/* True if the connection is gone (reconnect before the next call). */
int dbs_lost(const struct dbs *s);

/* For a connection at rest: reads what the server sent (pg_check), so a
 * server that closed the connection is noticed without a statement.
 * Returns 0, or -ENOTCONN with the reason in s->why. */
int dbs_check(struct dbs *s);

/* Registers the agent's site, the agent, its devices and points from the
 * Hello's inventory, and returns in *committed the last sequence committed
 * for (agent, epoch). peer is the remote address, for the agents table.
 * Returns 0, -ENOTCONN or -EIO (reason in s->why). */
int dbs_hello(struct dbs *s, const Fm__Hello *h, const char *peer, uint64_t *committed);

/* Marks the agent disconnected from this collector. */
int dbs_bye(struct dbs *s, const char *agent_id);

/* Writes n batches (any agents, in order) in one transaction; see above.
 * Returns 0 (each batch's out fields set), -ENOTCONN or -EIO (nothing
 * committed; reason in s->why). */
int dbs_write(struct dbs *s, struct dbs_batch *b, size_t n);

/* Partition maintenance (fm_maintain_measurement_partitions): daily
 * measurement partitions ahead_days ahead, and the retention in days of raw
 * rows and of each rollup (rollups at least as long as raw rows). */
struct dbs_retention {
    unsigned ahead_days, raw_days, rollup_5m_days, rollup_1h_days;
};

/* Creates measurement and rollup partitions ahead and drops those past
 * their retention. Returns the number of measurement partitions dropped
 * (*rollups_dropped: rollup partitions), or -ENOTCONN / -EIO. */
int dbs_maintain(struct dbs *s, const struct dbs_retention *r, int *rollups_dropped);

/* Shared by dbs files: runs sql with params; returns the result if its
 * status is ok (PGRES_COMMAND_OK or PGRES_TUPLES_OK), else NULL with the
 * reason in s->why. */
PGresult *dbs__exec(struct dbs *s, const char *what, const char *sql, int n,
                    const char *const *params);
/* The last failure as an errno, by pg_classify's rule (pg.h): -ENOTCONN
 * when the connection is gone or the server is going away, -EAGAIN when a
 * retry may succeed, else -EIO (the statement itself is at fault). */
int dbs__fail(struct dbs *s);
/* Records a failed result's reason and verdict (pg_classify; r may be
 * NULL). */
void dbs__set_error(struct dbs *s, const char *what, const PGresult *r);

#endif
