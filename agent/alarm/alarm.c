/* alarm: see alarm.h. */
#include "alarm.h"
#include "alarm_conf.h"

#include "fm_alloc.h"
#include "fm_conf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rule_kind { RULE_LIMIT, RULE_STATE, RULE_BIT, RULE_STALE };

/* One condition of a point. `active` is what the collector was last told;
 * `pending` means the live condition differs from `active` since
 * `pending_since` and is waiting out its delay. */
struct rule {
    int kind;
    size_t idx; /* into the cfg array of its kind */
    char code[FMW_MAX_NAME + 1];
    int level; /* Fm__AlarmLevel */
    int dir;
    double limit;
    int64_t on_delay_ms, off_delay_ms;
    bool active, pending;
    bool removed; /* dropped by a reload: cleared with a plain message */
    int64_t pending_since;
    int64_t since; /* when the active condition began */
};

struct alarm_point {
    const struct alarm_cfg *cfg;
    char *device, *point, *unit;
    Fm__Label *labels;
    Fm__Label **label_ptrs;
    size_t n_labels;
    struct rule *rules;
    size_t n_rules;
    double deadband;
    double offset, gain;
    bool have_value;
    double value, raw; /* last corrected and raw values */
    int64_t last_good_ms;
    uint64_t fails;
    bool stale_restored; /* `stale` restored raised: stale until a good sample */
};

/* The defaults are those of the key tables (alarm_conf.c), the only place
 * they are written. */
void alarm_cfg_defaults(struct alarm_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    fmc_defaults(&alarm_cfg_schema, cfg);
}

void alarm_comm_cfg_defaults(struct alarm_comm_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    fmc_defaults(&alarm_comm_cfg_schema, cfg);
}

static bool unit_is(const char *unit, const char *const *names)
{
    for (; unit != NULL && *names != NULL; names++) {
        if (strcmp(unit, *names) == 0)
            return true;
    }
    return false;
}

double alarm_deadband(const struct alarm_cfg *cfg, const char *unit)
{
    static const char *const celsius[] = {"C", "degC", "°C", "celsius", NULL};
    static const char *const rh[] = {"%RH", "%rh", "RH", "percentRH", NULL};
    double lo = INFINITY, hi = -INFINITY;

    if (cfg->deadband >= 0)
        return cfg->deadband;
    if (unit_is(unit, celsius))
        return 1.0;
    if (unit_is(unit, rh))
        return 3.0;
    for (size_t i = 0; i < cfg->n_limits; i++) {
        lo = fmin(lo, cfg->limits[i].value);
        hi = fmax(hi, cfg->limits[i].value);
    }
    if (cfg->n_limits == 0)
        return 0.0;
    if (hi > lo)
        return 0.02 * (hi - lo);
    return 0.02 * fabs(hi);
}

static const char *const dir_names[] = {"high", "low"};
static const char *const lvl_names[] = {"warning", "critical"};

static void limit_code(const struct alarm_limit *l, char *buf, size_t len)
{
    if (l->code != NULL && l->code[0] != '\0')
        snprintf(buf, len, "%s", l->code);
    else
        snprintf(buf, len, "%s_%s", dir_names[l->dir & 1], lvl_names[l->level & 1]);
}

int alarm_cfg_check(const struct alarm_cfg *cfg, char *why, size_t whylen)
{
    char a[FMW_MAX_NAME + 1], b[FMW_MAX_NAME + 1];

    if (!isfinite(cfg->cal_gain) || cfg->cal_gain == 0.0 || !isfinite(cfg->cal_offset)) {
        snprintf(why, whylen, "calibration gain must be finite and non-zero");
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->n_limits; i++) {
        const struct alarm_limit *l = &cfg->limits[i];
        limit_code(l, a, sizeof(a));
        for (size_t j = 0; j < i; j++) {
            limit_code(&cfg->limits[j], b, sizeof(b));
            if (strcmp(a, b) == 0) {
                snprintf(why, whylen, "limits[%zu]: code %s is used twice", i, a);
                return -EINVAL;
            }
            /* A warning must be reached before the critical limit of the
             * same direction, or it would never say anything new. */
            const struct alarm_limit *o = &cfg->limits[j];
            if (o->dir == l->dir && o->level != l->level) {
                const struct alarm_limit *w = l->level == ALARM_LVL_WARNING ? l : o;
                const struct alarm_limit *c = l->level == ALARM_LVL_WARNING ? o : l;
                bool bad = l->dir == ALARM_DIR_HIGH ? w->value > c->value : w->value < c->value;
                if (bad) {
                    snprintf(why, whylen,
                             "limits[%zu]: %s warning %g is beyond the critical limit %g", i,
                             dir_names[l->dir & 1], w->value, c->value);
                    return -EINVAL;
                }
            }
        }
    }
    for (size_t i = 0; i < cfg->n_bits; i++) {
        if (cfg->bits[i].bit > 63) {
            snprintf(why, whylen, "bits[%zu].bit: %llu is not in 0..63", i,
                     (unsigned long long)cfg->bits[i].bit);
            return -EINVAL;
        }
    }
    return 0;
}

/* Builds the rule list of cfg, without state. */
static struct rule *rules_build(const struct alarm_cfg *cfg, size_t *n)
{
    size_t cap = cfg->n_limits + cfg->n_states + cfg->n_bits + 1, k = 0;
    struct rule *r = fm_xcalloc(cap, sizeof(*r));

    for (size_t i = 0; i < cfg->n_limits; i++, k++) {
        const struct alarm_limit *l = &cfg->limits[i];
        r[k].kind = RULE_LIMIT;
        r[k].idx = i;
        limit_code(l, r[k].code, sizeof(r[k].code));
        r[k].level = l->level == ALARM_LVL_CRITICAL ? FM__ALARM_LEVEL__ALARM_LEVEL_CRITICAL
                                                    : FM__ALARM_LEVEL__ALARM_LEVEL_WARNING;
        r[k].dir = l->dir;
        r[k].limit = l->value;
        r[k].on_delay_ms = cfg->on_delay_ms;
        r[k].off_delay_ms = cfg->off_delay_ms;
    }
    for (size_t i = 0; i < cfg->n_states; i++, k++) {
        r[k].kind = RULE_STATE;
        r[k].idx = i;
        snprintf(r[k].code, sizeof(r[k].code), "%s", cfg->states[i].code);
        r[k].level = FM__ALARM_LEVEL__ALARM_LEVEL_STATE;
        r[k].limit = cfg->states[i].equals;
        r[k].on_delay_ms = cfg->states[i].on_delay_ms;
        r[k].off_delay_ms = cfg->states[i].off_delay_ms;
    }
    for (size_t i = 0; i < cfg->n_bits; i++, k++) {
        r[k].kind = RULE_BIT;
        r[k].idx = i;
        snprintf(r[k].code, sizeof(r[k].code), "%s", cfg->bits[i].code);
        r[k].level = FM__ALARM_LEVEL__ALARM_LEVEL_STATE;
        r[k].limit = (double)cfg->bits[i].bit;
        r[k].on_delay_ms = cfg->bits[i].on_delay_ms;
        r[k].off_delay_ms = cfg->bits[i].off_delay_ms;
    }
    /* Every point can go stale; the rule costs nothing until it fires. */
    r[k].kind = RULE_STALE;
    snprintf(r[k].code, sizeof(r[k].code), "stale");
    r[k].level = FM__ALARM_LEVEL__ALARM_LEVEL_COMM;
    k++;
    *n = k;
    return r;
}

alarm_point_t *alarm_point_create(const struct alarm_cfg *cfg, const char *device,
                                  const char *point, const char *unit, Fm__Label *const *labels,
                                  size_t n_labels)
{
    alarm_point_t *p = fm_xcalloc(1, sizeof(*p));

    p->cfg = cfg;
    p->device = fm_xstrdup(device != NULL ? device : "");
    p->point = fm_xstrdup(point != NULL ? point : "");
    p->unit = fm_xstrdup(unit != NULL ? unit : "");
    p->n_labels = n_labels;
    if (n_labels > 0) {
        p->labels = fm_xcalloc(n_labels, sizeof(*p->labels));
        p->label_ptrs = fm_xcalloc(n_labels, sizeof(*p->label_ptrs));
        for (size_t i = 0; i < n_labels; i++) {
            fm__label__init(&p->labels[i]);
            p->labels[i].key = fm_xstrdup(labels[i]->key);
            p->labels[i].value = fm_xstrdup(labels[i]->value);
            p->label_ptrs[i] = &p->labels[i];
        }
    }
    p->rules = rules_build(cfg, &p->n_rules);
    p->deadband = alarm_deadband(cfg, p->unit);
    p->offset = cfg->cal_offset;
    p->gain = cfg->cal_gain;
    return p;
}

void alarm_point_destroy(alarm_point_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_labels; i++) {
        free(p->labels[i].key);
        free(p->labels[i].value);
    }
    free(p->labels);
    free(p->label_ptrs);
    free(p->rules);
    free(p->device);
    free(p->point);
    free(p->unit);
    free(p);
}

int alarm_point_set_calibration(alarm_point_t *p, double offset, double gain)
{
    if (!isfinite(offset) || !isfinite(gain) || gain == 0.0)
        return -EINVAL;
    p->offset = offset;
    p->gain = gain;
    return 0;
}

Fm__Label **alarm_point_labels(const alarm_point_t *p, size_t *n)
{
    *n = p->n_labels;
    return p->label_ptrs;
}

size_t alarm_point_raised(const alarm_point_t *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_rules; i++)
        n += p->rules[i].active;
    return n;
}

void alarm_point_save(const alarm_point_t *p, struct alarm_state *st)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct rule *r = &p->rules[i];
        struct alarm_state_rec *rec;

        if (!r->active)
            continue;
        rec = alarm_state_add(st, ALARM_STATE_RULE, p->device, p->point, p->label_ptrs, p->n_labels,
                              r->code);
        rec->level = r->level;
        rec->limit = r->limit;
        rec->since_ms = r->since;
    }
}

int alarm_point_restore(alarm_point_t *p, const char *code, int64_t since_ms)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        struct rule *r = &p->rules[i];

        if (strcmp(r->code, code) != 0)
            continue;
        r->active = true;
        r->pending = false;
        r->since = since_ms;
        /* Nothing fresh has come since the agent stopped: without this the
         * first tick would find no reason to be stale and clear it. */
        if (r->kind == RULE_STALE)
            p->stale_restored = true;
        return 0;
    }
    return -ENOENT;
}

/* Builds and emits one transition event of rule r. */
static void emit(alarm_point_t *p, const struct rule *r, int64_t ts_ms, alarm_emit_cb cb, void *ud)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__AlarmTransition at = FM__ALARM_TRANSITION__INIT;
    char msg[FMW_MAX_TEXT];
    const char *custom = NULL;

    if (r->removed)
        custom = "rule removed from the configuration";
    else if (r->kind == RULE_STATE)
        custom = p->cfg->states[r->idx].message;
    else if (r->kind == RULE_BIT)
        custom = p->cfg->bits[r->idx].message;
    if (custom != NULL && custom[0] != '\0')
        snprintf(msg, sizeof(msg), "%s", custom);
    else if (r->kind == RULE_LIMIT)
        snprintf(msg, sizeof(msg), "%s %s limit %g%s%s (deadband %g)",
                 r->active ? "above" : "back within", r->dir == ALARM_DIR_HIGH ? "high" : "low",
                 r->limit, p->unit[0] ? " " : "", p->unit, p->deadband);
    else if (r->kind == RULE_STALE)
        snprintf(msg, sizeof(msg), "%s", r->active ? "no fresh value" : "fresh value again");
    else
        snprintf(msg, sizeof(msg), "%s", r->code);

    ev.ts_ms = ts_ms;
    ev.device = p->device;
    ev.kind_case = FM__EVENT__KIND_ALARM;
    ev.alarm = &at;
    at.code = (char *)r->code;
    at.point = p->point;
    at.labels = p->label_ptrs;
    at.n_labels = p->n_labels;
    at.state =
        r->active ? FM__ALARM_STATE__ALARM_STATE_RAISED : FM__ALARM_STATE__ALARM_STATE_CLEARED;
    at.level = r->level;
    at.value = p->have_value ? p->value : 0.0;
    at.raw = p->have_value ? p->raw : 0.0;
    at.limit = r->limit;
    at.message = msg;
    at.since_ms = r->since;
    cb(&ev, ud);
}

/* The delay machine shared by every rule: `want` is the live condition at
 * device time ts. A change is remembered as pending; it takes effect once it
 * has held for the rule's on-delay (raise) or off-delay (clear). A condition
 * that flips back before then cancels the pending change silently. */
static void rule_eval(alarm_point_t *p, struct rule *r, bool want, int64_t ts, alarm_emit_cb cb,
                      void *ud)
{
    int64_t delay;

    if (want == r->active) {
        r->pending = false;
        return;
    }
    if (!r->pending) {
        r->pending = true;
        r->pending_since = ts;
    }
    delay = want ? r->on_delay_ms : r->off_delay_ms;
    if (ts - r->pending_since < delay)
        return;
    r->active = want;
    r->pending = false;
    r->since = r->pending_since;
    emit(p, r, ts, cb, ud);
}

/* The live condition of a value rule for value v. A raised limit stays
 * raised until the value is back past the limit by the deadband. */
static bool rule_want(const alarm_point_t *p, const struct rule *r, double v)
{
    switch (r->kind) {
    case RULE_LIMIT:
        if (r->dir == ALARM_DIR_HIGH)
            return r->active ? v >= r->limit - p->deadband : v >= r->limit;
        return r->active ? v <= r->limit + p->deadband : v <= r->limit;
    case RULE_STATE:
        return v == r->limit;
    case RULE_BIT: {
        const struct alarm_bit_rule *b = &p->cfg->bits[r->idx];
        uint64_t iv = (v >= 0 && v < 18446744073709551616.0) ? (uint64_t)v : (uint64_t)(int64_t)v;
        return (((iv >> b->bit) & 1u) != 0) == b->set;
    }
    default:
        return r->active;
    }
}

static bool stale_want(const alarm_point_t *p, int64_t ts)
{
    if (p->stale_restored)
        return true;
    if (p->cfg->stale_polls > 0 && p->fails >= p->cfg->stale_polls)
        return true;
    return p->cfg->stale_after_ms > 0 && p->have_value &&
           ts - p->last_good_ms >= p->cfg->stale_after_ms;
}

double alarm_point_sample(alarm_point_t *p, int64_t ts_ms, double raw, double value,
                          alarm_emit_cb cb, void *ud)
{
    double v = value * p->gain + p->offset;

    p->have_value = true;
    p->value = v;
    p->raw = raw;
    p->last_good_ms = ts_ms;
    p->fails = 0;
    p->stale_restored = false;
    for (size_t i = 0; i < p->n_rules; i++) {
        struct rule *r = &p->rules[i];
        rule_eval(p, r, r->kind == RULE_STALE ? false : rule_want(p, r, v), ts_ms, cb, ud);
    }
    return v;
}

void alarm_point_fail(alarm_point_t *p, int64_t ts_ms, alarm_emit_cb cb, void *ud)
{
    p->fails++;
    for (size_t i = 0; i < p->n_rules; i++) {
        if (p->rules[i].kind == RULE_STALE)
            rule_eval(p, &p->rules[i], stale_want(p, ts_ms), ts_ms, cb, ud);
    }
}

void alarm_point_tick(alarm_point_t *p, int64_t now_ms, alarm_emit_cb cb, void *ud)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        struct rule *r = &p->rules[i];
        if (r->kind == RULE_STALE)
            rule_eval(p, r, stale_want(p, now_ms), now_ms, cb, ud);
        else if (r->pending && p->have_value && !stale_want(p, now_ms))
            /* The last value still stands; only the clock moved. */
            rule_eval(p, r, rule_want(p, r, p->value), now_ms, cb, ud);
    }
}

void alarm_point_set_cfg(alarm_point_t *p, const struct alarm_cfg *cfg, int64_t ts_ms,
                         alarm_emit_cb cb, void *ud)
{
    size_t n;
    struct rule *nr = rules_build(cfg, &n);

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p->n_rules; j++) {
            struct rule *o = &p->rules[j];
            if (o->kind == nr[i].kind && strcmp(o->code, nr[i].code) == 0) {
                nr[i].active = o->active;
                nr[i].pending = o->pending;
                nr[i].pending_since = o->pending_since;
                nr[i].since = o->since;
                o->removed = false;
                o->kind = -1; /* taken over */
                break;
            }
        }
    }
    /* A raised rule that no longer exists is cleared, or the collector would
     * keep it open forever. The old cfg may already be freed, so the event
     * carries a fixed message instead of the rule's own. */
    p->cfg = cfg;
    for (size_t j = 0; j < p->n_rules; j++) {
        struct rule *o = &p->rules[j];
        if (o->kind != -1 && o->active) {
            o->active = false;
            o->removed = true;
            o->since = ts_ms;
            emit(p, o, ts_ms, cb, ud);
        }
    }
    free(p->rules);
    p->rules = nr;
    p->n_rules = n;
    p->deadband = alarm_deadband(cfg, p->unit);
    p->offset = cfg->cal_offset;
    p->gain = cfg->cal_gain;
}
