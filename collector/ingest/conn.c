/* conn: see conn.h. Reads frames, checks them against the contract and the
 * connection's state, submits Hellos and batches to the writer, and sends
 * HelloAck and Ack when the writer reports the commit. Every way a
 * connection ends goes through conn__close, which logs the reason once. */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fmw_arena.h"
#include "metrics.h"

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static uint64_t now_ms(const struct server *s)
{
    return uv_now(s->loop);
}

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;

    c->handle_open = false;
    if (c->refs == 0) {
        fm_tls_destroy(c->tls);
        fmw_decoder_destroy(c->dec);
        free(c);
    }
}

void conn__close(struct conn *c, const char *fmt, ...)
{
    struct server *s = c->srv;
    char why[512];
    va_list ap;

    if (c->state == CONN_CLOSING)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    FM_NOTICE("conn: %s%s%s: closed: %s", c->peer, c->agent_id[0] ? " agent " : "", c->agent_id,
              why);
    if (c->state == CONN_READY && s->faults && !s->stopping)
        faults_agent_gone(s->faults, c->site_id, c->agent_id);
    /* At shutdown the writers have stopped: the agent stays marked as
     * connected here, and the restarted collector counts it lost unless
     * it comes back (faults_writer.c, agents left connected). */
    if (c->state == CONN_READY && !s->stopping) {
        struct dbw_job *j = fm_xcalloc(1, sizeof(*j));

        j->kind = DBW_BYE;
        snprintf(j->agent_id, sizeof(j->agent_id), "%s", c->agent_id);
        dbw_submit(s->dbw, j);
    }
    if (!c->reading)
        atomic_fetch_sub(&metrics.conns_paused, 1);
    c->state = CONN_CLOSING;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    atomic_fetch_sub(&metrics.conns_open, 1);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

#define PROTO FM__GOODBYE__REASON__REASON_PROTOCOL_ERROR
#define TOOBIG FM__GOODBYE__REASON__REASON_FRAME_TOO_LARGE
#define AUTH FM__GOODBYE__REASON__REASON_AUTH_FAILED
#define IDLE FM__GOODBYE__REASON__REASON_IDLE_TIMEOUT
#define OVERLOADED FM__GOODBYE__REASON__REASON_OVERLOADED
#define SHUTDOWN FM__GOODBYE__REASON__REASON_SHUTDOWN

struct wreq {
    uv_write_t req;
    uint8_t data[];
};

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->handle->data;

    if (status < 0 && status != UV_ECANCELED)
        conn__close(c, "write: %s", uv_strerror(status));
    free(req);
}

/* Bytes in the socket's send queue that the peer has not acknowledged.
 * The kernel grows a socket's send buffer to megabytes before libuv queues
 * anything, so a peer that stops reading shows here first. */
static size_t socket_outq(struct conn *c)
{
    uv_os_fd_t fd;
    int n = 0;

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}

/* Queues bytes to the peer. What the peer has not taken yet, in libuv's
 * queue and in the socket, is held against limits.max_write_queue: a peer
 * that sends batches and never reads its acks is closed there. */
static void write_bytes(struct conn *c, const uint8_t *data, size_t len)
{
    struct wreq *w = fm_xmalloc(sizeof(*w) + len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    size_t queued;
    int rc;

    memcpy(w->data, data, len);
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        conn__close(c, "write: %s", uv_strerror(rc));
        return;
    }
    c->last_tx_ms = now_ms(c->srv);
    queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + socket_outq(c);
    if (queued > c->srv->cfg->limits.max_write_queue)
        conn__close(c, "peer does not read: over %llu bytes queued (%zu bytes)",
                    (unsigned long long)c->srv->cfg->limits.max_write_queue, queued);
}

/* Sends TLS records produced by the session, if any. */
static void flush_tls(struct conn *c)
{
    uint8_t *buf = c->srv->pbuf;
    size_t n;

    while (c->state != CONN_CLOSING && (n = fm_tls_take(c->tls, buf, sizeof(c->srv->pbuf))) > 0)
        write_bytes(c, buf, n);
}

static void send_env(struct conn *c, const Fm__Envelope *env)
{
    uint8_t small[256];
    size_t size = fmw_frame_size(env);
    uint8_t *buf = size <= sizeof(small) ? small : fm_xmalloc(size);
    int64_t n = fmw_frame_pack(env, buf, size, FMW_MAX_FRAME_LIMIT);

    if (n < 0) {
        conn__close(c, "pack %s: %s", fmw_envelope_kind(env), fmw_strerror((int)n));
    } else if (c->tls) {
        int rc = fm_tls_write(c->tls, buf, (size_t)n);
        if (rc < 0)
            conn__close(c, "tls write: %s", fm_tls_why(c->tls));
        else
            flush_tls(c);
    } else {
        write_bytes(c, buf, (size_t)n);
    }
    if (buf != small)
        free(buf);
}

void conn__fail(struct conn *c, Fm__Goodbye__Reason reason, const char *fmt, ...)
{
    Fm__Goodbye bye = FM__GOODBYE__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;
    char why[512];
    va_list ap;

    if (c->state == CONN_CLOSING)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* Tell the peer why, when there is a channel to say it on. libuv tries
     * the write at once, so it usually leaves before the close. */
    if (c->dec != NULL && (c->tls == NULL || c->tls_ready)) {
        bye.reason = reason;
        bye.detail = why;
        env.body_case = FM__ENVELOPE__BODY_GOODBYE;
        env.goodbye = &bye;
        send_env(c, &env);
    }
    conn__close(c, "%s", why);
}

void conn__update_reading(struct conn *c)
{
    struct server *s = c->srv;
    size_t held;
    bool want;

    if (c->state == CONN_CLOSING)
        return;
    held = c->inflight + fmw_decoder_buffered(c->dec);
    if ((int_fast64_t)held > atomic_load(&metrics.conn_memory_peak))
        atomic_store(&metrics.conn_memory_peak, (int_fast64_t)held);
    want = !s->paused && !s->stopping && c->state != CONN_HELLO_SENT &&
           held < s->cfg->limits.max_conn_memory;
    if (want == c->reading)
        return;
    c->reading = want;
    if (want) {
        atomic_fetch_sub(&metrics.conns_paused, 1);
        /* Silence while we were not reading is ours, not the peer's. */
        c->last_rx_ms = now_ms(s);
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc < 0)
            conn__close(c, "read: %s", uv_strerror(rc));
    } else {
        atomic_fetch_add(&metrics.conns_paused, 1);
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void submit(struct conn *c, enum dbw_kind kind, Fm__Envelope *env, fmw_arena_t *arena,
                   size_t nevents)
{
    struct server *s = c->srv;
    struct dbw_job *j = fm_xcalloc(1, sizeof(*j));

    j->kind = kind;
    j->owner = c;
    j->env = env;
    j->arena = arena;
    /* Held until the commit: the decoded envelope (all of its arena) and
     * this job. */
    j->bytes = fmw_arena_bytes(arena) + sizeof(*j);
    j->nevents = nevents;
    if (kind == DBW_BATCH)
        j->chain = &c->chain;
    snprintf(j->agent_id, sizeof(j->agent_id), "%s", c->agent_id);
    snprintf(j->peer, sizeof(j->peer), "%s", c->peer);
    c->refs++;
    c->inflight += j->bytes;
    atomic_fetch_add(&metrics.conn_memory, (int_fast64_t)j->bytes);
    dbw_submit(s->dbw, j);
    if (!s->paused && dbw_queued_events(s->dbw) > s->cfg->database.queue_max_events) {
        s->paused = true;
        FM_WARN("ingest: %zu events wait for PostgreSQL (limit %llu): pausing reads from agents",
                dbw_queued_events(s->dbw), (unsigned long long)s->cfg->database.queue_max_events);
        for (struct conn *k = s->conns; k; k = k->next)
            conn__update_reading(k);
    }
}

/* A Hello: the certificate must name the agent; a second connection of
 * one agent replaces the first (the agent reconnected before we noticed). */
static int on_hello(struct conn *c, Fm__Envelope *env, fmw_arena_t *arena)
{
    const Fm__Hello *h = env->hello;

    if (c->state != CONN_HELLO_WAIT) {
        conn__fail(c, PROTO, "protocol error: second hello");
        return -EPROTO;
    }
    if (c->tls && !fm_tls_peer_is(c->tls, h->agent_id)) {
        atomic_fetch_add(&metrics.tls_failures, 1);
        conn__fail(c, AUTH, "hello for agent %s but the client certificate is for %s", h->agent_id,
                   fm_tls_peer_cn(c->tls));
        return -EACCES;
    }
    for (struct conn *k = c->srv->conns; k; k = k->next) {
        if (k != c && k->state != CONN_HELLO_WAIT && strcmp(k->agent_id, h->agent_id) == 0) {
            conn__fail(k, SHUTDOWN, "replaced by a new connection from %s", c->peer);
            break;
        }
    }
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", h->agent_id);
    snprintf(c->site_id, sizeof(c->site_id), "%s", h->site_id);
    c->epoch = h->epoch;
    c->state = CONN_HELLO_SENT;
    submit(c, DBW_HELLO, env, arena, 0);
    return 0;
}

static int on_batch(struct conn *c, Fm__Envelope *env, fmw_arena_t *arena)
{
    const Fm__EventBatch *b = env->batch;

    if (c->state != CONN_READY) {
        conn__fail(c, PROTO, "protocol error: batch before hello");
        return -EPROTO;
    }
    if (b->epoch != c->epoch) {
        conn__fail(c, PROTO, "protocol error: batch for epoch %llu, hello said %llu",
                   (unsigned long long)b->epoch, (unsigned long long)c->epoch);
        return -EPROTO;
    }
    atomic_fetch_add(&metrics.events_in, b->n_events);
    submit(c, DBW_BATCH, env, arena, b->n_events);
    return 0;
}

/* One frame's payload. Returns 0, or a negative errno after closing. */
static int on_frame(struct conn *c, const uint8_t *payload, size_t len)
{
    Fm__Envelope *env = NULL;
    /* The decoded envelope lives in an arena (see fmw_arena.h), which also
     * says exactly what it holds: a decoded batch is several times its frame
     * (a struct per event and per value, a block per string), so charging
     * frame bytes would let a connection hold several times
     * limits.max_conn_memory. A first chunk of 6 times the frame covers a
     * batch of measurements. */
    fmw_arena_t *arena = fmw_arena_create(len * 6);
    char why[256];
    int rc;

    atomic_fetch_add(&metrics.frames_in, 1);
    if (fmw_envelope_unpack(payload, len, fmw_arena_allocator(arena), &env) != 0) {
        fmw_arena_destroy(arena);
        atomic_fetch_add(&metrics.protocol_errors, 1);
        conn__fail(c, PROTO, "%s", fmw_strerror(FMW_EDECODE));
        return FMW_EDECODE;
    }
    if (fmw_envelope_validate(env, fm_clock_wall_ms(), why, sizeof(why)) != 0) {
        atomic_fetch_add(&metrics.protocol_errors, 1);
        conn__fail(c, PROTO, "%s: %s: %s", fmw_strerror(FMW_EINVALID), fmw_envelope_kind(env), why);
        fmw_arena_destroy(arena);
        return FMW_EINVALID;
    }
    switch (env->body_case) {
    case FM__ENVELOPE__BODY_HELLO:
        rc = on_hello(c, env, arena);
        break;
    case FM__ENVELOPE__BODY_BATCH:
        rc = on_batch(c, env, arena);
        break;
    case FM__ENVELOPE__BODY_HEARTBEAT:
    case FM__ENVELOPE__BODY_COMMAND_RESULT:
        fmw_arena_destroy(arena);
        return 0;
    case FM__ENVELOPE__BODY_GOODBYE:
        conn__close(c, "agent said goodbye: %s",
                    env->goodbye->detail[0] ? env->goodbye->detail : "no reason given");
        fmw_arena_destroy(arena);
        return -EPIPE;
    default:
        atomic_fetch_add(&metrics.protocol_errors, 1);
        conn__fail(c, PROTO, "protocol error: %s is not sent by agents", fmw_envelope_kind(env));
        fmw_arena_destroy(arena);
        return -EPROTO;
    }
    if (rc != 0) {
        atomic_fetch_add(&metrics.protocol_errors, 1);
        fmw_arena_destroy(arena);
    }
    return rc;
}

/* Plain bytes of the stream (after TLS). Returns 0 or negative after closing. */
static int on_plain(struct conn *c, const uint8_t *data, size_t len)
{
    const uint8_t *payload;
    size_t plen;
    int rc;

    fmw_decoder_input(c->dec, data, len);
    while ((rc = fmw_decoder_next(c->dec, &payload, &plen)) == 1) {
        if ((rc = on_frame(c, payload, plen)) != 0)
            return rc;
    }
    if (rc < 0) {
        atomic_fetch_add(&metrics.protocol_errors, 1);
        if (rc == FMW_ETOOBIG)
            conn__fail(c, rc == FMW_ETOOBIG ? TOOBIG : PROTO, "%s (%llu bytes)", fmw_strerror(rc),
                       (unsigned long long)c->srv->cfg->limits.max_frame);
        else
            conn__fail(c, PROTO, "%s", fmw_strerror(rc));
    }
    return rc;
}

static int on_cipher(struct conn *c, const uint8_t *data, size_t len)
{
    int rc = fm_tls_feed(c->tls, data, len);

    if (rc < 0) {
        conn__close(c, "tls input: %s", strerror(-rc));
        return rc;
    }
    if (!c->tls_ready) {
        rc = fm_tls_handshake(c->tls);
        flush_tls(c);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            atomic_fetch_add(&metrics.tls_failures, 1);
            conn__close(c, "tls handshake: %s", fm_tls_why(c->tls));
            return rc;
        }
        c->tls_ready = true;
        rc = 0;
    }
    while (rc == 0 && c->state != CONN_CLOSING) {
        ssize_t n = fm_tls_read(c->tls, c->srv->pbuf, sizeof(c->srv->pbuf));
        if (n == 0)
            break;
        if (n < 0) {
            if (n != -EPIPE)
                atomic_fetch_add(&metrics.tls_failures, 1);
            conn__close(c, "tls read: %s", fm_tls_why(c->tls));
            return (int)n;
        }
        rc = on_plain(c, c->srv->pbuf, (size_t)n);
    }
    if (c->state != CONN_CLOSING)
        flush_tls(c);
    return rc;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init((char *)c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && fmw_decoder_finish(c->dec) == FMW_ETRUNC)
            conn__close(c, "%s", fmw_strerror(FMW_ETRUNC));
        else if (nread == UV_EOF)
            conn__close(c, "peer closed the connection");
        else
            conn__close(c, "read: %s", uv_strerror((int)nread));
        return;
    }
    atomic_fetch_add(&metrics.bytes_in, (uint64_t)nread);
    c->last_rx_ms = now_ms(c->srv);
    if (c->tls)
        on_cipher(c, (const uint8_t *)buf->base, (size_t)nread);
    else
        on_plain(c, (const uint8_t *)buf->base, (size_t)nread);
    conn__update_reading(c);
}

void conn__accept(struct server *s)
{
    struct conn *c = fm_xcalloc(1, sizeof(*c));
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc;

    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handle_open = true;
    rc = uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp);
    if (rc == 0 && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char host[48] = "?";
        int port;
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
        }
    }
    /* Linked first, so that every failure below closes through conn__close. */
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    atomic_fetch_add(&metrics.conns_open, 1);
    atomic_fetch_add(&metrics.conns_accepted, 1);
    c->opened_ms = c->last_rx_ms = c->last_tx_ms = now_ms(s);
    c->state = CONN_HELLO_WAIT;
    c->reading = true;
    if (rc < 0) {
        conn__close(c, "accept: %s", uv_strerror(rc));
        return;
    }
    c->dec = fmw_decoder_create(s->cfg->limits.max_frame);
    if (s->nconns > s->cfg->limits.max_connections) {
        atomic_fetch_add(&metrics.conns_refused, 1);
        conn__fail(c, OVERLOADED, "refused: %llu connections are open (limits.max_connections)",
                   (unsigned long long)s->cfg->limits.max_connections);
        return;
    }
    if (s->tls && (rc = fm_tls_create(s->tls, &c->tls)) < 0) {
        conn__close(c, "tls session: %s", strerror(-rc));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0)
        conn__close(c, "read: %s", uv_strerror(rc));
}

static void send_hello_ack(struct conn *c, uint64_t committed)
{
    const struct collconf_limits *l = &c->srv->cfg->limits;
    Fm__HelloAck ack = FM__HELLO_ACK__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;

    ack.epoch = c->epoch;
    ack.last_committed_seq = committed;
    ack.max_frame = (uint32_t)l->max_frame;
    ack.heartbeat_s = (uint32_t)((l->heartbeat_ms + 999) / 1000);
    ack.collector_id = (char *)c->srv->collector_id;
    env.body_case = FM__ENVELOPE__BODY_HELLO_ACK;
    env.hello_ack = &ack;
    send_env(c, &env);
}

static void send_ack(struct conn *c, uint64_t committed)
{
    Fm__Ack ack = FM__ACK__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;

    ack.epoch = c->epoch;
    ack.committed_seq = committed;
    env.body_case = FM__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    send_env(c, &env);
}

void conn__job_done(struct dbw_job *job, void *arg)
{
    struct server *s = arg;
    struct conn *c = job->owner;

    if (c == NULL) /* DBW_BYE */
        goto out;
    c->refs--;
    c->inflight -= job->bytes;
    atomic_fetch_sub(&metrics.conn_memory, (int_fast64_t)job->bytes);
    if (c->state == CONN_CLOSING) {
        if (c->refs == 0 && !c->handle_open)
            on_close((uv_handle_t *)&c->tcp);
        goto out;
    }
    if (job->rc != 0) {
        conn__fail(c, FM__GOODBYE__REASON__REASON_UNSPECIFIED, "database: %s", job->why);
        goto out;
    }
    if (job->kind == DBW_HELLO) {
        c->state = CONN_READY;
        FM_INFO("conn: %s agent %s: epoch %llu, resuming after seq %llu", c->peer, c->agent_id,
                (unsigned long long)c->epoch, (unsigned long long)job->committed_seq);
        send_hello_ack(c, job->committed_seq);
        /* Events up to the committed sequence were graded when they came. */
        c->fed_seq = job->committed_seq;
        if (s->faults)
            faults_hello(s->faults, job->env->hello);
    } else {
        /* A job's committed_seq may cover later batches committed in the
         * same transaction, so the batch's own last event moves fed_seq. */
        const Fm__EventBatch *b = job->env->batch;
        if (s->faults && b->n_events > 0 && b->events[b->n_events - 1]->seq > c->fed_seq) {
            faults_events(s->faults, c->site_id, c->agent_id, c->epoch, b, c->fed_seq);
            c->fed_seq = b->events[b->n_events - 1]->seq;
        }
        metrics_observe(&metrics.ack_latency, uv_hrtime() / 1000u - job->queued_us);
        send_ack(c, job->committed_seq);
    }
    conn__update_reading(c);
out:
    dbw_job_free(job);
    if (s->paused && dbw_queued_events(s->dbw) <= s->cfg->database.queue_max_events / 2) {
        s->paused = false;
        FM_NOTICE("ingest: PostgreSQL caught up: reading from agents again");
        for (struct conn *k = s->conns; k; k = k->next)
            conn__update_reading(k);
    }
}

static void send_heartbeat(struct conn *c)
{
    Fm__Heartbeat hb;
    Fm__Envelope env;

    fmw_heartbeat_init(&env, &hb);
    send_env(c, &env);
}

/* Bytes received by the kernel and not yet read by us (0 when unknown). */
static int unread_bytes(struct conn *c)
{
    uv_os_fd_t fd;
    int n = 0;

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, FIONREAD, &n) != 0)
        return 0;
    return n;
}

void conn__sweep(struct conn *c, uint64_t now)
{
    const struct collconf_limits *l = &c->srv->cfg->limits;

    if (c->state == CONN_HELLO_WAIT && now - c->opened_ms > (uint64_t)l->hello_timeout_ms) {
        atomic_fetch_add(&metrics.timeouts, 1);
        conn__fail(c, IDLE, "no %s within limits.hello_timeout (%lld ms)",
                   c->tls && !c->tls_ready ? "TLS handshake" : "hello",
                   (long long)l->hello_timeout_ms);
        return;
    }
    /* A connection we stopped reading is not idle on its own account, and
     * neither is one whose bytes wait in the socket: the loop was busy
     * (this sweep runs before the reads of the same turn) and has not got
     * to them yet. */
    if (c->reading && now - c->last_rx_ms > (uint64_t)l->idle_timeout_ms && unread_bytes(c) == 0) {
        atomic_fetch_add(&metrics.timeouts, 1);
        conn__fail(c, IDLE, "silent for limits.idle_timeout (%lld ms)",
                   (long long)l->idle_timeout_ms);
        return;
    }
    if (c->state == CONN_READY && now - c->last_tx_ms >= (uint64_t)l->heartbeat_ms)
        send_heartbeat(c);
}
