/* rules: the fault-grading rule set.
 *
 * A rule set is a YAML file (shipped default: deploy/rules-default.yaml,
 * overridable per customer). Each rule matches a subject (a device alarm, a
 * device that is unreachable, a whole site, or the whole system) on its
 * scope, device class, alarm code, point, device tags and how long the fault
 * has lasted, and assigns a grade 1..4 (1 = most severe). Every rule that
 * matches applies and the most severe grade wins, so duration rules
 * ("a critical device down for more than 30 minutes is grade 1") raise a
 * grade simply by starting to match once the fault is old enough.
 *
 * The same file holds the correlation settings (group wait, flapping, roots,
 * grade-4 aggregation, most-sites threshold) and the ticket settings (which
 * grades open tickets, the reopen time). docs/faults.md lists every key; it
 * is printed from the table in rules.c by `fieldmonctl rules --reference`.
 *
 * Loading happens before the loop starts; a loaded set is read-only and may
 * be read from any thread. */
#ifndef RULES_H
#define RULES_H

#include "fm_conf.h"

#include <stdbool.h>
#include <stdint.h>

/* What a rule is about. */
enum rules_scope {
    RULES_SCOPE_DEVICE = 0, /* one device: an alarm it raised, or it being unreachable */
    RULES_SCOPE_SITE = 1,   /* a whole site: its agent silent or every device unreachable */
    RULES_SCOPE_SYSTEM = 2, /* the whole system: most sites unreachable */
};

/* Pseudo alarm code of a device (or site) that cannot be reached. */
#define RULES_CODE_UNREACHABLE "unreachable"

struct rule {
    int line;
    char *name;
    int scope; /* enum rules_scope */
    char *device_class;
    char **codes; /* glob patterns (fnmatch); none = any code */
    size_t n_codes;
    char *point;         /* glob; NULL = any point */
    struct fmc_kv *tags; /* every tag must be present with this value ("*": any value) */
    size_t n_tags;
    int64_t after_ms; /* applies once the fault has lasted this long */
    int64_t grade;
};

/* Mains failure and the like: while a root fault is active at a site (and for
 * `linger` after it cleared), alarms whose code matches a follower pattern at
 * the same site attach to it instead of opening faults of their own. */
struct rules_root {
    int line;
    char *name;
    char **codes;
    size_t n_codes;
    char **followers;
    size_t n_followers;
    int64_t linger_ms;
};

struct rules_flap {
    uint64_t transitions;
    int64_t window_ms;
};

struct rules_aggregate {
    uint64_t count;
    int64_t grade;
    int by; /* enum rules_aggregate_by */
};

enum rules_aggregate_by {
    RULES_AGG_BY_SITE = 0,       /* one system = one site */
    RULES_AGG_BY_SITE_CLASS = 1, /* one system = one device class at one site */
};

struct rules_sites {
    double most_fraction;
    uint64_t most_min_sites;
};

struct rules_conf {
    int64_t group_wait_ms;
    int64_t open_max_grade;
    int64_t default_grade;
    int64_t reopen_within_ms;
    struct rules_flap flap;
    struct rules_aggregate grade4;
    struct rules_sites sites;
    struct rule *rules;
    size_t n_rules;
    struct rules_root *roots;
    size_t n_roots;
};

/* What is being graded. Strings and tags are borrowed. */
struct rules_subject {
    int scope;
    const char *device_class; /* may be NULL */
    const char *code;         /* may be NULL */
    const char *point;        /* may be NULL */
    const struct fmc_kv *tags;
    size_t n_tags;
};

/* Loads a rule set from path into conf (zeroed by the caller). Returns 0, or
 * -EINVAL/-errno with "file:line: key: what" in err. Free with rules_free. */
int rules_load_file(const char *path, struct rules_conf *conf, char *err, size_t errlen);

/* Same from memory; name stands for the file name in errors. */
int rules_load_string(const char *name, const char *text, struct rules_conf *conf, char *err,
                      size_t errlen);

/* Loads the built-in copy of deploy/rules-default.yaml. */
int rules_load_builtin(struct rules_conf *conf, char *err, size_t errlen);

/* The shipped rules file, built in (NUL-terminated YAML). */
extern const char rules_builtin_yaml[];

void rules_free(struct rules_conf *conf);

/* Grade of subject after it has lasted age_ms: the most severe grade of every
 * matching rule whose `after` has passed, or conf->default_grade when none
 * matches. *rule (may be NULL) receives the rule that set the grade, NULL for
 * the default. */
int rules_grade(const struct rules_conf *conf, const struct rules_subject *s, int64_t age_ms,
                const struct rule **rule);

/* Root rule whose codes match code, or NULL. */
const struct rules_root *rules_root_of(const struct rules_conf *conf, const char *code);

/* Root rule for which code is a follower, or NULL. */
const struct rules_root *rules_follower_of(const struct rules_conf *conf, const char *code);

/* Value of tag key in tags, or NULL. */
const char *rules_tag(const struct fmc_kv *tags, size_t n, const char *key);

/* Name of a scope ("device", "site", ...). */
const char *rules_scope_name(int scope);

/* Prints the reference of every key as Markdown to out. */
void rules_print_reference(FILE *out);

#endif
