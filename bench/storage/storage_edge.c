/* storage_edge: a simulated day at the edge (see storage.h).
 *
 * Each device of each site copy is polled every interval, at its own offset
 * within the interval; between polls its values move every simulated second
 * by the simulator's own behaviour code (tests/sim/motion.c) and are
 * rounded to the device's resolution when read. Both passes see the same
 * values: the every-poll pass is the agent with `report: {every_poll: true}`
 * on every point, the other the agent's defaults. What leaves each alarm
 * stage is what the agent would spool and send. */
#include "storage.h"

#include "alarm_sink.h"
#include "config.h"
#include "event_sink.h"
#include "site_model.h"

#include "fm_alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* The sink after the alarm stage: keeps measurements as rows, transitions
 * as text. */
struct keep {
    event_sink_t sink; /* first */
    struct st_pass *pass;
    const struct st_edge *edge;
    uint32_t hint; /* the point of the last row: the next is nearly always near */
};

static uint32_t point_index(struct keep *k, const char *device, const char *point)
{
    const struct st_edge *e = k->edge;

    for (size_t n = 0; n < e->n_points; n++) {
        size_t i = (k->hint + n) % e->n_points;
        if (strcmp(e->points[i].point, point) == 0 && strcmp(e->points[i].device, device) == 0) {
            k->hint = (uint32_t)i;
            return (uint32_t)i;
        }
    }
    fprintf(stderr, "storage: %s/%s is not a point of the model\n", device, point);
    abort();
}

static void append_alarm(struct st_pass *p, const Fm__Event *ev)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %s %d %lld\n", ev->device, ev->alarm->code,
                     (int)ev->alarm->state, (long long)ev->ts_ms);

    if (p->alarms_len + (size_t)n + 1 > p->alarms_cap) {
        p->alarms_cap = p->alarms_cap ? 2 * p->alarms_cap : 4096;
        p->alarms = fm_xrealloc(p->alarms, p->alarms_cap);
    }
    memcpy(p->alarms + p->alarms_len, line, (size_t)n + 1);
    p->alarms_len += (size_t)n;
    p->n_alarms++;
}

static void keep_emit(event_sink_t *sink, const Fm__Event *ev)
{
    struct keep *k = (struct keep *)sink;
    struct st_pass *p = k->pass;

    if (ev->kind_case == FM__EVENT__KIND_ALARM) {
        append_alarm(p, ev);
        return;
    }
    if (ev->kind_case != FM__EVENT__KIND_MEASUREMENT)
        return;
    if (p->n_rows == p->cap_rows) {
        p->cap_rows = p->cap_rows ? 2 * p->cap_rows : 65536;
        p->rows = fm_xrealloc(p->rows, p->cap_rows * sizeof(*p->rows));
    }
    p->rows[p->n_rows++] = (struct st_row){
        .ts_ms = ev->ts_ms,
        .value = ev->measurement->value,
        .point = point_index(k, ev->device, ev->measurement->point),
    };
}

/* The agent's configuration for sites copies of the model. */
static char *config_text(const char *agent_id, bool every_poll, size_t sites, int interval_s)
{
    size_t cap = 1 << 20, len = 0;
    char *t = fm_xmalloc(cap);

#define OUT(...)                                                                                   \
    do {                                                                                           \
        len += (size_t)snprintf(t + len, cap - len, __VA_ARGS__);                                  \
        if (len >= cap - 1024) {                                                                   \
            cap *= 2;                                                                              \
            t = fm_xrealloc(t, cap);                                                               \
        }                                                                                          \
    } while (0)

    OUT("agent_id: %s\nsite: bench\ncollectors: [127.0.0.1:7400]\nspool_dir: /nonexistent\n",
        agent_id);
    OUT("sender: {transport: plain}\nprofiles:\n");
    for (size_t d = 0; d < site_model_n; d++) {
        const struct model_device *md = &site_model[d];

        OUT("  - name: %s\n    points:\n", md->profile);
        for (size_t i = 0; i < md->n_points; i++) {
            const struct model_point *mp = &md->points[i];

            OUT("      - {name: %s, oid: 1.3.6.1.4.1.99999.%zu.%zu.0, type: %s, unit: \"%s\"",
                mp->name, d + 1, i + 1, mp->type, mp->unit);
            if (mp->keys[0])
                OUT(", %s", mp->keys);
            if (every_poll)
                OUT(", report: {every_poll: true}");
            OUT("}\n");
        }
    }
    OUT("devices:\n");
    for (size_t s = 0; s < sites; s++) {
        for (size_t d = 0; d < site_model_n; d++) {
            const struct model_device *md = &site_model[d];

            for (int k = 0; k < md->per_site; k++)
                OUT("  - {name: s%03zu-%s-%d, class: %s, profile: %s, interval: %ds,"
                    " snmp: {host: 127.0.0.1}}\n",
                    s + 1, md->profile, k + 1, md->dev_class, md->profile, interval_s);
        }
    }
#undef OUT
    return t;
}

static alarm_sink_t *stage(uv_loop_t *loop, struct agent_cfg *cfg, struct keep *k,
                           struct st_pass *p, const struct st_edge *e, size_t sites, int interval_s)
{
    char *text = config_text(p->agent_id, p->every_poll, sites, interval_s);
    char err[512];

    memset(cfg, 0, sizeof(*cfg));
    if (config_load_string("bench-agent.yaml", text, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "storage: the generated agent configuration is refused: %s\n", err);
        free(text);
        return NULL;
    }
    free(text);
    *k = (struct keep){.sink = {.emit = keep_emit}, .pass = p, .edge = e};
    return alarm_sink_create(loop, cfg, &k->sink);
}

/* One instance of a model point at a site. */
struct inst {
    const struct model_point *mp;
    double value;
};

int st_edge_run(struct st_edge *e, struct st_pass *every, struct st_pass *rbe, size_t sites,
                int interval_s, int64_t day_ms, uint64_t seed)
{
    size_t per_site = site_model_points(), ndev = 0;
    struct inst *in;
    uv_loop_t loop;
    struct agent_cfg cfg_a, cfg_b;
    struct keep keep_a, keep_b;
    alarm_sink_t *sa, *sb;
    uint64_t rng = seed ? seed : 1;

    e->n_points = sites * per_site;
    e->points = fm_xcalloc(e->n_points, sizeof(*e->points));
    in = fm_xcalloc(e->n_points, sizeof(*in));
    for (size_t s = 0, n = 0; s < sites; s++) {
        for (size_t d = 0; d < site_model_n; d++) {
            const struct model_device *md = &site_model[d];

            for (int k = 0; k < md->per_site; k++, ndev++) {
                for (size_t i = 0; i < md->n_points; i++, n++) {
                    snprintf(e->points[n].device, sizeof(e->points[n].device), "s%03zu-%s-%d",
                             s + 1, md->profile, k + 1);
                    e->points[n].point = md->points[i].name;
                    in[n].mp = &md->points[i];
                    in[n].value = md->points[i].m.base;
                }
            }
        }
    }
    uv_loop_init(&loop);
    sa = stage(&loop, &cfg_a, &keep_a, every, e, sites, interval_s);
    sb = sa ? stage(&loop, &cfg_b, &keep_b, rbe, e, sites, interval_s) : NULL;
    if (sb == NULL) {
        free(in);
        return -1;
    }
    /* Second by second: move every value, then poll the devices whose turn
     * it is (device j at offset j * interval / devices). */
    e->polls = 0;
    for (int64_t t = 0; t < 86400; t++) {
        double wall_s = (double)day_ms / 1000.0 + (double)t;

        for (size_t n = 0; n < e->n_points; n++) {
            struct sim_motion m = in[n].mp->m;

            if (m.period_s == 0)
                m.period_s = 86400;
            in[n].value = sim_motion_next(&m, in[n].value, wall_s, (double)t, true, &rng);
        }
        size_t n = 0;
        for (size_t j = 0; j < ndev; j++) {
            size_t first = n;

            while (n < e->n_points && strcmp(e->points[n].device, e->points[first].device) == 0)
                n++;
            if ((t - (int64_t)(j * (size_t)interval_s / ndev)) % interval_s != 0)
                continue;
            for (size_t i = first; i < n; i++) {
                Fm__Event ev = FM__EVENT__INIT;
                Fm__Measurement m = FM__MEASUREMENT__INIT;
                double q = in[i].mp->quantum;

                m.point = (char *)e->points[i].point;
                m.unit = (char *)in[i].mp->unit;
                m.quality = FM__QUALITY__QUALITY_GOOD;
                m.quality_detail = "";
                m.text = "";
                m.has_value = true;
                m.value = m.raw = round(in[i].value / q) * q;
                ev.device = e->points[i].device;
                ev.ts_ms = day_ms + t * 1000;
                ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
                ev.measurement = &m;
                event_sink_emit(alarm_sink_as_sink(sa), &ev);
                event_sink_emit(alarm_sink_as_sink(sb), &ev);
                e->polls++;
            }
        }
    }
    alarm_sink_destroy(sa);
    alarm_sink_destroy(sb);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    config_free(&cfg_a);
    config_free(&cfg_b);
    free(in);
    return 0;
}
