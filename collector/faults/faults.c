/* faults: the loop side (see faults.h): feeding the engine, its clock,
 * lost agents, and handing actions to the writer thread. */
#include "faults_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#define FAULTS_TICK_MS 1000

int faults_load_rules(const struct collconf *cfg, struct rules_conf *rules, char *err,
                      size_t errlen)
{
    if (cfg->faults.rules_file && cfg->faults.rules_file[0])
        return rules_load_file(cfg->faults.rules_file, rules, err, errlen);
    return rules_load_builtin(rules, err, errlen);
}

struct faults__msg *faults__msg_new(enum faults__kind kind)
{
    struct faults__msg *m = fm_xcalloc(1, sizeof(*m));

    m->kind = kind;
    return m;
}

void faults__msg_free(struct faults__msg *m)
{
    if (m == NULL)
        return;
    tickets_batch_destroy(m->actions);
    tickets_windows_free(m->windows, m->n_windows);
    site_load_free(&m->restore.load);
    free(m->restore.agents);
    free(m);
}

void faults__flush(struct faults *f)
{
    struct faults__msg *m;

    if (tickets_batch_count(f->outbox) == 0)
        return;
    m = faults__msg_new(FAULTS__ACTIONS);
    /* The engine keeps adding to f->outbox (its callback's data): move the
     * actions, not the batch. */
    m->actions = tickets_batch_create();
    tickets_batch_move(m->actions, f->outbox);
    fmq_work_push(&f->work, &m->node);
}

static struct faults__lost *lost_find(struct faults *f, const char *agent)
{
    for (size_t i = 0; i < f->n_lost; i++)
        if (strcmp(f->lost[i].agent, agent) == 0)
            return &f->lost[i];
    return NULL;
}

static void lost_remove(struct faults *f, struct faults__lost *l)
{
    *l = f->lost[--f->n_lost];
}

static struct faults__present *present_find(struct faults *f, const char *agent)
{
    for (size_t i = 0; i < f->n_present; i++)
        if (strcmp(f->present[i].agent, agent) == 0)
            return &f->present[i];
    return NULL;
}

static void present_add(struct faults *f, const char *site, const char *agent)
{
    struct faults__present *p = present_find(f, agent);

    if (p == NULL) {
        if (f->n_present == f->cap_present) {
            f->cap_present = f->cap_present ? f->cap_present * 2 : 8;
            f->present = fm_xrealloc(f->present, f->cap_present * sizeof(*f->present));
        }
        p = &f->present[f->n_present++];
        snprintf(p->agent, sizeof(p->agent), "%s", agent);
    }
    snprintf(p->site, sizeof(p->site), "%s", site);
}

static bool site_present(struct faults *f, const char *site)
{
    for (size_t i = 0; i < f->n_present; i++)
        if (strcmp(f->present[i].site, site) == 0)
            return true;
    return false;
}

static void on_tick(uv_timer_t *t)
{
    struct faults *f = t->data;
    int64_t now = fm_clock_wall_ms();

    corr_tick(f->engine, now);
    faults__flush(f);
    /* Lost agents: ask the database whether they came back elsewhere,
     * first when their grace is over, then every windows_reload while the
     * site counts as lost. */
    for (size_t i = 0; i < f->n_lost; i++) {
        struct faults__lost *l = &f->lost[i];
        struct faults__msg *m;

        if (l->asked || now < l->due_ms)
            continue;
        l->asked = true;
        m = faults__msg_new(FAULTS__CHECK);
        snprintf(m->check.site, sizeof(m->check.site), "%s", l->site);
        snprintf(m->check.agent, sizeof(m->check.agent), "%s", l->agent);
        fmq_work_push(&f->work, &m->node);
    }
}

/* The writer's answer about a lost agent. */
static void on_check(struct faults *f, const struct faults__check *res, int64_t now)
{
    struct faults__lost *l = lost_find(f, res->agent);

    if (res->orphan) {
        if (present_find(f, res->agent) == NULL && l == NULL) {
            FM_INFO("faults: agent %s (site %s) was connected to this collector before it"
                    " started; lost unless it is back within %lld ms",
                    res->agent, res->site, (long long)f->cfg->faults.agent_lost_after_ms);
            faults_agent_gone(f, res->site, res->agent);
        }
        return;
    }

    if (l == NULL)
        return; /* it came back here meanwhile */
    if (res->unknown) {
        l->asked = false;
        l->due_ms = now + f->cfg->faults.windows_reload_ms;
        return;
    }
    if (res->elsewhere) {
        FM_INFO("faults: agent %s (site %s) is connected to another collector", l->agent, l->site);
        if (l->declared)
            corr_agent(f->engine, l->site, false, now);
        /* That collector correlates the site now (and restored it from
         * PostgreSQL): what this engine holds of it goes stale. */
        if (!site_present(f, l->site)) {
            corr_site_forget(f->engine, l->site);
            FM_INFO("faults: site %s: forgotten here", l->site);
        }
        lost_remove(f, l);
        return;
    }
    if (!l->declared) {
        FM_NOTICE("faults: agent %s (site %s) lost: not back after %lld ms", l->agent, l->site,
                  (long long)f->cfg->faults.agent_lost_after_ms);
        l->declared = true;
        if (site_present(f, l->site)) {
            corr_agent(f->engine, l->site, true, now);
        } else {
            /* What this engine holds of the site may be stale (frozen) or
             * missing (it started after the agent left): read it back; the
             * replay counts the agent lost. */
            faults__restore_request(f, l->site);
        }
    }
    l->asked = false;
    l->due_ms = now + f->cfg->faults.windows_reload_ms;
}

/* fmq_loop: a message from the writer. */
static void on_result(struct fmq_node *node, void *arg)
{
    struct faults *f = arg;
    struct faults__msg *m = (struct faults__msg *)node;
    int64_t now = fm_clock_wall_ms();

    if (m->kind == FAULTS__WINDOWS) {
        corr_set_windows(f->engine, m->windows, m->n_windows, now);
        tickets_windows_free(f->windows, f->n_windows);
        f->windows = m->windows;
        f->n_windows = m->n_windows;
        m->windows = NULL;
        m->n_windows = 0;
    } else if (m->kind == FAULTS__CHECK) {
        on_check(f, &m->check, now);
    } else if (m->kind == FAULTS__RESTORE) {
        faults__restore_done(f, m);
    }
    faults__msg_free(m);
    faults__flush(f);
}

faults_t *faults_create(uv_loop_t *loop, const struct collconf *cfg, const char *collector_id,
                        char *err, size_t errlen)
{
    struct faults *f = fm_xcalloc(1, sizeof(*f));
    int rc;

    if (faults_load_rules(cfg, &f->rules, err, errlen) != 0) {
        free(f);
        return NULL;
    }
    f->loop = loop;
    f->cfg = cfg;
    f->collector_id = collector_id;
    snprintf(f->actor, sizeof(f->actor), "collector:%s", collector_id);
    f->outbox = tickets_batch_create();
    f->engine = corr_create(&f->rules, tickets_batch_cb, f->outbox);
    atomic_store(&f->reopen_within_ms, f->rules.reopen_within_ms);
    rc = fmq_work_init(&f->work);
    if (rc != 0) {
        snprintf(err, errlen, "writer queue: %s", uv_strerror(rc));
        goto out_engine;
    }
    rc = fmq_loop_init(&f->results, loop, on_result, f);
    if (rc != 0) {
        snprintf(err, errlen, "results queue: %s", uv_strerror(rc));
        goto out_work;
    }
    rc = uv_thread_create(&f->thread, faults__writer_main, f);
    if (rc != 0) {
        /* As with a failed allocation: a daemon without threads cannot go on. */
        FM_ERR("faults: start writer thread: %s", uv_strerror(rc));
        abort();
    }
    f->thread_started = true;
    uv_timer_init(loop, &f->tick);
    f->tick.data = f;
    f->handles = 2;
    uv_timer_start(&f->tick, on_tick, FAULTS_TICK_MS, FAULTS_TICK_MS);
    FM_INFO("faults: %zu rules, %zu roots from %s; tickets for grades 1-%lld", f->rules.n_rules,
            f->rules.n_roots,
            cfg->faults.rules_file ? cfg->faults.rules_file : "the built-in defaults",
            (long long)f->rules.open_max_grade);
    return f;

out_work:
    fmq_work_destroy(&f->work);
out_engine:
    corr_destroy(f->engine);
    tickets_batch_destroy(f->outbox);
    rules_free(&f->rules);
    free(f);
    return NULL;
}

void faults_hello(faults_t *f, const Fm__Hello *h)
{
    struct corr_device_info *devs;
    struct fmc_kv **tags;
    const Fm__Inventory *inv = h->inventory;
    size_t n = inv ? inv->n_devices : 0;
    struct faults__lost *l = lost_find(f, h->agent_id);
    int64_t now = fm_clock_wall_ms();
    static const char *const classes[] = {"unspecified", "ups",         "camera", "ddc",
                                          "env_sensor",  "power_meter", "other"};

    devs = fm_xcalloc(n ? n : 1, sizeof(*devs));
    tags = fm_xcalloc(n ? n : 1, sizeof(*tags));
    for (size_t i = 0; i < n; i++) {
        const Fm__Device *d = inv->devices[i];
        unsigned cls = (unsigned)d->class_;

        tags[i] = fm_xcalloc(d->n_tags ? d->n_tags : 1, sizeof(**tags));
        for (size_t k = 0; k < d->n_tags; k++) {
            tags[i][k].key = d->tags[k]->key;
            tags[i][k].value = d->tags[k]->value;
        }
        devs[i].name = d->name;
        devs[i].device_class = cls < sizeof(classes) / sizeof(classes[0]) ? classes[cls] : "other";
        devs[i].parent = d->parent;
        devs[i].tags = tags[i];
        devs[i].n_tags = d->n_tags;
    }
    corr_inventory(f->engine, h->site_id, devs, n, now);
    for (size_t i = 0; i < n; i++)
        free(tags[i]);
    free(tags);
    free(devs);
    if (l) {
        if (l->declared)
            FM_NOTICE("faults: agent %s (site %s) is back", l->agent, l->site);
        lost_remove(f, l);
    }
    corr_agent(f->engine, h->site_id, false, now);
    present_add(f, h->site_id, h->agent_id);
    /* What happened at the site while this engine did not follow it
     * (before a restart, or at another collector) is in PostgreSQL. */
    faults__restore_request(f, h->site_id);
    faults__flush(f);
}

/* The alarm transition an event carries, if any, into *in. */
static bool event_input(const Fm__Event *e, struct faults__held *in)
{
    switch (e->kind_case) {
    case FM__EVENT__KIND_ALARM:
        if (e->alarm->state == FM__ALARM_STATE__ALARM_STATE_UNSPECIFIED)
            return false;
        in->code = e->alarm->code;
        in->point = e->alarm->point;
        in->raised = e->alarm->state == FM__ALARM_STATE__ALARM_STATE_RAISED;
        return true;
    case FM__EVENT__KIND_REACHABILITY:
        in->code = RULES_CODE_UNREACHABLE;
        in->point = NULL;
        in->raised = !e->reachability->reachable;
        return true;
    case FM__EVENT__KIND_TRAP:
        /* A trap the agent's profile maps to an alarm counts as one. */
        if (e->trap->alarm_code[0] == '\0' ||
            e->trap->alarm_state == FM__ALARM_STATE__ALARM_STATE_UNSPECIFIED)
            return false;
        in->code = e->trap->alarm_code;
        in->point = NULL;
        in->raised = e->trap->alarm_state == FM__ALARM_STATE__ALARM_STATE_RAISED;
        return true;
    default:
        return false;
    }
}

void faults_events(faults_t *f, const char *site, const char *agent_id, uint64_t epoch,
                   const Fm__EventBatch *b, uint64_t after_seq)
{
    int64_t now = fm_clock_wall_ms();
    struct faults__site *restoring = faults__restore_holding(f, site);

    for (size_t i = 0; i < b->n_events; i++) {
        const Fm__Event *e = b->events[i];
        struct faults__held in = {
            .agent = (char *)agent_id,
            .epoch = (int64_t)epoch,
            .seq = e->seq,
            .device = e->device,
            /* Device time, but never ahead of ours: the engine's holds and
             * durations count on the collector's clock. */
            .ts_ms = e->ts_ms > 0 && e->ts_ms < now ? e->ts_ms : now,
        };

        if (e->seq <= after_seq || !event_input(e, &in))
            continue;
        if (restoring)
            faults__restore_hold(restoring, &in);
        else
            corr_alarm(f->engine, site, in.device, in.code, in.point, in.raised, in.ts_ms, 0);
    }
    faults__flush(f);
}

static void restore_site_once(struct faults *f, const char *site)
{
    if (faults__restore_holding(f, site) == NULL)
        faults__restore_request(f, site);
}

void faults_reload_rules(faults_t *f, struct rules_conf *rules)
{
    int64_t now = fm_clock_wall_ms();

    faults__flush(f);
    corr_destroy(f->engine);
    rules_free(&f->rules);
    f->rules = *rules;
    memset(rules, 0, sizeof(*rules));
    f->engine = corr_create(&f->rules, tickets_batch_cb, f->outbox);
    atomic_store(&f->reopen_within_ms, f->rules.reopen_within_ms);
    corr_set_windows(f->engine, f->windows, f->n_windows, now);
    for (size_t i = 0; i < f->n_present; i++)
        restore_site_once(f, f->present[i].site);
    for (size_t i = 0; i < f->n_lost; i++)
        if (f->lost[i].declared)
            restore_site_once(f, f->lost[i].site);
    FM_NOTICE("faults: reloaded: %zu rules, %zu roots from %s; tickets for grades 1-%lld;"
              " %zu sites being restored",
              f->rules.n_rules, f->rules.n_roots,
              f->cfg->faults.rules_file ? f->cfg->faults.rules_file : "the built-in defaults",
              (long long)f->rules.open_max_grade, f->n_restoring);
}

void faults_reload_windows(faults_t *f)
{
    fmq_work_push(&f->work, &faults__msg_new(FAULTS__WINDOWS)->node);
}

void faults_agent_gone(faults_t *f, const char *site, const char *agent_id)
{
    struct faults__lost *l = lost_find(f, agent_id);
    struct faults__present *p = present_find(f, agent_id);

    if (p)
        *p = f->present[--f->n_present];
    /* No agent of the site left here: nothing this engine holds of the site
     * opens while its agent may be reporting to another collector (a fault
     * still in its group wait would open there too, and its clear never
     * reach this engine). The agent's return restores the site; its loss
     * (not back, not elsewhere) thaws it. */
    if (!site_present(f, site))
        corr_site_freeze(f->engine, site, true);

    if (l == NULL) {
        if (f->n_lost == f->cap_lost) {
            f->cap_lost = f->cap_lost ? f->cap_lost * 2 : 8;
            f->lost = fm_xrealloc(f->lost, f->cap_lost * sizeof(*f->lost));
        }
        l = &f->lost[f->n_lost++];
        memset(l, 0, sizeof(*l));
        snprintf(l->site, sizeof(l->site), "%s", site);
        snprintf(l->agent, sizeof(l->agent), "%s", agent_id);
    }
    l->asked = false;
    l->due_ms = fm_clock_wall_ms() + f->cfg->faults.agent_lost_after_ms;
}

static void on_closed(uv_handle_t *h)
{
    struct faults *f = h->data;

    f->handles--;
}

static void on_results_closed(struct fmq_loop *q)
{
    struct faults *f = q->arg;

    f->handles--;
}

void faults_stop(faults_t *f, int64_t grace_ms)
{
    if (f == NULL || uv_is_closing((uv_handle_t *)&f->tick))
        return;
    uv_timer_stop(&f->tick);
    faults__flush(f);
    if (f->thread_started) {
        f->stop_deadline_ms = fm_clock_mono_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
        fmq_work_stop(&f->work);
        uv_thread_join(&f->thread);
        f->thread_started = false;
    }
    uv_close((uv_handle_t *)&f->tick, on_closed);
    /* Delivers the writer's last answers, then closes. */
    fmq_loop_close(&f->results, on_results_closed);
    FM_INFO("faults: stopped: %llu ticket actions written in %llu transactions, %llu tickets"
            " opened, %llu failed writes",
            (unsigned long long)atomic_load(&f->actions_written),
            (unsigned long long)atomic_load(&f->batches_written),
            (unsigned long long)atomic_load(&f->opened),
            (unsigned long long)atomic_load(&f->write_failures));
}

void faults_destroy(faults_t *f)
{
    if (f == NULL)
        return;
    corr_destroy(f->engine);
    tickets_batch_destroy(f->outbox);
    free(f->lost);
    free(f->present);
    tickets_windows_free(f->windows, f->n_windows);
    faults__restore_free(f);
    rules_free(&f->rules);
    /* Messages the writer never took (flushed after it stopped). */
    for (struct fmq_node *n = fmq_work_take(&f->work, 0, SIZE_MAX), *next; n != NULL; n = next) {
        next = n->next;
        faults__msg_free((struct faults__msg *)n);
    }
    fmq_work_destroy(&f->work);
    free(f);
}

void faults_get_stats(const faults_t *f, struct faults_stats *st)
{
    st->batches_written = atomic_load(&f->batches_written);
    st->actions_written = atomic_load(&f->actions_written);
    st->write_failures = atomic_load(&f->write_failures);
    st->tickets_opened = atomic_load(&f->opened);
    st->tickets_joined = atomic_load(&f->joined);
    st->tickets_reopened = atomic_load(&f->reopened);
}
