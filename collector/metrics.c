/* metrics: see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"

struct metrics_counters metrics;

/* Bucket upper bounds in microseconds; the last is +Inf. */
static const uint64_t bucket_us[METRICS_BUCKETS - 1] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

void metrics_observe(struct metrics_hist *h, uint64_t us)
{
    size_t i = 0;

    while (i < METRICS_BUCKETS - 1 && us > bucket_us[i])
        i++;
    atomic_fetch_add(&h->le[i], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, us);
}

struct out {
    char *p;
    size_t len, cap;
    int overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += (size_t)n;
}

static void metric(struct out *o, const char *name, const char *type, const char *help, int64_t v)
{
    put(o, "# HELP fieldmon_collector_%s %s\n# TYPE fieldmon_collector_%s %s\n", name, help, name,
        type);
    put(o, "fieldmon_collector_%s %" PRId64 "\n", name, v);
}

static void hist(struct out *o, const char *name, const char *help, struct metrics_hist *h)
{
    uint64_t cum = 0;

    put(o, "# HELP fieldmon_collector_%s %s\n# TYPE fieldmon_collector_%s histogram\n", name, help,
        name);
    for (size_t i = 0; i < METRICS_BUCKETS; i++) {
        cum += atomic_load(&h->le[i]);
        if (i < METRICS_BUCKETS - 1)
            put(o, "fieldmon_collector_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                (double)bucket_us[i] / 1e6, cum);
        else
            put(o, "fieldmon_collector_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    }
    put(o, "fieldmon_collector_%s_sum %g\n", name, (double)atomic_load(&h->sum_us) / 1e6);
    put(o, "fieldmon_collector_%s_count %" PRIu64 "\n", name, (uint64_t)atomic_load(&h->count));
}

int metrics_render(char *buf, size_t cap)
{
    struct out o = {buf, 0, cap, 0};
#define C(n, h) metric(&o, #n, "counter", h, (int64_t)atomic_load(&metrics.n))
#define G(n, h) metric(&o, #n, "gauge", h, (int64_t)atomic_load(&metrics.n))
    G(conns_open, "Agent connections open.");
    G(conns_paused, "Connections not being read (backpressure or memory limit).");
    G(conn_memory, "Bytes of decoded batches and hellos waiting for commit, all connections.");
    G(conn_memory_peak, "Most bytes one connection held at once (limits.max_conn_memory).");
    C(conns_accepted, "Agent connections accepted.");
    C(conns_refused, "Connections refused over limits.max_connections.");
    C(tls_failures, "TLS handshakes or certificate checks that failed.");
    C(protocol_errors, "Connections closed for breaking the wire contract.");
    C(timeouts, "Connections closed for hello or idle timeouts.");
    C(bytes_in, "Bytes read from agents.");
    C(frames_in, "Frames read from agents.");
    C(events_in, "Events received in batches.");
    C(events_committed, "Events written to PostgreSQL.");
    G(events_per_s, "Events committed per second, averaged over about 10 s.");
    C(events_duplicate, "Events received again and skipped (already committed).");
    C(batches_committed, "Batches committed and acked.");
    C(transactions, "Writer transactions committed.");
    C(db_errors, "PostgreSQL errors (failed connects, statements, transactions).");
    C(db_reconnects, "Reconnect attempts to PostgreSQL.");
    G(db_connected, "Writer threads connected to PostgreSQL.");
    G(queue_events, "Events waiting for or inside a writer transaction.");
    C(partitions_dropped, "Measurement partitions dropped by retention.");
    C(rollup_partitions_dropped, "Rollup partitions (5-minute and hourly) dropped by retention.");
    C(faults_write_retries, "Ticket action batches run again after a transient PostgreSQL error.");
    C(faults_write_given_up, "Ticket action batches dropped: PostgreSQL refused their content.");
#undef C
#undef G
    hist(&o, "txn_seconds", "Duration of writer transactions.", &metrics.txn_latency);
    hist(&o, "ack_seconds", "Time from a batch's arrival to its ack.", &metrics.ack_latency);
    return o.overflow ? -ENOSPC : (int)o.len;
}

/* ---------------------------------------------------------------- HTTP */
