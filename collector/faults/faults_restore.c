/* faults_restore: rebuilding the engine's state of a site from PostgreSQL
 * (loop side).
 *
 * A collector starts correlating a site when an agent of the site says
 * Hello here (at its start, or after it failed over from another
 * collector), and again for every site when the rules are reloaded. The
 * engine's memory of the site may then be missing or stale: what it held
 * died with the previous process, or another collector moved the site's
 * tickets on. So the site is read back from PostgreSQL (site_load.h, on
 * the writer thread, after every action queued before has been written),
 * and while the read is out the site's new inputs are held back. When the
 * answer comes, the engine forgets the site, replays its stored history
 * muted (correlate.h, corr_restore_begin), then the held inputs that the
 * snapshot did not already contain (by each agent's committed sequence).
 *
 * Loop thread only. */
#include "faults_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

static struct faults__site *site_find(struct faults *f, const char *site)
{
    for (size_t i = 0; i < f->n_restoring; i++)
        if (strcmp(f->restoring[i].site, site) == 0)
            return &f->restoring[i];
    return NULL;
}

/* How far back the replay reads every transition: far enough for the
 * flapping history, the group wait and a root's linger. */
static int64_t horizon_ms(const struct rules_conf *r)
{
    int64_t h = r->flap.window_ms;

    if (r->group_wait_ms > h)
        h = r->group_wait_ms;
    for (size_t i = 0; i < r->n_roots; i++)
        if (r->roots[i].linger_ms > h)
            h = r->roots[i].linger_ms;
    return h;
}

/* The site's agents this collector correlates: those connected here and
 * those it counts as lost, as a text[] literal (new; the caller frees). */
static char *agents_of(struct faults *f, const char *site)
{
    size_t len = 3 + (f->n_present + f->n_lost) * (2 * FMW_MAX_ID + 4);
    char *lit = fm_xmalloc(len);

    snprintf(lit, len, "{}");
    for (size_t i = 0; i < f->n_present; i++)
        if (strcmp(f->present[i].site, site) == 0)
            site_load_agents_add(lit, len, f->present[i].agent);
    for (size_t i = 0; i < f->n_lost; i++)
        if (f->lost[i].declared && strcmp(f->lost[i].site, site) == 0)
            site_load_agents_add(lit, len, f->lost[i].agent);
    return lit;
}

static void ask(struct faults *f, const char *site)
{
    struct faults__msg *m = faults__msg_new(FAULTS__RESTORE);

    snprintf(m->restore.site, sizeof(m->restore.site), "%s", site);
    m->restore.agents = agents_of(f, site);
    m->restore.since_ms = fm_clock_wall_ms() - horizon_ms(&f->rules);
    /* After what the engine produced so far: the writer answers only once
     * that is written, so the snapshot has it. */
    faults__flush(f);
    fmq_work_push(&f->work, &m->node);
}

void faults__restore_request(struct faults *f, const char *site)
{
    struct faults__site *s = site_find(f, site);

    if (s) {
        s->again = true;
        return;
    }
    if (f->n_restoring == f->cap_restoring) {
        f->cap_restoring = f->cap_restoring ? f->cap_restoring * 2 : 8;
        f->restoring = fm_xrealloc(f->restoring, f->cap_restoring * sizeof(*f->restoring));
    }
    s = &f->restoring[f->n_restoring++];
    memset(s, 0, sizeof(*s));
    snprintf(s->site, sizeof(s->site), "%s", site);
    s->asked_ms = fm_clock_mono_ms();
    ask(f, site);
}

struct faults__site *faults__restore_holding(struct faults *f, const char *site)
{
    return site_find(f, site);
}

static char *dup_opt(const char *s)
{
    return s ? fm_xstrdup(s) : NULL;
}

void faults__restore_hold(struct faults__site *s, const struct faults__held *in)
{
    struct faults__held *h;

    if (s->n_held == s->cap_held) {
        s->cap_held = s->cap_held ? s->cap_held * 2 : 32;
        s->held = fm_xrealloc(s->held, s->cap_held * sizeof(*s->held));
    }
    h = &s->held[s->n_held++];
    *h = *in;
    h->agent = fm_xstrdup(in->agent);
    h->device = fm_xstrdup(in->device);
    h->code = fm_xstrdup(in->code);
    h->point = dup_opt(in->point);
}

static void held_free(struct faults__site *s)
{
    for (size_t i = 0; i < s->n_held; i++) {
        free(s->held[i].agent);
        free(s->held[i].device);
        free(s->held[i].code);
        free(s->held[i].point);
    }
    free(s->held);
    s->held = NULL;
    s->n_held = s->cap_held = 0;
}

static void site_remove(struct faults *f, struct faults__site *s)
{
    held_free(s);
    *s = f->restoring[--f->n_restoring];
}

static bool site_lost(struct faults *f, const char *site)
{
    for (size_t i = 0; i < f->n_lost; i++)
        if (f->lost[i].declared && strcmp(f->lost[i].site, site) == 0)
            return true;
    return false;
}

/* The engine forgets the site and replays what PostgreSQL holds. */
static void replay(struct faults *f, const char *site, const struct site_load *l, int64_t now)
{
    struct corr_device_info *devs = fm_xcalloc(l->n_devs ? l->n_devs : 1, sizeof(*devs));

    corr_site_forget(f->engine, site);
    corr_restore_begin(f->engine);
    for (size_t i = 0; i < l->n_devs; i++) {
        devs[i].name = l->devs[i].name;
        devs[i].device_class = l->devs[i].cls;
        devs[i].parent = l->devs[i].parent;
        devs[i].tags = l->devs[i].tags;
        devs[i].n_tags = l->devs[i].n_tags;
    }
    corr_inventory(f->engine, site, devs, l->n_devs, now);
    free(devs);
    for (size_t i = 0; i < l->n_trs; i++) {
        const struct site_load_tr *t = &l->trs[i];

        corr_alarm(f->engine, site, t->device, t->code, t->point, t->raised,
                   t->ts_ms < now ? t->ts_ms : now, t->alarm_event_id);
    }
    if (site_lost(f, site))
        corr_agent(f->engine, site, true, now);
    corr_restore_end(f->engine, site, l->tickets, l->n_tickets, l->whole_site, now);
}

void faults__restore_done(struct faults *f, struct faults__msg *m)
{
    struct faults__site *s = site_find(f, m->restore.site);
    const struct site_load *l = &m->restore.load;
    int64_t now = fm_clock_wall_ms();
    size_t replayed = 0, skipped = 0;

    if (s == NULL)
        return; /* the module is stopping */
    if (s->again) {
        s->again = false;
        ask(f, s->site);
        return;
    }
    if (!m->restore.failed)
        replay(f, s->site, l, now);
    else
        corr_site_freeze(f->engine, s->site, false); /* correlate what comes live */
    /* The held inputs the snapshot did not have, in the order they came. */
    for (size_t i = 0; i < s->n_held; i++) {
        const struct faults__held *h = &s->held[i];

        if (!m->restore.failed && h->seq <= site_load_committed(l, h->agent, h->epoch)) {
            skipped++;
            continue;
        }
        corr_alarm(f->engine, s->site, h->device, h->code, h->point, h->raised, h->ts_ms, 0);
        replayed++;
    }
    if (m->restore.failed)
        FM_WARN("faults: site %s: not restored from PostgreSQL; correlating from its live"
                " events only",
                s->site);
    else
        FM_INFO("faults: site %s restored in %llu ms: %zu devices, %zu transitions, %zu tickets;"
                " %zu held events replayed, %zu already stored",
                s->site, (unsigned long long)(fm_clock_mono_ms() - s->asked_ms), l->n_devs,
                l->n_trs, l->n_tickets, replayed, skipped);
    site_remove(f, s);
    faults__flush(f);
}

void faults__restore_free(struct faults *f)
{
    for (size_t i = 0; i < f->n_restoring; i++)
        held_free(&f->restoring[i]);
    free(f->restoring);
    f->restoring = NULL;
    f->n_restoring = f->cap_restoring = 0;
}
