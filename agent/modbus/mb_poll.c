/* mb_poll: see mb_poll.h. This file owns links (workers), the
 * schedule, reachability and backoff; mb_emit.c turns results into
 * events.
 *
 * A device is idle or busy (its job is with its link's worker). When its
 * timer fires while busy, the poll is skipped and counted as an overrun, so
 * a slow bus never builds a backlog. */
#include "mb_poll_int.h"

#include "fm_addr.h"
#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool is_modbus(const struct device_cfg *d)
{
    return d->protocol == DEVICE_PROTOCOL_MODBUS_TCP || d->protocol == DEVICE_PROTOCOL_MODBUS_RTU;
}

size_t mb_poll_count_devices(const struct agent_cfg *cfg)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->n_devices; i++)
        n += is_modbus(&cfg->devices[i]);
    return n;
}

/* ------------------------------------------------------------ set-up */

/* A TCP link's name is host:port with the host in its canonical form
 * (fm_addr.h), an IPv6 address in brackets: [::1]:502 and
 * [0:0:0:0:0:0:0:1]:502 are one link. */
static void link_name(const struct device_cfg *d, char *buf, size_t len)
{
    char host[256];

    if (d->protocol == DEVICE_PROTOCOL_MODBUS_TCP) {
        bool v6 = fm_addr_canonical(d->modbus.host, host, sizeof(host)) == FM_ADDR_IPV6;

        snprintf(buf, len, v6 ? "[%s]:%d" : "%s:%d", host, (int)d->modbus.port);
    } else {
        snprintf(buf, len, "%s", d->modbus.serial);
    }
}

/* Finds or adds the link of d: devices with the same TCP host:port or the
 * same serial port share one. */
static struct mb__link *link_of(mb_poll_t *p, const struct device_cfg *d)
{
    char name[sizeof(p->links[0].name)];
    struct mb__link *l;

    link_name(d, name, sizeof(name));
    for (size_t i = 0; i < p->n_links; i++) {
        l = &p->links[i];
        if (l->first->protocol == d->protocol && strcmp(l->name, name) == 0)
            goto found;
    }
    l = &p->links[p->n_links++];
    l->first = d;
    snprintf(l->name, sizeof(l->name), "%s", name);
found:
    if (d->modbus.inter_frame_ms > l->inter_frame_ms)
        l->inter_frame_ms = d->modbus.inter_frame_ms;
    return l;
}

static int link_start(mb_poll_t *p, struct mb__link *l)
{
    const struct mb_dev_cfg *m = &l->first->modbus;
    static const char parity[] = {'N', 'E', 'O'};
    char host[256]; /* libmodbus copies it: no brackets, as getaddrinfo wants */
    struct mb_link_cfg lc = {
        .kind = l->first->protocol == DEVICE_PROTOCOL_MODBUS_TCP ? MB_LINK_TCP : MB_LINK_RTU,
        .name = l->name,
        .host = host,
        .port = (int)m->port,
        .device = m->serial,
        .baud = (int)m->baud,
        .parity = parity[m->parity],
        .data_bits = (int)m->data_bits,
        .stop_bits = (int)m->stop_bits,
        .timeout_ms = m->timeout_ms,
        .inter_frame_ms = l->inter_frame_ms,
        .backoff_min_ms = m->reconnect_min_ms,
        .backoff_max_ms = m->reconnect_max_ms,
        .max_queue = (unsigned)p->cfg->modbus.max_queue,
    };
    const char *why = NULL;

    fm_addr_canonical(m->host, host, sizeof(host));
    l->w = mb_worker_create(p->loop, &lc, &why);
    if (l->w == NULL) {
        FM_ERR("modbus: %s (device %s): %s", l->name, l->first->name, why);
        return -EINVAL;
    }
    return 0;
}

static void on_job_done(struct mb_job *job);

static int dev_init(mb_poll_t *p, struct mb__dev *d, const struct device_cfg *cfg)
{
    const struct profile_cfg *prof = cfg->prof;
    struct mb_plan_point *where = fm_xcalloc(prof->n_points + 1, sizeof(*where));
    struct mb_plan_limits lim = {
        .max_gap = (unsigned)cfg->modbus.max_gap,
        .max_span_regs = (unsigned)cfg->modbus.max_span,
        .max_span_bits = (unsigned)cfg->modbus.max_bits,
    };
    size_t words = 0;
    int rc;

    for (size_t i = 0; i < prof->n_points; i++) {
        where[i].function = (uint8_t)prof->points[i].modbus.function;
        where[i].address = (uint16_t)prof->points[i].modbus.address;
        where[i].count = prof->points[i].modbus.words;
    }
    rc = mb_plan_build(where, prof->n_points, &lim, &d->plan);
    free(where);
    if (rc != 0) {
        /* The config checks make this unreachable short of running out of memory. */
        FM_ERR("modbus: %s: cannot plan reads: %s", cfg->name, strerror(-rc));
        return rc;
    }
    d->owner = p;
    d->cfg = cfg;
    d->off = fm_xcalloc(d->plan.n_reads + 1, sizeof(*d->off));
    for (size_t i = 0; i < d->plan.n_reads; i++) {
        d->off[i] = words;
        words += d->plan.reads[i].count;
    }
    d->data = fm_xcalloc(words + 1, sizeof(*d->data));
    d->results = fm_xcalloc(d->plan.n_reads + 1, sizeof(*d->results));
    d->job.unit_id = (int)cfg->modbus.unit_id;
    d->job.reads = d->plan.reads;
    d->job.n_reads = d->plan.n_reads;
    d->job.data = d->data;
    d->job.data_len = words;
    d->job.results = d->results;
    d->job.cb = on_job_done;
    d->job.ctx = d;
    poll_health_init(&d->health, cfg->interval_ms);
    uv_timer_init(p->loop, &d->sched);
    d->sched.data = d;
    FM_DEBUG("modbus: %s: %zu points in %zu reads", cfg->name, prof->n_points, d->plan.n_reads);
    return 0;
}

static void free_poller(mb_poll_t *p)
{
    for (size_t i = 0; i < p->n_devs; i++) {
        mb_plan_free(&p->devs[i].plan);
        free(p->devs[i].off);
        free(p->devs[i].data);
        free(p->devs[i].results);
    }
    void (*freed_cb)(void *) = p->freed_cb;
    void *freed_arg = p->freed_arg;

    poll_rounds_free(&p->po.rounds);
    free(p->devs);
    free(p->links);
    free(p);
    if (freed_cb != NULL)
        freed_cb(freed_arg);
}

/* poll_where_cb: the link and unit a device is polled at, for the log line
 * of its becoming unreachable. */
static void dev_where(const void *dev, char *buf, size_t len)
{
    const struct mb__dev *d = dev;

    snprintf(buf, len, "%s unit %d", d->link->name, (int)d->cfg->modbus.unit_id);
}

int mb_poll_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                   unsigned cycles, mb_poll_done_cb done, void *arg, mb_poll_t **out)
{
    mb_poll_t *p = fm_xcalloc(1, sizeof(*p));
    size_t n = mb_poll_count_devices(cfg);
    int rc = 0;

    p->loop = loop;
    p->cfg = cfg;
    p->done = done;
    p->done_arg = arg;
    poll_owner_init(&p->po, "modbus", sink, cycles, cfg->modbus.backoff_max_ms, &p->stats.polls,
                    dev_where, n);
    p->devs = fm_xcalloc(n + 1, sizeof(*p->devs));
    p->links = fm_xcalloc(n + 1, sizeof(*p->links));
    for (size_t i = 0; i < cfg->n_devices && rc == 0; i++) {
        const struct device_cfg *dc = &cfg->devices[i];

        if (!is_modbus(dc))
            continue;
        rc = dev_init(p, &p->devs[p->n_devs], dc);
        if (rc == 0)
            p->devs[p->n_devs++].link = link_of(p, dc);
    }
    for (size_t i = 0; i < p->n_links && rc == 0; i++)
        rc = link_start(p, &p->links[i]);
    if (rc != 0) {
        mb_poll_destroy(p);
        return rc;
    }
    FM_INFO("modbus: %zu devices on %zu links", p->n_devs, p->n_links);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------ schedule */

static void on_sched(uv_timer_t *t);

static void schedule_next(struct mb__dev *d)
{
    uint64_t delay = poll_schedule_next(&d->due_ms, d->health.interval_ms, uv_now(d->owner->loop));

    uv_timer_start(&d->sched, on_sched, delay, 0);
}

static void finish(struct mb__dev *d, bool ok)
{
    mb_poll_t *p = d->owner;
    struct poll_result r = {
        .ok = ok, .cfg = d->cfg, .dev = d, .reason = d->reason, .ts_ms = d->job.observed_ms};
    unsigned next = poll_end(&p->po, &d->health, &d->cycles_done, &r, uv_now(p->loop));

    if (next & POLL_END_AGAIN)
        schedule_next(d);
    if ((next & POLL_END_ALL_DONE) && p->done != NULL)
        p->done(p, p->done_arg);
}

static void on_job_done(struct mb_job *job)
{
    struct mb__dev *d = job->ctx;

    d->busy = false;
    if (d->owner->stopping)
        return;
    finish(d, mb__emit(d));
}

static void on_sched(uv_timer_t *t)
{
    struct mb__dev *d = t->data;
    mb_poll_t *p = d->owner;
    int rc;

    if (d->busy) {
        /* Still busy with the previous poll: skip this slot. */
        p->stats.overruns++;
        schedule_next(d);
        return;
    }
    poll_begin(&p->po, d->cfg->name, d->cycles_done, d->due_ms);
    rc = mb_worker_submit(d->link->w, &d->job);
    if (rc == 0) {
        d->busy = true;
        return;
    }
    /* The link's queue is full: its bus cannot keep up with the schedule. */
    p->stats.overruns++;
    snprintf(d->reason, sizeof(d->reason), "link %s: %s", d->link->name, strerror(-rc));
    d->job.observed_ms = fm_clock_wall_ms();
    finish(d, false);
}

void mb_poll_set_outcome_cb(mb_poll_t *p, poll_outcome_cb cb, void *arg)
{
    p->po.outcome = cb;
    p->po.outcome_arg = arg;
}

void mb_poll_set_freed_cb(mb_poll_t *p, void (*cb)(void *arg), void *arg)
{
    p->freed_cb = cb;
    p->freed_arg = arg;
}

void mb_poll_start(mb_poll_t *p)
{
    uint64_t now = uv_now(p->loop);

    for (size_t i = 0; i < p->n_devs; i++) {
        struct mb__dev *d = &p->devs[i];
        uint64_t delay = poll_first_delay(&p->po, p->cfg->modbus.poll_spread, d->cfg->interval_ms);

        d->due_ms = now + delay;
        uv_timer_start(&d->sched, on_sched, delay, 0);
    }
}

/* ------------------------------------------------------------ teardown */

static void on_closed(void *arg)
{
    mb_poll_t *p = arg;

    if (--p->closes_pending == 0)
        free_poller(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mb__dev *d = h->data;

    on_closed(d->owner);
}

void mb_poll_destroy(mb_poll_t *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    p->closes_pending = 1; /* held until every close below is started */
    /* Ask every worker to stop first, so their current requests end in
     * parallel rather than one after another. */
    for (size_t i = 0; i < p->n_links; i++)
        mb_worker_stop(p->links[i].w);
    for (size_t i = 0; i < p->n_links; i++) {
        if (p->links[i].w == NULL)
            continue;
        p->closes_pending++;
        mb_worker_close(p->links[i].w, on_closed, p);
        p->links[i].w = NULL;
    }
    for (size_t i = 0; i < p->n_devs; i++) {
        p->closes_pending++;
        uv_close((uv_handle_t *)&p->devs[i].sched, on_timer_closed);
    }
    on_closed(p);
}

const struct mb_poll_stats *mb_poll_stats(const mb_poll_t *p)
{
    return &p->stats;
}

size_t mb_poll_failed_devices(const mb_poll_t *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_devs; i++)
        n += poll_health_failed(&p->devs[i].health, p->devs[i].cycles_done);
    return n;
}
