/* rules: loading the rule set from YAML and grading subjects against it.
 * The key table below is the one source of the file format: the loader
 * follows it and docs/faults.md is printed from it. */
#include "rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const scope_names[] = {"device", "site", "system", NULL};
static const char *const agg_by_names[] = {"site", "site_class", NULL};

static const struct fmc_field rule_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = offsetof(struct rule, name),
     .flags = FMC_REQUIRED,
     .doc = "name of the rule, shown on the tickets it grades"},
    {.key = "scope",
     .type = FMC_ENUM,
     .offset = offsetof(struct rule, scope),
     .def = "device",
     .enum_names = scope_names,
     .doc = "what the rule grades: a device fault, a whole site, or the whole system"},
    {.key = "class",
     .type = FMC_STR,
     .offset = offsetof(struct rule, device_class),
     .doc = "device class glob (ups, camera, ddc, env_sensor, power_meter, other); empty: any"},
    {.key = "codes",
     .type = FMC_STRLIST,
     .offset = offsetof(struct rule, codes),
     .count_offset = offsetof(struct rule, n_codes),
     .max_items = 64,
     .doc = "alarm code globs (`unreachable` for a device or site that cannot be reached); "
            "empty: any"},
    {.key = "point",
     .type = FMC_STR,
     .offset = offsetof(struct rule, point),
     .doc = "point name glob; empty: any"},
    {.key = "tags",
     .type = FMC_STRMAP,
     .offset = offsetof(struct rule, tags),
     .count_offset = offsetof(struct rule, n_tags),
     .max_items = 32,
     .doc = "device tags that must all be present with these values (`*`: any value)"},
    {.key = "after",
     .type = FMC_DURATION,
     .offset = offsetof(struct rule, after_ms),
     .def = "0s",
     .min = 0,
     .max = 366.0 * 86400000,
     .doc = "the rule applies once the fault has lasted this long (raises a grade)"},
    {.key = "grade",
     .type = FMC_INT,
     .offset = offsetof(struct rule, grade),
     .flags = FMC_REQUIRED,
     .min = 1,
     .max = 4,
     .doc = "grade assigned, 1 (emergency) .. 4 (no impact)"},
    {0},
};
static const struct fmc_schema rule_schema = {"rule", sizeof(struct rule), rule_fields,
                                              offsetof(struct rule, line)};

static const struct fmc_field root_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = offsetof(struct rules_root, name),
     .flags = FMC_REQUIRED,
     .doc = "name of the root cause, e.g. mains"},
    {.key = "codes",
     .type = FMC_STRLIST,
     .offset = offsetof(struct rules_root, codes),
     .count_offset = offsetof(struct rules_root, n_codes),
     .flags = FMC_REQUIRED,
     .max_items = 64,
     .doc = "alarm code globs that open the root fault at a site"},
    {.key = "followers",
     .type = FMC_STRLIST,
     .offset = offsetof(struct rules_root, followers),
     .count_offset = offsetof(struct rules_root, n_followers),
     .flags = FMC_REQUIRED,
     .max_items = 64,
     .doc = "alarm code globs that attach to the open root fault of the same site"},
    {.key = "linger",
     .type = FMC_DURATION,
     .offset = offsetof(struct rules_root, linger_ms),
     .def = "15m",
     .min = 0,
     .max = 86400000,
     .doc = "followers still attach this long after the root cleared"},
    {0},
};
static const struct fmc_schema root_schema = {"root", sizeof(struct rules_root), root_fields,
                                              offsetof(struct rules_root, line)};

static const struct fmc_field flap_fields[] = {
    {.key = "transitions",
     .type = FMC_UINT,
     .offset = offsetof(struct rules_flap, transitions),
     .def = "6",
     .min = 2,
     .max = 1000,
     .doc = "raise/clear transitions within `window` that mark a fault flapping"},
    {.key = "window",
     .type = FMC_DURATION,
     .offset = offsetof(struct rules_flap, window_ms),
     .def = "10m",
     .min = 1000,
     .max = 86400000,
     .doc = "flapping window; a flapping fault clears after a quiet window"},
    {0},
};
static const struct fmc_schema flap_schema = {"flap", sizeof(struct rules_flap), flap_fields,
                                              FMC_NO_LINE};

static const struct fmc_field agg_fields[] = {
    {.key = "count",
     .type = FMC_UINT,
     .offset = offsetof(struct rules_aggregate, count),
     .def = "3",
     .min = 2,
     .max = 1000,
     .doc = "grade-4 faults open at once on one system that make one aggregate fault"},
    {.key = "grade",
     .type = FMC_INT,
     .offset = offsetof(struct rules_aggregate, grade),
     .def = "3",
     .min = 1,
     .max = 4,
     .doc = "grade of the aggregate fault"},
    {.key = "by",
     .type = FMC_ENUM,
     .offset = offsetof(struct rules_aggregate, by),
     .def = "site",
     .enum_names = agg_by_names,
     .doc = "what one system is: a site, or one device class at a site"},
    {0},
};
static const struct fmc_schema agg_schema = {"grade4_aggregate", sizeof(struct rules_aggregate),
                                             agg_fields, FMC_NO_LINE};

static const struct fmc_field sites_fields[] = {
    {.key = "most_fraction",
     .type = FMC_DOUBLE,
     .offset = offsetof(struct rules_sites, most_fraction),
     .def = "0.5",
     .min = 0.01,
     .max = 1,
     .doc = "share of known sites unreachable at once that opens one system fault"},
    {.key = "most_min_sites",
     .type = FMC_UINT,
     .offset = offsetof(struct rules_sites, most_min_sites),
     .def = "3",
     .min = 1,
     .max = 100000,
     .doc = "the system fault needs at least this many unreachable sites"},
    {0},
};
static const struct fmc_schema sites_schema = {"sites", sizeof(struct rules_sites), sites_fields,
                                               FMC_NO_LINE};

static const struct fmc_field conf_fields[] = {
    {.key = "group_wait",
     .type = FMC_DURATION,
     .offset = offsetof(struct rules_conf, group_wait_ms),
     .def = "30s",
     .min = 0,
     .max = 3600000,
     .doc = "hold before a per-device fault of grade 2-4 opens a ticket, so a storm is seen "
            "as one site or parent fault (grade 1 opens at once)"},
    {.key = "open_max_grade",
     .type = FMC_INT,
     .offset = offsetof(struct rules_conf, open_max_grade),
     .def = "3",
     .min = 1,
     .max = 4,
     .doc = "faults of grade 1..N open tickets automatically (4: grade-4 faults too)"},
    {.key = "default_grade",
     .type = FMC_INT,
     .offset = offsetof(struct rules_conf, default_grade),
     .def = "3",
     .min = 1,
     .max = 4,
     .doc = "grade of a fault no rule matches"},
    {.key = "reopen_within",
     .type = FMC_DURATION,
     .offset = offsetof(struct rules_conf, reopen_within_ms),
     .def = "24h",
     .min = 0,
     .max = 90.0 * 86400000,
     .doc = "a fault recurring this soon after its ticket was resolved reopens that ticket"},
    {.key = "flap",
     .type = FMC_MAP,
     .offset = offsetof(struct rules_conf, flap),
     .sub = &flap_schema,
     .doc = "flapping detection"},
    {.key = "grade4_aggregate",
     .type = FMC_MAP,
     .offset = offsetof(struct rules_conf, grade4),
     .sub = &agg_schema,
     .doc = "several grade-4 faults on one system make one fault"},
    {.key = "sites",
     .type = FMC_MAP,
     .offset = offsetof(struct rules_conf, sites),
     .sub = &sites_schema,
     .doc = "most sites unreachable"},
    {.key = "roots",
     .type = FMC_SEQ,
     .offset = offsetof(struct rules_conf, roots),
     .sub = &root_schema,
     .count_offset = offsetof(struct rules_conf, n_roots),
     .max_items = 64,
     .doc = "root causes whose follower alarms attach to them"},
    {.key = "rules",
     .type = FMC_SEQ,
     .offset = offsetof(struct rules_conf, rules),
     .sub = &rule_schema,
     .count_offset = offsetof(struct rules_conf, n_rules),
     .max_items = 10000,
     .doc = "grading rules"},
    {0},
};
static const struct fmc_schema conf_schema = {"rules", sizeof(struct rules_conf), conf_fields,
                                              FMC_NO_LINE};

/* Checks across keys that the table cannot express. */
static int rules_validate(const struct rules_conf *conf, const fmc_doc_t *doc, char *err,
                          size_t errlen)
{
    char path[64];

    for (size_t i = 0; i < conf->n_roots; i++) {
        const struct rules_root *rt = &conf->roots[i];

        if (rt->n_codes == 0 || rt->n_followers == 0) {
            snprintf(path, sizeof(path), "roots[%zu].%s", i, rt->n_codes ? "followers" : "codes");
            return fmc_errorf(doc, err, errlen, path, "needs at least one code");
        }
    }
    for (size_t i = 0; i < conf->n_rules; i++) {
        const struct rule *r = &conf->rules[i];

        for (size_t j = 0; j < i; j++) {
            if (strcmp(conf->rules[j].name, r->name) == 0) {
                snprintf(path, sizeof(path), "rules[%zu].name", i);
                return fmc_errorf(doc, err, errlen, path,
                                  "\"%s\" is already the name of rules[%zu]", r->name, j);
            }
        }
        if (r->scope != RULES_SCOPE_DEVICE && (r->device_class || r->point || r->n_tags > 0)) {
            snprintf(path, sizeof(path), "rules[%zu]", i);
            return fmc_errorf(doc, err, errlen, path,
                              "class, point and tags only apply to scope device");
        }
    }
    return 0;
}

static int load_common(int rc, struct rules_conf *conf, fmc_doc_t *doc, char *err, size_t errlen)
{
    if (rc == 0) {
        rc = rules_validate(conf, doc, err, errlen);
        if (rc != 0)
            rules_free(conf);
    }
    fmc_doc_free(doc);
    return rc;
}

int rules_load_file(const char *path, struct rules_conf *conf, char *err, size_t errlen)
{
    fmc_doc_t *doc = NULL;
    int rc = fmc_load_file(path, &conf_schema, conf, &doc, err, errlen);

    return load_common(rc, conf, doc, err, errlen);
}

int rules_load_string(const char *name, const char *text, struct rules_conf *conf, char *err,
                      size_t errlen)
{
    fmc_doc_t *doc = NULL;
    int rc = fmc_load_string(name, text, strlen(text), &conf_schema, conf, &doc, err, errlen);

    return load_common(rc, conf, doc, err, errlen);
}

int rules_load_builtin(struct rules_conf *conf, char *err, size_t errlen)
{
    return rules_load_string("rules-default.yaml (built in)", rules_builtin_yaml, conf, err,
                             errlen);
}

void rules_free(struct rules_conf *conf)
{
    fmc_free(&conf_schema, conf);
}

void rules_print_reference(FILE *out)
{
    fmc_print_reference(&conf_schema, out, "Rules file");
}

const char *rules_scope_name(int scope)
{
    if (scope < 0 || scope > RULES_SCOPE_SYSTEM)
        return "?";
    return scope_names[scope];
}

const char *rules_tag(const struct fmc_kv *tags, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tags[i].key, key) == 0)
            return tags[i].value;
    return NULL;
}

static bool glob_any(char *const *pats, size_t n, const char *s)
{
    if (n == 0)
        return true;
    if (s == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], s, 0) == 0)
            return true;
    return false;
}

static bool glob_one(const char *pat, const char *s)
{
    if (pat == NULL || pat[0] == '\0')
        return true;
    return s != NULL && fnmatch(pat, s, 0) == 0;
}

static bool rule_matches(const struct rule *r, const struct rules_subject *s)
{
    if (r->scope != s->scope)
        return false;
    if (!glob_one(r->device_class, s->device_class) || !glob_one(r->point, s->point))
        return false;
    if (!glob_any(r->codes, r->n_codes, s->code))
        return false;
    for (size_t i = 0; i < r->n_tags; i++) {
        const char *v = rules_tag(s->tags, s->n_tags, r->tags[i].key);

        if (v == NULL || (strcmp(r->tags[i].value, "*") != 0 && strcmp(r->tags[i].value, v) != 0))
            return false;
    }
    return true;
}

int rules_grade(const struct rules_conf *conf, const struct rules_subject *s, int64_t age_ms,
                const struct rule **rule)
{
    const struct rule *best = NULL;

    for (size_t i = 0; i < conf->n_rules; i++) {
        const struct rule *r = &conf->rules[i];

        if (age_ms < r->after_ms || !rule_matches(r, s))
            continue;
        if (best == NULL || r->grade < best->grade)
            best = r;
    }
    if (rule)
        *rule = best;
    return best ? (int)best->grade : (int)conf->default_grade;
}

const struct rules_root *rules_root_of(const struct rules_conf *conf, const char *code)
{
    for (size_t i = 0; i < conf->n_roots; i++)
        if (glob_any(conf->roots[i].codes, conf->roots[i].n_codes, code))
            return &conf->roots[i];
    return NULL;
}

const struct rules_root *rules_follower_of(const struct rules_conf *conf, const char *code)
{
    for (size_t i = 0; i < conf->n_roots; i++)
        if (glob_any(conf->roots[i].followers, conf->roots[i].n_followers, code))
            return &conf->roots[i];
    return NULL;
}
