/* alarm_sink: see alarm_sink.h.
 *
 * Points are found by a string key "device \x1f point \x1f label values" in
 * an open-addressing hash table; devices by name in a second one. Both are
 * filled lazily, on the first event that names them, so a configuration
 * with thousands of devices costs nothing until they report. */
#include "alarm_sink.h"
#include "alarm_sink_int.h"

#include "poll_health.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct alarm_cfg no_rules = {.cal_gain = 1.0, .deadband = -1.0};
static struct alarm_comm_cfg comm_defaults;

/* ------------------------------------------------------------ hash table */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void *table_get(const struct table *t, const char *key)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = hash(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i] == NULL)
            return NULL;
        if (strcmp(t->key(t->slots[i]), key) == 0)
            return t->slots[i];
    }
}

static void table_put(struct table *t, void *v)
{
    if ((t->n + 1) * 4 >= t->cap * 3) {
        struct table old = *t;
        t->cap = t->cap ? t->cap * 2 : 64;
        t->slots = fm_xcalloc(t->cap, sizeof(*t->slots));
        t->n = 0;
        for (size_t i = 0; i < old.cap; i++) {
            if (old.slots[i] != NULL)
                table_put(t, old.slots[i]);
        }
        free(old.slots);
    }
    size_t i = hash(t->key(v)) & (t->cap - 1);
    while (t->slots[i] != NULL)
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = v;
    t->n++;
}

static const char *pt_key(const void *p)
{
    return ((const struct pt *)p)->key;
}

static const char *dev_key(const void *d)
{
    return ((const struct dev *)d)->name;
}

/* ------------------------------------------------------------ lookup */

const struct device_cfg *alarm__find_device(const struct agent_cfg *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_devices; i++) {
        if (strcmp(cfg->devices[i].name, name) == 0)
            return &cfg->devices[i];
    }
    return NULL;
}

const struct point_cfg *alarm__find_point(const struct device_cfg *d, const char *name)
{
    if (d == NULL || d->prof == NULL)
        return NULL;
    for (size_t i = 0; i < d->prof->n_points; i++) {
        if (strcmp(d->prof->points[i].name, name) == 0)
            return &d->prof->points[i];
    }
    return NULL;
}

/* Pollers report a device's points in profile order, so the point after
 * the last one found is nearly always the next one asked for: a guess
 * that makes the lookup one comparison per measurement. */
static const struct point_cfg *dev_point(struct dev *d, const char *name)
{
    const struct profile_cfg *pr = d->cfg != NULL ? d->cfg->prof : NULL;

    if (pr == NULL)
        return NULL;
    for (size_t k = 0; k < pr->n_points; k++) {
        size_t i = (d->guess + k) % pr->n_points;
        if (strcmp(pr->points[i].name, name) == 0) {
            /* Table columns repeat a point for every row: stay on it
             * unless the next point is a different one. */
            d->guess = pr->points[i].table ? i : i + 1;
            return &pr->points[i];
        }
    }
    return NULL;
}

static bool has_rules(const struct alarm_cfg *a)
{
    return a->n_limits > 0 || a->n_states > 0 || a->n_bits > 0 || a->stale_after_ms > 0;
}

/* The point's alarm map, with the device's own calibration of that point
 * (devices[].calibration) in place of the profile's. */
static void effective(const struct device_cfg *d, const struct point_cfg *p, struct alarm_cfg *out)
{
    *out = p != NULL ? p->alarm : no_rules;
    for (size_t i = 0; d != NULL && p != NULL && i < d->n_calibration; i++) {
        if (strcmp(d->calibration[i].point, p->name) == 0) {
            out->cal_offset = d->calibration[i].offset;
            out->cal_gain = d->calibration[i].gain;
        }
    }
}

/* The collector's order overrides the configuration's calibration. */
static void commanded(const struct dev *d, const char *point, struct alarm_cfg *out)
{
    for (size_t i = 0; i < d->n_cals; i++) {
        if (strcmp(d->cals[i].point, point) == 0) {
            out->cal_offset = d->cals[i].offset;
            out->cal_gain = d->cals[i].gain;
        }
    }
}

struct dev *alarm__dev_get(alarm_sink_t *s, const char *name)
{
    struct dev *d = table_get(&s->devs, name);

    if (d != NULL)
        return d;
    d = fm_xcalloc(1, sizeof(*d));
    d->name = fm_xstrdup(name);
    d->cfg = alarm__find_device(s->cfg, name);
    d->comm = alarm_comm_create(d->cfg ? &d->cfg->comm_loss : &comm_defaults, name);
    table_put(&s->devs, d);
    return d;
}

/* The device's own report keys of a point, or NULL. */
static const struct report_cfg *report_over(const struct device_cfg *d, const char *point)
{
    for (size_t i = 0; d != NULL && i < d->n_report; i++) {
        if (strcmp(d->report[i].point, point) == 0)
            return &d->report[i].r;
    }
    return NULL;
}

static void pt_report_rule(struct pt *p, const struct point_cfg *pc)
{
    if (pc == NULL) {
        p->rr = (struct report_rule){.mode = REPORT_MODE_EVERY};
        return;
    }
    report_resolve(&pc->report, report_over(p->dev->cfg, p->point), pc->type, pc->unit, pc->rate,
                   &pc->alarm, &p->rr);
}

/* The series of (device, point, labels), created on first use; with
 * `rules`, its alarm_point too. */
static struct pt *pt_lookup(alarm_sink_t *s, const char *device, const char *point,
                            Fm__Label *const *labels, size_t n_labels, const struct point_cfg *pc,
                            bool rules)
{
    char key[1024];
    size_t n = (size_t)snprintf(key, sizeof(key), "%s\x1f%s", device, point);
    struct pt *p;

    for (size_t i = 0; i < n_labels && n < sizeof(key); i++)
        n += (size_t)snprintf(key + n, sizeof(key) - n, "\x1f%s", labels[i]->value);
    p = table_get(&s->pts, key);
    if (p == NULL) {
        p = fm_xcalloc(1, sizeof(*p));
        p->key = fm_xstrdup(key);
        p->point = fm_xstrdup(point);
        p->dev = alarm__dev_get(s, device);
        effective(p->dev->cfg, pc, &p->eff);
        commanded(p->dev, point, &p->eff);
        pt_report_rule(p, pc);
        report_state_init(&p->rs);
        p->next_in_dev = p->dev->pts;
        p->dev->pts = p;
        table_put(&s->pts, p);
    }
    if (rules && p->ap == NULL)
        p->ap = alarm_point_create(&p->eff, device, point, pc->unit, labels, n_labels);
    return p;
}

struct pt *alarm__pt_get(alarm_sink_t *s, const char *device, const char *point,
                         Fm__Label *const *labels, size_t n_labels, const struct point_cfg *pc)
{
    return pt_lookup(s, device, point, labels, n_labels, pc, true);
}

/* ------------------------------------------------------------ events */

void alarm__emit_next(const Fm__Event *ev, void *ud)
{
    alarm_sink_t *s = ud;

    event_sink_emit(s->next, ev);
    alarm__keep_dirty(s);
}

/* A transition of one series is about to go out: what caused it goes
 * first, so the collector sees cause before effect. That is the
 * measurement being judged when it was held back, or, for a transition
 * from a tick or a failed poll, the last value the series held back. */
struct cause {
    alarm_sink_t *s;
    struct pt *p;
    const Fm__Event *ev; /* the measurement judged now, or NULL */
    bool sent;           /* nothing (more) to send first */
};

/* Sends the value p held back, with the text the poller would have given
 * it. A text point's text is not kept: its held value stays held (it is
 * the text last sent anyway). */
static void send_held(alarm_sink_t *s, struct pt *p)
{
    const struct point_cfg *pc = dev_point(p->dev, p->point);
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    const char *text = NULL;

    if (!report_held(&p->rs) || p->ap == NULL || pc == NULL || pc->type == POINT_TYPE_TEXT)
        return;
    report_get_held(&p->rs, &m, &ev.ts_ms);
    if (pc->type == POINT_TYPE_ENUM && m.has_value && fabs(m.raw) < 9.2e18)
        text = config_enum_text(pc, (int64_t)m.raw);
    else if (pc->type == POINT_TYPE_BOOL && m.has_value)
        text = m.value != 0 ? "true" : "false";
    m.text = (char *)(text != NULL ? text : "");
    m.quality_detail = "";
    m.point = p->point;
    m.unit = pc->unit;
    m.labels = alarm_point_labels(p->ap, &m.n_labels);
    ev.device = p->dev->name;
    ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
    ev.measurement = &m;
    event_sink_emit(s->next, &ev);
    report_mark_sent(&p->rr, &p->rs, ev.ts_ms, &m);
    s->stats.reported++;
}

/* alarm_emit_cb of a series' transitions: struct cause first. */
static void emit_caused(const Fm__Event *tr, void *ud)
{
    struct cause *c = ud;

    if (!c->sent) {
        c->sent = true;
        if (c->ev != NULL) {
            event_sink_emit(c->s->next, c->ev);
            report_mark_sent(&c->p->rr, &c->p->rs, c->ev->ts_ms, c->ev->measurement);
            c->s->stats.reported++;
        } else {
            send_held(c->s, c->p);
        }
    }
    alarm__emit_next(tr, c->s);
}

static void on_measurement(alarm_sink_t *s, const Fm__Event *ev)
{
    const Fm__Measurement *m = ev->measurement;
    struct dev *d = alarm__dev_get(s, ev->device);
    const struct point_cfg *pc = dev_point(d, m->point);
    struct alarm_cfg eff;

    s->stats.polled++;
    if (pc == NULL) {
        event_sink_emit(s->next, ev);
        s->stats.reported++;
        return;
    }
    effective(d->cfg, pc, &eff);
    commanded(d, m->point, &eff);
    bool rules = has_rules(&eff);
    bool good = m->has_value && m->quality == FM__QUALITY__QUALITY_GOOD;
    struct pt *p = pt_lookup(s, ev->device, m->point, m->labels, m->n_labels, pc, rules);
    /* The measurement goes on with its corrected value, if at all, then
     * any transition it caused. */
    Fm__Event copy = *ev;
    Fm__Measurement mc = *m;
    if (good)
        mc.value = m->value * eff.cal_gain + eff.cal_offset;
    copy.measurement = &mc;
    struct cause c = {.s = s, .p = p, .ev = &copy};
    if (report_judge(&p->rr, &p->rs, ev->ts_ms, &mc)) {
        event_sink_emit(s->next, &copy);
        s->stats.reported++;
        c.sent = true;
    }
    if (!rules)
        return;
    if (good)
        alarm_point_sample(p->ap, ev->ts_ms, m->raw, m->value, emit_caused, &c);
    else
        alarm_point_fail(p->ap, ev->ts_ms, emit_caused, &c);
}

/* Reachability is remembered here, beside comm loss, because the pollers'
 * own record of it starts afresh whenever they are built (start, reload):
 * an unreachable report the collector already has is not sent again, and
 * a device reported unreachable that answers a poller which never knew it
 * is reported reachable from alarm_sink_poll_result. */
static void on_reachability(alarm_sink_t *s, const Fm__Event *ev)
{
    struct dev *d = alarm__dev_get(s, ev->device);
    bool up = ev->reachability->reachable;

    if (!up && d->down) {
        FM_DEBUG("alarm: %s: unreachable, as already reported", ev->device);
        return;
    }
    if (up != d->down) {
        event_sink_emit(s->next, ev); /* no change to remember */
        return;
    }
    d->down = !up;
    d->down_since_ms = ev->ts_ms;
    d->down_fails = ev->reachability->consecutive_failures;
    event_sink_emit(s->next, ev);
    alarm__keep_dirty(s);
}

static void on_emit(event_sink_t *sink, const Fm__Event *ev)
{
    alarm_sink_t *s = (alarm_sink_t *)sink;

    if (ev->kind_case == FM__EVENT__KIND_MEASUREMENT && ev->device != NULL)
        on_measurement(s, ev);
    else if (ev->kind_case == FM__EVENT__KIND_REACHABILITY && ev->device != NULL)
        on_reachability(s, ev);
    else
        event_sink_emit(s->next, ev);
}

/* Traps and informs pass through untouched; an inform's completion goes
 * with them to the spool. */
static void on_emit_durable(event_sink_t *sink, const Fm__Event *ev, event_sink_done_cb done,
                            void *ud)
{
    alarm_sink_t *s = (alarm_sink_t *)sink;

    s->next->emit_durable(s->next, ev, done, ud);
}

void alarm_sink_poll_result(alarm_sink_t *s, const char *device, bool ok, int64_t ts_ms,
                            const char *reason)
{
    struct dev *d = alarm__dev_get(s, device);

    if (ok && d->down) {
        /* The poller had no record of the device being down (it was built
         * after the report), so it said nothing: say it here. */
        FM_NOTICE("alarm: %s: reachable again (reported unreachable before the agent restarted "
                  "or reloaded)",
                  device);
        d->down = false;
        poll_emit_reachability(s->next, device, ts_ms, true, "", 0);
        alarm__keep_dirty(s);
    }
    alarm_comm_poll(d->comm, ok, ts_ms, reason, alarm__emit_next, s);
    if (ok)
        return;
    /* A failed poll brought no value for any point of the device; the
     * first value after it is sent, so the collector sees the device's
     * values come back. */
    for (struct pt *p = d->pts; p != NULL; p = p->next_in_dev) {
        struct cause c = {.s = s, .p = p};
        if (p->ap != NULL)
            alarm_point_fail(p->ap, ts_ms, emit_caused, &c);
        report_state_forget(&p->rs);
    }
}

static void on_tick(uv_timer_t *t)
{
    alarm_sink_t *s = t->data;
    int64_t now = fm_clock_wall_ms();

    for (size_t i = 0; i < s->pts.cap; i++) {
        struct pt *p = s->pts.slots[i];
        struct cause c = {.s = s, .p = p};
        if (p != NULL && p->ap != NULL)
            alarm_point_tick(p->ap, now, emit_caused, &c);
    }
}

/* ------------------------------------------------------------ life */

alarm_sink_t *alarm_sink_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *next)
{
    alarm_sink_t *s = fm_xcalloc(1, sizeof(*s));

    alarm_comm_cfg_defaults(&comm_defaults);
    s->sink.emit = on_emit;
    if (event_sink_durable(next))
        s->sink.emit_durable = on_emit_durable;
    s->loop = loop;
    s->cfg = cfg;
    s->next = next;
    s->pts.key = pt_key;
    s->devs.key = dev_key;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    uv_unref((uv_handle_t *)&s->tick);
    alarm__keep_init(s);
    return s;
}

const struct alarm_sink_stats *alarm_sink_stats(const alarm_sink_t *s)
{
    return &s->stats;
}

event_sink_t *alarm_sink_as_sink(alarm_sink_t *s)
{
    return &s->sink;
}

int alarm_sink_set_calibration(alarm_sink_t *s, const char *device, const char *point,
                               double offset, double gain, char *why, size_t whylen)
{
    const struct device_cfg *dc = alarm__find_device(s->cfg, device);
    struct dev *d;
    size_t i;

    if (dc == NULL || alarm__find_point(dc, point) == NULL) {
        snprintf(why, whylen, "no point %s on device %s", point, device);
        return -ENOENT;
    }
    if (!isfinite(offset) || !isfinite(gain) || gain == 0.0) {
        snprintf(why, whylen, "gain must be finite and non-zero, offset finite");
        return -EINVAL;
    }
    d = alarm__dev_get(s, device);
    for (i = 0; i < d->n_cals && strcmp(d->cals[i].point, point) != 0; i++)
        ;
    if (i == d->n_cals) {
        d->cals = fm_xrealloc(d->cals, (d->n_cals + 1) * sizeof(*d->cals));
        d->cals[d->n_cals++] = (struct cal){.point = fm_xstrdup(point)};
    }
    d->cals[i].offset = offset;
    d->cals[i].gain = gain;
    for (struct pt *p = d->pts; p != NULL; p = p->next_in_dev) {
        if (p->ap != NULL && strcmp(p->point, point) == 0)
            alarm_point_set_calibration(p->ap, offset, gain);
    }
    FM_NOTICE("alarm: %s: %s: calibration set by the collector: offset %g, gain %g (until the "
              "next reload)",
              device, point, offset, gain);
    return 0;
}

static void cals_free(struct dev *d)
{
    for (size_t i = 0; i < d->n_cals; i++)
        free(d->cals[i].point);
    free(d->cals);
    d->cals = NULL;
    d->n_cals = 0;
}

void alarm_sink_reload(alarm_sink_t *s, const struct agent_cfg *cfg)
{
    int64_t now = fm_clock_wall_ms();

    s->cfg = cfg;
    for (size_t i = 0; i < s->devs.cap; i++) {
        struct dev *d = s->devs.slots[i];
        if (d == NULL)
            continue;
        d->cfg = alarm__find_device(cfg, d->name);
        cals_free(d); /* the reloaded configuration is the calibration now */
        alarm_comm_set_cfg(d->comm, d->cfg ? &d->cfg->comm_loss : &comm_defaults);
        for (struct pt *p = d->pts; p != NULL; p = p->next_in_dev) {
            const struct point_cfg *pc = alarm__find_point(d->cfg, p->point);
            struct cause c = {.s = s, .p = p};

            /* A point that left the configuration gets no rules: whatever
             * it had raised is cleared by alarm_point_set_cfg. What the
             * series last sent stays: its next value is judged against it. */
            effective(d->cfg, pc, &p->eff);
            pt_report_rule(p, pc);
            if (p->ap != NULL)
                alarm_point_set_cfg(p->ap, &p->eff, now, emit_caused, &c);
        }
    }
    /* Devices that left the configuration leave the saved state. */
    alarm__keep_dirty(s);
}

static void on_closed(uv_handle_t *h)
{
    alarm_sink_t *s = h->data;

    if (--s->closing > 0)
        return;
    for (size_t i = 0; i < s->pts.cap; i++) {
        struct pt *p = s->pts.slots[i];
        if (p == NULL)
            continue;
        alarm_point_destroy(p->ap);
        free(p->key);
        free(p->point);
        free(p);
    }
    for (size_t i = 0; i < s->devs.cap; i++) {
        struct dev *d = s->devs.slots[i];
        if (d == NULL)
            continue;
        alarm_comm_destroy(d->comm);
        cals_free(d);
        free(d->name);
        free(d);
    }
    free(s->pts.slots);
    free(s->devs.slots);
    free(s->state_path);
    free(s);
}

void alarm_sink_destroy(alarm_sink_t *s)
{
    if (s == NULL)
        return;
    s->closing = 4; /* the tick and the three save handles */
    alarm__keep_close(s, on_closed);
    uv_close((uv_handle_t *)&s->tick, on_closed);
}
