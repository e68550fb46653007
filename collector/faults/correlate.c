/* correlate: inputs, the clock and the per-alarm path of the engine.
 *
 * An alarm transition goes through these steps, in order:
 *   1. duplicates (the state it already has) are ignored;
 *   2. the transition is added to the alarm's flapping history;
 *   3. a device's reachability updates its site's unreachable count;
 *   4. a raise inside a maintenance window is recorded (SUPPRESS) and goes
 *      no further; its clear is recorded the same way;
 *   5. a raise finds its fault: the one it already has (flapping, or a
 *      lingering root), a root fault of its site (root code, or follower
 *      while a root is active), or a new device fault. A new unreachable
 *      fault goes under the site fault, or under an unreachable ancestor's
 *      fault, and adopts its own unreachable descendants;
 *   6. a clear is recorded on its fault, which clears when nothing under it
 *      is raised (correlate_fault.c);
 *   7. the site is checked (correlate_site.c) and, for device faults, the
 *      grade-4 aggregate of its system.
 * The lookups use the C library's tsearch trees (O(log n)) rather than a
 * hand-written hash table. */
#include "correlate_int.h"

#include "fm_alloc.h"
#include "maint_window.h"

#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int node_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void *corr__find(void *const *root, const char *key)
{
    const char *const k = key;
    void *const *hit = tfind(&k, root, node_cmp);

    return hit ? *(void **)hit : NULL;
}

void corr__insert(void **root, void *node)
{
    void *hit = tsearch(node, root, node_cmp);

    if (hit == NULL) {
        fprintf(stderr, "correlate: out of memory\n");
        abort();
    }
}

void corr__remove(void **root, void *node)
{
    tdelete(node, root, node_cmp);
}

void corr__emit(corr_t *e, const struct corr_action *a)
{
    if (e->restoring)
        return; /* replaying stored history: it was written when it happened */
    e->cb(e->cb_data, a);
}

bool corr_is_comm_code(const char *code)
{
    return strcmp(code, "comm_loss") == 0;
}

corr_t *corr_create(const struct rules_conf *rules, corr_action_cb cb, void *data)
{
    corr_t *e = fm_xcalloc(1, sizeof(*e));

    e->rules = rules;
    e->cb = cb;
    e->cb_data = data;
    return e;
}

static void free_tags(struct fmc_kv *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(tags[i].key);
        free(tags[i].value);
    }
    free(tags);
}

void corr__free_alarm(struct corr__alarm *a)
{
    free(a->key);
    free(a->code);
    free(a->point);
    free(a->flap);
    free(a);
}

void corr__free_dev(struct corr__dev *d)
{
    for (struct corr__alarm *a = d->alarms, *an; a; a = an) {
        an = a->next_dev;
        corr__free_alarm(a);
    }
    free(d->key);
    free(d->name);
    free(d->cls);
    free(d->parent);
    free_tags(d->tags, d->n_tags);
    free(d);
}

static void free_windows(corr_t *e)
{
    for (size_t i = 0; i < e->n_windows; i++) {
        free((char *)e->windows[i].site);
        free((char *)e->windows[i].device);
    }
    free(e->windows);
    e->windows = NULL;
    e->n_windows = 0;
}

static void free_node(void *node)
{
    (void)node; /* nodes are freed by their owners below */
}

void corr_destroy(corr_t *e)
{
    if (e == NULL)
        return;
    while (e->all) {
        struct corr__fault *f = e->all;

        e->all = f->next;
        free(f->key);
        free(f->code);
        free(f->title);
        free(f);
    }
    tdestroy(e->faults, free_node);
    tdestroy(e->alarms, free_node);
    tdestroy(e->devs, free_node);
    tdestroy(e->sites, free_node);
    for (struct corr__site *s = e->site_list, *sn; s; s = sn) {
        sn = s->next;
        for (struct corr__dev *d = s->devs, *dn; d; d = dn) {
            dn = d->next;
            corr__free_dev(d);
        }
        free(s->key);
        free(s);
    }
    free_windows(e);
    free(e);
}

static struct corr__site *site_get(corr_t *e, const char *site)
{
    struct corr__site *s = corr__find(&e->sites, site);

    if (s == NULL) {
        s = fm_xcalloc(1, sizeof(*s));
        s->key = fm_xstrdup(site);
        s->next = e->site_list;
        e->site_list = s;
        corr__insert(&e->sites, s);
        e->n_sites_known++;
    }
    return s;
}

static struct corr__dev *dev_get(corr_t *e, struct corr__site *s, const char *name)
{
    char key[1024];
    struct corr__dev *d;

    snprintf(key, sizeof(key), "%s/%s", s->key, name);
    d = corr__find(&e->devs, key);
    if (d == NULL) {
        d = fm_xcalloc(1, sizeof(*d));
        d->key = fm_xstrdup(key);
        d->site = s;
        d->name = fm_xstrdup(name);
        d->next = s->devs;
        s->devs = d;
        corr__insert(&e->devs, d);
    }
    return d;
}

static struct corr__alarm *alarm_get(corr_t *e, struct corr__dev *d, const char *code)
{
    char key[1200];
    struct corr__alarm *a;

    snprintf(key, sizeof(key), "%s/%s", d->key, code);
    a = corr__find(&e->alarms, key);
    if (a == NULL) {
        a = fm_xcalloc(1, sizeof(*a));
        a->key = fm_xstrdup(key);
        a->dev = d;
        a->code = fm_xstrdup(code);
        a->flap = fm_xcalloc(e->rules->flap.transitions, sizeof(int64_t));
        a->next_dev = d->alarms;
        d->alarms = a;
        corr__insert(&e->alarms, a);
    }
    return a;
}

/* Records a transition; true when the last `transitions` of them all fall
 * within the flapping window. */
static bool flap_record(corr_t *e, struct corr__alarm *a, int64_t now)
{
    size_t cap = e->rules->flap.transitions;
    int64_t oldest;

    a->flap[a->flap_head] = now;
    a->flap_head = (a->flap_head + 1) % cap;
    if (a->flap_n < cap)
        a->flap_n++;
    if (a->flap_n < cap)
        return false;
    oldest = a->flap[a->flap_head]; /* the next slot to overwrite is the oldest */
    return now - oldest <= e->rules->flap.window_ms;
}

static void mark_flapping(corr_t *e, struct corr__fault *f, int64_t now)
{
    if (f->flapping)
        return;
    f->flapping = true;
    if (f->opened) {
        struct corr_action act = {
            .type = CORR_ACT_FLAPPING,
            .kind = f->kind,
            .key = f->key,
            .site = f->site ? f->site->key : NULL,
            .device = f->dev ? f->dev->name : NULL,
            .ts_ms = now,
        };
        corr__emit(e, &act);
    }
}

static bool descends_from(corr_t *e, struct corr__dev *d, struct corr__dev *anc)
{
    struct corr__dev *cur = d;

    for (size_t hops = 0; hops <= d->site->n_inv + 1; hops++) {
        cur = corr__parent_dev(e, cur);
        if (cur == NULL || cur == d)
            return false;
        if (cur == anc)
            return true;
    }
    return false;
}

static struct corr__fault *unreach_fault_new(corr_t *e, struct corr__alarm *a, int64_t now)
{
    struct corr__dev *d = a->dev;
    struct corr__site *s = d->site;
    struct corr__fault *f, *anc;
    char title[1024];

    snprintf(title, sizeof(title), "%s/%s: unreachable", s->key, d->name);
    f = corr__fault_new(e, CORR_KIND_DEVICE, s, d, RULES_CODE_UNREACHABLE, title, now);
    corr__fault_add_member(e, f, a);
    corr__fault_regrade(e, f, now);
    if (s->fault) {
        corr__fault_attach(e, s->fault, f, now);
        return f;
    }
    anc = corr__ancestor_fault(e, d);
    if (anc)
        corr__fault_attach(e, anc, f, now);
    /* Adopt descendants that are down and still waiting. */
    for (struct corr__dev *x = s->devs; x; x = x->next) {
        struct corr__fault *xf = x->unreachable && x != d ? corr__unreach_fault(e, x) : NULL;

        if (xf && !xf->opened && (xf->parent == NULL || xf->parent->kind == CORR_KIND_DEVICE) &&
            xf->parent != f && descends_from(e, x, d)) {
            /* Only adopt if f is the nearest down ancestor of x. */
            if (corr__ancestor_fault(e, x) == f)
                corr__fault_attach(e, f, xf, now);
        }
    }
    return f;
}

static struct corr__fault *root_fault_get(corr_t *e, struct corr__site *s,
                                          const struct rules_root *root, struct corr__alarm *a,
                                          int64_t now)
{
    char key[1024];
    struct corr__fault *f;

    snprintf(key, sizeof(key), "root:%s/%s", s->key, root->name);
    f = corr__fault_find(e, key);
    if (f == NULL) {
        char title[1024];

        snprintf(title, sizeof(title), "site %s: %s failure (%s %s)", s->key, root->name,
                 a->dev->name, a->code);
        f = corr__fault_new(e, CORR_KIND_ROOT, s, NULL, root->name, title, now);
        f->root = root;
    }
    return f;
}

static void raise_path(corr_t *e, struct corr__alarm *a, bool flapping, int64_t now)
{
    struct corr__dev *d = a->dev;
    struct corr__site *s = d->site;
    struct corr__fault *f = a->fault;
    bool fresh = false;

    if (f == NULL) {
        const struct rules_root *root;
        char key[1024];

        fresh = true;
        if (strcmp(a->code, RULES_CODE_UNREACHABLE) == 0 || corr_is_comm_code(a->code)) {
            /* Unreachable and comm_loss of one device are one problem. */
            f = corr__unreach_fault(e, d);
            if (f) {
                fresh = false;
                corr__fault_add_member(e, f, a);
            } else {
                f = unreach_fault_new(e, a, now);
            }
        } else if ((root = rules_root_of(e->rules, a->code)) != NULL) {
            f = root_fault_get(e, s, root, a, now);
            fresh = f->members == NULL && !f->opened;
            corr__fault_add_member(e, f, a);
        } else if ((root = rules_follower_of(e->rules, a->code)) != NULL &&
                   (snprintf(key, sizeof(key), "root:%s/%s", s->key, root->name),
                    (f = corr__fault_find(e, key)) != NULL)) {
            fresh = false;
            corr__fault_add_member(e, f, a);
        } else {
            char title[1024];

            snprintf(title, sizeof(title), "%s/%s: %s", s->key, d->name, a->code);
            f = corr__fault_new(e, CORR_KIND_DEVICE, s, d, a->code, title, now);
            corr__fault_add_member(e, f, a);
        }
    }
    if (flapping)
        mark_flapping(e, f, now);
    corr__fault_regrade(e, f, now);
    if (!fresh)
        corr__fault_alarm(e, f, a, now);
    else
        f->last_transition_ms = now;
    corr__fault_maybe_open(e, f, now);
    if (f->kind == CORR_KIND_DEVICE)
        corr__group_check(e, s, d->cls, now);
}

static void clear_path(corr_t *e, struct corr__alarm *a, bool flapping, int64_t now)
{
    struct corr__fault *f = a->fault;
    bool device_fault;

    if (f == NULL)
        return;
    device_fault = f->kind == CORR_KIND_DEVICE;
    if (flapping) {
        mark_flapping(e, f, now);
        corr__fault_maybe_open(e, f, now);
    }
    corr__fault_alarm(e, f, a, now);
    corr__fault_check_clear(e, f, now);
    if (device_fault)
        corr__group_check(e, a->dev->site, a->dev->cls, now);
}

static void set_unreachable(struct corr__dev *d, bool unreachable)
{
    if (d->unreachable == unreachable)
        return;
    d->unreachable = unreachable;
    if (d->in_inventory) {
        if (unreachable)
            d->site->n_inv_unreach++;
        else
            d->site->n_inv_unreach--;
    }
}

static void emit_suppress(corr_t *e, struct corr__alarm *a, bool raised, int64_t now)
{
    struct corr_action act = {
        .type = CORR_ACT_SUPPRESS,
        .site = a->dev->site->key,
        .device = a->dev->name,
        .code = a->code,
        .raised = raised,
        .ts_ms = now,
        .alarm_event_id = a->event_id,
        .window_id = a->window_id,
    };
    e->st.suppressed++;
    corr__emit(e, &act);
}

static void transition(corr_t *e, struct corr__alarm *a, bool raised, int64_t now)
{
    struct corr__dev *d = a->dev;
    bool unreach = strcmp(a->code, RULES_CODE_UNREACHABLE) == 0;
    bool flapping = flap_record(e, a, now);

    e->st.alarms++;
    a->raised = raised;
    a->changed_ms = now;
    if (raised)
        a->since_ms = now;
    if (unreach)
        set_unreachable(d, raised);
    if (raised && a->fault == NULL) {
        const struct corr_window *w =
            maint_window_find(e->windows, e->n_windows, d->site->key, d->name, now);
        if (w) {
            a->suppressed = true;
            a->window_id = w->id;
            emit_suppress(e, a, true, now);
            goto out_site;
        }
    } else if (!raised && a->suppressed) {
        a->suppressed = false;
        emit_suppress(e, a, false, now);
        goto out_site;
    }
    if (raised)
        raise_path(e, a, flapping, now);
    else
        clear_path(e, a, flapping, now);
out_site:
    if (unreach)
        corr__site_check(e, d->site, now);
}

void corr_alarm(corr_t *e, const char *site, const char *device, const char *code,
                const char *point, bool raised, int64_t now_ms, int64_t alarm_event_id)
{
    struct corr__dev *d = dev_get(e, site_get(e, site), device ? device : "");
    struct corr__alarm *a = alarm_get(e, d, code);

    if (point && (a->point == NULL || strcmp(a->point, point) != 0)) {
        free(a->point);
        a->point = fm_xstrdup(point);
    }
    if (a->raised == raised)
        return; /* a repeat of the state it has */
    a->event_id = alarm_event_id;
    transition(e, a, raised, now_ms);
}

void corr_reach(corr_t *e, const char *site, const char *device, bool reachable, int64_t now_ms)
{
    corr_alarm(e, site, device, RULES_CODE_UNREACHABLE, NULL, !reachable, now_ms, 0);
}

void corr_agent(corr_t *e, const char *site, bool lost, int64_t now_ms)
{
    struct corr__site *s = site_get(e, site);

    if (s->agent_lost == lost)
        return;
    s->agent_lost = lost;
    corr__site_check(e, s, now_ms);
}

static struct fmc_kv *copy_tags(const struct fmc_kv *tags, size_t n)
{
    struct fmc_kv *out = n ? fm_xcalloc(n, sizeof(*out)) : NULL;

    for (size_t i = 0; i < n; i++) {
        out[i].key = fm_xstrdup(tags[i].key);
        out[i].value = fm_xstrdup(tags[i].value);
    }
    return out;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? fm_xstrdup(s) : NULL;
}

void corr_inventory(corr_t *e, const char *site, const struct corr_device_info *devs, size_t n,
                    int64_t now_ms)
{
    struct corr__site *s = site_get(e, site);

    for (struct corr__dev *d = s->devs; d; d = d->next)
        d->in_inventory = false;
    for (size_t i = 0; i < n; i++) {
        struct corr__dev *d = dev_get(e, s, devs[i].name);

        free(d->cls);
        free(d->parent);
        free_tags(d->tags, d->n_tags);
        d->cls = dup_or_null(devs[i].device_class);
        d->parent = dup_or_null(devs[i].parent);
        d->tags = copy_tags(devs[i].tags, devs[i].n_tags);
        d->n_tags = devs[i].n_tags;
        d->in_inventory = true;
    }
    s->n_inv = s->n_inv_unreach = 0;
    for (struct corr__dev *d = s->devs; d; d = d->next) {
        if (!d->in_inventory)
            continue;
        s->n_inv++;
        if (d->unreachable)
            s->n_inv_unreach++;
    }
    corr__site_check(e, s, now_ms);
}

/* Suppressed alarms still raised whose window has ended (or was deleted)
 * are processed as raises now. */
struct resume_ctx {
    corr_t *e;
    int64_t now;
    struct corr__alarm **list;
    size_t n, cap;
};

static void resume_visit(const void *node, VISIT which, void *data)
{
    struct resume_ctx *c = data;
    struct corr__alarm *a = *(struct corr__alarm *const *)node;

    if (which != postorder && which != leaf)
        return;
    if (!a->suppressed || !a->raised)
        return;
    if (maint_window_find(c->e->windows, c->e->n_windows, a->dev->site->key, a->dev->name, c->now))
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->list = fm_xrealloc(c->list, c->cap * sizeof(*c->list));
    }
    c->list[c->n++] = a;
}

static void resume_suppressed(corr_t *e, int64_t now)
{
    struct resume_ctx c = {.e = e, .now = now};

    twalk_r(e->alarms, resume_visit, &c);
    for (size_t i = 0; i < c.n; i++) {
        struct corr__alarm *a = c.list[i];

        a->suppressed = false;
        a->since_ms = now;
        raise_path(e, a, false, now);
        if (strcmp(a->code, RULES_CODE_UNREACHABLE) == 0)
            corr__site_check(e, a->dev->site, now);
    }
    free(c.list);
}

void corr_set_windows(corr_t *e, const struct corr_window *w, size_t n, int64_t now_ms)
{
    free_windows(e);
    e->windows = n ? fm_xcalloc(n, sizeof(*w)) : NULL;
    for (size_t i = 0; i < n; i++) {
        e->windows[i] = w[i];
        e->windows[i].site = dup_or_null(w[i].site);
        e->windows[i].device = dup_or_null(w[i].device);
    }
    e->n_windows = n;
    resume_suppressed(e, now_ms);
}

void corr_tick(corr_t *e, int64_t now_ms)
{
    /* Freeing a fault can free its parent too, which may be the next one
     * in the list: start over after every free (frees are rare). */
    bool again = true;

    for (struct corr__fault *f = e->all; f; f = f->next) {
        corr__fault_regrade(e, f, now_ms);
        corr__fault_maybe_open(e, f, now_ms);
    }
    while (again) {
        again = false;
        for (struct corr__fault *f = e->all; f; f = f->next) {
            uint64_t before = e->st.faults_active;

            if (!corr__fault_idle(f) || (f->kind != CORR_KIND_DEVICE && f->kind != CORR_KIND_ROOT))
                continue;
            corr__fault_check_clear(e, f, now_ms);
            if (e->st.faults_active != before) {
                again = true;
                break;
            }
        }
    }
    resume_suppressed(e, now_ms);
}

void corr_stats(const corr_t *e, struct corr_stats *st)
{
    *st = e->st;
}

const char *corr_act_name(int type)
{
    static const char *const names[] = {"open",  "attach",   "detach", "alarm",
                                        "grade", "flapping", "clear",  "suppress"};

    return type >= 0 && type <= CORR_ACT_SUPPRESS ? names[type] : "?";
}

const char *corr_kind_name(int kind)
{
    static const char *const names[] = {"device", "root", "site", "system", "group"};

    return kind >= 0 && kind <= CORR_KIND_GROUP ? names[kind] : "?";
}
