/* mb_tcp: Modbus TCP devices (see mb_tcp.h). */
#include "mb_tcp.h"

#include "fm_alloc.h"
#include "fm_log.h"
#include "mb_frame.h"
#include "mb_garble.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One accepted connection. Its buffer holds up to four pipelined requests. */
struct mb_conn {
    uv_tcp_t tcp;
    uv_timer_t delay;
    struct sim_dev *dev;
    struct mb_conn *next;
    bool delaying;
    int closes; /* handles still open */
    size_t len;
    uint8_t buf[4 * MB_TCP_ADU_MAX];
};

static modbus_t *tcp_ctx, *rtu_ctx;

/* A garbled reply is built by libmodbus into one end of this socket pair,
 * taken back from the other, broken and sent on (see answer_garbled). */
static int garble_pair[2] = {-1, -1};

/* On some malformed requests (e.g. a read of more than 125 registers)
 * modbus_reply() answers with an exception and then sleeps for the context's
 * response timeout (0.5 s by default) before flushing the line, which would
 * stall every device of the loop. The shortest timeout libmodbus accepts
 * (1 us) keeps the answer and drops the stall. */
static void no_flush_sleep(modbus_t *ctx)
{
    modbus_set_response_timeout(ctx, 0, 1);
}

modbus_t *mb_tcp_ctx(void)
{
    /* The context only builds and sends replies: it never connects, and the
     * socket is set per reply with modbus_set_socket(). */
    if (tcp_ctx == NULL && (tcp_ctx = modbus_new_tcp("127.0.0.1", 502)) == NULL) {
        FM_ERR("modbus: new tcp context: %s", modbus_strerror(errno));
        abort();
    }
    if (tcp_ctx != NULL)
        no_flush_sleep(tcp_ctx);
    return tcp_ctx;
}

modbus_t *mb_rtu_ctx(void)
{
    if (rtu_ctx == NULL && (rtu_ctx = modbus_new_rtu("/dev/null", 9600, 'N', 8, 1)) == NULL) {
        FM_ERR("modbus: new rtu context: %s", modbus_strerror(errno));
        abort();
    }
    no_flush_sleep(rtu_ctx);
    return rtu_ctx;
}

void mb_ctx_free(void)
{
    if (tcp_ctx != NULL)
        modbus_free(tcp_ctx);
    if (rtu_ctx != NULL)
        modbus_free(rtu_ctx);
    tcp_ctx = rtu_ctx = NULL;
    if (garble_pair[0] >= 0) {
        close(garble_pair[0]);
        close(garble_pair[1]);
        garble_pair[0] = garble_pair[1] = -1;
    }
}

static void reply(modbus_t *ctx, int fd, struct sim_dev *d, const uint8_t *req, int len)
{
    modbus_set_socket(ctx, fd);
    if (d->mb_exception != 0)
        modbus_reply_exception(ctx, req, (unsigned)d->mb_exception);
    else
        modbus_reply(ctx, req, len, d->mapping);
}

/* libmodbus writes its replies straight to a socket, so the reply is
 * captured through a socket pair to be broken before it goes out. */
static void answer_garbled(modbus_t *ctx, int fd, struct sim_dev *d, const uint8_t *req, int len)
{
    uint8_t adu[MB_TCP_ADU_MAX + 8];
    bool rtu = ctx == rtu_ctx;
    ssize_t n;

    if (garble_pair[0] < 0 &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, garble_pair) != 0) {
        FM_WARN("modbus: %s: socketpair for a garbled reply: %s", d->name, strerror(errno));
        garble_pair[0] = garble_pair[1] = -1;
        return;
    }
    reply(ctx, garble_pair[0], d, req, len);
    n = recv(garble_pair[1], adu, sizeof(adu), MSG_DONTWAIT);
    if (n <= 0)
        return; /* no reply (broadcast) */
    n = (ssize_t)mb_garble_apply(d->mb_garble, rtu, adu, (size_t)n);
    if (rtu)
        n = write(fd, adu, (size_t)n);
    else
        n = send(fd, adu, (size_t)n, MSG_NOSIGNAL);
    (void)n; /* a lost reply is the client's timeout, as below */
}

void mb_answer(modbus_t *ctx, int fd, struct sim_dev *d, const uint8_t *req, int len)
{
    /* The PDU follows the MBAP header (7 bytes) or the unit id, and an RTU
     * frame ends with its CRC. */
    size_t off = ctx == rtu_ctx ? 1 : 7, crc = ctx == rtu_ctx ? 2 : 0;

    if ((size_t)len < off + 1 + crc || !mb_frame_pdu_ok(req + off, (size_t)len - off - crc)) {
        modbus_set_socket(ctx, fd);
        modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
        return;
    }
    if (d->mb_garble != MB_GARBLE_NONE)
        answer_garbled(ctx, fd, d, req, len);
    else
        reply(ctx, fd, d, req, len);
    /* A failed send (peer gone, socket buffer full) loses this reply only;
     * the client's timeout handles it, as with a real device. */
}

static void conn_on_close(uv_handle_t *h)
{
    struct mb_conn *c = h->data;

    if (--c->closes == 0) {
        c->dev->sim->closing--;
        free(c);
    }
}

static void conn_close(struct mb_conn *c)
{
    struct sim_dev *d = c->dev;

    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    for (struct mb_conn **pp = &d->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    d->sim->closing++;
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
    uv_close((uv_handle_t *)&c->delay, conn_on_close);
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mb_conn *c = h->data;

    buf->base = (char *)c->buf + c->len;
    buf->len = sizeof(c->buf) - c->len;
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_on_delay(uv_timer_t *t);

static void consume(struct mb_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Answers the complete requests in the buffer, until one is held back. */
static void conn_process(struct mb_conn *c)
{
    struct sim_dev *d = c->dev;
    int fd;

    uv_fileno((uv_handle_t *)&c->tcp, &fd);
    while (!c->delaying) {
        int n = mb_frame_tcp(c->buf, c->len);

        if (n < 0) {
            FM_INFO("modbus: %s: malformed MBAP header; closing the connection", d->name);
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        if (sim_dev_silent(d)) {
            consume(c, (size_t)n);
            continue;
        }
        if (d->delay_ms > 0) {
            c->delaying = true;
            uv_read_stop((uv_stream_t *)&c->tcp);
            uv_timer_start(&c->delay, conn_on_delay, d->delay_ms, 0);
            return;
        }
        mb_answer(mb_tcp_ctx(), fd, d, c->buf, n);
        consume(c, (size_t)n);
    }
}

static void conn_on_delay(uv_timer_t *t)
{
    struct mb_conn *c = t->data;
    int n = mb_frame_tcp(c->buf, c->len);
    int fd;

    c->delaying = false;
    uv_fileno((uv_handle_t *)&c->tcp, &fd);
    if (n > 0) {
        /* The fault may have been cleared or turned to "dead" meanwhile. */
        if (!sim_dev_silent(c->dev))
            mb_answer(mb_tcp_ctx(), fd, c->dev, c->buf, n);
        consume(c, (size_t)n);
    }
    uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read);
    conn_process(c);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mb_conn *c = s->data;

    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    conn_process(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct sim_dev *d = server->data;
    struct mb_conn *c;

    if (status < 0) {
        FM_WARN("modbus: %s: accept: %s", d->name, uv_strerror(status));
        return;
    }
    c = fm_xcalloc(1, sizeof(*c));
    c->dev = d;
    uv_tcp_init(d->sim->loop, &c->tcp);
    uv_timer_init(d->sim->loop, &c->delay);
    c->tcp.data = c->delay.data = c;
    c->closes = 2;
    c->next = d->conns;
    d->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
}

int mb_tcp_start(struct sim_dev *d, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int namelen = sizeof(ss);
    int rc = sim_sockaddr(d->address, d->port, &ss, NULL);

    if (rc != 0) {
        snprintf(err, errlen, "%s: address '%s': %s", d->name, d->address, uv_strerror(rc));
        return rc;
    }
    uv_tcp_init(d->sim->loop, &d->listener);
    d->listener.data = d;
    rc = uv_tcp_bind(&d->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&d->listener, 128, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&d->listener, (struct sockaddr *)&ss, &namelen);
    if (rc != 0) {
        snprintf(err, errlen, "%s: listen tcp %s:%d: %s", d->name, d->address, d->port,
                 uv_strerror(rc));
        return rc;
    }
    d->bound_port = sim_sockaddr_port(&ss);
    return 0;
}

static void listener_on_close(uv_handle_t *h)
{
    struct sim_dev *d = h->data;

    d->sim->closing--;
}

void mb_tcp_stop(struct sim_dev *d)
{
    while (d->conns != NULL)
        conn_close(d->conns);
    if (!uv_is_closing((uv_handle_t *)&d->listener)) {
        d->sim->closing++;
        uv_close((uv_handle_t *)&d->listener, listener_on_close);
    }
}
