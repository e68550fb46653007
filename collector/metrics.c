/* metrics: see metrics.h. HTTP is libh2o's (Debian's libh2o is built on
 * libuv, so it runs on the collector's own loop); only GET /metrics is
 * served, everything else is 404. */
#include "metrics.h"

#include <errno.h>
#include <h2o.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"

struct cm_counters cm;

/* Bucket upper bounds in microseconds; the last is +Inf. */
static const uint64_t bucket_us[CM_BUCKETS - 1] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

void cm_observe(struct cm_hist *h, uint64_t us)
{
    size_t i = 0;

    while (i < CM_BUCKETS - 1 && us > bucket_us[i])
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

static void hist(struct out *o, const char *name, const char *help, struct cm_hist *h)
{
    uint64_t cum = 0;

    put(o, "# HELP fieldmon_collector_%s %s\n# TYPE fieldmon_collector_%s histogram\n", name, help,
        name);
    for (size_t i = 0; i < CM_BUCKETS; i++) {
        cum += atomic_load(&h->le[i]);
        if (i < CM_BUCKETS - 1)
            put(o, "fieldmon_collector_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                (double)bucket_us[i] / 1e6, cum);
        else
            put(o, "fieldmon_collector_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    }
    put(o, "fieldmon_collector_%s_sum %g\n", name, (double)atomic_load(&h->sum_us) / 1e6);
    put(o, "fieldmon_collector_%s_count %" PRIu64 "\n", name, (uint64_t)atomic_load(&h->count));
}

int cm_render(char *buf, size_t cap)
{
    struct out o = {buf, 0, cap, 0};
#define C(n, h) metric(&o, #n, "counter", h, (int64_t)atomic_load(&cm.n))
#define G(n, h) metric(&o, #n, "gauge", h, (int64_t)atomic_load(&cm.n))
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
    C(faults_write_retries, "Ticket action batches run again after a transient PostgreSQL error.");
    C(faults_write_given_up, "Ticket action batches dropped: PostgreSQL refused their content.");
#undef C
#undef G
    hist(&o, "txn_seconds", "Duration of writer transactions.", &cm.txn_latency);
    hist(&o, "ack_seconds", "Time from a batch's arrival to its ack.", &cm.ack_latency);
    return o.overflow ? -ENOSPC : (int)o.len;
}

/* ---------------------------------------------------------------- HTTP */

struct cm_server {
    uv_tcp_t listener;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static const size_t cap = 64 * 1024;
    char *body;
    int n;

    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    body = h2o_mem_alloc_pool(&req->pool, cap);
    n = cm_render(body, cap);
    if (n < 0) {
        h2o_send_error_500(req, "Internal Server Error", "metrics too large", 0);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4"));
    h2o_send_inline(req, body, (size_t)n);
    return 0;
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *l, int status)
{
    cm_server_t *s = l->data;
    uv_tcp_t *conn;

    if (status < 0)
        return;
    conn = fm_xmalloc(sizeof(*conn));
    uv_tcp_init(l->loop, conn);
    if (uv_accept(l, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_sock_closed);
        return;
    }
    h2o_accept(&s->accept, h2o_uv_socket_create((uv_stream_t *)conn, on_sock_closed));
}

cm_server_t *cm_server_start(uv_loop_t *loop, const char *address, unsigned port, unsigned *bound)
{
    cm_server_t *s = fm_xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;

    h2o_config_init(&s->config);
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/metrics", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    h2o_context_init(&s->ctx, loop, &s->config);
    s->accept.ctx = &s->ctx;
    s->accept.hosts = s->config.hosts;

    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if (strchr(address, ':'))
        rc = uv_ip6_addr(address, (int)port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(address, (int)port, (struct sockaddr_in *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_accept);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        FM_ERR("metrics: listen on %s port %u: %s", address, port, uv_strerror(rc));
        cm_server_stop(s);
        return NULL;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    FM_NOTICE("metrics: http://%s:%u/metrics", address, *bound);
    return s;
}

static void on_listener_closed(uv_handle_t *h)
{
    cm_server_t *s = h->data;

    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    free(s);
}

void cm_server_stop(cm_server_t *s)
{
    if (s == NULL)
        return;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
