/* uplink_status: AgentStatus events and the metrics endpoint (see uplink.h).
 *
 * The metrics endpoint is deliberately tiny: it answers every connection
 * with one HTTP/1.0 response carrying the Prometheus text exposition and
 * closes, whatever was asked. That is all a scraper (or `curl`, or `socat`
 * on the unix socket) needs, and it keeps an HTTP library out of the agent;
 * the request is read only to wait for it, never parsed, so there is
 * nothing in it to attack. */
#include "uplink_int.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METRICS_MAX 8192

/* A TCP or unix-socket stream, whichever the address names. */
union mstream {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_stream_t stream;
    uv_handle_t handle;
};

struct uplink__metrics {
    union mstream u;
    uplink_t *e;
    bool stopping; /* closed by uplink__status_stop: counts towards its done */
    char addr[256];
};

struct mconn {
    union mstream u;
    uv_write_t wr;
    char *resp;
    uplink_t *e;
};

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t rd(const uint64_t *p)
{
    return p != NULL ? *p : 0;
}

size_t uplink_metrics_text(uplink_t *e, char *buf, size_t cap)
{
    struct spool_stats sp;
    struct sender_stats se;
    int n;

    if (e->counters.refresh != NULL)
        e->counters.refresh(e->counters.arg);
    spool_get_stats(e->spool, &sp);
    sender_get_stats(e->sender, &se);
    n = snprintf(
        buf, cap,
        "# TYPE fieldmon_agent_spool_bytes gauge\nfieldmon_agent_spool_bytes %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_cap_bytes gauge\nfieldmon_agent_spool_cap_bytes %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_events gauge\nfieldmon_agent_spool_events %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_segments gauge\nfieldmon_agent_spool_segments %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_written_seq gauge\nfieldmon_agent_spool_written_seq %" PRIu64
        "\n"
        "# TYPE fieldmon_agent_acked_seq gauge\nfieldmon_agent_acked_seq %" PRIu64 "\n"
        "# TYPE fieldmon_agent_events_total counter\nfieldmon_agent_events_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_events_per_second gauge\nfieldmon_agent_events_per_second %.3f\n"
        "# TYPE fieldmon_agent_events_dropped_total counter\n"
        "fieldmon_agent_events_dropped_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_events_dropped_kept_total counter\n"
        "fieldmon_agent_events_dropped_kept_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_events_refused_total counter\n"
        "fieldmon_agent_events_refused_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_unconfirmed_events gauge\n"
        "fieldmon_agent_spool_unconfirmed_events %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_removed_acked_total counter\n"
        "fieldmon_agent_spool_removed_acked_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_held_events gauge\n"
        "fieldmon_agent_spool_held_events %" PRIu64 "\n"
        "# TYPE fieldmon_agent_spool_write_errors_total counter\n"
        "fieldmon_agent_spool_write_errors_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_polls_ok_total counter\nfieldmon_agent_polls_ok_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_polls_failed_total counter\n"
        "fieldmon_agent_polls_failed_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_traps_dropped_total counter\n"
        "fieldmon_agent_traps_dropped_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_reconnects_total counter\n"
        "fieldmon_agent_reconnects_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_connected gauge\nfieldmon_agent_connected %d\n"
        "# TYPE fieldmon_agent_events_sent_total counter\n"
        "fieldmon_agent_events_sent_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_measurements_polled_total counter\n"
        "fieldmon_agent_measurements_polled_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_measurements_reported_total counter\n"
        "fieldmon_agent_measurements_reported_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_measurements_suppressed_total counter\n"
        "fieldmon_agent_measurements_suppressed_total %" PRIu64 "\n"
        "# TYPE fieldmon_agent_rss_bytes gauge\nfieldmon_agent_rss_bytes %" PRIu64 "\n",
        sp.bytes, sp.cap, sp.events, sp.segments, sp.written_seq, sp.acked_seq, sp.appended,
        e->events_per_s, sp.dropped, sp.dropped_kept, sp.dropped_refused, sp.unconfirmed,
        sp.removed_acked, sp.held, sp.write_errors, rd(e->counters.polls_ok),
        rd(e->counters.polls_failed), rd(e->counters.traps_dropped), se.reconnects,
        se.connected ? 1 : 0, se.events_sent, rd(e->counters.measurements_polled),
        rd(e->counters.measurements_reported),
        rd(e->counters.measurements_polled) - rd(e->counters.measurements_reported), rss_bytes());
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ------------------------------------------------------------ status events */

/* The automatic cap is sized from the configured poll rate, which cannot
 * know how many rows a table point has. Once the real rate is known, say
 * so (once) if the cap holds less than the day it should. */
static void check_rate(uplink_t *e, const struct spool_stats *sp)
{
    double need = e->events_per_s * 86400.0 * SPOOL_EST_EVENT_BYTES;

    if (e->rate_warned || e->events_per_s <= 0 || need <= (double)sp->cap)
        return;
    e->rate_warned = true;
    FM_WARN("spool: %s: at the observed %.1f events/s the cap of %" PRIu64 " bytes holds only "
            "%.1f h, not 24 h (the configuration predicted %.1f events/s; table rows are not "
            "known in advance): set spool.max_size to at least %.0f bytes",
            e->cfg->spool.dir, e->events_per_s, sp->cap,
            (double)sp->cap / (e->events_per_s * SPOOL_EST_EVENT_BYTES) / 3600.0, e->rate, need);
}

static void on_status(uv_timer_t *t)
{
    uplink_t *e = t->data;
    Fm__Event ev = FM__EVENT__INIT;
    Fm__AgentStatus as = FM__AGENT_STATUS__INIT;
    struct spool_stats sp;
    struct sender_stats se;
    uint64_t now = uv_now(e->loop);

    if (e->counters.refresh != NULL)
        e->counters.refresh(e->counters.arg);
    spool_get_stats(e->spool, &sp);
    sender_get_stats(e->sender, &se);
    if (now > e->last_status_ms)
        e->events_per_s =
            (double)(sp.appended - e->last_appended) * 1000.0 / (double)(now - e->last_status_ms);
    e->last_appended = sp.appended;
    e->last_status_ms = now;
    check_rate(e, &sp);
    as.spool_bytes = sp.bytes;
    as.spool_events = sp.events;
    as.spool_cap_bytes = sp.cap;
    as.events_per_s = e->events_per_s;
    as.polls_ok = rd(e->counters.polls_ok);
    as.polls_failed = rd(e->counters.polls_failed);
    as.reconnects = se.reconnects;
    as.rss_bytes = rss_bytes();
    as.dropped_events = sp.dropped;
    as.traps_dropped = rd(e->counters.traps_dropped);
    ev.ts_ms = fm_clock_wall_ms();
    ev.device = "";
    ev.kind_case = FM__EVENT__KIND_STATUS;
    ev.status = &as;
    uplink_emit(e, &ev);
}

/* ------------------------------------------------------------ metrics */

static void on_mconn_closed(uv_handle_t *h)
{
    struct mconn *c = h->data;

    free(c->resp);
    free(c);
}

static void on_mwritten(uv_write_t *req, int status)
{
    struct mconn *c = req->data;

    (void)status;
    uv_close(&c->u.handle, on_mconn_closed);
}

static void on_malloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[1024];

    (void)h;
    (void)suggested;
    buf->base = scratch;
    buf->len = sizeof(scratch);
}

static void on_mread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mconn *c = s->data;
    char body[METRICS_MAX];
    size_t blen;
    uv_buf_t b;

    (void)buf;
    if (nread == 0)
        return;
    uv_read_stop(s);
    if (nread < 0) {
        uv_close(&c->u.handle, on_mconn_closed);
        return;
    }
    blen = uplink_metrics_text(c->e, body, sizeof(body));
    c->resp = fm_xmalloc(blen + 128);
    int n = snprintf(c->resp, blen + 128,
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     blen, body);
    b = uv_buf_init(c->resp, (unsigned)n);
    c->wr.data = c;
    if (uv_write(&c->wr, s, &b, 1, on_mwritten) < 0)
        uv_close(&c->u.handle, on_mconn_closed);
}

static void on_mconnection(uv_stream_t *server, int status)
{
    struct uplink__metrics *m = server->data;
    struct mconn *c;

    if (status < 0)
        return;
    c = fm_xcalloc(1, sizeof(*c));
    c->e = m->e;
    if (server->type == UV_NAMED_PIPE)
        uv_pipe_init(m->e->loop, &c->u.pipe, 0);
    else
        uv_tcp_init(m->e->loop, &c->u.tcp);
    c->u.handle.data = c;
    if (uv_accept(server, &c->u.stream) < 0 || uv_read_start(&c->u.stream, on_malloc, on_mread) < 0)
        uv_close(&c->u.handle, on_mconn_closed);
}

static int parse_listen(const char *addr, struct sockaddr_storage *ss, const char **path)
{
    char host[128];
    const char *colon;
    char *end;

    *path = NULL;
    if (strncmp(addr, "unix:", 5) == 0) {
        *path = addr + 5;
        return (*path)[0] == '/' && strlen(*path) < 100 ? 0 : -EINVAL;
    }
    colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host))
        return -EINVAL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return -EINVAL;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -EINVAL;
}

int uplink__status_check(const struct uplink_status_cfg *cfg)
{
    struct sockaddr_storage ss;
    const char *path;

    if (cfg->metrics_listen == NULL || cfg->metrics_listen[0] == '\0')
        return 0;
    if (parse_listen(cfg->metrics_listen, &ss, &path) < 0) {
        FM_ERR("metrics: listen address '%s' is neither HOST:PORT nor unix:/absolute/path",
               cfg->metrics_listen);
        return -EINVAL;
    }
    return 0;
}

/* Stopping closes the status timer and the listener; libuv runs their close
 * callbacks in no promised order, so the last one reports. */
static void status_closed_one(uplink_t *e)
{
    if (--e->status_closing > 0)
        return;
    e->status_done(e);
}

static void on_metrics_closed(uv_handle_t *h)
{
    struct uplink__metrics *m = h->data;
    uplink_t *e = m->e;
    bool stopping = m->stopping;

    free(m);
    if (stopping)
        status_closed_one(e);
}

static void metrics_start(uplink_t *e)
{
    const char *addr = e->status_cfg->metrics_listen;
    struct uplink__metrics *m;
    struct sockaddr_storage ss;
    const char *path;
    int rc;

    if (addr == NULL || addr[0] == '\0' || parse_listen(addr, &ss, &path) < 0)
        return;
    m = fm_xcalloc(1, sizeof(*m));
    m->e = e;
    snprintf(m->addr, sizeof(m->addr), "%s", addr);
    if (path != NULL) {
        uv_pipe_init(e->loop, &m->u.pipe, 0);
        unlink(path); /* a socket left by a killed agent */
        rc = uv_pipe_bind(&m->u.pipe, path);
    } else {
        uv_tcp_init(e->loop, &m->u.tcp);
        rc = uv_tcp_bind(&m->u.tcp, (struct sockaddr *)&ss, 0);
    }
    m->u.handle.data = m;
    if (rc == 0)
        rc = uv_listen(&m->u.stream, 16, on_mconnection);
    if (rc < 0) {
        FM_ERR("metrics: cannot listen on %s: %s; running without metrics", addr, uv_strerror(rc));
        uv_close(&m->u.handle, on_metrics_closed);
        return;
    }
    e->metrics = m;
    FM_INFO("metrics: Prometheus text on %s", addr);
}

static void metrics_stop(uplink_t *e, bool stopping)
{
    struct uplink__metrics *m = e->metrics;

    if (m == NULL)
        return;
    m->stopping = stopping;
    e->metrics = NULL;
    if (strncmp(m->addr, "unix:", 5) == 0)
        unlink(m->addr + 5);
    uv_close(&m->u.handle, on_metrics_closed);
}

void uplink__status_start(uplink_t *e)
{
    uv_timer_init(e->loop, &e->status_timer);
    e->status_timer.data = e;
    e->last_status_ms = uv_now(e->loop);
    uv_timer_start(&e->status_timer, on_status, (uint64_t)e->status_cfg->interval_ms,
                   (uint64_t)e->status_cfg->interval_ms);
    metrics_start(e);
}

void uplink__status_reload(uplink_t *e)
{
    uv_timer_set_repeat(&e->status_timer, (uint64_t)e->status_cfg->interval_ms);
    metrics_stop(e, false);
    metrics_start(e);
}

static void on_status_timer_closed(uv_handle_t *h)
{
    status_closed_one(h->data);
}

void uplink__status_stop(uplink_t *e, void (*done)(void *ud))
{
    e->status_done = done;
    e->status_closing = 1 + (e->metrics != NULL);
    metrics_stop(e, true);
    uv_close((uv_handle_t *)&e->status_timer, on_status_timer_closed);
}
