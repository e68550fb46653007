/* correlate_int.h: state shared by the files of the correlation engine
 * (correlate.c: inputs and the clock; correlate_fault.c: the life of one
 * fault; correlate_site.c: site, system and grade-4 aggregate faults).
 * Not part of the API. */
#ifndef CORRELATE_INT_H
#define CORRELATE_INT_H

#include "correlate.h"

struct corr__fault;
struct corr__site;

/* One alarm condition: a (site, device, code) triple. Reachability is the
 * code "unreachable". Alarms outlive their faults: the flapping history
 * lives here. */
struct corr__alarm {
    char *key;
    struct corr__dev *dev;
    char *code;
    char *point;
    bool raised;
    bool suppressed; /* raised inside a maintenance window */
    int64_t since_ms;
    int64_t changed_ms; /* last transition */
    int64_t event_id;   /* alarm_events row of the last transition */
    int64_t window_id;
    int64_t *flap; /* ring of the last `flap.transitions` transition times */
    size_t flap_n, flap_head;
    struct corr__fault *fault;
    struct corr__alarm *next_member; /* in fault->members */
    struct corr__alarm *next_dev;    /* in dev->alarms */
};

struct corr__dev {
    char *key;
    struct corr__site *site;
    char *name;
    char *cls;
    char *parent;
    struct fmc_kv *tags;
    size_t n_tags;
    bool in_inventory;
    bool unreachable;
    struct corr__alarm *alarms;
    struct corr__dev *next; /* in site->devs */
};

struct corr__site {
    char *key;
    struct corr__dev *devs;
    size_t n_inv, n_inv_unreach;
    bool agent_lost;
    bool frozen;               /* corr_site_freeze: its faults do not open */
    struct corr__fault *fault; /* the active site fault */
    struct corr__site *next;   /* engine->site_list */
};

struct corr__fault {
    char *key;
    int kind;
    struct corr__site *site;
    struct corr__dev *dev; /* CORR_KIND_DEVICE */
    char *code;            /* DEVICE: alarm code; ROOT: root name; GROUP: class or NULL */
    const struct rules_root *root;
    char *title;
    int grade; /* 5 until first graded; only ever falls (more severe) */
    const char *rule;
    bool opened;
    bool flapping;
    bool clear_sent;
    int64_t first_ms, hold_until, cleared_ms, last_transition_ms;
    struct corr__fault *parent;
    struct corr__fault *children, *next_sibling;
    struct corr__alarm *members;
    struct corr__fault *prev, *next; /* engine->all */
};

struct corr {
    const struct rules_conf *rules;
    corr_action_cb cb;
    void *cb_data;
    void *sites, *devs, *alarms, *faults; /* tsearch trees keyed by ->key */
    struct corr__site *site_list;
    size_t n_sites_known, n_sites_down;
    struct corr__fault *all;
    struct corr__fault *system;
    struct corr_window *windows;
    size_t n_windows;
    int restoring; /* corr_restore_begin .. _end: emit nothing, open nothing */
    struct corr_stats st;
};

/* Tree helpers: every node type starts with `char *key`. */
void *corr__find(void *const *root, const char *key);
void corr__insert(void **root, void *node);
void corr__remove(void **root, void *node);

/* Emits one action. */
void corr__emit(corr_t *e, const struct corr_action *a);

/* Faults (correlate_fault.c). */
struct corr__fault *corr__fault_new(corr_t *e, int kind, struct corr__site *s, struct corr__dev *d,
                                    const char *code, const char *title, int64_t now);
struct corr__fault *corr__fault_find(corr_t *e, const char *key);
void corr__fault_add_member(corr_t *e, struct corr__fault *f, struct corr__alarm *a);
void corr__fault_remove_member(struct corr__fault *f, struct corr__alarm *a);
void corr__fault_attach(corr_t *e, struct corr__fault *parent, struct corr__fault *child,
                        int64_t now);
void corr__fault_regrade(corr_t *e, struct corr__fault *f, int64_t now);
void corr__fault_maybe_open(corr_t *e, struct corr__fault *f, int64_t now);
void corr__fault_alarm(corr_t *e, struct corr__fault *f, struct corr__alarm *a, int64_t now);
bool corr__fault_idle(const struct corr__fault *f);
void corr__fault_check_clear(corr_t *e, struct corr__fault *f, int64_t now);
void corr__fault_free(corr_t *e, struct corr__fault *f, int64_t now);
/* Takes f out of the engine's list and tree and frees it; nothing else. */
void corr__fault_unlink(corr_t *e, struct corr__fault *f);
struct corr__fault *corr__fault_owner(struct corr__fault *f);
void corr__fault_rehome(corr_t *e, struct corr__fault *f, int64_t now);
void corr__emit_attach_tree(corr_t *e, struct corr__fault *owner, struct corr__fault *f,
                            int64_t now);

/* Restoring (correlate_restore.c). */
void corr__free_alarm(struct corr__alarm *a);
void corr__free_dev(struct corr__dev *d);

/* Sites, system and grade-4 groups (correlate_site.c). */
void corr__site_check(corr_t *e, struct corr__site *s, int64_t now);
void corr__site_attach_devices(corr_t *e, struct corr__fault *sf, int64_t now);
void corr__group_check(corr_t *e, struct corr__site *s, const char *cls, int64_t now);
struct corr__fault *corr__unreach_fault(corr_t *e, struct corr__dev *d);
struct corr__fault *corr__ancestor_fault(corr_t *e, struct corr__dev *d);
struct corr__dev *corr__parent_dev(corr_t *e, struct corr__dev *d); /* NULL: none or unknown */

#endif
