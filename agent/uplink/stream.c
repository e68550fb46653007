/* stream: see stream.h.
 *
 * Life of a stream: created -> connecting (timer armed) -> [TLS handshake] ->
 * open -> closing. Two handles (tcp, timer) are embedded; the struct is freed
 * when both close callbacks have run, after on_close was delivered. Errors
 * found inside a call are delivered on the next loop turn through the timer
 * set to 0, so on_close never runs inside stream_write or stream_connect. */
#include "stream.h"

#include "fm_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stream {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    const struct stream_cbs *cbs;
    void *ud;
    fm_tls_t *tls; /* NULL: plain TCP (or no session could be made) */
    int tls_rc;    /* fm_tls_create's failure, reported by connect/accept */
    bool open, closing, close_reported, tcp_live;
    int handles; /* handles still to close */
    int status;
    char why[256];
    char peer[64];
    size_t queued;
};

struct wreq {
    uv_write_t req;
    stream_t *l;
    size_t len;
    uint8_t data[];
};

stream_t *stream_create(uv_loop_t *loop, fm_tls_ctx_t *ctx, const struct stream_cbs *cbs, void *ud)
{
    stream_t *l = fm_xcalloc(1, sizeof(*l));

    l->cbs = cbs;
    l->ud = ud;
    uv_tcp_init(loop, &l->tcp);
    uv_timer_init(loop, &l->timer);
    l->tcp.data = l;
    l->timer.data = l;
    l->handles = 2;
    if (ctx != NULL)
        l->tls_rc = fm_tls_create(ctx, &l->tls);
    return l;
}

static void on_handle_closed(uv_handle_t *h)
{
    stream_t *l = h->data;

    if (--l->handles > 0)
        return;
    fm_tls_destroy(l->tls);
    free(l);
}

static void report_close(stream_t *l)
{
    if (l->close_reported)
        return;
    l->close_reported = true;
    if (l->cbs->on_close != NULL)
        l->cbs->on_close(l, l->status, l->why, l->ud);
    uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&l->timer, on_handle_closed);
}

static void on_deferred_close(uv_timer_t *t)
{
    report_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    report_close(req->data);
}

void stream_close(stream_t *l, int status, const char *why)
{
    if (l->closing)
        return;
    l->closing = true;
    l->status = status;
    snprintf(l->why, sizeof(l->why), "%s", why != NULL ? why : "");
    uv_read_stop((uv_stream_t *)&l->tcp);
    /* A clean close lets queued writes (a Goodbye) reach the peer first. */
    if (status == 0 && l->open) {
        l->shutdown.data = l;
        uv_timer_stop(&l->timer);
        if (uv_shutdown(&l->shutdown, (uv_stream_t *)&l->tcp, on_shutdown) == 0)
            return;
    }
    /* Deliver on the next turn: the caller may be inside a callback of ours. */
    uv_timer_stop(&l->timer);
    uv_timer_start(&l->timer, on_deferred_close, 0, 0);
}

static void fail(stream_t *l, int status, const char *why)
{
    stream_close(l, status, why);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    stream_t *l = w->l;

    l->queued -= w->len;
    free(w);
    if (status < 0 && !l->closing) {
        char why[128];
        snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
        fail(l, status, why);
    }
}

static int raw_write(stream_t *l, const uint8_t *p, size_t n)
{
    struct wreq *w;
    uv_buf_t b;
    int rc;

    if (n == 0)
        return 0;
    w = fm_xmalloc(sizeof(*w) + n);
    w->l = l;
    w->len = n;
    memcpy(w->data, p, n);
    b = uv_buf_init((char *)w->data, (unsigned)n);
    rc = uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        return rc;
    }
    l->queued += n;
    return 0;
}

/* Moves whatever ciphertext OpenSSL produced to the socket. */
static int tls_flush(stream_t *l)
{
    size_t n = fm_tls_pending(l->tls);

    if (n == 0)
        return 0;
    uint8_t *buf = fm_xmalloc(n);
    n = fm_tls_take(l->tls, buf, n);
    int rc = raw_write(l, buf, n);
    free(buf);
    return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = fm_xmalloc(suggested);
    buf->len = suggested;
}

static void became_open(stream_t *l)
{
    l->open = true;
    uv_timer_stop(&l->timer);
    if (l->cbs->on_open != NULL)
        l->cbs->on_open(l, l->ud);
}

static void on_tls_input(stream_t *l, const uint8_t *p, size_t n)
{
    uint8_t plain[16384];
    int rc = fm_tls_feed(l->tls, p, n);
    ssize_t got;

    if (rc == 0 && !fm_tls_established(l->tls))
        rc = fm_tls_handshake(l->tls); /* 1: done just now */
    tls_flush(l);                      /* handshake replies and alerts */
    if (rc < 0) {
        fail(l, -EPROTO, rc == -ENOMEM ? "TLS input: out of memory" : fm_tls_why(l->tls));
        return;
    }
    if (rc == 1)
        became_open(l);
    while (!l->closing && (got = fm_tls_read(l->tls, plain, sizeof(plain))) != 0) {
        if (got < 0) {
            fail(l, -EPROTO, fm_tls_why(l->tls));
            return;
        }
        if (l->cbs->on_data != NULL)
            l->cbs->on_data(l, plain, (size_t)got, l->ud);
    }
    if (!l->closing)
        tls_flush(l); /* what reading produced (TLS 1.3 key updates) */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    stream_t *l = s->data;

    if (nread > 0 && !l->closing) {
        if (l->tls != NULL)
            on_tls_input(l, (const uint8_t *)buf->base, (size_t)nread);
        else if (l->cbs->on_data != NULL)
            l->cbs->on_data(l, (const uint8_t *)buf->base, (size_t)nread, l->ud);
    } else if (nread < 0 && !l->closing) {
        char why[128];
        if (nread == UV_EOF)
            snprintf(why, sizeof(why), "%s",
                     l->open ? "peer closed the connection"
                             : "peer closed the connection during "
                               "the TLS handshake");
        else
            snprintf(why, sizeof(why), "read: %s", uv_strerror((int)nread));
        fail(l, nread == UV_EOF ? -ECONNRESET : (int)nread, why);
    }
    free(buf->base);
}

static void on_deferred_open(uv_timer_t *t)
{
    stream_t *l = t->data;

    if (!l->closing)
        became_open(l);
}

static int start_stream(stream_t *l)
{
    int rc;

    snprintf(l->peer, sizeof(l->peer), "?");
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char host[48] = "";
        int port = 0;
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        snprintf(l->peer, sizeof(l->peer), "%s:%d", host, port);
    }
    uv_tcp_nodelay(&l->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read);
    if (rc < 0)
        return rc;
    if (l->tls == NULL) {
        /* Open at once, reported on the next turn like everything else. */
        uv_timer_stop(&l->timer);
        uv_timer_start(&l->timer, on_deferred_open, 0, 0);
        return 0;
    }
    if (fm_tls_handshake(l->tls) < 0) /* a client's ClientHello; a server waits */
        return -EPROTO;
    return tls_flush(l);
}

static void on_connected(uv_connect_t *req, int status)
{
    stream_t *l = req->data;
    char why[128];

    if (l->closing)
        return;
    if (status < 0) {
        snprintf(why, sizeof(why), "connect: %s", uv_strerror(status));
        fail(l, status, why);
        return;
    }
    status = start_stream(l);
    if (status < 0) {
        snprintf(why, sizeof(why), "start: %s", l->tls ? fm_tls_why(l->tls) : "");
        fail(l, status, why);
    }
}

static void on_connect_timeout(uv_timer_t *t)
{
    stream_t *l = t->data;

    if (!l->open && !l->closing)
        fail(l, -ETIMEDOUT,
             l->tls && l->tcp_live ? "TLS handshake timed out" : "connect timed out");
}

int stream_connect(stream_t *l, const struct sockaddr *addr, int64_t timeout_ms)
{
    int rc;

    if (l->tls_rc < 0) {
        fail(l, l->tls_rc, "TLS session: out of memory");
        return l->tls_rc;
    }
    l->connect.data = l;
    rc = uv_tcp_connect(&l->connect, &l->tcp, addr, on_connected);
    if (rc < 0) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", uv_strerror(rc));
        fail(l, rc, why);
        return rc;
    }
    l->tcp_live = true;
    if (timeout_ms > 0)
        uv_timer_start(&l->timer, on_connect_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int stream_accept(stream_t *l, uv_stream_t *server)
{
    int rc = uv_accept(server, (uv_stream_t *)&l->tcp);

    if (rc < 0)
        return rc;
    if (l->tls_rc < 0) /* accepted, so that the caller's stream_close closes it */
        return l->tls_rc;
    l->tcp_live = true;
    return start_stream(l);
}

int stream_write(stream_t *l, const uint8_t *p, size_t n)
{
    if (l->closing || !l->open)
        return -ENOTCONN;
    if (l->tls == NULL)
        return raw_write(l, p, n);
    if (fm_tls_write(l->tls, p, n) < 0)
        return -EPROTO;
    return tls_flush(l);
}

size_t stream_queued(const stream_t *l)
{
    return l->queued;
}

const char *stream_peer(const stream_t *l)
{
    return l->peer;
}

const char *stream_peer_cn(const stream_t *l)
{
    return l->tls != NULL ? fm_tls_peer_cn(l->tls) : "";
}
