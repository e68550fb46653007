/* correlate_site: faults larger than one device.
 *
 * Site fault: when a site's agent is lost, or every device of its inventory
 * is unreachable, one site fault opens at once (it is the storm recognised)
 * and every device of the site is attached to it; per-device faults still
 * waiting out their group wait move under it and never open on their own.
 * When the condition ends the site fault clears and its children surface:
 * each still-failing device waits a fresh group wait, then opens alone or
 * under a parent device that is still down.
 *
 * System fault: when at least `sites.most_min_sites` sites and at least
 * `sites.most_fraction` of all known sites have a site fault, one system
 * fault opens and lists those sites.
 *
 * Group fault: when `grade4_aggregate.count` grade-4 device faults are active
 * at once on one system (a site, or a device class at a site), one fault of
 * `grade4_aggregate.grade` opens with them attached. */
#include "correlate_int.h"

#include "maint_window.h"

#include <stdio.h>
#include <string.h>

/* The device's reachability fault: its unreachable and comm_loss alarms
 * share it (one key, device:SITE/DEVICE/unreachable). */
struct corr__fault *corr__unreach_fault(corr_t *e, struct corr__dev *d)
{
    char key[1200];

    snprintf(key, sizeof(key), "device:%s/%s/" RULES_CODE_UNREACHABLE, d->site->key, d->name);
    return corr__fault_find(e, key);
}

struct corr__dev *corr__parent_dev(corr_t *e, struct corr__dev *d)
{
    char key[1024];

    if (d->parent == NULL || d->parent[0] == '\0')
        return NULL;
    snprintf(key, sizeof(key), "%s/%s", d->site->key, d->parent);
    return corr__find(&e->devs, key);
}

/* Nearest unreachable ancestor of d that has a fault, following `parent`
 * names within d's site. Bounded by the site's size, so a cycle in the
 * configured parents cannot loop forever. */
struct corr__fault *corr__ancestor_fault(corr_t *e, struct corr__dev *d)
{
    struct corr__dev *cur = d;

    for (size_t hops = 0; hops <= d->site->n_inv + 1; hops++) {
        struct corr__fault *f;

        cur = corr__parent_dev(e, cur);
        if (cur == NULL || cur == d)
            return NULL;
        f = cur->unreachable ? corr__unreach_fault(e, cur) : NULL;
        if (f)
            return f;
    }
    return NULL;
}

static void emit_link(corr_t *e, struct corr__fault *owner, struct corr__site *s,
                      struct corr__dev *d, const char *child, int type, int64_t now)
{
    struct corr_action a = {
        .type = type,
        .kind = owner->kind,
        .key = owner->key,
        .site = s->key,
        .device = d ? d->name : NULL,
        .child = child,
        .ts_ms = now,
    };
    corr__emit(e, &a);
}

static bool site_covered(corr_t *e, struct corr__site *s, int64_t now)
{
    return maint_window_find(e->windows, e->n_windows, s->key, NULL, now) != NULL;
}

/* ATTACH on the site fault sf for every device of its site (with the key
 * of the device's own fault when it has one): when sf opens. */
void corr__site_attach_devices(corr_t *e, struct corr__fault *sf, int64_t now)
{
    struct corr__site *s = sf->site;

    for (struct corr__dev *d = s->devs; d; d = d->next) {
        struct corr__fault *uf = d->unreachable ? corr__unreach_fault(e, d) : NULL;

        if (!d->in_inventory && uf == NULL)
            continue;
        emit_link(e, sf, s, d, uf ? uf->key : NULL, CORR_ACT_ATTACH, now);
    }
}

/* Opens the site fault: per-device faults that have not opened move under
 * it, then it opens (now, or when a restore ends), and every device of the
 * site is attached to it as it opens. */
static void site_open(corr_t *e, struct corr__site *s, int64_t now)
{
    char title[512];
    struct corr__fault *sf;

    if (s->agent_lost)
        snprintf(title, sizeof(title), "site %s: agent lost, %zu devices unobserved", s->key,
                 s->n_inv);
    else
        snprintf(title, sizeof(title), "site %s: all %zu devices unreachable", s->key, s->n_inv);
    sf = corr__fault_new(e, CORR_KIND_SITE, s, NULL, NULL, title, now);
    s->fault = sf;
    e->n_sites_down++;
    corr__fault_regrade(e, sf, now);
    for (struct corr__dev *d = s->devs; d; d = d->next) {
        struct corr__fault *uf = d->unreachable ? corr__unreach_fault(e, d) : NULL;

        if (uf && !uf->opened && uf->parent == NULL) {
            uf->parent = sf;
            uf->next_sibling = sf->children;
            sf->children = uf;
        }
    }
    /* The site fault must exist as a ticket even if a rule grades it 4. */
    if (sf->grade <= e->rules->open_max_grade)
        corr__fault_maybe_open(e, sf, now);
    corr__fault_regrade(e, sf, now);
}

static void system_check(corr_t *e, int64_t now)
{
    const struct rules_sites *cfg = &e->rules->sites;
    bool down = e->n_sites_known > 0 && e->n_sites_down >= cfg->most_min_sites &&
                (double)e->n_sites_down >= cfg->most_fraction * (double)e->n_sites_known;

    if (down && e->system == NULL) {
        char title[256];

        snprintf(title, sizeof(title), "%zu of %zu sites unreachable", e->n_sites_down,
                 e->n_sites_known);
        e->system = corr__fault_new(e, CORR_KIND_SYSTEM, NULL, NULL, NULL, title, now);
        corr__fault_regrade(e, e->system, now);
        corr__fault_maybe_open(e, e->system, now);
        /* Site faults keep their own tickets; the system ticket lists them. */
        for (struct corr__fault *f = e->all; f; f = f->next)
            if (f->kind == CORR_KIND_SITE && e->system->opened)
                emit_link(e, e->system, f->site, NULL, f->key, CORR_ACT_ATTACH, now);
    } else if (!down && e->system) {
        corr__fault_free(e, e->system, now);
    }
}

void corr__site_check(corr_t *e, struct corr__site *s, int64_t now)
{
    bool down = s->agent_lost || (s->n_inv > 0 && s->n_inv_unreach == s->n_inv);

    if (down && s->fault == NULL) {
        if (site_covered(e, s, now))
            return;
        site_open(e, s, now);
        if (e->system && e->system->opened)
            emit_link(e, e->system, s, NULL, s->fault->key, CORR_ACT_ATTACH, now);
    } else if (!down && s->fault) {
        struct corr__fault *sf = s->fault;

        s->fault = NULL;
        e->n_sites_down--;
        if (e->system && e->system->opened)
            emit_link(e, e->system, s, NULL, sf->key, CORR_ACT_DETACH, now);
        corr__fault_free(e, sf, now);
    } else {
        return;
    }
    system_check(e, now);
}

static bool in_group(const struct corr__fault *f, struct corr__site *s, const char *cls)
{
    if (f->kind != CORR_KIND_DEVICE || f->site != s || f->grade != 4)
        return false;
    if (cls && (f->dev->cls == NULL || strcmp(f->dev->cls, cls) != 0))
        return false;
    return !corr__fault_idle(f) || f->flapping;
}

void corr__group_check(corr_t *e, struct corr__site *s, const char *dev_cls, int64_t now)
{
    const char *cls = e->rules->grade4.by == RULES_AGG_BY_SITE_CLASS ? dev_cls : NULL;
    char key[1024];
    struct corr__fault *g;
    size_t n = 0;

    if (e->rules->grade4.by == RULES_AGG_BY_SITE_CLASS && cls == NULL)
        return;
    if (cls)
        snprintf(key, sizeof(key), "group:%s/%s", s->key, cls);
    else
        snprintf(key, sizeof(key), "group:%s", s->key);
    g = corr__fault_find(e, key);
    for (struct corr__fault *f = e->all; f; f = f->next)
        if (in_group(f, s, cls) && (f->parent == NULL || f->parent == g))
            n++;
    if (g == NULL && n >= e->rules->grade4.count) {
        char title[512];

        snprintf(title, sizeof(title), "site %s: %zu grade-4 faults at once%s%s", s->key, n,
                 cls ? " on " : "", cls ? cls : "");
        g = corr__fault_new(e, CORR_KIND_GROUP, s, NULL, cls, title, now);
        corr__fault_regrade(e, g, now);
    }
    if (g == NULL)
        return;
    if (n < e->rules->grade4.count) {
        corr__fault_free(e, g, now);
        return;
    }
    for (struct corr__fault *f = e->all; f; f = f->next)
        if (f != g && in_group(f, s, cls) && f->parent == NULL && !f->opened)
            corr__fault_attach(e, g, f, now);
    corr__fault_maybe_open(e, g, now);
}
