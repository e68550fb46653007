/* contract: maintenance contracts as configuration.
 *
 * A contract file (YAML, loaded through fm_conf) lists one contract per
 * customer: per fault grade the response, remote-support and on-site
 * deadlines, the resolution time in working days, whether the grade is
 * supported 7x24 or 5x8, and the escalation ladder (minutes after opening,
 * role to engage); the on-site distance bands; the business calendar
 * (working days, business hours, holidays, make-up working days, a fixed UTC
 * offset); and the roles with their webhook targets. The keys, defaults and
 * ranges are the table in contract.c; docs/contracts.md lists them.
 *
 * Loading checks what the table cannot: grades 1..4 at most once each, roles
 * named by the ladder exist, dates parse, bands ascend. Errors name the file,
 * the line and the key path. Loading happens before the loop starts; a loaded
 * contract set is read-only afterwards and may be read from any thread. */
#ifndef CONTRACT_H
#define CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONTRACT_GRADES 4 /* grades 1 (worst) .. 4 */

enum contract_support {
    CONTRACT_7X24 = 0, /* clocks run around the clock */
    CONTRACT_5X8 = 1,  /* clocks run in business hours of working days only */
};

/* How the on-site deadline combines the grade limit and the distance band. */
enum contract_onsite_rule {
    CONTRACT_ONSITE_GRADE_OR_DISTANCE = 0, /* grade limit within the first band, else the max */
    CONTRACT_ONSITE_GRADE = 1,             /* grade limit only */
    CONTRACT_ONSITE_DISTANCE = 2,          /* distance band only */
    CONTRACT_ONSITE_MAX = 3,               /* always the larger of the two */
};

struct contract_step {
    int line;
    int64_t after_ms; /* after opening, on the grade's support clock */
    char *role;
};

struct contract_grade {
    int line;
    int64_t grade;
    int support;             /* enum contract_support */
    int64_t response_ms;     /* 0: no response commitment */
    int64_t remote_ms;       /* 0: no remote-support commitment */
    int64_t onsite_ms;       /* 0: no on-site commitment */
    int64_t resolution_days; /* working days; 0: no resolution commitment */
    struct contract_step *ladder;
    size_t n_ladder;
};

struct contract_band {
    int line;
    double max_km;
    int64_t onsite_ms;
};

/* Ticket steps that can engage a role on their own (roles[].engaged_by). */
enum contract_ticket_step {
    CONTRACT_STEP_ACKNOWLEDGE = 0,
    CONTRACT_STEP_DISPATCH = 1,
    CONTRACT_STEP_REMOTE = 2,
    CONTRACT_STEP_ON_SITE = 3,
    CONTRACT_STEPS = 4,
};

struct contract_role {
    int line;
    char *name;
    char **webhooks;
    size_t n_webhooks;
    char **engaged_by; /* ticket step names */
    size_t n_engaged_by;
    unsigned engaged_mask; /* derived: bit i = enum contract_ticket_step i */
};

/* The business calendar, as loaded and as derived by validation. */
struct contract_calendar {
    char *time_zone;      /* "UTC", "+08:00", "-05:30" */
    char *working_days;   /* "mon-fri", "mon,tue,thu", "mon-sat" */
    char *business_hours; /* "09:00-17:00" */
    char **holidays;      /* "YYYY-MM-DD" */
    size_t n_holidays;
    char **extra_working_days; /* "YYYY-MM-DD": weekend days worked (make-up days) */
    size_t n_extra_working_days;
    /* Derived when the contract is loaded: */
    int32_t utc_offset_s;  /* local = UTC + offset */
    unsigned weekday_mask; /* bit 0 = Sunday .. bit 6 = Saturday */
    int32_t day_start_s;   /* business hours, seconds after local midnight */
    int32_t day_end_s;
    int64_t *holiday_days; /* days since 1970-01-01 (local), sorted */
    int64_t *extra_days;   /* same, sorted */
};

struct contract {
    int line;
    char *customer;
    char *description;
    char **sites; /* site ids this contract covers */
    size_t n_sites;
    int onsite_rule; /* enum contract_onsite_rule */
    struct contract_band *bands;
    size_t n_bands;
    int64_t beyond_bands_onsite_ms; /* beyond the last band */
    struct contract_calendar calendar;
    struct contract_grade *grades;
    size_t n_grades;
    struct contract_role *roles;
    size_t n_roles;
    int64_t reopen_within_ms; /* a closed ticket may be reopened this long after closing */
};

struct contract_set {
    struct contract *contracts;
    size_t n_contracts;
};

/* Loads and validates a contract file into set (zeroed by the caller).
 * Returns 0, or -EINVAL / -errno with "file:line: key.path: what" in err;
 * on failure set is freed. Free with contract_set_free. */
int contract_set_load_file(const char *path, struct contract_set *set, char *err, size_t errlen);

/* Same from memory; name stands for the file name in errors. */
int contract_set_load_string(const char *name, const char *text, size_t len,
                             struct contract_set *set, char *err, size_t errlen);

void contract_set_free(struct contract_set *set);

/* The contract for customer, else the one whose customer is "default", else
 * NULL. Borrowed from set. */
const struct contract *contract_find(const struct contract_set *set, const char *customer);

/* The contract that lists site_id under sites, else the one whose customer
 * is "default", else NULL. Borrowed from set. */
const struct contract *contract_for_site(const struct contract_set *set, const char *site_id);

/* The grade's table, or NULL if the contract does not cover that grade. */
const struct contract_grade *contract_grade(const struct contract *c, int grade);

/* The role named name, or NULL. */
const struct contract_role *contract_role(const struct contract *c, const char *name);

/* Name of a ticket step ("acknowledge", "dispatch", "remote", "on-site"). */
const char *contract_step_name(int step);

/* On-site limit in ms for a grade at a site distance_km away (negative:
 * distance unknown, the grade limit applies), by the contract's onsite_rule.
 * 0 when the grade has no on-site commitment. */
int64_t contract_onsite_ms(const struct contract *c, const struct contract_grade *g,
                           double distance_km);

/* Parses the calendar strings of cal into its derived fields (allocates
 * holiday_days, extra_days). Returns 0 or -EINVAL with the reason and the
 * offending key (relative to the calendar, e.g. "holidays[2]") in why/key. */
int contract_cal_derive(struct contract_calendar *cal, char *key, size_t keylen, char *why,
                        size_t whylen);
void contract_cal_free_derived(struct contract_calendar *cal);

/* Days since 1970-01-01 of a "YYYY-MM-DD" date (proleptic Gregorian). 0 or -EINVAL. */
int contract_parse_date(const char *text, int64_t *day);

/* Writes the Markdown key reference of the contract file to out. */
void contract_print_reference(FILE *out);

#endif
