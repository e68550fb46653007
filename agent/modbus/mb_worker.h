/* mb_worker: runs libmodbus, which blocks, off the event loop.
 *
 * One worker owns one link: a Modbus TCP connection to one device, or one
 * RTU serial bus shared by several unit ids. The loop hands it jobs (one
 * device's planned reads for one poll) through an fmq_work queue; the
 * worker's thread runs them one at a time, in order, so a bus never carries
 * two requests at once, and posts each finished job to an fmq_loop queue
 * (fm_queue.h), which calls each job's callback on the loop thread.
 *
 * Failure handling, per job:
 * - An exception response fails only that read (MB_ST_EXCEPTION, code kept):
 *   the device answered, the point is wrong or busy.
 * - A timeout, I/O or connect error fails that read and the job's remaining
 *   reads without sending them: a dead device costs one timeout per poll,
 *   not one per read. A TCP link is then closed and reopened on the next
 *   job; connect failures back off exponentially (backoff_min..backoff_max,
 *   reset by the first good answer), and jobs arriving while backing off
 *   fail at once with MB_ST_CONNECT.
 * - A CRC error (RTU) or a response of the wrong length, byte count, unit or
 *   function (MB_ST_PROTOCOL) fails that read; the link is flushed (RTU) or
 *   reopened (TCP), since it may be out of step. RTU responses are framed
 *   and checked by libmodbus (CRC, unit, function, length, byte count), and
 *   the worker also checks the count it returns; TCP responses are framed
 *   by their MBAP length and checked by mb_rsp (libmodbus ignores that
 *   length), see mb_tcpio.h.
 * RTU: the configured inter-frame delay is kept between the end of one
 * exchange and the next request on the bus, whatever unit they address.
 *
 * Threads: create/submit/stop/close on the loop thread only. */
#ifndef AGENT_MODBUS_WORKER_H
#define AGENT_MODBUS_WORKER_H

#include "fm_queue.h"
#include "mb_plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum mb_link_kind {
    MB_LINK_TCP,
    MB_LINK_RTU,
};

/* Link parameters; strings are copied by mb_worker_create. */
struct mb_link_cfg {
    int kind;               /* enum mb_link_kind */
    const char *name;       /* for log lines, e.g. "ahu-1 (10.0.0.7:502)" or "/dev/ttyUSB0" */
    const char *host;       /* TCP: name or address */
    int port;               /* TCP */
    const char *device;     /* RTU: serial device path */
    int baud;               /* RTU */
    char parity;            /* RTU: 'N', 'E' or 'O' */
    int data_bits;          /* RTU: 5..8 */
    int stop_bits;          /* RTU: 1 or 2 */
    int64_t timeout_ms;     /* response timeout per request */
    int64_t inter_frame_ms; /* RTU: silence between exchanges on the bus */
    int64_t backoff_min_ms; /* first reconnect delay after a failed connect */
    int64_t backoff_max_ms; /* cap of the doubling */
    unsigned max_queue;     /* jobs waiting per worker (modbus.max_queue), >= 1 */
};

/* Outcome of one read. */
enum mb_status {
    MB_ST_OK,
    MB_ST_EXCEPTION, /* the device sent exception `exception` */
    MB_ST_TIMEOUT,   /* no (complete) response within the timeout */
    MB_ST_CRC,       /* RTU frame with a bad CRC */
    MB_ST_PROTOCOL,  /* wrong length, byte count, unit id or function in the response */
    MB_ST_CONNECT,   /* could not open the link (or backing off after failing to) */
    MB_ST_IO,        /* the link failed mid-exchange (reset, closed) */
    MB_ST_CANCELLED, /* the worker closed before running the read */
};

struct mb_read_result {
    int status;      /* enum mb_status */
    int exception;   /* Modbus exception code for MB_ST_EXCEPTION */
    int err;         /* errno (or libmodbus's) behind a failure, for the detail */
    const char *why; /* MB_ST_PROTOCOL: which field was wrong (static), or NULL */
};

struct mb_job;
/* Called on the loop thread when the job is done; the job is the caller's again. */
typedef void (*mb_job_cb)(struct mb_job *job);

/* One poll of one device. The caller owns it and its arrays and must not
 * touch them between mb_worker_submit and the callback. */
struct mb_job {
    int unit_id;                      /* 0..247 (TCP devices often ignore it) */
    const struct mb_plan_read *reads; /* borrowed */
    size_t n_reads;
    /* Results: data holds, read after read, `count` words per read; a coil
     * or discrete input is one word 0 or 1. data_len must be at least the
     * sum of the counts. */
    uint16_t *data;
    size_t data_len;
    struct mb_read_result *results; /* n_reads entries */
    mb_job_cb cb;
    void *ctx;             /* the caller's */
    int64_t observed_ms;   /* filled: wall clock (Unix ms) when the job finished */
    int64_t duration_us;   /* filled: time the worker spent on it */
    struct fmq_node node_; /* queue link, private */
};

typedef struct mb_worker mb_worker_t;

/* Creates a worker on loop and starts its thread; the link is opened by the
 * first job. Returns the worker, or NULL with a reason in *why (static
 * string) when libmodbus rejects the parameters or a thread cannot start. */
mb_worker_t *mb_worker_create(uv_loop_t *loop, const struct mb_link_cfg *cfg, const char **why);

/* Queues job (borrowed until its callback). Returns 0, -EBUSY when max_queue
 * jobs are already waiting, -ESHUTDOWN after mb_worker_stop, -EINVAL when
 * data_len is too small for the reads. On error the callback is never called. */
int mb_worker_submit(mb_worker_t *w, struct mb_job *job);

/* Number of jobs submitted and not yet called back. */
size_t mb_worker_pending(const mb_worker_t *w);

/* Asks the thread to finish after its current request; returns at once. */
void mb_worker_stop(mb_worker_t *w);

/* Stops the worker, waits for its thread (at most its current request's
 * timeout), calls back every job it still held (unrun ones as
 * MB_ST_CANCELLED), closes its handle and frees it after the loop has run
 * the close; close_cb (may be NULL) then gets `arg`. NULL does nothing. */
void mb_worker_close(mb_worker_t *w, void (*close_cb)(void *arg), void *arg);

/* "exception 02 illegal data address", "timeout", "CRC error", ... into buf;
 * returns buf. */
const char *mb_result_describe(const struct mb_read_result *r, char *buf, size_t len);

/* Name of a Modbus exception code ("illegal data address"), or "unknown exception". */
const char *mb_exception_name(int code);

/* True when a result counts against the device's reachability (it did not
 * answer properly): timeouts, CRC and protocol errors, link failures. */
bool mb_result_is_comm_failure(const struct mb_read_result *r);

#endif
