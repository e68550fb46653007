/* Unit tests for fm_queue: nodes posted from several threads reach the loop
 * once each and in each thread's order; a worker takes runs bounded by max;
 * a stop wakes a waiting worker and a sleeping one; close delivers what is
 * still queued. These run under ThreadSanitizer in tests/tsan.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_queue.h"

#include <stdlib.h>
#include <uv.h>

#define PRODUCERS 4
#define PER_PRODUCER 5000

struct item {
    struct fmq_node node; /* first: a node pointer is an item pointer */
    int producer;
    int seq;
};

struct sink {
    int next_seq[PRODUCERS];
    int delivered;
    int out_of_order;
    bool closed;
    struct fmq_loop q;
};

static void on_item(struct fmq_node *node, void *arg)
{
    struct sink *s = arg;
    struct item *it = (struct item *)node;

    if (it->seq != s->next_seq[it->producer])
        s->out_of_order++;
    s->next_seq[it->producer] = it->seq + 1;
    s->delivered++;
    free(it);
    if (s->delivered == PRODUCERS * PER_PRODUCER)
        fmq_loop_close(&s->q, NULL);
}

struct producer_arg {
    struct fmq_loop *q;
    int id;
};

static void producer_main(void *arg)
{
    struct producer_arg *p = arg;

    for (int i = 0; i < PER_PRODUCER; i++) {
        struct item *it = calloc(1, sizeof(*it));

        it->producer = p->id;
        it->seq = i;
        fmq_loop_post(p->q, &it->node);
    }
}

static void test_fmq_loop_delivers_every_node_once_in_each_threads_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct sink s = {0};
    uv_thread_t tid[PRODUCERS];
    struct producer_arg pa[PRODUCERS];

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fmq_loop_init(&s.q, &loop, on_item, &s), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i] = (struct producer_arg){.q = &s.q, .id = i};
        assert_int_equal(uv_thread_create(&tid[i], producer_main, &pa[i]), 0);
    }
    /* The loop runs until the last node closes the queue's async handle. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < PRODUCERS; i++)
        uv_thread_join(&tid[i]);
    assert_int_equal(s.delivered, PRODUCERS * PER_PRODUCER);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_closed(struct fmq_loop *q)
{
    struct sink *s = (struct sink *)((char *)q - offsetof(struct sink, q));

    s->closed = true;
}

static void test_fmq_loop_close_delivers_what_is_still_queued(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct sink s = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fmq_loop_init(&s.q, &loop, on_item, &s), 0);
    for (int i = 0; i < 3; i++) {
        struct item *it = calloc(1, sizeof(*it));

        it->seq = i;
        fmq_loop_post(&s.q, &it->node);
    }
    /* No loop turn yet: close hands them over, then closes. */
    fmq_loop_close(&s.q, on_closed);
    assert_int_equal(s.delivered, 3);
    assert_false(s.closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(s.closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_fmq_work_take_returns_runs_of_at_most_max_in_order(void **state)
{
    (void)state;
    struct fmq_work q;
    struct item items[5];
    struct fmq_node *run;
    int seen = 0;

    assert_int_equal(fmq_work_init(&q), 0);
    assert_null(fmq_work_take(&q, 0, 10)); /* empty, no wait */
    for (int i = 0; i < 5; i++) {
        items[i].seq = i;
        fmq_work_push(&q, &items[i].node);
    }
    assert_int_equal(fmq_work_len(&q), 5);
    run = fmq_work_take(&q, 0, 2);
    for (struct fmq_node *n = run; n != NULL; n = n->next)
        assert_int_equal(((struct item *)n)->seq, seen++);
    assert_int_equal(seen, 2);
    assert_int_equal(fmq_work_len(&q), 3);
    run = fmq_work_take(&q, 0, 100);
    for (struct fmq_node *n = run; n != NULL; n = n->next)
        assert_int_equal(((struct item *)n)->seq, seen++);
    assert_int_equal(seen, 5);
    assert_int_equal(fmq_work_len(&q), 0);
    assert_null(fmq_work_take(&q, 1, 1)); /* times out empty */
    fmq_work_destroy(&q);
}

struct waiter {
    struct fmq_work *q;
    struct fmq_node *got;
    bool slept_stopped;
};

static void taker_main(void *arg)
{
    struct waiter *w = arg;

    w->got = fmq_work_take(w->q, UINT64_MAX, 1);
    w->slept_stopped = fmq_work_sleep(w->q, UINT64_MAX);
}

static void test_fmq_work_stop_wakes_a_waiting_and_a_sleeping_worker(void **state)
{
    (void)state;
    struct fmq_work q;
    struct item it = {.seq = 7};
    struct waiter w = {.q = &q};
    uv_thread_t tid;

    assert_int_equal(fmq_work_init(&q), 0);
    assert_int_equal(uv_thread_create(&tid, taker_main, &w), 0);
    /* The worker waits forever for a node: a push wakes it; then it sleeps
     * forever and only a stop can end that. The join proves both woke. */
    fmq_work_push(&q, &it.node);
    fmq_work_stop(&q);
    uv_thread_join(&tid);
    assert_ptr_equal(w.got, &it.node);
    assert_true(w.slept_stopped);
    assert_true(fmq_work_stopped(&q));
    /* A stopped queue still hands out what it holds, then NULL at once. */
    fmq_work_push(&q, &it.node);
    assert_ptr_equal(fmq_work_take(&q, UINT64_MAX, 1), &it.node);
    assert_null(fmq_work_take(&q, UINT64_MAX, 1));
    fmq_work_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmq_loop_delivers_every_node_once_in_each_threads_order),
        cmocka_unit_test(test_fmq_loop_close_delivers_what_is_still_queued),
        cmocka_unit_test(test_fmq_work_take_returns_runs_of_at_most_max_in_order),
        cmocka_unit_test(test_fmq_work_stop_wakes_a_waiting_and_a_sleeping_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
