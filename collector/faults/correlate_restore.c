/* correlate_restore: forgetting a site and rebuilding it from stored
 * history (see corr_site_forget and corr_restore_begin in correlate.h).
 *
 * The collector that starts correlating a site replays what PostgreSQL
 * holds: the site's inventory, every transition inside the flapping window
 * and the last one before it of each alarm that is still raised. The replay
 * runs the ordinary inputs with the engine muted, so faults, their trees,
 * grades and flapping histories come out exactly as they were built the
 * first time; only opening is held back, and corr_restore_end decides it
 * from the tickets that exist. */
#include "correlate_int.h"

#include <stdlib.h>
#include <string.h>

/* Frees every fault of site s without emitting anything or rehoming
 * children: the whole tree goes. */
static void forget_faults(corr_t *e, struct corr__site *s)
{
    struct corr__fault *f, *next;

    for (f = e->all; f; f = f->next) {
        if (f->site != s)
            continue;
        while (f->members)
            corr__fault_remove_member(f, f->members);
        f->children = NULL;
        f->next_sibling = NULL;
        f->parent = NULL;
    }
    for (f = e->all; f; f = next) {
        next = f->next;
        if (f->site == s)
            corr__fault_unlink(e, f);
    }
    if (s->fault) {
        s->fault = NULL;
        e->n_sites_down--;
    }
}

void corr_site_forget(corr_t *e, const char *site)
{
    struct corr__site *s = corr__find(&e->sites, site);

    if (s == NULL)
        return;
    forget_faults(e, s);
    for (struct corr__dev *d = s->devs, *dn; d; d = dn) {
        dn = d->next;
        for (struct corr__alarm *a = d->alarms; a; a = a->next_dev)
            corr__remove(&e->alarms, a);
        corr__remove(&e->devs, d);
        corr__free_dev(d);
    }
    s->devs = NULL;
    s->n_inv = s->n_inv_unreach = 0;
    s->agent_lost = false;
    s->frozen = false;
}

void corr_site_freeze(corr_t *e, const char *site, bool frozen)
{
    struct corr__site *s = corr__find(&e->sites, site);

    if (s)
        s->frozen = frozen;
}

void corr_restore_begin(corr_t *e)
{
    e->restoring++;
}

static const struct corr_ticket *ticket_find(const struct corr_ticket *t, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].key, key) == 0)
            return &t[i];
    return NULL;
}

/* When the condition of a ticket with no fault left ended: the last
 * transition of the device's alarms the key covers, else now. */
static int64_t ended_at(corr_t *e, struct corr__site *s, const char *key, int64_t now)
{
    int64_t best = 0;

    for (struct corr__dev *d = s->devs; d; d = d->next) {
        for (struct corr__alarm *a = d->alarms; a; a = a->next_dev) {
            const char *code = corr_is_comm_code(a->code) ? RULES_CODE_UNREACHABLE : a->code;
            size_t ls = strlen(s->key), ld = strlen(d->name);

            /* key is device:SITE/DEVICE/CODE */
            if (strncmp(key, "device:", 7) != 0 || strncmp(key + 7, s->key, ls) != 0 ||
                key[7 + ls] != '/' || strncmp(key + 8 + ls, d->name, ld) != 0 ||
                key[8 + ls + ld] != '/' || strcmp(key + 9 + ls + ld, code) != 0)
                continue;
            if (!a->raised && a->changed_ms > best)
                best = a->changed_ms;
        }
    }
    return best > 0 && best <= now ? best : now;
}

/* Whether key is device:SITE/DEVICE/... of a device of s's inventory. */
static bool followed_device(struct corr__site *s, const char *key)
{
    size_t ls = strlen(s->key);

    if (strncmp(key, "device:", 7) != 0 || strncmp(key + 7, s->key, ls) != 0 || key[7 + ls] != '/')
        return false;
    key += 8 + ls;
    for (struct corr__dev *d = s->devs; d; d = d->next) {
        size_t ld = strlen(d->name);

        if (d->in_inventory && strncmp(key, d->name, ld) == 0 && key[ld] == '/')
            return true;
    }
    return false;
}

void corr_restore_end(corr_t *e, const char *site, const struct corr_ticket *t, size_t n,
                      bool whole_site, int64_t now_ms)
{
    struct corr__site *s = corr__find(&e->sites, site);

    if (e->restoring > 0)
        e->restoring--;
    if (s == NULL || e->restoring > 0)
        return;
    /* A fault with a ticket that is open, or that was resolved after this
     * raise (the operator resolved it while the alarm stayed), has opened. */
    for (struct corr__fault *f = e->all; f; f = f->next) {
        const struct corr_ticket *tk;

        if (f->site != s || f->opened)
            continue;
        tk = ticket_find(t, n, f->key);
        if (tk && (tk->open || tk->last_seen_ms >= f->first_ms)) {
            f->opened = true;
            f->clear_sent = tk->cleared && corr__fault_idle(f);
        }
    }
    /* Tickets whose condition ended while nobody correlated the site (of
     * the part of it this collector follows). */
    for (size_t i = 0; i < n; i++) {
        struct corr__fault *f = corr__fault_find(e, t[i].key);
        struct corr_action a = {.type = CORR_ACT_CLEAR};

        if (t[i].cleared || t[i].closed || (f && f->site == s))
            continue;
        if (!whole_site && !followed_device(s, t[i].key))
            continue; /* another collector correlates the rest of the site */
        a.key = t[i].key;
        a.site = s->key;
        a.ts_ms = ended_at(e, s, t[i].key, now_ms);
        corr__emit(e, &a);
    }
    corr_tick(e, now_ms);
}
