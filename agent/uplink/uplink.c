/* uplink: wiring of spool, pump, sender and status (see uplink.h). */
#include "uplink_int.h"

#include "fm_alloc.h"
#include "fm_log.h"
#include "spool_pump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* Human-readable size for the start-up line. */
static void fmt_size(char *buf, size_t len, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)b / (1ull << 30));
    else
        snprintf(buf, len, "%.1f MiB", (double)b / (1ull << 20));
}

/* The start-up line the acceptance criteria ask for: how big the spool is
 * and how long it lasts at the configured rate; warns when the disk cannot
 * hold it. */
static void print_sizing(const struct spool_cfg *cfg, uint64_t cap, double rate)
{
    struct statvfs vfs;
    char capt[32], freet[32] = "?";
    double hours = rate > 0 ? (double)cap / SPOOL_EST_EVENT_BYTES / rate / 3600.0 : 0;

    fmt_size(capt, sizeof(capt), cap);
    if (statvfs(cfg->dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        fmt_size(freet, sizeof(freet), avail);
        if (avail < cap)
            FM_WARN("spool: %s: only %s free on the file system for a cap of %s", cfg->dir, freet,
                    capt);
    }
    if (rate > 0)
        FM_NOTICE("spool: %s: cap %s (%" PRIu64 " bytes)%s holds %.1f h at %.1f events/s "
                  "(%u bytes/event estimated); %s free",
                  cfg->dir, capt, cap, cfg->max_bytes ? "" : " (automatic: 24 h, at least 16 MiB)",
                  hours, rate, SPOOL_EST_EVENT_BYTES, freet);
    else
        FM_NOTICE("spool: %s: cap %s (%" PRIu64 " bytes); %s free", cfg->dir, capt, cap, freet);
}

int uplink_create(uv_loop_t *loop, const struct uplink_cfg *cfg, char *const *collectors,
                  size_t n_collectors, const struct sender_identity *id, double events_per_s,
                  uplink_t **out)
{
    uplink_t *e = fm_xcalloc(1, sizeof(*e));
    uint64_t cap = cfg->spool.max_bytes ? cfg->spool.max_bytes : spool_auto_cap(events_per_s);
    struct spool_stats st;
    int rc;

    e->loop = loop;
    e->cfg = cfg;
    e->rate = events_per_s;
    rc = spool_open(&cfg->spool, cap, &e->spool);
    if (rc < 0)
        goto out_free;
    print_sizing(&cfg->spool, cap, events_per_s);
    spool_get_stats(e->spool, &st);
    FM_INFO("spool: %s: epoch %" PRIu64 ", next seq %" PRIu64 ", %" PRIu64
            " events held in %" PRIu64 " segments",
            cfg->spool.dir, st.epoch, st.next_seq, st.events, st.segments);
    e->status_cfg = &cfg->status;
    rc = uplink__status_check(&cfg->status);
    if (rc < 0)
        goto out_spool;
    rc = sender_create(loop, &cfg->sender, collectors, n_collectors, id, e->spool, &e->sender);
    if (rc < 0)
        goto out_spool;
    *out = e;
    return 0;
out_spool:
    spool_close(e->spool);
out_free:
    free(e);
    return rc;
}

void uplink_start(uplink_t *e, const struct uplink_counters *counters)
{
    if (counters != NULL)
        e->counters = *counters;
    e->pump = spool_pump_start(e->loop, e->spool, &e->cfg->spool);
    sender_start(e->sender);
    uplink__status_start(e);
}

void uplink_set_counters(uplink_t *e, const struct uplink_counters *counters)
{
    if (counters != NULL)
        e->counters = *counters;
    else
        memset(&e->counters, 0, sizeof(e->counters));
}

/* A refused event still gets its callback, on the next turn. */
struct refused {
    uv_timer_t t;
    spool_done_cb cb;
    void *ud;
    int status;
};

static void on_refused_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_refused(uv_timer_t *t)
{
    struct refused *r = t->data;

    r->cb(r->status, 0, r->ud);
    uv_close((uv_handle_t *)&r->t, on_refused_closed);
}

void uplink_emit_cb(uplink_t *e, const Fm__Event *ev, spool_done_cb cb, void *ud)
{
    Fm__Event copy = *ev; /* the spool writes seq; the producer's event stays as it was */
    int rc = spool_append(e->spool, &copy, cb, ud);
    struct spool_stats st;

    if (rc == 0)
        return;
    /* The spool counted it as dropped; say so, once per 1000 refusals. */
    if (e->lost_logged++ % 1000 == 0) {
        spool_get_stats(e->spool, &st);
        FM_ERR("spool: %s: %s event not spooled: %s (%" PRIu64 " refused so far, %" PRIu64
               " held in memory)",
               e->cfg->spool.dir,
               ev->kind_case == FM__EVENT__KIND_MEASUREMENT ? "measurement" : "kept",
               rc == -ENOBUFS ? "the disk refuses writes and the buffer is full" : strerror(-rc),
               st.dropped_refused, st.held);
    }
    if (cb != NULL) {
        struct refused *r = fm_xcalloc(1, sizeof(*r));
        r->cb = cb;
        r->ud = ud;
        r->status = rc;
        uv_timer_init(e->loop, &r->t);
        r->t.data = r;
        uv_timer_start(&r->t, on_refused, 0, 0);
    }
}

void uplink_emit(uplink_t *e, const Fm__Event *ev)
{
    uplink_emit_cb(e, ev, NULL, NULL);
}

int uplink_reload(uplink_t *e, const struct uplink_cfg *cfg, char *const *collectors,
                  size_t n_collectors, const struct sender_identity *id, double events_per_s)
{
    uint64_t cap = cfg->spool.max_bytes ? cfg->spool.max_bytes : spool_auto_cap(events_per_s);
    struct spool_stats st;
    char was[32], now[32];
    int rc;

    /* The directory holds the epoch and the data: moving it under a
     * running agent would start a second epoch or lose the first. */
    if (strcmp(cfg->spool.dir, e->cfg->spool.dir) != 0) {
        FM_ERR("agent: reload refused: spool_dir cannot change while the agent runs (%s, "
               "new %s); restart the agent to move the spool",
               e->cfg->spool.dir, cfg->spool.dir);
        return -EINVAL;
    }
    rc = sender_reload(e->sender, &cfg->sender, collectors, n_collectors, id);
    if (rc < 0)
        return rc;
    spool_get_stats(e->spool, &st);
    if (cap != st.cap) {
        fmt_size(was, sizeof(was), st.cap);
        fmt_size(now, sizeof(now), cap);
        FM_NOTICE("spool: %s: cap %s -> %s (%" PRIu64 " bytes)%s; %" PRIu64 " bytes held",
                  cfg->spool.dir, was, now, cap, cfg->spool.max_bytes ? "" : " (automatic)",
                  st.bytes);
    }
    /* The spool, the pump and the status line borrow the new settings from
     * now on; the old configuration may be freed after this returns. */
    e->cfg = cfg;
    e->rate = events_per_s;
    spool_reconfigure(e->spool, &cfg->spool, cap);
    spool_pump_reload(e->pump, &cfg->spool);
    e->status_cfg = &cfg->status;
    uplink__status_reload(e);
    return 0;
}

static void maybe_done(uplink_t *e)
{
    if (e->pending > 0)
        return;
    spool_close(e->spool);
    void (*done)(void *) = e->done;
    void *ud = e->done_ud;
    free(e);
    if (done != NULL)
        done(ud);
}

static void on_part_done(void *ud)
{
    uplink_t *e = ud;

    e->pending--;
    maybe_done(e);
}

void uplink_stop(uplink_t *e, void (*done)(void *ud), void *ud)
{
    struct spool_stats st;

    e->done = done;
    e->done_ud = ud;
    spool_flush(e->spool);
    spool_sync(e->spool);
    spool_get_stats(e->spool, &st);
    FM_NOTICE("spool: %s: flushed and synced at seq %" PRIu64 ", %" PRIu64
              " events not yet acknowledged stay for the next start",
              e->cfg->spool.dir, st.written_seq, st.events);
    spool_pump_stop(e->pump);
    e->pending = 2;
    uplink__status_stop(e, on_part_done);
    sender_stop(e->sender, on_part_done, e);
}

spool_t *uplink_spool(uplink_t *e)
{
    return e->spool;
}

sender_t *uplink_sender(uplink_t *e)
{
    return e->sender;
}
