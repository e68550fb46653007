/* mb_worker: one thread per Modbus link; see mb_worker.h for the
 * contract and the failure rules. */
#include "mb_worker.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "mb_tcpio.h"

#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define MB_WORKER_STACK (256 * 1024) /* libmodbus needs < 1 KiB; getaddrinfo a few */

struct mb_worker {
    uv_loop_t *loop;
    uv_thread_t thread;
    struct fmq_work todo; /* jobs for the thread; its stop ends the thread */
    struct fmq_loop done; /* finished jobs back to the loop */
    /* Loop thread only: */
    size_t pending;
    bool stopped;
    void (*close_cb)(void *arg);
    void *close_arg;
    /* Worker thread only (and close, after the join): */
    modbus_t *ctx;
    bool connected;
    bool failing;    /* last connect failed: log again only after a success */
    int connect_err; /* errno of the last failed connect, reported while backing off */
    uint64_t next_connect_us;
    int64_t backoff_ms;
    uint64_t last_exchange_us;
    uint8_t bits[MB_PLAN_MAX_BITS];
    /* Copied configuration: */
    struct mb_link_cfg cfg;
    char *name;
    unsigned max_queue;
};

static void sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                          .tv_nsec = (long)(us % 1000000u) * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *mb_exception_name(int code)
{
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "server device failure";
    case 5:
        return "acknowledge";
    case 6:
        return "server device busy";
    case 7:
        return "negative acknowledge";
    case 8:
        return "memory parity error";
    case 10:
        return "gateway path unavailable";
    case 11:
        return "gateway target device failed to respond";
    default:
        return "unknown exception";
    }
}

const char *mb_result_describe(const struct mb_read_result *r, char *buf, size_t len)
{
    switch (r->status) {
    case MB_ST_OK:
        snprintf(buf, len, "ok");
        break;
    case MB_ST_EXCEPTION:
        snprintf(buf, len, "modbus exception %02d %s", r->exception,
                 mb_exception_name(r->exception));
        break;
    case MB_ST_TIMEOUT:
        snprintf(buf, len, "timeout");
        break;
    case MB_ST_CRC:
        snprintf(buf, len, "CRC error");
        break;
    case MB_ST_PROTOCOL:
        snprintf(buf, len, "protocol error: %s", r->why != NULL ? r->why : modbus_strerror(r->err));
        break;
    case MB_ST_CONNECT:
        snprintf(buf, len, "cannot connect: %s", modbus_strerror(r->err));
        break;
    case MB_ST_IO:
        snprintf(buf, len, "link failed: %s", modbus_strerror(r->err));
        break;
    default:
        snprintf(buf, len, "cancelled");
        break;
    }
    return buf;
}

bool mb_result_is_comm_failure(const struct mb_read_result *r)
{
    return r->status != MB_ST_OK && r->status != MB_ST_EXCEPTION && r->status != MB_ST_CANCELLED;
}

/* ------------------------------------------------------------ worker thread */

/* Opens the link unless a previous failure asked to wait. On failure the
 * delay doubles up to its cap; a good answer resets it (see run_job). */
static int link_open(mb_worker_t *w, int *err)
{
    uint64_t now = fm_clock_mono_us();

    if (now < w->next_connect_us) {
        *err = w->connect_err;
        return -1;
    }
    if (modbus_connect(w->ctx) == 0) {
        w->connected = true;
        if (w->failing)
            FM_INFO("modbus: %s: link open again", w->name);
        w->failing = false;
        return 0;
    }
    *err = errno;
    w->connect_err = *err;
    w->backoff_ms = w->backoff_ms == 0 ? w->cfg.backoff_min_ms : w->backoff_ms * 2;
    if (w->backoff_ms > w->cfg.backoff_max_ms)
        w->backoff_ms = w->cfg.backoff_max_ms;
    w->next_connect_us = fm_clock_mono_us() + (uint64_t)w->backoff_ms * 1000u;
    if (!w->failing)
        FM_WARN("modbus: %s: connect: %s; retrying with back-off up to %lld ms", w->name,
                modbus_strerror(*err), (long long)w->cfg.backoff_max_ms);
    w->failing = true;
    return -1;
}

static void link_close(mb_worker_t *w)
{
    if (w->connected)
        modbus_close(w->ctx);
    w->connected = false;
}

/* Sorts libmodbus's errno of a failed read into a status. */
static int classify(int err, int *exception)
{
    if (err > MODBUS_ENOBASE && err < MODBUS_ENOBASE + MODBUS_EXCEPTION_MAX) {
        *exception = err - MODBUS_ENOBASE;
        return MB_ST_EXCEPTION;
    }
    switch (err) {
    case ETIMEDOUT:
        return MB_ST_TIMEOUT;
    case EMBBADCRC:
        return MB_ST_CRC;
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBUNKEXC:
    case EMBMDATA:
    case EMBBADSLAVE:
        return MB_ST_PROTOCOL;
    default:
        return MB_ST_IO;
    }
}

/* What libmodbus's RTU checks found, in the words mb_rsp uses for TCP. */
static const char *protocol_why(int err)
{
    switch (err) {
    case EMBBADSLAVE:
        return "answer from another unit id";
    case EMBBADEXC:
        return "malformed exception response";
    case EMBMDATA:
        return "more data than a response can hold";
    case EMBBADDATA:
        return "wrong function code, length or byte count";
    default:
        return NULL;
    }
}

/* One request. Returns the count libmodbus reported, or -1 with errno. Bits
 * are widened to one word each so decoding treats all tables alike. */
static int do_read(mb_worker_t *w, const struct mb_plan_read *rd, uint16_t *out)
{
    int rc;

    switch (rd->function) {
    case 1:
    case 2:
        rc = rd->function == 1 ? modbus_read_bits(w->ctx, rd->address, rd->count, w->bits)
                               : modbus_read_input_bits(w->ctx, rd->address, rd->count, w->bits);
        for (int i = 0; i < rc && i < rd->count; i++)
            out[i] = w->bits[i] != 0;
        return rc;
    case 3:
        return modbus_read_registers(w->ctx, rd->address, rd->count, out);
    case 4:
        return modbus_read_input_registers(w->ctx, rd->address, rd->count, out);
    default:
        errno = EINVAL;
        return -1;
    }
}

static void wait_inter_frame(mb_worker_t *w)
{
    uint64_t due = w->last_exchange_us + (uint64_t)w->cfg.inter_frame_ms * 1000u;
    uint64_t now = fm_clock_mono_us();

    if (w->cfg.inter_frame_ms > 0 && w->last_exchange_us != 0 && now < due)
        sleep_us(due - now);
}

/* Runs a job's reads in order. After a failure that says the device or the
 * link is gone (timeout, connect, I/O) the remaining reads share its result
 * without being sent. */
static void run_job(mb_worker_t *w, struct mb_job *job)
{
    struct mb_read_result carry = {.status = -1};
    uint64_t t0 = fm_clock_mono_us();
    size_t off = 0;

    for (size_t i = 0; i < job->n_reads; off += job->reads[i].count, i++) {
        const struct mb_plan_read *rd = &job->reads[i];
        struct mb_read_result *res = &job->results[i];
        int rc, err = 0;

        memset(res, 0, sizeof(*res));
        if (carry.status >= 0) {
            *res = carry;
            continue;
        }
        if (fmq_work_stopped(&w->todo)) {
            res->status = MB_ST_CANCELLED;
            continue;
        }
        if (!w->connected && link_open(w, &err) < 0) {
            res->status = MB_ST_CONNECT;
            res->err = err;
            carry = *res;
            continue;
        }
        if (modbus_set_slave(w->ctx, job->unit_id) < 0) {
            res->status = MB_ST_PROTOCOL;
            res->err = errno;
            continue;
        }
        wait_inter_frame(w);
        if (w->cfg.kind == MB_LINK_TCP) {
            mb_tcpio_read(w->ctx, job->unit_id, rd, w->cfg.timeout_ms, job->data + off, res);
        } else {
            rc = do_read(w, rd, job->data + off);
            err = errno;
            if (rc == rd->count) {
                res->status = MB_ST_OK;
            } else {
                /* libmodbus checked the byte count; a short count here would
                 * still leave words unset, so it is refused the same way. */
                res->err = rc >= 0 ? EMBBADDATA : err;
                res->status = classify(res->err, &res->exception);
                res->why = protocol_why(res->err);
            }
        }
        w->last_exchange_us = fm_clock_mono_us();
        switch (res->status) {
        case MB_ST_OK:
            w->backoff_ms = 0;
            break;
        case MB_ST_EXCEPTION:
            w->backoff_ms = 0;
            break;
        case MB_ST_CRC:
        case MB_ST_PROTOCOL:
            /* The stream may be out of step: drop what is buffered (RTU)
             * or start a fresh connection (TCP). */
            if (w->cfg.kind == MB_LINK_RTU)
                modbus_flush(w->ctx);
            else
                link_close(w);
            break;
        default:
            /* Timeout or broken link: a late answer must not be taken for
             * the next request's, so TCP reconnects; RTU flushes. */
            if (w->cfg.kind == MB_LINK_RTU && res->status == MB_ST_TIMEOUT)
                modbus_flush(w->ctx);
            else
                link_close(w);
            carry = *res;
            break;
        }
    }
    job->duration_us = (int64_t)(fm_clock_mono_us() - t0);
    job->observed_ms = fm_clock_wall_ms();
}

static void worker_main(void *arg)
{
    mb_worker_t *w = arg;

    /* A stopped queue still hands out what it holds: those jobs come back
     * cancelled (run_job checks the stop before each read). */
    for (;;) {
        struct fmq_node *n = fmq_work_take(&w->todo, UINT64_MAX, 1);
        struct mb_job *job;

        if (n == NULL)
            break;
        job = (struct mb_job *)((char *)n - offsetof(struct mb_job, node_));
        run_job(w, job);
        fmq_loop_post(&w->done, &job->node_);
    }
    link_close(w);
}

/* ------------------------------------------------------------ loop thread */

/* fmq_loop_cb: calls back one finished job. */
static void on_done(struct fmq_node *n, void *arg)
{
    mb_worker_t *w = arg;
    struct mb_job *job = (struct mb_job *)((char *)n - offsetof(struct mb_job, node_));

    w->pending--;
    job->cb(job);
}

static void on_done_closed(struct fmq_loop *q)
{
    mb_worker_t *w = (mb_worker_t *)((char *)q - offsetof(mb_worker_t, done));

    if (w->close_cb != NULL)
        w->close_cb(w->close_arg);
    fmq_work_destroy(&w->todo);
    free(w->name);
    free(w);
}

static modbus_t *new_ctx(const struct mb_link_cfg *cfg, const char **why)
{
    modbus_t *ctx;
    char port[8];

    if (cfg->kind == MB_LINK_TCP) {
        if (cfg->host == NULL || cfg->port < 1 || cfg->port > 65535) {
            *why = "TCP link needs a host and a port in 1..65535";
            return NULL;
        }
        snprintf(port, sizeof(port), "%d", cfg->port);
        ctx = modbus_new_tcp_pi(cfg->host, port);
    } else {
        if (cfg->device == NULL) {
            *why = "RTU link needs a serial device";
            return NULL;
        }
        ctx = modbus_new_rtu(cfg->device, cfg->baud, cfg->parity, cfg->data_bits, cfg->stop_bits);
    }
    if (ctx == NULL) {
        *why = "libmodbus rejected the link parameters";
        return NULL;
    }
    modbus_set_response_timeout(ctx, (uint32_t)(cfg->timeout_ms / 1000),
                                (uint32_t)(cfg->timeout_ms % 1000) * 1000u);
    return ctx;
}

mb_worker_t *mb_worker_create(uv_loop_t *loop, const struct mb_link_cfg *cfg, const char **why)
{
    uv_thread_options_t opts = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = MB_WORKER_STACK};
    const char *dummy;
    mb_worker_t *w;

    if (why == NULL)
        why = &dummy;
    if (cfg->timeout_ms <= 0 || cfg->backoff_min_ms <= 0 ||
        cfg->backoff_max_ms < cfg->backoff_min_ms || cfg->max_queue == 0) {
        *why = "timeout, back-off and queue must be positive, back-off max >= min";
        return NULL;
    }
    w = fm_xcalloc(1, sizeof(*w));
    w->cfg = *cfg;
    w->name = fm_xstrdup(cfg->name != NULL ? cfg->name : "modbus");
    w->cfg.name = w->name;
    w->cfg.host = w->cfg.device = NULL; /* libmodbus keeps its own copies */
    w->max_queue = cfg->max_queue;
    w->loop = loop;
    w->ctx = new_ctx(cfg, why);
    if (w->ctx == NULL)
        goto out_free;
    if (fmq_work_init(&w->todo) != 0) {
        *why = "cannot create the job queue";
        goto out_ctx;
    }
    if (fmq_loop_init(&w->done, loop, on_done, w) != 0) {
        *why = "cannot create the loop wakeup handle";
        goto out_todo;
    }
    if (uv_thread_create_ex(&w->thread, &opts, worker_main, w) != 0) {
        *why = "cannot start the worker thread";
        /* The queue's handle is on the loop: w is freed on its close. */
        w->stopped = true;
        modbus_free(w->ctx);
        w->ctx = NULL;
        fmq_loop_close(&w->done, on_done_closed);
        return NULL;
    }
    return w;

out_todo:
    fmq_work_destroy(&w->todo);
out_ctx:
    modbus_free(w->ctx);
out_free:
    free(w->name);
    free(w);
    return NULL;
}

int mb_worker_submit(mb_worker_t *w, struct mb_job *job)
{
    size_t need = 0;

    for (size_t i = 0; i < job->n_reads; i++)
        need += job->reads[i].count;
    if (need > job->data_len || job->cb == NULL || job->results == NULL)
        return -EINVAL;
    if (w->stopped)
        return -ESHUTDOWN;
    /* Only the loop thread pushes, so the queue cannot grow between the
     * check and the push. */
    if (fmq_work_len(&w->todo) >= w->max_queue)
        return -EBUSY;
    w->pending++;
    fmq_work_push(&w->todo, &job->node_);
    return 0;
}

size_t mb_worker_pending(const mb_worker_t *w)
{
    return w->pending;
}

void mb_worker_stop(mb_worker_t *w)
{
    if (w == NULL || w->stopped)
        return;
    w->stopped = true;
    fmq_work_stop(&w->todo);
}

void mb_worker_close(mb_worker_t *w, void (*close_cb)(void *arg), void *arg)
{
    struct fmq_node *n;

    if (w == NULL)
        return;
    mb_worker_stop(w);
    uv_thread_join(&w->thread);
    modbus_free(w->ctx);
    w->ctx = NULL;
    fmq_loop_drain(&w->done);
    /* The thread is gone: whatever it never took is cancelled. */
    n = fmq_work_take(&w->todo, 0, SIZE_MAX);
    while (n != NULL) {
        struct fmq_node *next = n->next;
        struct mb_job *job = (struct mb_job *)((char *)n - offsetof(struct mb_job, node_));

        for (size_t i = 0; i < job->n_reads; i++)
            job->results[i] = (struct mb_read_result){.status = MB_ST_CANCELLED};
        w->pending--;
        job->cb(job);
        n = next;
    }
    w->close_cb = close_cb;
    w->close_arg = arg;
    fmq_loop_close(&w->done, on_done_closed);
}
