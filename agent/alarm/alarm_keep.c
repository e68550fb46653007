/* alarm_keep: the threshold stage's state across restarts (alarm_sink.h,
 * alarm_sink_keep_state; the file: alarm_state.h).
 *
 * When to save. Every transition the stage reports (alarm raised or
 * cleared, comm loss, reachability) marks the state out of date and starts
 * a uv_prepare and a uv_check handle, as the spool's pump does
 * (spool_pump.h): prepare runs after the timer callbacks, just before the
 * loop waits, check after the I/O callbacks, so the transitions of one
 * iteration cost one rewrite of the file, made in the iteration in which
 * the spool writes their events, whichever phase reported them. A rewrite costs
 * an fdatasync, a directory fsync and about 4 us of CPU per raised alarm
 * (bench/agent_state_bench.c; docs/operations.md has the figures), so in a
 * storm, when transitions come in iteration after iteration, saves are
 * paced: ALARM_KEEP_BURST saves may follow each other at once, then one
 * per ALARM_KEEP_MIN_MS (a token bucket, kept as the time the next save is
 * "due" by the pace, as GCRA does); a transition over the pace is saved by
 * a timer when the pace allows, together with every transition until then.
 * Rare transitions and small bursts are saved in their own iteration; in a
 * storm the file may lag its events by up to ALARM_KEEP_MIN_MS, and the
 * saves take at most a few per second of the loop.
 *
 * What a start does with it. Each saved alarm of a point is put into the
 * point's state at once (the point is created from the configuration),
 * raised since its saved time, so the first sample that finds it normal
 * clears it through the rule's off-delay and one that finds it still
 * abnormal says nothing; a saved comm loss starts raised, so clear_polls
 * good polls clear it; a saved unreachable device starts down, so its
 * first good poll reports it reachable (alarm_sink.c). */
#include "alarm_sink_int.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Saves at once, then one per ALARM_KEEP_MIN_MS (loop ms). */
#define ALARM_KEEP_BURST 4
#define ALARM_KEEP_MIN_MS 250

/* ------------------------------------------------------------ save */

static void collect(alarm_sink_t *s, struct alarm_state *st)
{
    for (size_t i = 0; i < s->devs.cap; i++) {
        struct dev *d = s->devs.slots[i];
        struct alarm_state_rec *r;

        if (d == NULL || d->cfg == NULL)
            continue; /* no longer configured: nothing will clear it */
        if (d->down) {
            r = alarm_state_add(st, ALARM_STATE_UNREACHABLE, d->name, NULL, NULL, 0, NULL);
            r->since_ms = d->down_since_ms;
            r->fails = d->down_fails;
        }
        alarm_comm_save(d->comm, st);
    }
    for (size_t i = 0; i < s->pts.cap; i++) {
        struct pt *p = s->pts.slots[i];

        if (p != NULL && p->ap != NULL)
            alarm_point_save(p->ap, st);
    }
}

static void save_now(alarm_sink_t *s)
{
    uint64_t now = uv_now(s->loop);
    struct alarm_state st;
    const char *step = "";
    int rc;

    s->save_tat = (s->save_tat > now ? s->save_tat : now) + ALARM_KEEP_MIN_MS;
    alarm_state_init(&st);
    collect(s, &st);
    rc = alarm_state_save(s->state_path, &st, &step);
    alarm_state_clear(&st);
    if (rc == 0) {
        if (s->save_err != 0)
            FM_NOTICE("alarm: %s: alarm state saved again", s->state_path);
        s->save_err = 0;
        s->dirty = false;
        return;
    }
    /* Kept dirty: the next transition starts the handle again. Retrying
     * every iteration instead would spin on a full disk. */
    if (rc != s->save_err)
        FM_ERR("alarm: %s: cannot save the alarm state (%s failed): %s (kept in memory; retried at "
               "the "
               "next transition)",
               s->state_path, step, strerror(-rc));
    s->save_err = rc;
}

static void save_due(alarm_sink_t *s)
{
    uv_prepare_stop(&s->save_pre);
    uv_check_stop(&s->save);
    save_now(s);
}

static void on_save_pre(uv_prepare_t *h)
{
    save_due(h->data);
}

static void on_save(uv_check_t *h)
{
    save_due(h->data);
}

static void on_save_later(uv_timer_t *t)
{
    save_now(t->data);
}

void alarm__keep_dirty(alarm_sink_t *s)
{
    uint64_t now;

    if (s->state_path == NULL)
        return;
    s->dirty = true;
    if (uv_is_active((uv_handle_t *)&s->save) || uv_is_active((uv_handle_t *)&s->save_later))
        return; /* a save is due already and will take this one along */
    now = uv_now(s->loop) + (ALARM_KEEP_BURST - 1) * ALARM_KEEP_MIN_MS;
    if (s->save_tat <= now) {
        uv_prepare_start(&s->save_pre, on_save_pre);
        uv_check_start(&s->save, on_save);
    } else
        uv_timer_start(&s->save_later, on_save_later, s->save_tat - now, 0);
}

void alarm__keep_init(alarm_sink_t *s)
{
    /* Referenced: a save still due keeps the loop running until it is done
     * (the handles are active only from a transition to its save). */
    uv_prepare_init(s->loop, &s->save_pre);
    s->save_pre.data = s;
    uv_check_init(s->loop, &s->save);
    s->save.data = s;
    uv_timer_init(s->loop, &s->save_later);
    s->save_later.data = s;
}

void alarm__keep_close(alarm_sink_t *s, uv_close_cb on_closed)
{
    if (s->state_path != NULL && s->dirty)
        save_now(s);
    uv_close((uv_handle_t *)&s->save_pre, on_closed);
    uv_close((uv_handle_t *)&s->save, on_closed);
    uv_close((uv_handle_t *)&s->save_later, on_closed);
}

/* ------------------------------------------------------------ load */

struct restored {
    size_t alarms, comm, down; /* started raised */
    size_t cleared;            /* alarms of rules no longer configured, cleared */
    size_t dropped;            /* comm loss, unreachable of devices no longer configured */
};

/* The clear of a saved alarm whose rule, point or device left the
 * configuration while the agent was stopped: the reload's words for it. */
static void emit_removed(alarm_sink_t *s, const struct alarm_state_rec *r, int64_t now)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__AlarmTransition at = FM__ALARM_TRANSITION__INIT;

    ev.ts_ms = now;
    ev.device = r->device;
    ev.kind_case = FM__EVENT__KIND_ALARM;
    ev.alarm = &at;
    at.code = r->code;
    at.point = r->point;
    at.labels = r->label_ptrs;
    at.n_labels = r->n_labels;
    at.state = FM__ALARM_STATE__ALARM_STATE_CLEARED;
    at.level = (Fm__AlarmLevel)r->level;
    at.limit = r->limit;
    at.message = "rule removed from the configuration";
    at.since_ms = now;
    alarm__emit_next(&ev, s);
}

static void restore(alarm_sink_t *s, const struct alarm_state_rec *r, int64_t now,
                    struct restored *n)
{
    const struct device_cfg *dc = alarm__find_device(s->cfg, r->device);
    const struct point_cfg *pc;
    struct dev *d;

    if (r->kind != ALARM_STATE_RULE && dc == NULL) {
        n->dropped++;
        return;
    }
    switch (r->kind) {
    case ALARM_STATE_UNREACHABLE:
        d = alarm__dev_get(s, r->device);
        d->down = true;
        d->down_since_ms = r->since_ms;
        d->down_fails = (uint32_t)r->fails;
        n->down++;
        return;
    case ALARM_STATE_COMM:
        alarm_comm_restore(alarm__dev_get(s, r->device)->comm, r->since_ms, r->fails);
        n->comm++;
        return;
    default:
        pc = alarm__find_point(dc, r->point);
        if (pc != NULL &&
            alarm_point_restore(
                alarm__pt_get(s, r->device, r->point, r->label_ptrs, r->n_labels, pc)->ap, r->code,
                r->since_ms) == 0) {
            n->alarms++;
            return;
        }
        emit_removed(s, r, now);
        n->cleared++;
        return;
    }
}

void alarm_sink_keep_state(alarm_sink_t *s, const char *path)
{
    struct alarm_state st;
    struct restored n = {0};
    int64_t now = fm_clock_wall_ms();
    char why[512];
    int rc;

    s->state_path = fm_xstrdup(path);
    alarm_state_init(&st);
    rc = alarm_state_load(path, &st, why, sizeof(why));
    if (rc == -ENOENT) {
        FM_INFO("alarm: %s: no saved alarm state (first start)", path);
        return;
    }
    if (rc != 0) {
        FM_ERR("alarm: %s: saved alarm state ignored, every alarm starts cleared and every "
               "device reachable: %s",
               path, why);
        alarm__keep_dirty(s); /* replaced by what this run reports */
        return;
    }
    for (size_t i = 0; i < st.n; i++)
        restore(s, &st.recs[i], now, &n);
    alarm_state_clear(&st);
    FM_NOTICE("alarm: %s: restored from the last run: %zu raised alarms, %zu comm_loss, %zu "
              "unreachable devices; %zu alarms of rules no longer configured cleared, %zu "
              "device states of devices no longer configured dropped",
              path, n.alarms, n.comm, n.down, n.cleared, n.dropped);
    if (n.dropped > 0)
        alarm__keep_dirty(s);
}
