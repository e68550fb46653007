/* poll_health: see poll_health.h. */
#include "poll_health.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <stdlib.h>
#include <unistd.h>

void poll_health_init(struct poll_health *h, int64_t interval_ms)
{
    h->fails = 0;
    h->reachable = true;
    h->last_failed = false;
    h->interval_ms = interval_ms;
}

enum poll_transition poll_health_record(struct poll_health *h, bool ok, int64_t base_ms,
                                        int64_t cap_ms, uint32_t threshold, uint32_t *prev_fails)
{
    enum poll_transition t = POLL_NO_CHANGE;

    if (cap_ms < base_ms)
        cap_ms = base_ms;
    h->last_failed = !ok;
    if (ok) {
        if (prev_fails != NULL)
            *prev_fails = h->fails;
        if (!h->reachable)
            t = POLL_BECAME_REACHABLE;
        h->reachable = true;
        h->fails = 0;
        h->interval_ms = base_ms;
        return t;
    }
    h->fails++;
    if (h->reachable && h->fails >= threshold) {
        h->reachable = false;
        t = POLL_BECAME_UNREACHABLE;
    }
    h->interval_ms = h->interval_ms * 2 < cap_ms ? h->interval_ms * 2 : cap_ms;
    return t;
}

void poll_rounds_init(struct poll_rounds *r, unsigned cycles, size_t devs)
{
    r->cycles = cycles;
    r->devs = devs;
    r->finished = 0;
    r->start = cycles ? fm_xcalloc(cycles, sizeof(*r->start)) : NULL;
    r->end = cycles ? fm_xcalloc(cycles, sizeof(*r->end)) : NULL;
}

void poll_rounds_free(struct poll_rounds *r)
{
    free(r->start);
    free(r->end);
    r->start = r->end = NULL;
}

void poll_rounds_begin(struct poll_rounds *r, uint32_t round, uint64_t due_ms)
{
    if (r->start != NULL && round < r->cycles && (r->start[round] == 0 || due_ms < r->start[round]))
        r->start[round] = due_ms;
}

bool poll_rounds_end(struct poll_rounds *r, uint32_t round, uint64_t now_ms, bool last,
                     double *max_s, double *sum_s, uint32_t *n)
{
    if (r->end == NULL || round >= r->cycles)
        return false;
    if (now_ms > r->end[round])
        r->end[round] = now_ms;
    if (!last || ++r->finished < r->devs)
        return false;
    for (uint32_t k = 0; k < r->cycles; k++) {
        double s = (double)(r->end[k] - r->start[k]) / 1000.0;

        *sum_s += s;
        if (s > *max_s)
            *max_s = s;
        (*n)++;
    }
    return true;
}

uint64_t poll_schedule_next(uint64_t *due_ms, int64_t interval_ms, uint64_t now_ms)
{
    uint64_t next = *due_ms + (uint64_t)interval_ms;

    if (next < now_ms)
        next = now_ms;
    *due_ms = next;
    return next - now_ms;
}

void poll_report(event_sink_t *sink, const struct poll_health *h, enum poll_transition t, bool ok,
                 const char *proto, const char *device, const char *where, const char *reason,
                 uint32_t prev_fails, int64_t ts_ms)
{
    switch (t) {
    case POLL_BECAME_REACHABLE:
        FM_NOTICE("%s: %s: reachable again after %u failed polls", proto, device, prev_fails);
        poll_emit_reachability(sink, device, ts_ms, true, "", 0);
        break;
    case POLL_BECAME_UNREACHABLE:
        FM_WARN("%s: %s (%s): unreachable: %s", proto, device, where, reason);
        poll_emit_reachability(sink, device, ts_ms, false, reason, h->fails);
        break;
    default:
        if (!ok)
            FM_DEBUG("%s: %s: poll failed: %s", proto, device, reason);
        else
            FM_DEBUG("%s: %s: poll ok", proto, device);
        break;
    }
}

void poll_emit_reachability(event_sink_t *sink, const char *device, int64_t ts_ms, bool reachable,
                            const char *reason, uint32_t fails)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Reachability r = FM__REACHABILITY__INIT;

    ev.ts_ms = ts_ms;
    ev.device = (char *)device;
    ev.kind_case = FM__EVENT__KIND_REACHABILITY;
    ev.reachability = &r;
    r.reachable = reachable;
    r.reason = (char *)(reachable ? "answered" : reason);
    r.consecutive_failures = fails;
    event_sink_emit(sink, &ev);
}

void poll_owner_init(struct poll_owner *o, const char *proto, event_sink_t *sink, unsigned cycles,
                     int64_t backoff_max_ms, struct poll_counts *counts, poll_where_cb where,
                     size_t devs)
{
    o->proto = proto;
    o->sink = sink;
    o->cycles = cycles;
    o->backoff_max_ms = backoff_max_ms;
    o->counts = counts;
    o->where = where;
    poll_rounds_init(&o->rounds, cycles, devs);
}

uint64_t poll_first_delay(const struct poll_owner *o, double spread, int64_t interval_ms)
{
    if (o->cycles > 0)
        return 0;
    return (uint64_t)(poll_rand01() * spread * (double)interval_ms);
}

void poll_begin(struct poll_owner *o, const char *device, uint32_t cycles_done, uint64_t due_ms)
{
    FM_DEBUG("%s: %s: poll begins", o->proto, device);
    poll_rounds_begin(&o->rounds, cycles_done, due_ms);
}

unsigned poll_end(struct poll_owner *o, struct poll_health *h, uint32_t *cycles_done,
                  const struct poll_result *r, uint64_t now_ms)
{
    uint32_t threshold = o->cycles == 1 ? 1 : (uint32_t)r->cfg->unreachable_after;
    int64_t cap_ms = o->cycles > 0 ? r->cfg->interval_ms : o->backoff_max_ms;
    uint32_t prev_fails = 0;
    enum poll_transition t;
    unsigned flags = 0;
    char where[300];

    if (r->ok)
        o->counts->polls_ok++;
    else
        o->counts->polls_failed++;
    t = poll_health_record(h, r->ok, r->cfg->interval_ms, cap_ms, threshold, &prev_fails);
    where[0] = '\0';
    if (t == POLL_BECAME_UNREACHABLE) /* the only report that names it */
        o->where(r->dev, where, sizeof(where));
    poll_report(o->sink, h, t, r->ok, o->proto, r->cfg->name, where, r->reason, prev_fails,
                r->ts_ms);
    if (o->outcome != NULL)
        o->outcome(r->cfg->name, r->ok, r->ts_ms, r->ok ? "" : r->reason, o->outcome_arg);
    (*cycles_done)++;
    if (o->cycles == 0 || *cycles_done < o->cycles)
        flags |= POLL_END_AGAIN;
    if (o->cycles > 0 &&
        poll_rounds_end(&o->rounds, *cycles_done - 1, now_ms, *cycles_done == o->cycles,
                        &o->counts->max_cycle_s, &o->counts->sum_cycle_s, &o->counts->rounds))
        flags |= POLL_END_ALL_DONE;
    return flags;
}

static uint64_t rng_state;

double poll_rand01(void)
{
    uint64_t x;

    if (rng_state == 0)
        rng_state =
            ((uint64_t)fm_clock_wall_ms() << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

bool poll_health_failed(const struct poll_health *h, unsigned cycles_done)
{
    return h->last_failed || cycles_done == 0;
}
