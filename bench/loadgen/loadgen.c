/* fm-loadgen: a client speaking the agent side of the wire contract, for
 * the collector's integration tests and its ingest benchmark.
 *
 * It plays N agents on one libuv loop. Each connects (TLS with its own
 * certificate, or plain TCP), sends a Hello with an inventory, resumes after
 * the sequence the HelloAck names, and streams batches with a window of
 * batches in flight. When the connection drops it reconnects with backoff
 * and regenerates the same events from their sequence numbers, as an
 * agent's spool replays them. It checks what an agent relies on: acks never
 * go backwards, and a HelloAck never names less than was already acked
 * (that would be an acked event lost).
 *
 * Bad-peer modes (--bad) send what a broken or hostile peer sends; with
 * --expect-close the run succeeds when the collector closes the connection.
 * Two of them misbehave after a good Hello: idle says nothing more (unless
 * --heartbeat asks for heartbeats), and noread never reads its acks but
 * keeps sending batches, ignoring the window, until the collector closes
 * the connection (seen when a write fails); then it reads the acks that
 * reached it, so acked= names what the collector promised.
 *
 * Last line on stdout: agents= events= acked= reconnects= elapsed_s=
 * events_per_s= ack_p50_ms= ack_p99_ms= */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_tls.h"
#include "fmwire.h"

enum bad_mode {
    BAD_NONE,
    BAD_MALFORMED,
    BAD_OVERSIZE,
    BAD_SILENT,
    BAD_INVALID,
    BAD_IDLE,
    BAD_NOREAD
};

struct opts {
    const char *host;
    int port;
    const char *cert_dir, *cert_name, *agent;
    unsigned agents, batch, window, devices, points;
    uint64_t epoch, events;
    uint64_t resend;     /* events before the HelloAck's to send again, once */
    int64_t ts_start_ms; /* time of seq 0; 0: now - events - 1 s */
    uint64_t ts_step_ms; /* between two sequences */
    bool only_measurements, expect_close;
    double rate, timeout_s, hold_s;
    uint64_t heartbeat_ms; /* 0: no heartbeats */
    int rcvbuf;            /* SO_RCVBUF of each connection; 0: the system's */
    enum bad_mode bad;
};

/* noread: bytes a connection may have queued in libuv before it waits. */
#define NOREAD_QUEUE_MAX (64 * 1024)

#define MAX_INFLIGHT 64

struct agent {
    struct lg *lg;
    unsigned idx;
    char id[FMW_MAX_ID + 1];
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t retry;
    bool connected, ready, closing, done, closed_by_peer;
    bool session;     /* HelloAck received on this connection */
    bool resent;      /* --resend done */
    bool stalled;     /* noread: not reading, until a write fails */
    uint64_t last_tx; /* uv_now of the last write, for heartbeats */
    fm_tls_t *tls;
    fmw_decoder_t *dec;
    uint64_t next_seq, acked;
    uint64_t sent_last[MAX_INFLIGHT]; /* last seq of each batch in flight */
    uint64_t sent_at[MAX_INFLIGHT];   /* uv_hrtime at send */
    unsigned inflight;
    unsigned reconnects;
    uint64_t backoff_ms;
};

struct lg {
    struct opts o;
    uv_loop_t *loop;
    fm_tls_ctx_t *tls_ctx;
    struct agent *agents;
    uv_timer_t tick, deadline;
    double tokens;
    uint64_t start_ns, end_ns, base_ts_ms;
    unsigned done, failures;
    uint64_t *lat_us;
    size_t nlat, caplat;
    uint8_t rbuf[65536], pbuf[65536];
    bool finishing;
};

static void agent_connect(struct agent *a);
static void agent_close(struct agent *a);
static void agent_pump(struct agent *a);

static void fail(struct lg *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct lg *g, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fm-loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g->failures++;
}

/* ---------------------------------------------------------------- events */

struct batchbuf {
    Fm__Event ev;
    Fm__Measurement m;
    Fm__AlarmTransition al;
    Fm__Reachability re;
    Fm__Trap tr;
    Fm__Varbind vb;
    Fm__Varbind *vbp;
    Fm__AgentStatus st;
    Fm__Label lab;
    Fm__Label *labp;
    char dev[32], pt[32], lv[16];
};

/* Event seq of an agent, the same every time it is generated. */
static void fill_event(const struct lg *g, struct batchbuf *b, uint64_t seq)
{
    const struct opts *o = &g->o;
    Fm__Event *e = &b->ev;

    fm__event__init(e);
    e->seq = seq;
    e->ts_ms = (int64_t)(g->base_ts_ms + seq * o->ts_step_ms);
    snprintf(b->dev, sizeof(b->dev), "dev-%u", (unsigned)(seq % o->devices));
    e->device = b->dev;
    if (!o->only_measurements && seq % 1000 == 0) {
        fm__agent_status__init(&b->st);
        b->st.spool_events = seq;
        b->st.events_per_s = 100.5;
        e->device = "";
        e->kind_case = FM__EVENT__KIND_STATUS;
        e->status = &b->st;
    } else if (!o->only_measurements && seq % 193 == 0) {
        fm__trap__init(&b->tr);
        fm__varbind__init(&b->vb);
        b->tr.trap_oid = "1.3.6.1.2.1.33.2.0.1";
        b->tr.source = "127.0.0.1:162";
        b->tr.snmp_version = 2;
        b->vb.oid = "1.3.6.1.2.1.33.1.2.1.0";
        b->vb.type = "INTEGER";
        b->vb.value = "3";
        b->vbp = &b->vb;
        b->tr.n_varbinds = 1;
        b->tr.varbinds = &b->vbp;
        e->kind_case = FM__EVENT__KIND_TRAP;
        e->trap = &b->tr;
    } else if (!o->only_measurements && seq % 97 == 0) {
        fm__reachability__init(&b->re);
        b->re.reachable = (seq / 97) % 2 == 0;
        b->re.reason = b->re.reachable ? "" : "timeout after 2 tries";
        e->kind_case = FM__EVENT__KIND_REACHABILITY;
        e->reachability = &b->re;
    } else if (!o->only_measurements && seq % 50 == 0) {
        fm__alarm_transition__init(&b->al);
        b->al.code = "temp_high";
        b->al.point = "p0";
        b->al.state = (seq / 50) % 2 ? FM__ALARM_STATE__ALARM_STATE_RAISED
                                     : FM__ALARM_STATE__ALARM_STATE_CLEARED;
        b->al.level = FM__ALARM_LEVEL__ALARM_LEVEL_WARNING;
        b->al.value = 31.5;
        b->al.limit = 30;
        b->al.message = "temperature above 30 \"C\"\ttab";
        e->kind_case = FM__EVENT__KIND_ALARM;
        e->alarm = &b->al;
    } else {
        fm__measurement__init(&b->m);
        snprintf(b->pt, sizeof(b->pt), "p%u", (unsigned)((seq / o->devices) % o->points));
        b->m.point = b->pt;
        b->m.value = (double)seq * 0.5;
        b->m.raw = (double)seq;
        b->m.has_value = true;
        b->m.quality = FM__QUALITY__QUALITY_GOOD;
        if (seq % 7 == 0) {
            fm__label__init(&b->lab);
            snprintf(b->lv, sizeof(b->lv), "%u", (unsigned)(seq % 24));
            b->lab.key = "ifIndex";
            b->lab.value = b->lv;
            b->labp = &b->lab;
            b->m.n_labels = 1;
            b->m.labels = &b->labp;
        }
        e->kind_case = FM__EVENT__KIND_MEASUREMENT;
        e->measurement = &b->m;
    }
}

/* ---------------------------------------------------------------- I/O */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* A stalled (noread) connection learns that the collector closed it from a
 * failed write: it reads again, to take the acks that reached it and the
 * end of the stream. */
static void unstall(struct agent *a)
{
    if (!a->stalled || a->closing)
        return;
    a->stalled = false;
    a->ready = false;
    if (uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read) != 0) {
        a->closed_by_peer = true;
        agent_close(a);
    }
}

static void on_written(uv_write_t *req, int status)
{
    if (status < 0 && status != UV_ECANCELED)
        unstall(req->handle->data);
    free(req);
}

static void send_raw(struct agent *a, const uint8_t *data, size_t len)
{
    uv_write_t *req = fm_xmalloc(sizeof(*req) + len);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);

    memcpy(req + 1, data, len);
    a->last_tx = uv_now(a->lg->loop);
    if (uv_write(req, (uv_stream_t *)&a->tcp, &b, 1, on_written) != 0) {
        free(req);
        unstall(a);
    }
}

static void flush_tls(struct agent *a)
{
    size_t n;

    while ((n = fm_tls_take(a->tls, a->lg->pbuf, sizeof(a->lg->pbuf))) > 0)
        send_raw(a, a->lg->pbuf, n);
}

static void send_bytes(struct agent *a, const uint8_t *data, size_t len)
{
    if (a->tls) {
        if (fm_tls_write(a->tls, data, len) != 0)
            return;
        flush_tls(a);
    } else {
        send_raw(a, data, len);
    }
}

static void send_env(struct agent *a, const Fm__Envelope *env)
{
    size_t size = fmw_frame_size(env);
    uint8_t *buf = fm_xmalloc(size);

    if (fmw_frame_pack(env, buf, size, FMW_MAX_FRAME_LIMIT) > 0)
        send_bytes(a, buf, size);
    free(buf);
}

static void send_hello(struct agent *a)
{
    const struct opts *o = &a->lg->o;
    Fm__Hello h = FM__HELLO__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__Inventory inv = FM__INVENTORY__INIT;
    Fm__Device *devs = fm_xcalloc(o->devices, sizeof(*devs));
    Fm__Device **devp = fm_xcalloc(o->devices, sizeof(*devp));
    Fm__Point *pts = fm_xcalloc(o->points, sizeof(*pts));
    Fm__Point **ptp = fm_xcalloc(o->points, sizeof(*ptp));
    char(*dn)[32] = fm_xcalloc(o->devices, 32), (*pn)[32] = fm_xcalloc(o->points, 32);
    char site[80];

    for (unsigned p = 0; p < o->points; p++) {
        fm__point__init(&pts[p]);
        snprintf(pn[p], 32, "p%u", p);
        pts[p].name = pn[p];
        pts[p].unit = "degC";
        pts[p].type = FM__VALUE_TYPE__VALUE_TYPE_GAUGE;
        ptp[p] = &pts[p];
    }
    for (unsigned d = 0; d < o->devices; d++) {
        fm__device__init(&devs[d]);
        snprintf(dn[d], 32, "dev-%u", d);
        devs[d].name = dn[d];
        devs[d].class_ = FM__DEVICE_CLASS__DEVICE_CLASS_ENV_SENSOR;
        devs[d].protocol = FM__PROTOCOL__PROTOCOL_SNMP;
        devs[d].address = "127.0.0.1:161";
        devs[d].n_points = o->points;
        devs[d].points = ptp;
        devp[d] = &devs[d];
    }
    inv.n_devices = o->devices;
    inv.devices = devp;
    snprintf(site, sizeof(site), "site-%s", a->id);
    h.agent_id = a->id;
    h.site_id = site;
    h.site_name = "load generator";
    h.epoch = o->bad == BAD_INVALID ? 0 : o->epoch;
    h.software_version = "fm-loadgen";
    h.inventory = &inv;
    h.max_frame = FMW_MAX_FRAME_DEFAULT;
    h.sent_at_ms = fm_clock_wall_ms();
    env.body_case = FM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    send_env(a, &env);
    free(devs);
    free(devp);
    free(pts);
    free(ptp);
    free(dn);
    free(pn);
}

static void send_batch(struct agent *a)
{
    const struct opts *o = &a->lg->o;
    uint64_t first = a->next_seq;
    uint64_t last = first + o->batch - 1 < o->events ? first + o->batch - 1 : o->events;
    size_t n = (size_t)(last - first + 1);
    struct batchbuf *bb = fm_xcalloc(n, sizeof(*bb));
    Fm__Event **evp = fm_xcalloc(n, sizeof(*evp));
    Fm__EventBatch b = FM__EVENT_BATCH__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;

    for (size_t i = 0; i < n; i++) {
        fill_event(a->lg, &bb[i], first + i);
        evp[i] = &bb[i].ev;
    }
    b.epoch = o->epoch;
    b.n_events = n;
    b.events = evp;
    env.body_case = FM__ENVELOPE__BODY_BATCH;
    env.batch = &b;
    send_env(a, &env);
    if (a->inflight < MAX_INFLIGHT) { /* noread sends past the window, untimed */
        a->sent_last[a->inflight] = last;
        a->sent_at[a->inflight] = uv_hrtime();
        a->inflight++;
    }
    a->next_seq = last + 1;
    free(bb);
    free(evp);
}

static void agent_pump(struct agent *a)
{
    struct lg *g = a->lg;

    while (a->ready && !a->closing && a->next_seq <= g->o.events) {
        if (a->stalled ? uv_stream_get_write_queue_size((uv_stream_t *)&a->tcp) > NOREAD_QUEUE_MAX
                       : a->inflight >= g->o.window)
            return;
        if (g->o.rate > 0 && g->tokens < g->o.batch)
            return;
        if (g->o.rate > 0)
            g->tokens -= g->o.batch;
        send_batch(a);
    }
}

static void record_latency(struct lg *g, uint64_t us)
{
    if (g->nlat == g->caplat) {
        g->caplat = g->caplat ? 2 * g->caplat : 4096;
        g->lat_us = fm_xrealloc(g->lat_us, g->caplat * sizeof(*g->lat_us));
    }
    g->lat_us[g->nlat++] = us;
}

static void finish_if_done(struct lg *g);

static void on_ack(struct agent *a, const Fm__Ack *ack)
{
    struct lg *g = a->lg;
    unsigned k = 0;

    if (ack->committed_seq < a->acked) {
        fail(g, "%s: ack %" PRIu64 " goes back from %" PRIu64, a->id, ack->committed_seq, a->acked);
        return;
    }
    a->acked = ack->committed_seq;
    while (k < a->inflight && a->sent_last[k] <= a->acked) {
        record_latency(g, (uv_hrtime() - a->sent_at[k]) / 1000u);
        k++;
    }
    memmove(a->sent_last, a->sent_last + k, (a->inflight - k) * sizeof(uint64_t));
    memmove(a->sent_at, a->sent_at + k, (a->inflight - k) * sizeof(uint64_t));
    a->inflight -= k;
    if (a->acked >= g->o.events && !a->done) {
        a->done = true;
        g->done++;
        finish_if_done(g);
    }
    agent_pump(a);
}

static void on_frame(struct agent *a, const uint8_t *p, size_t len)
{
    struct lg *g = a->lg;
    Fm__Envelope *env;

    if (fmw_envelope_unpack(p, len, NULL, &env) != 0) {
        fail(g, "%s: collector sent an undecodable frame", a->id);
        return;
    }
    if (env->body_case == FM__ENVELOPE__BODY_HELLO_ACK) {
        uint64_t c = env->hello_ack->last_committed_seq;

        if (c < a->acked)
            fail(g, "%s: hello ack names seq %" PRIu64 " but %" PRIu64 " was acked: events lost",
                 a->id, c, a->acked);
        a->acked = c;
        a->next_seq = c + 1;
        if (g->o.resend > 0 && !a->resent) {
            /* Committed events sent again: the collector must skip them. */
            a->resent = true;
            a->next_seq = c + 1 - (c < g->o.resend ? c : g->o.resend);
        }
        a->inflight = 0;
        a->session = true;
        if (g->o.bad == BAD_IDLE) /* a good Hello, then nothing */
            goto out;
        if (g->o.bad == BAD_NOREAD) {
            a->stalled = true;
            uv_read_stop((uv_stream_t *)&a->tcp);
        }
        a->ready = true;
        if (a->acked >= g->o.events && a->next_seq > g->o.events && !a->done) {
            a->done = true;
            g->done++;
            finish_if_done(g);
        }
        agent_pump(a);
    } else if (env->body_case == FM__ENVELOPE__BODY_ACK) {
        on_ack(a, env->ack);
    } else if (env->body_case == FM__ENVELOPE__BODY_GOODBYE) {
        fprintf(stderr, "fm-loadgen: %s: collector said goodbye (reason %d): %s\n", a->id,
                (int)env->goodbye->reason, env->goodbye->detail);
    }
out:
    fmw_envelope_free(env, NULL);
}

static void on_plain(struct agent *a, const uint8_t *data, size_t len)
{
    const uint8_t *p;
    size_t n;

    fmw_decoder_input(a->dec, data, len);
    while (fmw_decoder_next(a->dec, &p, &n) == 1)
        on_frame(a, p, n);
}

static void on_retry(uv_timer_t *t)
{
    agent_connect(t->data);
}

static void on_closed(uv_handle_t *h)
{
    struct agent *a = h->data;
    struct lg *g = a->lg;

    a->connected = a->closing = false;
    fm_tls_destroy(a->tls);
    a->tls = NULL;
    fmw_decoder_destroy(a->dec);
    a->dec = NULL;
    if (a->closed_by_peer && a->done && g->o.hold_s > 0 && !g->finishing)
        fail(g, "%s: the collector closed the connection while it was held", a->id);
    if (g->o.expect_close) {
        if (a->closed_by_peer && !a->done) {
            a->done = true;
            g->done++;
        }
        finish_if_done(g);
        return;
    }
    if (!a->done && !g->finishing) {
        a->reconnects++;
        uv_timer_start(&a->retry, on_retry, a->backoff_ms, 0);
        a->backoff_ms = a->backoff_ms * 2 > 2000 ? 2000 : a->backoff_ms * 2;
    }
}

static void agent_close(struct agent *a)
{
    if (a->closing || !a->connected)
        return;
    a->closing = true;
    a->ready = false;
    uv_close((uv_handle_t *)&a->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct agent *a = h->data;

    (void)hint;
    *buf = uv_buf_init((char *)a->lg->rbuf, sizeof(a->lg->rbuf));
}

static void start_session(struct agent *a);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct agent *a = s->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        a->closed_by_peer = true;
        agent_close(a);
        return;
    }
    if (!a->tls) {
        on_plain(a, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    fm_tls_feed(a->tls, (const uint8_t *)buf->base, (size_t)nread);
    if (!a->ready && fm_tls_handshake(a->tls) != 1) {
        flush_tls(a);
        return;
    }
    flush_tls(a);
    if (!a->ready && a->next_seq == 0) {
        a->next_seq = 1; /* handshake done: start the session once */
        start_session(a);
    }
    ssize_t n;
    while ((n = fm_tls_read(a->tls, a->lg->pbuf, sizeof(a->lg->pbuf))) > 0)
        on_plain(a, a->lg->pbuf, (size_t)n);
    if (n < 0) {
        a->closed_by_peer = true;
        agent_close(a);
    }
}

/* After connect (and the TLS handshake): the Hello, or the bad behaviour. */
static void start_session(struct agent *a)
{
    struct lg *g = a->lg;
    static const uint8_t garbage[] = {0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t big[4] = {0x7f, 0xff, 0xff, 0xff};

    switch (g->o.bad) {
    case BAD_MALFORMED:
        send_bytes(a, garbage, sizeof(garbage));
        break;
    case BAD_OVERSIZE:
        send_bytes(a, big, sizeof(big));
        break;
    case BAD_SILENT:
        break;
    default:
        send_hello(a);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct agent *a = req->data;

    if (status < 0) {
        a->connected = true; /* the handle exists: close it and retry */
        agent_close(a);
        return;
    }
    a->backoff_ms = 100;
    a->dec = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    a->next_seq = 0;
    uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
    if (a->lg->tls_ctx) {
        if (fm_tls_create(a->lg->tls_ctx, &a->tls) < 0) {
            agent_close(a); /* out of memory: closed, and retried like a refusal */
            return;
        }
        fm_tls_handshake(a->tls);
        flush_tls(a);
    } else {
        a->next_seq = 1;
        start_session(a);
    }
}

static void agent_connect(struct agent *a)
{
    struct sockaddr_in sa;

    uv_ip4_addr(a->lg->o.host, a->lg->o.port, &sa);
    /* With its socket created now, so that SO_RCVBUF is set before the
     * handshake (it sizes the window the peer may fill). */
    uv_tcp_init_ex(a->lg->loop, &a->tcp, AF_INET);
    a->tcp.data = a;
    a->creq.data = a;
    a->connected = true;
    a->closed_by_peer = false;
    a->stalled = a->session = false;
    if (a->lg->o.rcvbuf > 0) {
        int v = a->lg->o.rcvbuf;
        uv_recv_buffer_size((uv_handle_t *)&a->tcp, &v);
    }
    if (uv_tcp_connect(&a->creq, &a->tcp, (struct sockaddr *)&sa, on_connect) != 0)
        agent_close(a);
}

/* ---------------------------------------------------------------- run */

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void stop_all(struct lg *g)
{
    g->finishing = true;
    uv_timer_stop(&g->tick);
    uv_timer_stop(&g->deadline);
    uv_close((uv_handle_t *)&g->tick, NULL);
    uv_close((uv_handle_t *)&g->deadline, NULL);
    for (unsigned i = 0; i < g->o.agents; i++) {
        uv_timer_stop(&g->agents[i].retry);
        uv_close((uv_handle_t *)&g->agents[i].retry, NULL);
        agent_close(&g->agents[i]);
    }
}

static void on_hold_done(uv_timer_t *t)
{
    stop_all(t->data);
}

static void finish_if_done(struct lg *g)
{
    if (g->done < g->o.agents || g->finishing || g->end_ns)
        return;
    g->end_ns = uv_hrtime();
    if (g->o.hold_s > 0) {
        fprintf(stderr, "fm-loadgen: all acked; holding %u connections for %.0f s\n", g->o.agents,
                g->o.hold_s);
        uv_timer_start(&g->deadline, on_hold_done, (uint64_t)(g->o.hold_s * 1000), 0);
        return;
    }
    stop_all(g);
}

static void on_deadline(uv_timer_t *t)
{
    struct lg *g = t->data;

    fail(g, "timeout after %.0f s: %u of %u agents done", g->o.timeout_s, g->done, g->o.agents);
    for (unsigned i = 0; i < g->o.agents && i < 5; i++) {
        struct agent *a = &g->agents[i];
        if (!a->done)
            fprintf(stderr, "fm-loadgen: %s: acked %" PRIu64 " next %" PRIu64 " inflight %u\n",
                    a->id, a->acked, a->next_seq, a->inflight);
    }
    stop_all(g);
}

static void send_heartbeat(struct agent *a)
{
    Fm__Heartbeat hb;
    Fm__Envelope env;

    fmw_heartbeat_init(&env, &hb);
    send_env(a, &env);
}

static void on_tick(uv_timer_t *t)
{
    struct lg *g = t->data;

    if (g->o.rate > 0) {
        g->tokens += g->o.rate / 100.0;
        if (g->tokens > g->o.rate / 10 + g->o.batch)
            g->tokens = g->o.rate / 10 + g->o.batch;
    }
    for (unsigned i = 0; i < g->o.agents; i++) {
        struct agent *a = &g->agents[i];
        uint64_t now = uv_now(g->loop);

        if (g->o.heartbeat_ms > 0 && a->session && !a->closing &&
            now - a->last_tx >= g->o.heartbeat_ms)
            send_heartbeat(a);
        agent_pump(a);
    }
}

static const char usage[] =
    "usage: fm-loadgen --connect HOST:PORT [options]\n"
    "  --agent ID          agent id, or the prefix of ID-1..ID-N with --agents N (default agent)\n"
    "  --agents N          agents (connections) to play (default 1)\n"
    "  --cert-dir DIR      TLS: DIR/ca.crt and DIR/<name>.crt/.key (default: plain TCP)\n"
    "  --cert-name NAME    certificate to present (default: the agent id)\n"
    "  --epoch E           spool epoch (default 1)\n"
    "  --events N          events per agent (default 1000)\n"
    "  --resend N          after the first HelloAck, send its last N committed events again\n"
    "  --ts-start MS       event time of seq 0, Unix ms (default: now - events - 1 s)\n"
    "  --ts-step MS        event time between two sequences (default 1)\n"
    "  --batch N           events per batch (default 500)\n"
    "  --window N          batches in flight per agent (default 4, at most 64)\n"
    "  --devices N --points N  inventory size per agent (default 4 x 5)\n"
    "  --only-measurements no alarms, reachability, traps or status events\n"
    "  --rate R            events/s over all agents (default: as fast as acked)\n"
    "  --timeout S         give up after S seconds (default 60)\n"
    "  --hold S            keep connections open S seconds after the last ack\n"
    "  --heartbeat MS      send a Heartbeat after MS without sending anything else\n"
    "  --rcvbuf BYTES      socket receive buffer of each connection (SO_RCVBUF)\n"
    "  --bad MODE          malformed | oversize | silent | invalid (before or in the Hello);\n"
    "                      idle (a Hello, then silence) | noread (never reads its acks)\n"
    "  --expect-close      succeed when the collector closes every connection\n";

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"connect", 1, NULL, 'C'},   {"agent", 1, NULL, 'a'},
        {"agents", 1, NULL, 'n'},    {"cert-dir", 1, NULL, 'd'},
        {"cert-name", 1, NULL, 'N'}, {"epoch", 1, NULL, 'e'},
        {"events", 1, NULL, 'E'},    {"batch", 1, NULL, 'b'},
        {"window", 1, NULL, 'w'},    {"devices", 1, NULL, 'D'},
        {"points", 1, NULL, 'P'},    {"only-measurements", 0, NULL, 'M'},
        {"resend", 1, NULL, 'S'},    {"ts-start", 1, NULL, 's'},
        {"ts-step", 1, NULL, 'p'},   {"rate", 1, NULL, 'r'},
        {"timeout", 1, NULL, 't'},   {"hold", 1, NULL, 'H'},
        {"bad", 1, NULL, 'B'},       {"heartbeat", 1, NULL, 'T'},
        {"rcvbuf", 1, NULL, 'R'},    {"expect-close", 0, NULL, 'X'},
        {"help", 0, NULL, 'h'},      {NULL, 0, NULL, 0}};
    int c;

    *o = (struct opts){.agent = "agent",
                       .agents = 1,
                       .epoch = 1,
                       .events = 1000,
                       .batch = 500,
                       .window = 4,
                       .devices = 4,
                       .points = 5,
                       .ts_step_ms = 1,
                       .timeout_s = 60};
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'C': {
            static char host[64];
            const char *colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof(host))
                return -EINVAL;
            memcpy(host, optarg, (size_t)(colon - optarg));
            o->host = host;
            o->port = atoi(colon + 1);
            break;
        }
        case 'a':
            o->agent = optarg;
            break;
        case 'n':
            o->agents = (unsigned)atoi(optarg);
            break;
        case 'd':
            o->cert_dir = optarg;
            break;
        case 'N':
            o->cert_name = optarg;
            break;
        case 'e':
            o->epoch = strtoull(optarg, NULL, 10);
            break;
        case 'E':
            o->events = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            o->batch = (unsigned)atoi(optarg);
            break;
        case 'w':
            o->window = (unsigned)atoi(optarg);
            break;
        case 'D':
            o->devices = (unsigned)atoi(optarg);
            break;
        case 'P':
            o->points = (unsigned)atoi(optarg);
            break;
        case 'M':
            o->only_measurements = true;
            break;
        case 'S':
            o->resend = strtoull(optarg, NULL, 10);
            break;
        case 's':
            o->ts_start_ms = strtoll(optarg, NULL, 10);
            break;
        case 'p':
            o->ts_step_ms = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 't':
            o->timeout_s = atof(optarg);
            break;
        case 'H':
            o->hold_s = atof(optarg);
            break;
        case 'X':
            o->expect_close = true;
            break;
        case 'T':
            o->heartbeat_ms = strtoull(optarg, NULL, 10);
            break;
        case 'R':
            o->rcvbuf = atoi(optarg);
            break;
        case 'B':
            o->bad = !strcmp(optarg, "malformed")  ? BAD_MALFORMED
                     : !strcmp(optarg, "oversize") ? BAD_OVERSIZE
                     : !strcmp(optarg, "silent")   ? BAD_SILENT
                     : !strcmp(optarg, "invalid")  ? BAD_INVALID
                     : !strcmp(optarg, "idle")     ? BAD_IDLE
                     : !strcmp(optarg, "noread")   ? BAD_NOREAD
                                                   : (enum bad_mode) - 1;
            if ((int)o->bad < 0)
                return -EINVAL;
            break;
        default:
            return -EINVAL;
        }
    }
    if (!o->host || o->agents == 0 || o->batch == 0 || o->batch > FMW_MAX_BATCH_EVENTS ||
        o->window == 0 || o->window > MAX_INFLIGHT || o->devices == 0 || o->points == 0)
        return -EINVAL;
    return 0;
}

int main(int argc, char **argv)
{
    static struct lg g;
    char why[512], path[3][512];

    if (parse(argc, argv, &g.o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    /* A collector closing a connection with writes in flight must not kill
     * the whole load generator: the write fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    g.loop = uv_default_loop();
    g.agents = fm_xcalloc(g.o.agents, sizeof(*g.agents));
    g.base_ts_ms = g.o.ts_start_ms > 0 ? (uint64_t)g.o.ts_start_ms
                                       : (uint64_t)fm_clock_wall_ms() - g.o.events - 1000;
    for (unsigned i = 0; i < g.o.agents; i++) {
        struct agent *a = &g.agents[i];

        a->lg = &g;
        a->idx = i;
        a->backoff_ms = 100;
        if (g.o.agents == 1)
            snprintf(a->id, sizeof(a->id), "%s", g.o.agent);
        else
            snprintf(a->id, sizeof(a->id), "%s-%u", g.o.agent, i + 1);
        uv_timer_init(g.loop, &a->retry);
        a->retry.data = a;
    }
    if (g.o.cert_dir) {
        /* One certificate for the whole run: tests play one agent per
         * process when identities matter. */
        const char *name = g.o.cert_name ? g.o.cert_name : g.agents[0].id;
        snprintf(path[0], sizeof(path[0]), "%s/%s.crt", g.o.cert_dir, name);
        snprintf(path[1], sizeof(path[1]), "%s/%s.key", g.o.cert_dir, name);
        snprintf(path[2], sizeof(path[2]), "%s/ca.crt", g.o.cert_dir);
        struct fm_tls_cfg tc = {.ca_file = path[2], .cert_file = path[0], .key_file = path[1]};
        if (fm_tls_ctx_create(&tc, FM_TLS_CLIENT, &g.tls_ctx, why, sizeof(why)) < 0) {
            fprintf(stderr, "fm-loadgen: %s\n", why);
            return 2;
        }
    }
    uv_timer_init(g.loop, &g.tick);
    uv_timer_init(g.loop, &g.deadline);
    g.tick.data = g.deadline.data = &g;
    uv_timer_start(&g.tick, on_tick, 10, 10);
    uv_timer_start(&g.deadline, on_deadline, (uint64_t)(g.o.timeout_s * 1000), 0);
    g.start_ns = uv_hrtime();
    for (unsigned i = 0; i < g.o.agents; i++)
        agent_connect(&g.agents[i]);
    uv_run(g.loop, UV_RUN_DEFAULT);

    uint64_t acked = 0, reconnects = 0;
    for (unsigned i = 0; i < g.o.agents; i++) {
        acked += g.agents[i].acked;
        reconnects += g.agents[i].reconnects;
    }
    double secs = (double)((g.end_ns ? g.end_ns : uv_hrtime()) - g.start_ns) / 1e9;
    double p50 = 0, p99 = 0;
    if (g.nlat) {
        qsort(g.lat_us, g.nlat, sizeof(*g.lat_us), cmp_u64);
        p50 = (double)g.lat_us[g.nlat / 2] / 1000.0;
        p99 = (double)g.lat_us[(size_t)((double)(g.nlat - 1) * 0.99)] / 1000.0;
    }
    if (g.o.expect_close && g.done < g.o.agents)
        fail(&g, "the collector did not close %u connection(s)", g.o.agents - g.done);
    printf("agents=%u events=%" PRIu64 " acked=%" PRIu64 " reconnects=%" PRIu64
           " elapsed_s=%.3f events_per_s=%.0f ack_p50_ms=%.1f ack_p99_ms=%.1f\n",
           g.o.agents, g.o.events * g.o.agents, acked, reconnects, secs,
           secs > 0 ? (double)acked / secs : 0.0, p50, p99);
    fm_tls_ctx_destroy(g.tls_ctx);
    free(g.agents);
    free(g.lat_us);
    uv_loop_close(g.loop);
    return g.failures ? 1 : 0;
}
