/* faults: the loop side (see faults.h): feeding the engine, its clock,
 * lost agents, and handing actions to the writer thread. */
#include "faults_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"

#define FAULTS_TICK_MS 1000

int faults_load_rules(const struct collconf *cfg, struct rules_conf *rules, char *err,
                      size_t errlen)
{
    if (cfg->faults.rules_file && cfg->faults.rules_file[0])
        return rules_load_file(cfg->faults.rules_file, rules, err, errlen);
    return rules_load_builtin(rules, err, errlen);
}

/* Hands what the engine produced to the writer. */
static void flush(struct faults *f)
{
    if (tickets_batch_count(f->outbox) == 0)
        return;
    pthread_mutex_lock(&f->mu);
    tickets_batch_move(f->queue, f->outbox);
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
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

static void on_tick(uv_timer_t *t)
{
    struct faults *f = t->data;
    int64_t now = fmw_now_ms();
    bool asked = false;

    corr_tick(f->engine, now);
    flush(f);
    /* Lost agents: ask the database whether they came back elsewhere,
     * first when their grace is over, then every windows_reload while the
     * site counts as lost. */
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_lost; i++) {
        struct faults__lost *l = &f->lost[i];

        if (l->asked || now < l->due_ms)
            continue;
        l->asked = true;
        asked = true;
        faults__push_check(&f->checks, &f->n_checks, &f->cap_checks, l->site, l->agent, false);
    }
    if (asked)
        pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void on_async(uv_async_t *a)
{
    struct faults *f = a->data;
    struct corr_window *w = NULL;
    struct faults__check *res;
    size_t nw = 0, nres;
    bool new_windows;
    int64_t now = fmw_now_ms();

    pthread_mutex_lock(&f->mu);
    new_windows = f->windows_new;
    if (new_windows) {
        w = f->windows;
        nw = f->n_windows;
        f->windows = NULL;
        f->n_windows = 0;
        f->windows_new = false;
    }
    res = f->results;
    nres = f->n_results;
    f->results = NULL;
    f->n_results = f->cap_results = 0;
    pthread_mutex_unlock(&f->mu);

    if (new_windows) {
        corr_set_windows(f->engine, w, nw, now);
        tickets_windows_free(w, nw);
    }
    for (size_t i = 0; i < nres; i++) {
        struct faults__lost *l = lost_find(f, res[i].agent);

        if (l == NULL)
            continue; /* it came back here meanwhile */
        if (res[i].elsewhere) {
            FM_INFO("faults: agent %s (site %s) is connected to another collector", l->agent,
                    l->site);
            if (l->declared)
                corr_agent(f->engine, l->site, false, now);
            lost_remove(f, l);
            continue;
        }
        if (!l->declared) {
            FM_NOTICE("faults: agent %s (site %s) lost: not back after %lld ms", l->agent, l->site,
                      (long long)f->cfg->faults.agent_lost_after_ms);
            l->declared = true;
            corr_agent(f->engine, l->site, true, now);
        }
        l->asked = false;
        l->due_ms = now + f->cfg->faults.windows_reload_ms;
    }
    free(res);
    flush(f);
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
    f->queue = tickets_batch_create();
    f->engine = corr_create(&f->rules, tickets_batch_cb, f->outbox);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    uv_timer_init(loop, &f->tick);
    f->tick.data = f;
    uv_async_init(loop, &f->async, on_async);
    f->async.data = f;
    f->handles = 2;
    uv_timer_start(&f->tick, on_tick, FAULTS_TICK_MS, FAULTS_TICK_MS);
    rc = pthread_create(&f->thread, NULL, faults__writer_main, f);
    if (rc != 0) {
        /* As with a failed allocation: a daemon without threads cannot go on. */
        FM_ERR("faults: start writer thread: %s", strerror(rc));
        abort();
    }
    f->thread_started = true;
    FM_INFO("faults: %zu rules, %zu roots from %s; tickets for grades 1-%lld", f->rules.n_rules,
            f->rules.n_roots,
            cfg->faults.rules_file ? cfg->faults.rules_file : "the built-in defaults",
            (long long)f->rules.open_max_grade);
    return f;
}

void faults_hello(faults_t *f, const Fm__Hello *h)
{
    struct corr_device_info *devs;
    struct fmc_kv **tags;
    const Fm__Inventory *inv = h->inventory;
    size_t n = inv ? inv->n_devices : 0;
    struct faults__lost *l = lost_find(f, h->agent_id);
    int64_t now = fmw_now_ms();
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
    flush(f);
}

void faults_events(faults_t *f, const char *site, const Fm__EventBatch *b, uint64_t after_seq)
{
    int64_t now = fmw_now_ms();

    for (size_t i = 0; i < b->n_events; i++) {
        const Fm__Event *e = b->events[i];
        /* Device time, but never ahead of ours: the engine's holds and
         * durations count on the collector's clock. */
        int64_t ts = e->ts_ms > 0 && e->ts_ms < now ? e->ts_ms : now;

        if (e->seq <= after_seq)
            continue;
        switch (e->kind_case) {
        case FM__EVENT__KIND_ALARM:
            if (e->alarm->state == FM__ALARM_STATE__ALARM_STATE_UNSPECIFIED)
                break;
            corr_alarm(f->engine, site, e->device, e->alarm->code, e->alarm->point,
                       e->alarm->state == FM__ALARM_STATE__ALARM_STATE_RAISED, ts, 0);
            break;
        case FM__EVENT__KIND_REACHABILITY:
            corr_reach(f->engine, site, e->device, e->reachability->reachable, ts);
            break;
        case FM__EVENT__KIND_TRAP:
            /* A trap the agent's profile maps to an alarm counts as one. */
            if (e->trap->alarm_code[0] &&
                e->trap->alarm_state != FM__ALARM_STATE__ALARM_STATE_UNSPECIFIED)
                corr_alarm(f->engine, site, e->device, e->trap->alarm_code, NULL,
                           e->trap->alarm_state == FM__ALARM_STATE__ALARM_STATE_RAISED, ts, 0);
            break;
        default:
            break;
        }
    }
    flush(f);
}

void faults_agent_gone(faults_t *f, const char *site, const char *agent_id)
{
    struct faults__lost *l = lost_find(f, agent_id);

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
    l->due_ms = fmw_now_ms() + f->cfg->faults.agent_lost_after_ms;
}

static void on_closed(uv_handle_t *h)
{
    struct faults *f = h->data;

    f->handles--;
}

void faults_stop(faults_t *f, int64_t grace_ms)
{
    if (f == NULL || uv_is_closing((uv_handle_t *)&f->tick))
        return;
    uv_timer_stop(&f->tick);
    flush(f);
    if (f->thread_started) {
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        {
            struct timespec ts;

            clock_gettime(CLOCK_MONOTONIC, &ts);
            f->stop_deadline_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + grace_ms;
        }
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
        f->thread_started = false;
    }
    uv_close((uv_handle_t *)&f->tick, on_closed);
    uv_close((uv_handle_t *)&f->async, on_closed);
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
    tickets_batch_destroy(f->queue);
    tickets_windows_free(f->windows, f->n_windows);
    free(f->checks);
    free(f->results);
    free(f->lost);
    rules_free(&f->rules);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
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
