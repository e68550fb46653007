/* fm_queue: see fm_queue.h. */
#include "fm_queue.h"

#include <assert.h>

#include "fm_clock.h"

/* Links node at the tail of the list head..tail (the caller holds the lock). */
static void append(struct fmq_node **head, struct fmq_node **tail, struct fmq_node *node)
{
    node->next = NULL;
    if (*tail != NULL)
        (*tail)->next = node;
    else
        *head = node;
    *tail = node;
}

/* ---------------------------------------------------------- to the loop */

static void loop_on_async(uv_async_t *a)
{
    fmq_loop_drain(a->data);
}

int fmq_loop_init(struct fmq_loop *q, uv_loop_t *loop, fmq_loop_cb cb, void *arg)
{
    int rc;

    q->head = q->tail = NULL;
    q->cb = cb;
    q->arg = arg;
    q->close_cb = NULL;
    rc = uv_mutex_init(&q->mu);
    if (rc != 0)
        return rc;
    rc = uv_async_init(loop, &q->async, loop_on_async);
    if (rc != 0) {
        uv_mutex_destroy(&q->mu);
        return rc;
    }
    q->async.data = q;
    return 0;
}

void fmq_loop_post(struct fmq_loop *q, struct fmq_node *node)
{
    uv_mutex_lock(&q->mu);
    append(&q->head, &q->tail, node);
    uv_mutex_unlock(&q->mu);
    uv_async_send(&q->async);
}

void fmq_loop_drain(struct fmq_loop *q)
{
    struct fmq_node *n;

    uv_mutex_lock(&q->mu);
    n = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->mu);
    while (n != NULL) {
        struct fmq_node *next = n->next;

        n->next = NULL;
        q->cb(n, q->arg);
        n = next;
    }
}

static void loop_on_closed(uv_handle_t *h)
{
    struct fmq_loop *q = h->data;

    uv_mutex_destroy(&q->mu);
    if (q->close_cb != NULL)
        q->close_cb(q);
}

void fmq_loop_close(struct fmq_loop *q, fmq_loop_close_cb close_cb)
{
    fmq_loop_drain(q);
    q->close_cb = close_cb;
    uv_close((uv_handle_t *)&q->async, loop_on_closed);
}

/* --------------------------------------------------- to a worker thread */

int fmq_work_init(struct fmq_work *q)
{
    int rc;

    q->head = q->tail = NULL;
    q->len = 0;
    atomic_init(&q->stopping, false);
    rc = uv_mutex_init(&q->mu);
    if (rc != 0)
        return rc;
    rc = uv_cond_init(&q->cv);
    if (rc != 0) {
        uv_mutex_destroy(&q->mu);
        return rc;
    }
    return 0;
}

void fmq_work_destroy(struct fmq_work *q)
{
    uv_cond_destroy(&q->cv);
    uv_mutex_destroy(&q->mu);
}

void fmq_work_push(struct fmq_work *q, struct fmq_node *node)
{
    uv_mutex_lock(&q->mu);
    append(&q->head, &q->tail, node);
    q->len++;
    uv_cond_signal(&q->cv);
    uv_mutex_unlock(&q->mu);
}

/* Waits on the condition (mu held) until deadline_ms at the latest, on the
 * monotonic clock; uv_cond_timedwait measures relative time on it, so a
 * step of the wall clock neither stretches nor cuts the wait. */
static void wait_until(struct fmq_work *q, uint64_t deadline_ms)
{
    uint64_t now = fm_clock_mono_ms();

    if (deadline_ms == UINT64_MAX) {
        uv_cond_wait(&q->cv, &q->mu);
        return;
    }
    if (now >= deadline_ms)
        return;
    (void)uv_cond_timedwait(&q->cv, &q->mu, (deadline_ms - now) * 1000000u);
}

static uint64_t deadline_after(uint64_t timeout_ms)
{
    uint64_t now = fm_clock_mono_ms();

    if (timeout_ms == UINT64_MAX || timeout_ms > UINT64_MAX - now)
        return UINT64_MAX;
    return now + timeout_ms;
}

struct fmq_node *fmq_work_take(struct fmq_work *q, uint64_t timeout_ms, size_t max)
{
    uint64_t deadline = deadline_after(timeout_ms);
    struct fmq_node *first, *last;
    size_t n = 1;

    assert(max >= 1);
    uv_mutex_lock(&q->mu);
    while (q->head == NULL && !q->stopping && fm_clock_mono_ms() < deadline)
        wait_until(q, deadline);
    first = q->head;
    if (first == NULL) {
        uv_mutex_unlock(&q->mu);
        return NULL;
    }
    last = first;
    while (n < max && last->next != NULL) {
        last = last->next;
        n++;
    }
    q->head = last->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len -= n;
    last->next = NULL;
    uv_mutex_unlock(&q->mu);
    return first;
}

bool fmq_work_sleep(struct fmq_work *q, uint64_t timeout_ms)
{
    uint64_t deadline = deadline_after(timeout_ms);
    bool stopped;

    uv_mutex_lock(&q->mu);
    while (!q->stopping && fm_clock_mono_ms() < deadline)
        wait_until(q, deadline);
    stopped = q->stopping;
    uv_mutex_unlock(&q->mu);
    return stopped;
}

void fmq_work_stop(struct fmq_work *q)
{
    uv_mutex_lock(&q->mu);
    q->stopping = true;
    uv_cond_broadcast(&q->cv);
    uv_mutex_unlock(&q->mu);
}

bool fmq_work_stopped(struct fmq_work *q)
{
    return atomic_load(&q->stopping);
}

size_t fmq_work_len(struct fmq_work *q)
{
    size_t n;

    uv_mutex_lock(&q->mu);
    n = q->len;
    uv_mutex_unlock(&q->mu);
    return n;
}
