/* metrics: the collector's self-metrics and their Prometheus text
 * (metrics_http.h serves it). No HTTP here, so every collector library may
 * count (the DB writers, the faults writer) without linking libh2o.
 *
 * Counters are atomics, bumped from the loop and from writer threads alike;
 * reading them for a scrape needs no lock. */
#ifndef METRICS_H
#define METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS 13

struct metrics_hist {
    atomic_uint_fast64_t le[METRICS_BUCKETS]; /* cumulative at render time, not here */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
};

struct metrics_counters {
    atomic_uint_fast64_t conns_accepted;
    atomic_uint_fast64_t conns_refused; /* over max_connections */
    atomic_uint_fast64_t conns_closed_error;
    atomic_int_fast64_t conns_open;
    atomic_int_fast64_t conns_paused;
    atomic_int_fast64_t conn_memory; /* decoded envelopes waiting for commit, all connections */
    atomic_int_fast64_t conn_memory_peak; /* most one connection held (with a split frame) */
    atomic_uint_fast64_t tls_failures;
    atomic_uint_fast64_t protocol_errors;
    atomic_uint_fast64_t timeouts;
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t frames_in;
    atomic_uint_fast64_t events_in;
    atomic_uint_fast64_t events_committed;
    atomic_uint_fast64_t events_duplicate;
    atomic_uint_fast64_t batches_committed;
    atomic_uint_fast64_t transactions;
    atomic_uint_fast64_t db_errors;
    atomic_uint_fast64_t db_reconnects;
    atomic_int_fast64_t db_connected;
    atomic_int_fast64_t queue_events;
    atomic_uint_fast64_t partitions_dropped;
    atomic_uint_fast64_t rollup_partitions_dropped;
    atomic_uint_fast64_t faults_write_retries;  /* ticket batches run again (transient error) */
    atomic_uint_fast64_t faults_write_given_up; /* ticket batches PostgreSQL refused, dropped */
    atomic_int_fast64_t events_per_s;           /* committed, averaged over ~10 s */
    struct metrics_hist txn_latency;            /* one transaction, writer side */
    struct metrics_hist ack_latency;            /* batch received to ack sent */
};

extern struct metrics_counters metrics;

/* Adds one observation (microseconds) to a histogram. */
void metrics_observe(struct metrics_hist *h, uint64_t us);

/* Writes the metrics in Prometheus text format into buf (NUL-terminated).
 * Returns the length, or a negative errno if cap is too small. */
int metrics_render(char *buf, size_t cap);

#endif
