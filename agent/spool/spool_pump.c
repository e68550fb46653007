/* spool_pump: see spool_pump.h. */
#include "spool_pump.h"

#include "fm_alloc.h"

#include <stdlib.h>

/* Flushing in both prepare (just before the loop blocks) and check (just
 * after the I/O callbacks) catches events appended in any phase before the
 * loop sleeps, without a handle that keeps the loop spinning. Failures are
 * logged by the spool; the data stays buffered and the next turn retries. */
struct spool_pump {
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t timer;
    spool_t *sp;
    int handles;
};

static void on_check(uv_check_t *h)
{
    struct spool_pump *p = h->data;

    spool_flush(p->sp);
}

static void on_prepare(uv_prepare_t *h)
{
    struct spool_pump *p = h->data;

    spool_flush(p->sp);
}

static void on_timer(uv_timer_t *t)
{
    struct spool_pump *p = t->data;

    spool_sync(p->sp);
}

/* Runs the fsync timer under policy `interval` only. */
static void timer_apply(struct spool_pump *p, const struct spool_cfg *cfg)
{
    uv_timer_stop(&p->timer);
    if (cfg->fsync == SPOOL_FSYNC_INTERVAL) {
        uint64_t ms = cfg->fsync_interval_ms > 0 ? (uint64_t)cfg->fsync_interval_ms : 1000;
        uv_timer_start(&p->timer, on_timer, ms, ms);
        uv_unref((uv_handle_t *)&p->timer);
    }
}

spool_pump_t *spool_pump_start(uv_loop_t *loop, spool_t *sp, const struct spool_cfg *cfg)
{
    struct spool_pump *p = fm_xcalloc(1, sizeof(*p));

    p->sp = sp;
    uv_prepare_init(loop, &p->prepare);
    uv_check_init(loop, &p->check);
    uv_timer_init(loop, &p->timer);
    p->prepare.data = p;
    p->check.data = p;
    p->timer.data = p;
    p->handles = 3;
    uv_prepare_start(&p->prepare, on_prepare);
    uv_check_start(&p->check, on_check);
    /* These handles alone must not keep the loop alive. */
    uv_unref((uv_handle_t *)&p->prepare);
    uv_unref((uv_handle_t *)&p->check);
    timer_apply(p, cfg);
    return p;
}

void spool_pump_reload(spool_pump_t *p, const struct spool_cfg *cfg)
{
    timer_apply(p, cfg);
}

static void on_closed(uv_handle_t *h)
{
    struct spool_pump *p = h->data;

    if (--p->handles == 0)
        free(p);
}

void spool_pump_stop(spool_pump_t *p)
{
    if (p == NULL)
        return;
    spool_flush(p->sp);
    spool_sync(p->sp);
    uv_close((uv_handle_t *)&p->prepare, on_closed);
    uv_close((uv_handle_t *)&p->check, on_closed);
    uv_close((uv_handle_t *)&p->timer, on_closed);
}
