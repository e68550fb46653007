/* correlate_fault: the life of one fault.
 *
 * A fault is created pending. It opens (emits CORR_ACT_OPEN, which opens or
 * joins a ticket) when it is not attached to another fault, its condition is
 * present or it is flapping, its grade is one that opens tickets, and its hold
 * has passed. An attached fault never opens: its devices and alarms are
 * reported on its owner, the nearest opened ancestor. A fault's grade is the
 * most severe of what its rules say for its member alarms and of its
 * children's grades, and it never falls back: a grade rise keeps the ticket
 * and is recorded on it. When nothing is left raised under a fault it
 * clears, except that a flapping fault waits for a quiet window and a root
 * fault lingers so late followers still find it. */
#include "correlate_int.h"

#include "fm_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct corr__fault *corr__fault_find(corr_t *e, const char *key)
{
    return corr__find(&e->faults, key);
}

static char *fault_key(int kind, struct corr__site *s, struct corr__dev *d, const char *code)
{
    char buf[1024];

    switch (kind) {
    case CORR_KIND_DEVICE:
        snprintf(buf, sizeof(buf), "device:%s/%s/%s", s->key, d->name, code);
        break;
    case CORR_KIND_ROOT:
        snprintf(buf, sizeof(buf), "root:%s/%s", s->key, code);
        break;
    case CORR_KIND_SITE:
        snprintf(buf, sizeof(buf), "site:%s", s->key);
        break;
    case CORR_KIND_SYSTEM:
        snprintf(buf, sizeof(buf), "system:sites");
        break;
    default:
        if (code)
            snprintf(buf, sizeof(buf), "group:%s/%s", s->key, code);
        else
            snprintf(buf, sizeof(buf), "group:%s", s->key);
        break;
    }
    return fm_xstrdup(buf);
}

struct corr__fault *corr__fault_new(corr_t *e, int kind, struct corr__site *s, struct corr__dev *d,
                                    const char *code, const char *title, int64_t now)
{
    struct corr__fault *f = fm_xcalloc(1, sizeof(*f));

    f->key = fault_key(kind, s, d, code);
    f->kind = kind;
    f->site = s;
    f->dev = d;
    f->code = code ? fm_xstrdup(code) : NULL;
    f->title = fm_xstrdup(title);
    f->grade = 5;
    f->first_ms = now;
    f->hold_until = now;
    f->last_transition_ms = now;
    f->next = e->all;
    if (e->all)
        e->all->prev = f;
    e->all = f;
    corr__insert(&e->faults, f);
    e->st.faults_active++;
    return f;
}

struct corr__fault *corr__fault_owner(struct corr__fault *f)
{
    while (f && !f->opened)
        f = f->parent;
    return f;
}

static void emit_simple(corr_t *e, int type, struct corr__fault *f, int64_t now)
{
    struct corr_action a = {
        .type = type,
        .kind = f->kind,
        .key = f->key,
        .site = f->site ? f->site->key : NULL,
        .device = f->dev ? f->dev->name : NULL,
        .code = f->kind == CORR_KIND_DEVICE || f->kind == CORR_KIND_ROOT ? f->code : NULL,
        .title = f->title,
        .rule = f->rule,
        .grade = f->grade,
        .flapping = f->flapping,
        .ts_ms = now,
    };
    corr__emit(e, &a);
}

static void emit_alarm(corr_t *e, struct corr__fault *owner, struct corr__alarm *a, bool raised,
                       bool initial, int64_t ts)
{
    struct corr_action act = {
        .type = CORR_ACT_ALARM,
        .kind = owner->kind,
        .key = owner->key,
        .site = a->dev->site->key,
        .device = a->dev->name,
        .code = a->code,
        .raised = raised,
        .initial = initial,
        .ts_ms = ts,
        .alarm_event_id = a->event_id,
    };
    corr__emit(e, &act);
}

/* ATTACH for f and everything under it, reported on owner. Member alarms of
 * attached faults are linked too, so the ticket lists what happened. */
void corr__emit_attach_tree(corr_t *e, struct corr__fault *owner, struct corr__fault *f,
                            int64_t now)
{
    if (f != owner && (f->dev || f->kind == CORR_KIND_SITE || f->kind == CORR_KIND_ROOT)) {
        struct corr_action a = {
            .type = CORR_ACT_ATTACH,
            .kind = owner->kind,
            .key = owner->key,
            .site = f->site ? f->site->key : NULL,
            .device = f->dev ? f->dev->name : NULL,
            .code = f->kind == CORR_KIND_DEVICE ? f->code : NULL,
            .child = f->key,
            .ts_ms = now,
        };
        corr__emit(e, &a);
        for (struct corr__alarm *m = f->members; m; m = m->next_member)
            if (m->raised)
                emit_alarm(e, owner, m, true, true, m->since_ms);
    }
    for (struct corr__fault *c = f->children; c; c = c->next_sibling)
        corr__emit_attach_tree(e, owner, c, now);
}

static void open_fault(corr_t *e, struct corr__fault *f, int64_t now)
{
    f->opened = true;
    e->st.faults_opened++;
    emit_simple(e, CORR_ACT_OPEN, f, f->first_ms);
    if (f->kind == CORR_KIND_SITE) {
        /* Every device of the site, its own fault (moved under) named. */
        corr__site_attach_devices(e, f, now);
        return;
    }
    for (struct corr__alarm *m = f->members; m; m = m->next_member)
        if (m->raised)
            emit_alarm(e, f, m, true, true, m->since_ms);
    for (struct corr__fault *c = f->children; c; c = c->next_sibling)
        corr__emit_attach_tree(e, f, c, now);
}

bool corr__fault_idle(const struct corr__fault *f)
{
    switch (f->kind) {
    case CORR_KIND_SITE:
    case CORR_KIND_SYSTEM:
        return false; /* they exist exactly while their condition holds */
    case CORR_KIND_GROUP:
        return f->children == NULL;
    default:
        break;
    }
    /* A device or root fault is about its own alarms; children left under
     * it when they clear surface on their own. */
    for (const struct corr__alarm *m = f->members; m; m = m->next_member)
        if (m->raised)
            return false;
    return true;
}

void corr__fault_maybe_open(corr_t *e, struct corr__fault *f, int64_t now)
{
    if (f->opened || f->parent || e->restoring || (f->site && f->site->frozen))
        return;
    if (corr__fault_idle(f) && !f->flapping)
        return;
    if (f->grade > e->rules->open_max_grade)
        return;
    if (now < f->hold_until && !f->flapping)
        return;
    open_fault(e, f, now);
}

void corr__fault_add_member(corr_t *e, struct corr__fault *f, struct corr__alarm *a)
{
    (void)e;
    a->fault = f;
    a->next_member = f->members;
    f->members = a;
}

void corr__fault_remove_member(struct corr__fault *f, struct corr__alarm *a)
{
    for (struct corr__alarm **p = &f->members; *p; p = &(*p)->next_member) {
        if (*p == a) {
            *p = a->next_member;
            break;
        }
    }
    a->next_member = NULL;
    a->fault = NULL;
}

static void unlink_child(struct corr__fault *parent, struct corr__fault *child)
{
    for (struct corr__fault **p = &parent->children; *p; p = &(*p)->next_sibling) {
        if (*p == child) {
            *p = child->next_sibling;
            break;
        }
    }
    child->next_sibling = NULL;
    child->parent = NULL;
}

void corr__fault_attach(corr_t *e, struct corr__fault *parent, struct corr__fault *child,
                        int64_t now)
{
    struct corr__fault *owner;

    if (child->parent == parent)
        return;
    if (child->parent)
        unlink_child(child->parent, child);
    child->parent = parent;
    child->next_sibling = parent->children;
    parent->children = child;
    owner = corr__fault_owner(parent);
    if (owner)
        corr__emit_attach_tree(e, owner, child, now);
    corr__fault_regrade(e, parent, now);
}

/* Grade from the rules for one member alarm of age now - since. */
static int member_grade(corr_t *e, const struct corr__alarm *m, int64_t now,
                        const struct rule **rule)
{
    struct rules_subject s = {
        .scope = RULES_SCOPE_DEVICE,
        .device_class = m->dev->cls,
        .code = m->code,
        .point = m->point,
        .tags = m->dev->tags,
        .n_tags = m->dev->n_tags,
    };
    return rules_grade(e->rules, &s, now - m->since_ms, rule);
}

static int own_grade(corr_t *e, struct corr__fault *f, int64_t now, const struct rule **rule)
{
    struct rules_subject s = {.code = RULES_CODE_UNREACHABLE};
    int best = 5;

    *rule = NULL;
    switch (f->kind) {
    case CORR_KIND_SITE:
        s.scope = RULES_SCOPE_SITE;
        return rules_grade(e->rules, &s, now - f->first_ms, rule);
    case CORR_KIND_SYSTEM:
        s.scope = RULES_SCOPE_SYSTEM;
        return rules_grade(e->rules, &s, now - f->first_ms, rule);
    case CORR_KIND_GROUP:
        return (int)e->rules->grade4.grade;
    default:
        break;
    }
    for (struct corr__alarm *m = f->members; m; m = m->next_member) {
        const struct rule *r;
        int g;

        if (!m->raised && f->grade <= 4)
            continue; /* a cleared member keeps what it already gave */
        g = member_grade(e, m, now, &r);
        if (g < best) {
            best = g;
            *rule = r;
        }
    }
    return best;
}

void corr__fault_regrade(corr_t *e, struct corr__fault *f, int64_t now)
{
    const struct rule *rule;
    const char *rule_name;
    int g = own_grade(e, f, now, &rule);
    int old = f->grade;

    rule_name = rule ? rule->name : NULL;
    if (f->kind != CORR_KIND_GROUP) {
        for (struct corr__fault *c = f->children; c; c = c->next_sibling) {
            if (c->grade < g) {
                g = c->grade;
                rule_name = c->rule;
            }
        }
    }
    if (g >= old)
        return;
    f->grade = g;
    f->rule = rule_name;
    /* A device fault waits for the group wait unless it is an emergency. */
    if (f->kind == CORR_KIND_DEVICE)
        f->hold_until = g == 1 ? f->first_ms : f->first_ms + e->rules->group_wait_ms;
    if (f->opened && old <= 4) {
        struct corr_action a = {
            .type = CORR_ACT_GRADE,
            .kind = f->kind,
            .key = f->key,
            .site = f->site ? f->site->key : NULL,
            .device = f->dev ? f->dev->name : NULL,
            .rule = rule_name,
            .grade = g,
            .old_grade = old,
            .ts_ms = now,
        };
        corr__emit(e, &a);
    }
    if (f->parent)
        corr__fault_regrade(e, f->parent, now);
}

/* An alarm transition on a member of f: reported on f's owner. */
void corr__fault_alarm(corr_t *e, struct corr__fault *f, struct corr__alarm *a, int64_t now)
{
    struct corr__fault *owner = corr__fault_owner(f);

    f->last_transition_ms = now;
    if (a->raised)
        f->clear_sent = false;
    if (owner)
        emit_alarm(e, owner, a, a->raised, false, now);
}

/* A child whose parent went away: attach it to a still-unreachable ancestor,
 * or let it stand alone after a fresh group wait. */
void corr__fault_rehome(corr_t *e, struct corr__fault *f, int64_t now)
{
    struct corr__fault *anc = NULL;

    if (f->kind == CORR_KIND_DEVICE && f->dev && f->dev->unreachable &&
        strcmp(f->code, RULES_CODE_UNREACHABLE) == 0)
        anc = corr__ancestor_fault(e, f->dev);
    if (anc) {
        corr__fault_attach(e, anc, f, now);
        return;
    }
    if (f->kind == CORR_KIND_DEVICE && !f->opened)
        f->hold_until = f->grade == 1 ? now : now + e->rules->group_wait_ms;
    corr__fault_maybe_open(e, f, now);
}

void corr__fault_unlink(corr_t *e, struct corr__fault *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        e->all = f->next;
    if (f->next)
        f->next->prev = f->prev;
    corr__remove(&e->faults, f);
    e->st.faults_active--;
    free(f->key);
    free(f->code);
    free(f->title);
    free(f);
}

void corr__fault_free(corr_t *e, struct corr__fault *f, int64_t now)
{
    struct corr__fault *parent = f->parent;

    if (f->opened && !f->clear_sent)
        emit_simple(e, CORR_ACT_CLEAR, f, now);
    if (parent)
        unlink_child(parent, f);
    /* Children surface on their own. Detach them all first, then rehome, so
     * a rehome never sees a half-dismantled tree. */
    struct corr__fault *kids = f->children;
    f->children = NULL;
    for (struct corr__fault *c = kids; c; c = c->next_sibling)
        c->parent = NULL;
    while (kids) {
        struct corr__fault *c = kids;

        kids = c->next_sibling;
        c->next_sibling = NULL;
        if (f->opened) {
            struct corr_action a = {
                .type = CORR_ACT_DETACH,
                .kind = f->kind,
                .key = f->key,
                .site = c->site ? c->site->key : NULL,
                .device = c->dev ? c->dev->name : NULL,
                .child = c->key,
                .ts_ms = now,
            };
            corr__emit(e, &a);
        }
        corr__fault_rehome(e, c, now);
    }
    while (f->members)
        corr__fault_remove_member(f, f->members);
    if (f->site && f->site->fault == f)
        f->site->fault = NULL;
    if (e->system == f)
        e->system = NULL;
    corr__fault_unlink(e, f);
    if (parent && parent->kind != CORR_KIND_SITE && parent->kind != CORR_KIND_SYSTEM)
        corr__fault_check_clear(e, parent, now);
}

/* Clears f when nothing under it is raised any more. Flapping faults wait
 * for a quiet window, roots linger for late followers. */
void corr__fault_check_clear(corr_t *e, struct corr__fault *f, int64_t now)
{
    if (!corr__fault_idle(f))
        return;
    if (f->kind == CORR_KIND_SITE || f->kind == CORR_KIND_SYSTEM || f->kind == CORR_KIND_GROUP)
        return; /* these clear when their condition ends (correlate_site.c) */
    if (f->flapping && now - f->last_transition_ms < e->rules->flap.window_ms)
        return;
    if (f->kind == CORR_KIND_ROOT && f->root && now - f->last_transition_ms < f->root->linger_ms) {
        if (f->opened && !f->clear_sent) {
            emit_simple(e, CORR_ACT_CLEAR, f, now);
            f->clear_sent = true;
        }
        f->cleared_ms = now;
        return;
    }
    corr__fault_free(e, f, now);
}
