/* report_conf: the key tables of a point's `report` map and of a device's
 * `report` list, and the checks the tables cannot make (report.h). The
 * defaults of the keys live here; the deadband's default depends on the
 * unit and lives in report_default_deadband. */
#include "report_conf.h"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same keys in a point's map and in a device's override, which embeds
 * the map at `base`. */
// clang-format off
#define REPORT_FIELDS(base)                                                                        \
    {.key = "deadband",                                                                            \
     .type = FMC_DOUBLE,                                                                           \
     .offset = (base) + offsetof(struct report_cfg, deadband),                                     \
     .min = 0,                                                                                     \
     .max = 1e12,                                                                                  \
     .doc = "send a value when it moves more than this from the last one sent, in the point's "    \
            "unit (counters with rate: unit/s); 0: any change; not set: the unit's default "       \
            "(docs/agent.md)"},                                                                    \
    {.key = "deadband_pct",                                                                        \
     .type = FMC_DOUBLE,                                                                           \
     .offset = (base) + offsetof(struct report_cfg, deadband_pct),                                 \
     .min = 0,                                                                                     \
     .max = 100,                                                                                   \
     .doc = "the deadband in percent of the span (`span`, else the alarm limits'); counters "      \
            "with rate: of the last rate sent (default 10); not with deadband"},                   \
    {.key = "heartbeat",                                                                           \
     .type = FMC_DURATION,                                                                         \
     .offset = (base) + offsetof(struct report_cfg, heartbeat_ms),                                 \
     .def = "15m",                                                                                 \
     .min = 1000,                                                                                  \
     .max = 604800000,                                                                             \
     .doc = "most time between two values sent; written, it must not be below the device's "       \
            "interval"},                                                                           \
    {.key = "every_poll",                                                                          \
     .type = FMC_BOOL,                                                                             \
     .offset = (base) + offsetof(struct report_cfg, every_poll),                                   \
     .def = "false",                                                                               \
     .doc = "send every polled value (raw data; the other keys do not apply)"},                    \
    {.key = "span",                                                                                \
     .type = FMC_STRLIST,                                                                          \
     .offset = (base) + offsetof(struct report_cfg, span),                                         \
     .count_offset = (base) + offsetof(struct report_cfg, n_span),                                 \
     .max_items = 2,                                                                               \
     .doc = "[lo, hi]: the point's range, for deadband_pct"}
// clang-format on

static const struct fmc_field report_fields[] = {
    REPORT_FIELDS(0),
    {0},
};
const struct fmc_schema report_cfg_schema = {
    .name = "point report",
    .size = sizeof(struct report_cfg),
    .fields = report_fields,
    .line_offset = offsetof(struct report_cfg, line),
};

static const struct fmc_field override_fields[] = {
    {.key = "point",
     .type = FMC_STR,
     .offset = offsetof(struct report_override, point),
     .flags = FMC_REQUIRED,
     .doc = "point of the device's profile; the keys written here replace the profile's"},
    REPORT_FIELDS(offsetof(struct report_override, r)),
    {0},
};
const struct fmc_schema report_override_schema = {
    .name = "device report",
    .size = sizeof(struct report_override),
    .fields = override_fields,
    .line_offset = offsetof(struct report_override, line),
};

/* Records which keys of the map at path the file wrote, and parses its
 * span. */
static int read_given(const fmc_doc_t *doc, const char *path, struct report_cfg *r, char *err,
                      size_t errlen)
{
    static const struct {
        const char *key;
        unsigned bit;
    } keys[] = {{"deadband", REPORT_GIVEN_DEADBAND},
                {"deadband_pct", REPORT_GIVEN_PCT},
                {"heartbeat", REPORT_GIVEN_HEARTBEAT},
                {"every_poll", REPORT_GIVEN_EVERY_POLL},
                {"span", REPORT_GIVEN_SPAN}};
    char sub[256];
    double v[2];

    r->given = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(sub, sizeof(sub), "%s.%s", path, keys[i].key);
        if (fmc_doc_has(doc, sub))
            r->given |= keys[i].bit;
    }
    if ((r->given & REPORT_GIVEN_DEADBAND) && (r->given & REPORT_GIVEN_PCT)) {
        snprintf(sub, sizeof(sub), "%s.deadband_pct", path);
        return fmc_errorf(doc, err, errlen, sub, "give deadband or deadband_pct, not both");
    }
    if (!(r->given & REPORT_GIVEN_SPAN))
        return 0;
    snprintf(sub, sizeof(sub), "%s.span", path);
    if (r->n_span != 2)
        return fmc_errorf(doc, err, errlen, sub, "needs two numbers, [lo, hi]");
    for (int i = 0; i < 2; i++) {
        char *end;

        v[i] = strtod(r->span[i], &end);
        if (end == r->span[i] || *end != '\0' || !isfinite(v[i]))
            return fmc_errorf(doc, err, errlen, sub, "'%s' is not a number", r->span[i]);
    }
    if (!(v[1] > v[0]))
        return fmc_errorf(doc, err, errlen, sub, "hi %g must be above lo %g", v[1], v[0]);
    r->span_lo = v[0];
    r->span_hi = v[1];
    return 0;
}

/* The deadband keys fit the point's type, and a percent one has a span. */
static int check_deadband(const fmc_doc_t *doc, const char *path, const struct report_cfg *db,
                          bool has_span, const struct point_cfg *pt, char *err, size_t errlen)
{
    bool change =
        pt->type == POINT_TYPE_ENUM || pt->type == POINT_TYPE_BOOL || pt->type == POINT_TYPE_TEXT;
    char sub[256];
    double lo, hi;

    if (!(db->given & (REPORT_GIVEN_DEADBAND | REPORT_GIVEN_PCT)))
        return 0;
    snprintf(sub, sizeof(sub), "%s.%s", path,
             (db->given & REPORT_GIVEN_DEADBAND) ? "deadband" : "deadband_pct");
    if (change)
        return fmc_errorf(doc, err, errlen, sub, "%s points send every change: no deadband",
                          config_point_type_names[pt->type]);
    if ((db->given & REPORT_GIVEN_PCT) && !pt->rate && !has_span &&
        !report_limits_span(&pt->alarm, &lo, &hi))
        return fmc_errorf(doc, err, errlen, sub,
                          "needs a span: give span: [lo, hi] or two alarm limits");
    return 0;
}

int report_conf_check_point(const fmc_doc_t *doc, const char *path, struct point_cfg *pt, char *err,
                            size_t errlen)
{
    char rpath[200];
    int rc;

    snprintf(rpath, sizeof(rpath), "%s.report", path);
    rc = read_given(doc, rpath, &pt->report, err, errlen);
    if (rc != 0)
        return rc;
    return check_deadband(doc, rpath, &pt->report, pt->report.given & REPORT_GIVEN_SPAN, pt, err,
                          errlen);
}

/* The heartbeat, when written, is not below the device's interval: a
 * shorter one would send every poll while saying otherwise. */
static int check_heartbeat(const fmc_doc_t *doc, const char *path, const struct report_cfg *r,
                           const struct device_cfg *d, size_t di, char *err, size_t errlen)
{
    char sub[256];

    if (!(r->given & REPORT_GIVEN_HEARTBEAT) || r->heartbeat_ms >= d->interval_ms)
        return 0;
    snprintf(sub, sizeof(sub), "%s.heartbeat", path);
    return fmc_errorf(doc, err, errlen, sub,
                      "%lld ms is below the poll interval %lld ms of devices[%zu] ('%s')",
                      (long long)r->heartbeat_ms, (long long)d->interval_ms, di, d->name);
}

int report_conf_check_device(const fmc_doc_t *doc, size_t pi, struct device_cfg *d, size_t di,
                             char *err, size_t errlen)
{
    char path[128], ppath[128];
    int rc;

    for (size_t i = 0; i < d->prof->n_points; i++) {
        snprintf(ppath, sizeof(ppath), "profiles[%zu].points[%zu].report", pi, i);
        rc = check_heartbeat(doc, ppath, &d->prof->points[i].report, d, di, err, errlen);
        if (rc != 0)
            return rc;
    }
    for (size_t o = 0; o < d->n_report; o++) {
        struct report_override *ov = &d->report[o];
        const struct point_cfg *pt = NULL;
        bool has_span;

        snprintf(path, sizeof(path), "devices[%zu].report[%zu]", di, o);
        for (size_t i = 0; i < d->prof->n_points && pt == NULL; i++) {
            if (strcmp(d->prof->points[i].name, ov->point) == 0)
                pt = &d->prof->points[i];
        }
        if (pt == NULL)
            return fmc_errorf(doc, err, errlen, path, "point: '%s' is not in profile %s", ov->point,
                              d->prof->name);
        for (size_t j = 0; j < o; j++) {
            if (strcmp(d->report[j].point, ov->point) == 0)
                return fmc_errorf(doc, err, errlen, path,
                                  "point: '%s' has another entry (report[%zu])", ov->point, j);
        }
        rc = read_given(doc, path, &ov->r, err, errlen);
        if (rc == 0)
            rc = check_heartbeat(doc, path, &ov->r, d, di, err, errlen);
        has_span = ((ov->r.given | pt->report.given) & REPORT_GIVEN_SPAN) != 0;
        if (rc == 0)
            rc = check_deadband(doc, path, &ov->r, has_span, pt, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}
