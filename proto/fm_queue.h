/* fm_queue: the one way threads and the event loop hand work to each other.
 *
 * Two queues of intrusive nodes (the caller embeds a struct fmq_node in its
 * job, and owns the job; a queue only links it):
 *
 * - fmq_loop carries results from any thread to the loop thread: a mutex,
 *   a list and one uv_async. uv_async coalesces wakeups, so each wakeup
 *   delivers every node that is queued, in the order posted.
 * - fmq_work carries jobs from the loop (or any thread) to a worker thread:
 *   a mutex, a list and a condition. A worker takes one node or a run of
 *   them, waiting up to a timeout measured on the monotonic clock, and a stop
 *   wakes every waiter. Its wait doubles as the worker's interruptible sleep
 *   (back-off before a reconnect), so stopping never waits out a back-off.
 *
 * Neither queue allocates: a post or push cannot fail. Limits on how much
 * may be queued belong to the caller, which knows what a node weighs. */
#ifndef FM_QUEUE_H
#define FM_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct fmq_node {
    struct fmq_node *next;
};

/* ---------------------------------------------------------- to the loop */

struct fmq_loop;
/* Called on the loop thread with each node, in the order posted; the
 * callback owns the node from then on. */
typedef void (*fmq_loop_cb)(struct fmq_node *node, void *arg);
typedef void (*fmq_loop_close_cb)(struct fmq_loop *q);

struct fmq_loop {
    uv_async_t async; /* async.data is the queue */
    uv_mutex_t mu;    /* guards head, tail */
    struct fmq_node *head, *tail;
    fmq_loop_cb cb;
    void *arg;
    fmq_loop_close_cb close_cb;
};

/* Loop thread. Initialises q (embedded in the caller's object) on loop.
 * Returns 0, or a negative errno from uv_async_init/uv_mutex_init, in which
 * case q holds nothing to close. */
int fmq_loop_init(struct fmq_loop *q, uv_loop_t *loop, fmq_loop_cb cb, void *arg);

/* Any thread. Queues node (the queue links it until it is delivered) and
 * wakes the loop. */
void fmq_loop_post(struct fmq_loop *q, struct fmq_node *node);

/* Loop thread. Delivers every node queued now, as a wakeup would. */
void fmq_loop_drain(struct fmq_loop *q);

/* Loop thread, once every thread that posts to q has stopped. Delivers
 * what is still queued, closes the async handle, and calls close_cb (may be
 * NULL) from its close callback: only then may q's memory be freed. */
void fmq_loop_close(struct fmq_loop *q, fmq_loop_close_cb close_cb);

/* --------------------------------------------------- to a worker thread */

struct fmq_work {
    uv_mutex_t mu; /* guards head, tail, len and the waits */
    uv_cond_t cv;
    struct fmq_node *head, *tail;
    size_t len;
    atomic_bool stopping; /* set under mu; read without it by fmq_work_stopped */
};

/* Returns 0 or a negative errno (nothing to destroy then). */
int fmq_work_init(struct fmq_work *q);

/* After every thread using q has stopped; nodes still queued stay the
 * caller's (take them with fmq_work_take first). */
void fmq_work_destroy(struct fmq_work *q);

/* Any thread. Queues node at the tail and wakes one waiting worker. */
void fmq_work_push(struct fmq_work *q, struct fmq_node *node);

/* Worker thread. Waits up to timeout_ms (0: do not wait; UINT64_MAX:
 * forever) until a node is queued or the queue is stopped, then unlinks up
 * to max nodes (at least 1) from the head and returns them as a list linked
 * by next, in order; NULL on timeout, or when stopped and empty. A stopped
 * queue still hands out what it holds, so the worker can finish or return
 * it. */
struct fmq_node *fmq_work_take(struct fmq_work *q, uint64_t timeout_ms, size_t max);

/* Worker thread. Sleeps up to timeout_ms unless the queue is stopped
 * (returns at once then) or stopped during the wait; returns
 * fmq_work_stopped(q). A push does not end the sleep: it is a back-off. */
bool fmq_work_sleep(struct fmq_work *q, uint64_t timeout_ms);

/* Any thread. Marks q stopped and wakes every waiter. */
void fmq_work_stop(struct fmq_work *q);

/* Any thread; takes no lock, so a worker may ask it before every step. */
bool fmq_work_stopped(struct fmq_work *q);

/* Any thread: nodes queued now. */
size_t fmq_work_len(struct fmq_work *q);

#endif
