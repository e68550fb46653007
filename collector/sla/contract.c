/* contract: see contract.h. The key table below is the contract file's
 * reference; docs/contracts.md is printed from it. */
#include "contract.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fm_conf.h"

#define DAY_MS (24LL * 3600 * 1000)

static const char *const support_names[] = {"7x24", "5x8", NULL};
static const char *const onsite_rule_names[] = {"grade-or-distance", "grade", "distance", "max",
                                                NULL};

static int check_name(const void *value, char *why, size_t whylen)
{
    const char *s = *(char *const *)value;

    if (s == NULL || s[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return -EINVAL;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.')) {
            snprintf(why, whylen, "\"%s\": use letters, digits, '-', '_' and '.' only", s);
            return -EINVAL;
        }
    }
    return 0;
}

static const struct fmc_field step_fields[] = {
    {.key = "after",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract_step, after_ms),
     .flags = FMC_REQUIRED,
     .min = 0,
     .max = 30 * DAY_MS,
     .doc = "time after opening when this role must be engaged (on the grade's support clock)"},
    {.key = "role",
     .type = FMC_STR,
     .offset = offsetof(struct contract_step, role),
     .flags = FMC_REQUIRED,
     .check = check_name,
     .doc = "role engaged at this step; must be listed under roles"},
    {0},
};
static const struct fmc_schema step_schema = {"ladder step", sizeof(struct contract_step),
                                              step_fields, offsetof(struct contract_step, line)};

static const struct fmc_field grade_fields[] = {
    {.key = "grade",
     .type = FMC_INT,
     .offset = offsetof(struct contract_grade, grade),
     .flags = FMC_REQUIRED,
     .min = 1,
     .max = CONTRACT_GRADES,
     .doc = "fault grade these clocks apply to (1 = most severe)"},
    {.key = "support",
     .type = FMC_ENUM,
     .offset = offsetof(struct contract_grade, support),
     .def = "7x24",
     .enum_names = support_names,
     .doc = "7x24: clocks always run; 5x8: clocks run in business hours of working days only"},
    {.key = "response",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract_grade, response_ms),
     .min = 0,
     .max = 366 * DAY_MS,
     .doc = "response deadline after opening (phone support); omitted or 0s: none"},
    {.key = "remote",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract_grade, remote_ms),
     .min = 0,
     .max = 366 * DAY_MS,
     .doc = "remote technical support deadline after opening; omitted or 0s: none"},
    {.key = "onsite",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract_grade, onsite_ms),
     .min = 0,
     .max = 366 * DAY_MS,
     .doc = "on-site arrival limit of the grade (combined with distance_bands by onsite_rule); "
            "omitted or 0s: no on-site commitment"},
    {.key = "resolution_working_days",
     .type = FMC_INT,
     .offset = offsetof(struct contract_grade, resolution_days),
     .min = 0,
     .max = 366,
     .doc = "resolution deadline in working days after opening; omitted or 0: none"},
    {.key = "ladder",
     .type = FMC_SEQ,
     .offset = offsetof(struct contract_grade, ladder),
     .sub = &step_schema,
     .count_offset = offsetof(struct contract_grade, n_ladder),
     .max_items = 32,
     .doc = "escalation steps: who must be engaged how long after opening"},
    {0},
};
static const struct fmc_schema grade_schema = {"grade", sizeof(struct contract_grade), grade_fields,
                                               offsetof(struct contract_grade, line)};

static const struct fmc_field band_fields[] = {
    {.key = "max_km",
     .type = FMC_DOUBLE,
     .offset = offsetof(struct contract_band, max_km),
     .flags = FMC_REQUIRED,
     .min = 0,
     .max = 40000,
     .doc = "band covers sites up to this distance (km) from the service base"},
    {.key = "onsite",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract_band, onsite_ms),
     .flags = FMC_REQUIRED,
     .min = 1,
     .max = 366 * DAY_MS,
     .doc = "on-site arrival limit for sites in this band"},
    {0},
};
static const struct fmc_schema band_schema = {"distance band", sizeof(struct contract_band),
                                              band_fields, offsetof(struct contract_band, line)};

static const struct fmc_field role_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = offsetof(struct contract_role, name),
     .flags = FMC_REQUIRED,
     .check = check_name,
     .doc = "role name used by ladder steps (e.g. field-engineer)"},
    {.key = "webhooks",
     .type = FMC_STRLIST,
     .offset = offsetof(struct contract_role, webhooks),
     .count_offset = offsetof(struct contract_role, n_webhooks),
     .max_items = 16,
     .doc = "http:// or https:// URLs that receive a JSON POST when the role is engaged"},
    {.key = "engaged_by",
     .type = FMC_STRLIST,
     .offset = offsetof(struct contract_role, engaged_by),
     .count_offset = offsetof(struct contract_role, n_engaged_by),
     .max_items = CONTRACT_STEPS,
     .doc = "ticket steps that engage this role on their own, so its ladder step does not fire: "
            "acknowledge, dispatch, remote, on-site (a dispatch to the role by name always does)"},
    {0},
};
static const struct fmc_schema role_schema = {"role", sizeof(struct contract_role), role_fields,
                                              offsetof(struct contract_role, line)};

static const struct fmc_field cal_fields[] = {
    {.key = "time_zone",
     .type = FMC_STR,
     .offset = offsetof(struct contract_calendar, time_zone),
     .def = "+08:00",
     .doc = "fixed UTC offset of the contract's calendar: \"UTC\", \"+08:00\", \"-05:30\""},
    {.key = "working_days",
     .type = FMC_STR,
     .offset = offsetof(struct contract_calendar, working_days),
     .def = "mon-fri",
     .doc = "weekdays that are working days: a range \"mon-fri\" or a list \"mon,tue,thu\""},
    {.key = "business_hours",
     .type = FMC_STR,
     .offset = offsetof(struct contract_calendar, business_hours),
     .def = "09:00-17:00",
     .doc = "local business hours of working days, for 5x8 grades (\"HH:MM-HH:MM\")"},
    {.key = "holidays",
     .type = FMC_STRLIST,
     .offset = offsetof(struct contract_calendar, holidays),
     .count_offset = offsetof(struct contract_calendar, n_holidays),
     .max_items = 1000,
     .doc = "dates (YYYY-MM-DD) that are not working days"},
    {.key = "extra_working_days",
     .type = FMC_STRLIST,
     .offset = offsetof(struct contract_calendar, extra_working_days),
     .count_offset = offsetof(struct contract_calendar, n_extra_working_days),
     .max_items = 1000,
     .doc = "dates (YYYY-MM-DD) worked although their weekday is not (make-up working days)"},
    {0},
};
static const struct fmc_schema cal_schema = {"calendar", sizeof(struct contract_calendar),
                                             cal_fields, FMC_NO_LINE};

static const struct fmc_field contract_fields[] = {
    {.key = "customer",
     .type = FMC_STR,
     .offset = offsetof(struct contract, customer),
     .flags = FMC_REQUIRED,
     .check = check_name,
     .doc = "customer this contract applies to; \"default\" applies to customers not listed"},
    {.key = "description",
     .type = FMC_STR,
     .offset = offsetof(struct contract, description),
     .doc = "free text shown with the contract"},
    {.key = "sites",
     .type = FMC_STRLIST,
     .offset = offsetof(struct contract, sites),
     .count_offset = offsetof(struct contract, n_sites),
     .max_items = 100000,
     .doc = "site ids (as agents report them) whose tickets run on this contract"},
    {.key = "onsite_rule",
     .type = FMC_ENUM,
     .offset = offsetof(struct contract, onsite_rule),
     .def = "grade-or-distance",
     .enum_names = onsite_rule_names,
     .doc = "on-site deadline: grade-or-distance (grade limit within the first band, else the "
            "larger of grade and band limit), grade, distance, max"},
    {.key = "distance_bands",
     .type = FMC_SEQ,
     .offset = offsetof(struct contract, bands),
     .sub = &band_schema,
     .count_offset = offsetof(struct contract, n_bands),
     .max_items = 16,
     .doc = "on-site limits by distance, in ascending max_km"},
    {.key = "beyond_bands_onsite",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract, beyond_bands_onsite_ms),
     .def = "3d",
     .min = 1,
     .max = 366 * DAY_MS,
     .doc = "on-site limit for sites farther than the last band"},
    {.key = "calendar",
     .type = FMC_MAP,
     .offset = offsetof(struct contract, calendar),
     .sub = &cal_schema,
     .doc = "business calendar"},
    {.key = "grades",
     .type = FMC_SEQ,
     .offset = offsetof(struct contract, grades),
     .sub = &grade_schema,
     .count_offset = offsetof(struct contract, n_grades),
     .max_items = CONTRACT_GRADES,
     .doc = "clocks per fault grade; a grade not listed has no clocks"},
    {.key = "roles",
     .type = FMC_SEQ,
     .offset = offsetof(struct contract, roles),
     .sub = &role_schema,
     .count_offset = offsetof(struct contract, n_roles),
     .max_items = 64,
     .doc = "people or teams the ladder engages, with their notification targets"},
    {.key = "reopen_within",
     .type = FMC_DURATION,
     .offset = offsetof(struct contract, reopen_within_ms),
     .def = "30d",
     .min = 0,
     .max = 366 * DAY_MS,
     .doc = "how long after closing a ticket the customer may have it reopened (a new visit "
            "with its own clocks); 0s: never"},
    {0},
};
static const struct fmc_schema contract_schema = {"contract", sizeof(struct contract),
                                                  contract_fields, offsetof(struct contract, line)};

static const struct fmc_field set_fields[] = {
    {.key = "contracts",
     .type = FMC_SEQ,
     .offset = offsetof(struct contract_set, contracts),
     .sub = &contract_schema,
     .count_offset = offsetof(struct contract_set, n_contracts),
     .flags = FMC_REQUIRED,
     .max_items = 10000,
     .doc = "one contract per customer"},
    {0},
};
static const struct fmc_schema set_schema = {"contract file", sizeof(struct contract_set),
                                             set_fields, FMC_NO_LINE};

static bool url_ok(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7] != '\0') ||
           (strncmp(u, "https://", 8) == 0 && u[8] != '\0');
}

const char *contract_step_name(int step)
{
    static const char *const names[CONTRACT_STEPS] = {"acknowledge", "dispatch", "remote",
                                                      "on-site"};

    return (unsigned)step < CONTRACT_STEPS ? names[step] : "?";
}

/* Checks one contract beyond what the table expresses; i is its index. */
static int validate_contract(const fmc_doc_t *doc, struct contract *c, size_t i, char *err,
                             size_t errlen)
{
    char path[128], key[64], why[160];
    bool seen[CONTRACT_GRADES + 1] = {false};

    for (size_t b = 1; b < c->n_bands; b++) {
        if (c->bands[b].max_km <= c->bands[b - 1].max_km) {
            snprintf(path, sizeof(path), "contracts[%zu].distance_bands[%zu].max_km", i, b);
            return fmc_errorf(doc, err, errlen, path,
                              "%g must be greater than the band before (%g)", c->bands[b].max_km,
                              c->bands[b - 1].max_km);
        }
    }
    for (size_t r = 0; r < c->n_roles; r++) {
        for (size_t q = 0; q < r; q++) {
            if (strcmp(c->roles[q].name, c->roles[r].name) == 0) {
                snprintf(path, sizeof(path), "contracts[%zu].roles[%zu].name", i, r);
                return fmc_errorf(doc, err, errlen, path, "role \"%s\" listed twice",
                                  c->roles[r].name);
            }
        }
        for (size_t e = 0; e < c->roles[r].n_engaged_by; e++) {
            int st = -1;

            for (int k = 0; k < CONTRACT_STEPS; k++) {
                if (strcmp(c->roles[r].engaged_by[e], contract_step_name(k)) == 0)
                    st = k;
            }
            if (st < 0) {
                snprintf(path, sizeof(path), "contracts[%zu].roles[%zu].engaged_by[%zu]", i, r, e);
                return fmc_errorf(doc, err, errlen, path,
                                  "\"%s\" is not a ticket step (acknowledge, dispatch, remote, "
                                  "on-site)",
                                  c->roles[r].engaged_by[e]);
            }
            c->roles[r].engaged_mask |= 1u << st;
        }
        for (size_t w = 0; w < c->roles[r].n_webhooks; w++) {
            if (!url_ok(c->roles[r].webhooks[w])) {
                snprintf(path, sizeof(path), "contracts[%zu].roles[%zu].webhooks[%zu]", i, r, w);
                return fmc_errorf(doc, err, errlen, path,
                                  "\"%s\" is not an http:// or https:// URL",
                                  c->roles[r].webhooks[w]);
            }
        }
    }
    for (size_t g = 0; g < c->n_grades; g++) {
        struct contract_grade *gr = &c->grades[g];

        if (seen[gr->grade]) {
            snprintf(path, sizeof(path), "contracts[%zu].grades[%zu].grade", i, g);
            return fmc_errorf(doc, err, errlen, path, "grade %lld listed twice",
                              (long long)gr->grade);
        }
        seen[gr->grade] = true;
        for (size_t s = 0; s < gr->n_ladder; s++) {
            if (s > 0 && gr->ladder[s].after_ms < gr->ladder[s - 1].after_ms) {
                snprintf(path, sizeof(path), "contracts[%zu].grades[%zu].ladder[%zu].after", i, g,
                         s);
                return fmc_errorf(doc, err, errlen, path,
                                  "steps must be in ascending order of time");
            }
            if (contract_role(c, gr->ladder[s].role) == NULL) {
                snprintf(path, sizeof(path), "contracts[%zu].grades[%zu].ladder[%zu].role", i, g,
                         s);
                return fmc_errorf(doc, err, errlen, path, "role \"%s\" is not listed under roles",
                                  gr->ladder[s].role);
            }
            for (size_t q = 0; q < s; q++) {
                if (strcmp(gr->ladder[q].role, gr->ladder[s].role) == 0) {
                    snprintf(path, sizeof(path), "contracts[%zu].grades[%zu].ladder[%zu].role", i,
                             g, s);
                    return fmc_errorf(doc, err, errlen, path,
                                      "role \"%s\" already engaged at an earlier step",
                                      gr->ladder[s].role);
                }
            }
        }
    }
    key[0] = '\0';
    if (contract_cal_derive(&c->calendar, key, sizeof(key), why, sizeof(why)) != 0) {
        snprintf(path, sizeof(path), "contracts[%zu].calendar.%s", i, key);
        return fmc_errorf(doc, err, errlen, path, "%s", why);
    }
    return 0;
}

int contract_set_load_string(const char *name, const char *text, size_t len,
                             struct contract_set *set, char *err, size_t errlen)
{
    fmc_doc_t *doc = NULL;
    char path[64];
    int rc;

    rc = fmc_load_string(name, text, len, &set_schema, set, &doc, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < set->n_contracts && rc == 0; i++) {
        for (size_t q = 0; q < i; q++) {
            if (strcmp(set->contracts[q].customer, set->contracts[i].customer) == 0) {
                snprintf(path, sizeof(path), "contracts[%zu].customer", i);
                rc = fmc_errorf(doc, err, errlen, path, "customer \"%s\" has a contract already",
                                set->contracts[i].customer);
                break;
            }
        }
        if (rc == 0)
            rc = validate_contract(doc, &set->contracts[i], i, err, errlen);
        for (size_t k = 0; rc == 0 && k < set->contracts[i].n_sites; k++) {
            const struct contract *other = contract_for_site(set, set->contracts[i].sites[k]);

            /* The first contract listing the site wins; a later one is a mistake. */
            if (other != &set->contracts[i]) {
                snprintf(path, sizeof(path), "contracts[%zu].sites[%zu]", i, k);
                rc = fmc_errorf(doc, err, errlen, path,
                                "site \"%s\" is already covered by customer \"%s\"",
                                set->contracts[i].sites[k], other->customer);
            }
        }
    }
    fmc_doc_free(doc);
    if (rc != 0)
        contract_set_free(set);
    return rc;
}

int contract_set_load_file(const char *path, struct contract_set *set, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (f == NULL) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    /* Contract files are small; 4 MiB is far beyond any real one. */
    for (;;) {
        if (len == cap) {
            char *nb;

            if (cap >= 4u << 20) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "%s: larger than 4 MiB", path);
                return -EFBIG;
            }
            cap = cap ? cap * 2 : 16384;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                fclose(f);
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc == 0)
        rc = contract_set_load_string(path, buf, len, set, err, errlen);
    else
        snprintf(err, errlen, "%s: read error", path);
    free(buf);
    return rc;
}

void contract_set_free(struct contract_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n_contracts; i++)
        contract_cal_free_derived(&set->contracts[i].calendar);
    fmc_free(&set_schema, set);
}

const struct contract *contract_find(const struct contract_set *set, const char *customer)
{
    const struct contract *def = NULL;

    for (size_t i = 0; i < set->n_contracts; i++) {
        if (customer != NULL && strcmp(set->contracts[i].customer, customer) == 0)
            return &set->contracts[i];
        if (strcmp(set->contracts[i].customer, "default") == 0)
            def = &set->contracts[i];
    }
    return def;
}

const struct contract *contract_for_site(const struct contract_set *set, const char *site_id)
{
    for (size_t i = 0; site_id != NULL && i < set->n_contracts; i++) {
        for (size_t k = 0; k < set->contracts[i].n_sites; k++) {
            if (strcmp(set->contracts[i].sites[k], site_id) == 0)
                return &set->contracts[i];
        }
    }
    return contract_find(set, NULL);
}

const struct contract_grade *contract_grade(const struct contract *c, int grade)
{
    for (size_t i = 0; i < c->n_grades; i++) {
        if (c->grades[i].grade == grade)
            return &c->grades[i];
    }
    return NULL;
}

const struct contract_role *contract_role(const struct contract *c, const char *name)
{
    for (size_t i = 0; i < c->n_roles; i++) {
        if (strcmp(c->roles[i].name, name) == 0)
            return &c->roles[i];
    }
    return NULL;
}

static int64_t band_ms(const struct contract *c, double km)
{
    for (size_t i = 0; i < c->n_bands; i++) {
        if (km <= c->bands[i].max_km)
            return c->bands[i].onsite_ms;
    }
    return c->beyond_bands_onsite_ms;
}

int64_t contract_onsite_ms(const struct contract *c, const struct contract_grade *g,
                           double distance_km)
{
    int64_t dist;

    if (g->onsite_ms == 0)
        return 0;
    /* Unknown distance, or no bands: only the grade limit is known. */
    if (distance_km < 0 || c->n_bands == 0)
        return g->onsite_ms;
    dist = band_ms(c, distance_km);
    switch (c->onsite_rule) {
    case CONTRACT_ONSITE_GRADE:
        return g->onsite_ms;
    case CONTRACT_ONSITE_DISTANCE:
        return dist;
    case CONTRACT_ONSITE_MAX:
        return dist > g->onsite_ms ? dist : g->onsite_ms;
    default:
        /* Domain proposal: within the first band the grade limit applies
         * (tables 13 and 14 overlap there); farther away the larger. */
        if (distance_km <= c->bands[0].max_km)
            return g->onsite_ms;
        return dist > g->onsite_ms ? dist : g->onsite_ms;
    }
}

void contract_print_reference(FILE *out)
{
    fmc_print_reference(&set_schema, out, "Contract file");
}
