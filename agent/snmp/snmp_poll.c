/* snmp_poll: see snmp_poll.h. This file owns the loop side: sessions and
 * their libuv handles, the schedule, the in-flight bound, reachability and
 * backoff. snmp_req.c builds the requests and reads the responses.
 *
 * A device moves IDLE -> WAITING (due, queued for a slot) -> ACTIVE (has
 * a slot; one request outstanding at a time) -> IDLE. net-snmp is handed
 * control in two places only: snmp_sess_read when the device's socket is
 * readable, and snmp_sess_timeout when its request expires (net-snmp
 * then resends or reports the timeout). Either may run the request's
 * callback, which leaves an action; we act on it after net-snmp returned. */
#include "snmp_poll_int.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void advance(struct snmp__dev *d);
static void queue_send(struct snmp__dev *d);
static void deadline_add(struct snmp__dev *d, uint64_t after_ms);
static void deadline_remove(struct snmp__dev *d);
static void on_expiry(uv_timer_t *t);

/* poll_where_cb: the address a device is polled at, for the log line of
 * its becoming unreachable. */
static void dev_where(const void *dev, char *buf, size_t len)
{
    const struct snmp__dev *d = dev;

    snprintf(buf, len, "%s:%d", d->cfg->snmp.host, (int)d->cfg->snmp.port);
}

/* ------------------------------------------------------------ set-up */

static void compile_profile(struct snmp__prof *p, const struct profile_cfg *cfg)
{
    p->cfg = cfg;
    p->scalar_pt = fm_xcalloc(cfg->n_points + 1, sizeof(*p->scalar_pt));
    p->scalar_oid = fm_xcalloc(cfg->n_points + 1, sizeof(*p->scalar_oid));
    p->column_pt = fm_xcalloc(cfg->n_points + 1, sizeof(*p->column_pt));
    p->column_oid = fm_xcalloc(cfg->n_points + 1, sizeof(*p->column_oid));
    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct point_cfg *pt = &cfg->points[i];
        oid_t o;

        if (oid_parse(pt->oid, &o) != 0) /* checked when the config loaded */
            continue;
        if (pt->table) {
            p->column_pt[p->n_columns] = (uint16_t)i;
            p->column_oid[p->n_columns++] = o;
        } else {
            p->scalar_pt[p->n_scalars] = (uint16_t)i;
            p->scalar_oid[p->n_scalars++] = o;
        }
        p->any_rate |= pt->rate;
    }
}

static void on_readable(uv_poll_t *h, int status, int events);

/* Opens d's session to d->addr and starts watching its socket. 0 or -EIO
 * (d->reason). */
static int dev_open(struct snmp__dev *d)
{
    netsnmp_transport *t;
    int rc;

    d->sessp = snmp_target_open(d->cfg, d->addr, snmp__encoded(d) ? snmp__build : NULL, d,
                                d->reason, sizeof(d->reason));
    if (d->sessp == NULL)
        return -EIO;
    t = snmp_sess_transport(d->sessp);
    d->fd = t->sock;
    if ((unsigned)d->fd >= d->owner->fdset.lfs_setsize)
        netsnmp_large_fd_set_resize(&d->owner->fdset, d->fd + 1);
    rc = uv_poll_init_socket(d->owner->loop, &d->poll, d->fd);
    if (rc == 0)
        rc = uv_poll_start(&d->poll, UV_READABLE, on_readable);
    if (rc != 0) {
        snprintf(d->reason, sizeof(d->reason), "cannot watch socket: %s", uv_strerror(rc));
        snmp_sess_close(d->sessp);
        d->sessp = NULL;
        return -EIO;
    }
    d->poll.data = d;
    return 0;
}

int snmp_poll_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                     unsigned cycles, snmp_poll_done_cb done, void *arg, snmp_poll_t **out)
{
    snmp_poll_t *p = fm_xcalloc(1, sizeof(*p));
    struct rlimit rl;

    p->loop = loop;
    p->cfg = cfg;
    p->done = done;
    p->done_arg = arg;
    p->max_active = (size_t)cfg->snmp.max_in_flight;
    uv_idle_init(loop, &p->flush);
    p->flush.data = p;
    uv_timer_init(loop, &p->expiry);
    p->expiry.data = p;
    snmp_target_init();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
        rl.rlim_cur < cfg->n_devices + 64) {
        /* One socket per device: take what the hard limit allows. */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    netsnmp_large_fd_set_init(&p->fdset, FD_SETSIZE);
    NETSNMP_LARGE_FD_ZERO(&p->fdset);
    p->n_profs = cfg->n_profiles;
    p->profs = fm_xcalloc(p->n_profs + 1, sizeof(*p->profs));
    for (size_t i = 0; i < p->n_profs; i++)
        compile_profile(&p->profs[i], &cfg->profiles[i]);
    p->devs = fm_xcalloc(cfg->n_devices + 1, sizeof(*p->devs));
    for (size_t i = 0; i < cfg->n_devices; i++) {
        struct snmp__dev *d;
        const struct snmp_dev_cfg *sc = &cfg->devices[i].snmp;

        if (cfg->devices[i].protocol != DEVICE_PROTOCOL_SNMP)
            continue; /* Modbus devices have their own poller */
        d = &p->devs[p->n_devs++];
        d->owner = p;
        d->cfg = &cfg->devices[i];
        d->prof = &p->profs[d->cfg->prof - cfg->profiles];
        d->chunk = (unsigned)sc->max_varbinds;
        d->max_rep = (unsigned)sc->max_reps;
        d->getnext = !sc->bulk || sc->version == SNMP_VERSION_CFG_1;
        d->sent = fm_xcalloc((size_t)sc->max_varbinds, sizeof(*d->sent));
        d->req = fm_xcalloc((size_t)sc->max_varbinds + d->prof->n_columns, sizeof(*d->req));
        poll_health_init(&d->health, d->cfg->interval_ms);
        d->engine_known = sc->version != SNMP_VERSION_CFG_3 || sc->engine_id[0] != '\0';
        uv_timer_init(loop, &d->sched);
        d->sched.data = d;
        d->fd = -1;
        if (!snmp_target_is_numeric(sc->host))
            continue; /* resolved on the loop when first polled */
        snmp_target_canonical(sc->host, d->addr, sizeof(d->addr));
        if (dev_open(d) != 0) /* retried at each poll; counts as a failed poll */
            FM_ERR("snmp: %s: %s", d->cfg->name, d->reason);
    }
    poll_owner_init(&p->po, "snmp", sink, cycles, cfg->snmp.backoff_max_ms, &p->stats.polls,
                    dev_where, p->n_devs);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------ schedule */

static void on_sched(uv_timer_t *t);

static void schedule_next(struct snmp__dev *d)
{
    uint64_t delay = poll_schedule_next(&d->due_ms, d->health.interval_ms, uv_now(d->owner->loop));

    uv_timer_start(&d->sched, on_sched, delay, 0);
}

static void dispatch(snmp_poll_t *p)
{
    while (p->active < p->max_active && p->wait_head != NULL && !p->stopping) {
        struct snmp__dev *d = p->wait_head;

        p->wait_head = d->next_wait;
        if (p->wait_head == NULL)
            p->wait_tail = NULL;
        d->next_wait = NULL;
        d->state = DEV_ACTIVE;
        p->active++;
        poll_begin(&p->po, d->cfg->name, d->cycles_done, d->due_ms);
        snmp__begin(d);
        queue_send(d);
    }
}

static void on_sched(uv_timer_t *t)
{
    struct snmp__dev *d = t->data;
    snmp_poll_t *p = d->owner;

    if (d->state != DEV_IDLE) {
        /* Still busy with the previous poll: skip this slot. */
        p->stats.overruns++;
        schedule_next(d);
        return;
    }
    d->state = DEV_WAITING;
    if (p->wait_tail != NULL)
        p->wait_tail->next_wait = d;
    else
        p->wait_head = d;
    p->wait_tail = d;
    dispatch(p);
}

void snmp_poll_start(snmp_poll_t *p)
{
    uint64_t now = uv_now(p->loop);

    for (size_t i = 0; i < p->n_devs; i++) {
        struct snmp__dev *d = &p->devs[i];
        uint64_t delay = poll_first_delay(&p->po, p->cfg->snmp.poll_spread, d->cfg->interval_ms);

        d->due_ms = now + delay;
        uv_timer_start(&d->sched, on_sched, delay, 0);
    }
}

/* ------------------------------------------------------------ outcome */

void snmp_poll_set_outcome_cb(snmp_poll_t *p, poll_outcome_cb cb, void *arg)
{
    p->po.outcome = cb;
    p->po.outcome_arg = arg;
}

static void finish(struct snmp__dev *d, bool ok)
{
    snmp_poll_t *p = d->owner;
    struct poll_result r = {
        .ok = ok, .cfg = d->cfg, .dev = d, .reason = d->reason, .ts_ms = fm_clock_wall_ms()};
    unsigned next;

    snmp__end(d);
    deadline_remove(d);
    snmp__adapt_end(d, ok);
    d->state = DEV_IDLE;
    d->outstanding = false;
    p->active--;
    next = poll_end(&p->po, &d->health, &d->cycles_done, &r, uv_now(p->loop));
    if (next & POLL_END_AGAIN)
        schedule_next(d);
    if ((next & POLL_END_ALL_DONE) && p->done != NULL)
        p->done(p, p->done_arg);
    dispatch(p);
}

/* ------------------------------------------------------------ names */

/* A device configured by host name has its name resolved when it is first
 * polled, with uv_getaddrinfo (the resolver runs on libuv's thread pool,
 * never on the loop); the poll holds its slot meanwhile and goes on in
 * on_resolved. A name that does not resolve fails that poll with the
 * resolver's reason, so the device backs off like any failing device and
 * the name is tried again at its next poll. Once resolved, the address is
 * kept until the configuration is loaded again. If the name has IPv4 and
 * IPv6 addresses, the first IPv4 one is polled. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);
static void close_done(snmp_poll_t *p);

/* 0 when d->addr is set, 1 when a resolution went out (on_resolved
 * continues the poll), -EIO (d->reason) when it could not start. */
static int dev_resolve(struct snmp__dev *d)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    int rc;

    if (d->addr[0] != '\0')
        return 0;
    d->resolve.data = d;
    rc = uv_getaddrinfo(d->owner->loop, &d->resolve, on_resolved, d->cfg->snmp.host, NULL, &hints);
    if (rc != 0) {
        snprintf(d->reason, sizeof(d->reason), "cannot resolve host name '%s': %s",
                 d->cfg->snmp.host, uv_strerror(rc));
        return -EIO;
    }
    d->resolving = true;
    return 1;
}

static void advance(struct snmp__dev *d);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct snmp__dev *d = req->data;
    snmp_poll_t *p = d->owner;
    const struct addrinfo *pick = NULL;

    d->resolving = false;
    if (p->stopping) {
        uv_freeaddrinfo(res);
        close_done(p);
        return;
    }
    for (const struct addrinfo *a = res; status == 0 && a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET || (pick == NULL && a->ai_family == AF_INET6))
            pick = a;
        if (pick != NULL && pick->ai_family == AF_INET)
            break;
    }
    if (pick == NULL) {
        snprintf(d->reason, sizeof(d->reason), "cannot resolve host name '%s': %s",
                 d->cfg->snmp.host, status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address");
    } else if (pick->ai_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, d->addr, sizeof(d->addr));
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, d->addr, sizeof(d->addr));
    }
    uv_freeaddrinfo(res);
    if (d->addr[0] == '\0') {
        finish(d, false);
        return;
    }
    FM_INFO("snmp: %s: %s is %s", d->cfg->name, d->cfg->snmp.host, d->addr);
    advance(d);
}

/* ------------------------------------------------------------ requests */

static void advance(struct snmp__dev *d)
{
    int rc;

    if (d->sessp == NULL) {
        rc = dev_resolve(d);
        if (rc == 1)
            return;
        if (rc != 0 || dev_open(d) != 0) {
            finish(d, false);
            return;
        }
    }
    rc = snmp__send_next(d);
    if (rc == 1) {
        deadline_add(d, (uint64_t)d->cfg->snmp.timeout_ms + 1);
        return;
    }
    finish(d, rc == 0);
}

static void act(struct snmp__dev *d)
{
    enum snmp__action a = d->action;

    d->action = ACT_NONE;
    if (a == ACT_NONE || d->state != DEV_ACTIVE)
        return;
    deadline_remove(d);
    if (a == ACT_NEXT)
        queue_send(d);
    else
        finish(d, false);
}

/* Sending is deferred to the loop's idle phase, which runs after the
 * timers and before the next wait for I/O: every response that arrived in
 * one iteration is handled first, then the requests go out back to back.
 * A device that answers at once is then still busy with the earlier
 * requests of the burst instead of being woken for each one, which on a
 * busy poller halves the wake-ups the sends cost (bench/README.md). */
static void flush_sends(uv_idle_t *h)
{
    snmp_poll_t *p = h->data;

    while (p->send_head != NULL) {
        struct snmp__dev *d = p->send_head;

        p->send_head = d->next_send;
        if (p->send_head == NULL)
            p->send_tail = NULL;
        d->next_send = NULL;
        if (d->state == DEV_ACTIVE && !p->stopping)
            advance(d); /* may finish d and queue the next waiting device */
    }
    uv_idle_stop(h);
}

static void queue_send(struct snmp__dev *d)
{
    snmp_poll_t *p = d->owner;

    if (p->send_tail != NULL)
        p->send_tail->next_send = d;
    else
        p->send_head = d;
    p->send_tail = d;
    if (!uv_is_active((uv_handle_t *)&p->flush))
        uv_idle_start(&p->flush, flush_sends);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct snmp__dev *d = h->data;
    netsnmp_large_fd_set *fs = &d->owner->fdset;

    if (status < 0) {
        FM_WARN("snmp: %s: socket error: %s", d->cfg->name, uv_strerror(status));
        return;
    }
    NETSNMP_LARGE_FD_SET(d->fd, fs);
    snmp_sess_read2(d->sessp, fs);
    NETSNMP_LARGE_FD_CLR(d->fd, fs);
    act(d);
}

static void on_timeout(struct snmp__dev *d)
{
    netsnmp_large_fd_set *fs = &d->owner->fdset;
    struct timeval tv = {0, 0};
    int numfds = 0, block = 1;

    snmp_sess_timeout(d->sessp);
    if (d->action != ACT_NONE) {
        act(d);
        return;
    }
    if (!d->outstanding || d->state != DEV_ACTIVE)
        return;
    /* net-snmp resent the request: wait for its new expiry. */
    snmp_sess_select_info2(d->sessp, &numfds, fs, &tv, &block);
    NETSNMP_LARGE_FD_CLR(d->fd, fs);
    if (block != 0) {
        snprintf(d->reason, sizeof(d->reason), "request lost by the SNMP library");
        finish(d, false);
        return;
    }
    deadline_add(d, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1);
}

/* ------------------------------------------------------------ deadlines */

/* One timer for every outstanding request instead of one per device: the
 * requests are kept in a list ordered by expiry, so a request costs two
 * list operations instead of a start and a stop on libuv's timer heap (a
 * measurable share of a request's CPU on a poller of 1,000 devices). The
 * timeouts of most devices are equal, so a new request goes at the tail. A
 * request that is answered leaves the list; the timer stays armed for the
 * expiry it was set to and re-arms itself for the new head when it fires. */
static void arm_expiry(snmp_poll_t *p)
{
    uint64_t now = uv_now(p->loop);

    if (p->dl_head == NULL || p->stopping)
        return;
    if (p->expiry_at != 0 && p->expiry_at <= p->dl_head->deadline_ms)
        return; /* fires in time; on_expiry re-arms for the rest */
    p->expiry_at = p->dl_head->deadline_ms;
    uv_timer_start(&p->expiry, on_expiry,
                   p->dl_head->deadline_ms > now ? p->dl_head->deadline_ms - now : 0, 0);
}

static void deadline_add(struct snmp__dev *d, uint64_t after_ms)
{
    snmp_poll_t *p = d->owner;
    struct snmp__dev *at = p->dl_tail;

    deadline_remove(d);
    d->deadline_ms = uv_now(p->loop) + after_ms;
    while (at != NULL && at->deadline_ms > d->deadline_ms)
        at = at->dl_prev;
    /* Insert after `at` (at the head when NULL). */
    d->dl_prev = at;
    d->dl_next = at != NULL ? at->dl_next : p->dl_head;
    if (d->dl_next != NULL)
        d->dl_next->dl_prev = d;
    else
        p->dl_tail = d;
    if (at != NULL)
        at->dl_next = d;
    else
        p->dl_head = d;
    d->dl_linked = true;
    arm_expiry(p);
}

static void deadline_remove(struct snmp__dev *d)
{
    snmp_poll_t *p = d->owner;

    if (!d->dl_linked)
        return;
    if (d->dl_prev != NULL)
        d->dl_prev->dl_next = d->dl_next;
    else
        p->dl_head = d->dl_next;
    if (d->dl_next != NULL)
        d->dl_next->dl_prev = d->dl_prev;
    else
        p->dl_tail = d->dl_prev;
    d->dl_prev = d->dl_next = NULL;
    d->dl_linked = false;
}

static void on_expiry(uv_timer_t *t)
{
    snmp_poll_t *p = t->data;
    uint64_t now = uv_now(p->loop);

    p->expiry_at = 0;
    while (p->dl_head != NULL && p->dl_head->deadline_ms <= now && !p->stopping) {
        struct snmp__dev *d = p->dl_head;

        deadline_remove(d);
        on_timeout(d); /* may add d again (a resend) with a later expiry */
    }
    arm_expiry(p);
}

/* ------------------------------------------------------------ teardown */

static void free_poller(snmp_poll_t *p)
{
    for (size_t i = 0; i < p->n_devs; i++) {
        free(p->devs[i].sent);
        free(p->devs[i].req);
        free(p->devs[i].skip);
        free(p->devs[i].rates);
    }
    for (size_t i = 0; i < p->n_profs; i++) {
        free(p->profs[i].scalar_pt);
        free(p->profs[i].scalar_oid);
        free(p->profs[i].column_pt);
        free(p->profs[i].column_oid);
    }
    netsnmp_large_fd_set_cleanup(&p->fdset);
    poll_rounds_free(&p->po.rounds);
    void (*freed_cb)(void *) = p->freed_cb;
    void *freed_arg = p->freed_arg;

    free(p->profs);
    free(p->devs);
    free(p);
    if (freed_cb != NULL)
        freed_cb(freed_arg);
}

static void close_done(snmp_poll_t *p)
{
    if (--p->closes_pending == 0)
        free_poller(p);
}

static void on_closed(uv_handle_t *h)
{
    struct snmp__dev *d = h->data;

    close_done(d->owner);
}

static void on_own_closed(uv_handle_t *h)
{
    close_done(h->data);
}

void snmp_poll_set_freed_cb(snmp_poll_t *p, void (*cb)(void *arg), void *arg)
{
    p->freed_cb = cb;
    p->freed_arg = arg;
}

void snmp_poll_destroy(snmp_poll_t *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    p->closes_pending += 2;
    uv_close((uv_handle_t *)&p->flush, on_own_closed);
    uv_close((uv_handle_t *)&p->expiry, on_own_closed);
    for (size_t i = 0; i < p->n_devs; i++) {
        struct snmp__dev *d = &p->devs[i];

        snmp__end(d);
        if (d->resolving) {
            /* on_resolved runs (cancelled, or with its result) and counts. */
            p->closes_pending++;
            uv_cancel((uv_req_t *)&d->resolve);
        }
        p->closes_pending++;
        uv_close((uv_handle_t *)&d->sched, on_closed);
        if (d->sessp != NULL) {
            /* Stop watching the socket before net-snmp closes it. */
            p->closes_pending++;
            uv_close((uv_handle_t *)&d->poll, on_closed);
            snmp_sess_close(d->sessp);
            d->sessp = NULL;
        }
    }
}

const struct snmp_poll_stats *snmp_poll_stats(const snmp_poll_t *p)
{
    return &p->stats;
}

const struct device_cfg *snmp_poll_device_at(const snmp_poll_t *p, const char *ip)
{
    if (p == NULL || ip[0] == '\0')
        return NULL;
    for (size_t i = 0; i < p->n_devs; i++) {
        if (strcmp(p->devs[i].addr, ip) == 0)
            return p->devs[i].cfg;
    }
    return NULL;
}

size_t snmp_poll_failed_devices(const snmp_poll_t *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_devs; i++)
        n += poll_health_failed(&p->devs[i].health, p->devs[i].cycles_done);
    return n;
}
