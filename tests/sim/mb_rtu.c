/* mb_rtu: Modbus RTU buses on pseudo-terminals (see mb_rtu.h). */
#include "mb_rtu.h"

#include "fm_alloc.h"
#include "fm_log.h"
#include "mb_frame.h"
#include "mb_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Silence after which a partial frame is discarded. At 9600 baud the RTU
 * inter-frame gap is 4 ms; a pty delivers a client's write at once, so any
 * gap this long means the client gave up on the frame. */
#define RTU_GAP_MS 50

static struct sim_dev *unit(const struct sim_rtu_bus *b, int id)
{
    for (size_t i = 0; i < b->n_units; i++) {
        if (b->units[i]->unit_id == id)
            return b->units[i];
    }
    return NULL;
}

static void bus_on_timer(uv_timer_t *t);

/* Handles one whole frame. Returns false if the bus must wait (held back). */
static bool dispatch(struct sim_rtu_bus *b, const uint8_t *frame, int len)
{
    struct sim_dev *d;

    if (!mb_rtu_crc_ok(frame, (size_t)len))
        return true;
    if (frame[0] == 0) {
        /* Broadcast: libmodbus applies writes and suppresses the reply. */
        if (!mb_frame_pdu_ok(frame + 1, (size_t)len - 3))
            return true; /* no reply to a broadcast, not even an exception */
        for (size_t i = 0; i < b->n_units; i++) {
            if (!sim_dev_silent(b->units[i]))
                modbus_reply(mb_rtu_ctx(), frame, len, b->units[i]->mapping);
        }
        return true;
    }
    d = unit(b, frame[0]);
    if (d == NULL || sim_dev_silent(d))
        return true;
    if (d->delay_ms > 0 && !b->delaying) {
        b->delaying = true;
        uv_timer_start(&b->timer, bus_on_timer, d->delay_ms, 0);
        return false;
    }
    b->delaying = false;
    b->reply_ns = uv_hrtime();
    b->n_replies++;
    mb_answer(mb_rtu_ctx(), b->master, d, frame, len);
    return true;
}

static void consume(struct sim_rtu_bus *b, size_t n)
{
    memmove(b->buf, b->buf + n, b->len - n);
    b->len -= n;
}

static void process(struct sim_rtu_bus *b)
{
    while (b->len > 0) {
        int n = mb_frame_rtu(b->buf, b->len);

        if (n < 0) {
            /* Cannot find the end of this frame: resynchronise by dropping
             * what was received, as a device waits for the next silence. */
            b->len = 0;
            return;
        }
        if (n == 0) {
            uv_timer_start(&b->timer, bus_on_timer, RTU_GAP_MS, 0);
            return;
        }
        if (!dispatch(b, b->buf, n))
            return;
        consume(b, (size_t)n);
    }
    uv_timer_stop(&b->timer);
}

static void bus_on_timer(uv_timer_t *t)
{
    struct sim_rtu_bus *b = t->data;
    int n;

    if (!b->delaying) {
        b->len = 0; /* a partial frame timed out */
        return;
    }
    n = mb_frame_rtu(b->buf, b->len);
    if (n > 0) {
        dispatch(b, b->buf, n);
        consume(b, (size_t)n);
    }
    b->delaying = false;
    process(b);
}

static void bus_on_readable(uv_poll_t *p, int status, int events)
{
    struct sim_rtu_bus *b = p->data;
    ssize_t n;

    if (status < 0)
        return;
    if (b->len == 0 && b->reply_ns != 0) {
        /* The first byte of a request after a reply: the master's silence. */
        uint64_t gap = uv_hrtime() - b->reply_ns;

        if (b->n_gaps == 0 || gap < b->min_gap_ns)
            b->min_gap_ns = gap;
        b->n_gaps++;
        b->reply_ns = 0;
    }
    for (;;) {
        if (b->len == sizeof(b->buf))
            b->len = 0; /* only garbage can fill the buffer */
        n = read(b->master, b->buf + b->len, sizeof(b->buf) - b->len);
        if (n <= 0)
            break;
        b->len += (size_t)n;
    }
    if (!b->delaying)
        process(b);
}

int mb_rtu_open(struct sim *s, struct sim_rtu_bus *b, char *err, size_t errlen)
{
    struct termios tio;
    int rc;

    if (openpty(&b->master, &b->slave, b->path, NULL, NULL) != 0) {
        rc = -errno;
        snprintf(err, errlen, "rtu bus %s: openpty: %s", b->name, strerror(errno));
        return rc;
    }
    /* Raw line on both ends: no echo, no line editing, 8-bit clean. */
    tcgetattr(b->slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(b->slave, TCSANOW, &tio);
    fcntl(b->master, F_SETFL, fcntl(b->master, F_GETFL) | O_NONBLOCK);
    fcntl(b->master, F_SETFD, FD_CLOEXEC);
    fcntl(b->slave, F_SETFD, FD_CLOEXEC);
    if (b->link != NULL) {
        unlink(b->link);
        if (symlink(b->path, b->link) != 0) {
            rc = -errno;
            snprintf(err, errlen, "rtu bus %s: symlink %s -> %s: %s", b->name, b->link, b->path,
                     strerror(errno));
            close(b->master);
            close(b->slave);
            return rc;
        }
    }
    /* From here the bus owns handles: mb_rtu_close must close them. */
    b->sim = s;
    uv_poll_init(s->loop, &b->poll, b->master);
    uv_timer_init(s->loop, &b->timer);
    b->poll.data = b->timer.data = b;
    uv_poll_start(&b->poll, UV_READABLE, bus_on_readable);
    return 0;
}

int mb_rtu_attach(struct sim_rtu_bus *b, struct sim_dev *d)
{
    if (unit(b, d->unit_id) != NULL)
        return -EEXIST;
    b->units = fm_xrealloc(b->units, (b->n_units + 1) * sizeof(*b->units));
    b->units[b->n_units++] = d;
    d->bus = b;
    return 0;
}

void mb_rtu_stats(struct sim_rtu_bus *b, bool reset, char *buf, size_t len)
{
    snprintf(buf, len, "replies %llu gaps %llu min_gap_us %lld", (unsigned long long)b->n_replies,
             (unsigned long long)b->n_gaps,
             b->n_gaps == 0 ? -1LL : (long long)(b->min_gap_ns / 1000u));
    if (reset) {
        b->n_replies = b->n_gaps = b->min_gap_ns = 0;
        b->reply_ns = 0;
    }
}

static void bus_on_close(uv_handle_t *h)
{
    struct sim_rtu_bus *b = h->data;

    b->sim->closing--;
}

void mb_rtu_close(struct sim_rtu_bus *b)
{
    if (b->sim == NULL)
        return;
    b->sim->closing += 2;
    uv_close((uv_handle_t *)&b->poll, bus_on_close);
    uv_close((uv_handle_t *)&b->timer, bus_on_close);
    close(b->master);
    close(b->slave);
    if (b->link != NULL)
        unlink(b->link);
}
