/* correlate: alarm correlation, a pure state machine.
 *
 * Inputs are what the collector learns from agents: each site's device
 * inventory, alarm transitions, device reachability changes (treated as the
 * alarm code "unreachable"), and agent heartbeat loss and return. Every input
 * carries the time it happened (`now_ms`, Unix ms), and corr_tick() moves the
 * clock on, so the engine never reads a clock of its own: tests drive it with
 * tables of events and times, and the collector passes the wall clock.
 *
 * Outputs are actions handed to a callback, in order: open a fault (one
 * ticket per fault key), attach a device or a child fault to it, record an
 * alarm transition on it, raise its grade, mark it flapping, record that its
 * condition cleared, and record an alarm suppressed by a maintenance window.
 * The ticket store (tickets.h) applies them to PostgreSQL.
 *
 * What it folds (docs/faults.md tells the whole story):
 * - a site whose agent is lost, or whose every device is unreachable, is one
 *   site fault with its devices attached; when it returns, devices still
 *   failing surface on their own after the group wait;
 * - a device whose parent (or an ancestor) is unreachable attaches to the
 *   parent's fault;
 * - per-device faults of grade 2-4 wait `group_wait` before opening, so a
 *   storm is recognised first;
 * - a root (mains failure) collects the follower alarms of its site;
 * - N transitions in a window make one fault marked flapping;
 * - several grade-4 faults on one system make one aggregate fault;
 * - most sites unreachable make one system fault.
 *
 * Not thread-safe: one engine is driven from one thread. */
#ifndef CORRELATE_H
#define CORRELATE_H

#include "rules.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct corr corr_t;

enum corr_kind {
    CORR_KIND_DEVICE = 0, /* one device: an alarm, or unreachable */
    CORR_KIND_ROOT = 1,   /* a root cause at a site (mains failure) */
    CORR_KIND_SITE = 2,   /* a whole site */
    CORR_KIND_SYSTEM = 3, /* most sites */
    CORR_KIND_GROUP = 4,  /* grade-4 faults aggregated on one system */
};

enum corr_act_type {
    CORR_ACT_OPEN,     /* a new fault: open (or join) its ticket */
    CORR_ACT_ATTACH,   /* device (and child fault) attached to key */
    CORR_ACT_DETACH,   /* child surfaced on its own (its site or parent returned) */
    CORR_ACT_ALARM,    /* an alarm transition on a device of key */
    CORR_ACT_GRADE,    /* key's grade rose from old_grade to grade */
    CORR_ACT_FLAPPING, /* key is flapping */
    CORR_ACT_CLEAR,    /* key's condition cleared */
    CORR_ACT_SUPPRESS, /* alarm inside a maintenance window: recorded, no ticket */
};

/* One action. Strings are borrowed for the duration of the callback. */
struct corr_action {
    int type;        /* enum corr_act_type */
    int kind;        /* enum corr_kind of the fault */
    const char *key; /* dedupe key of the fault (NULL for SUPPRESS) */
    const char *site;
    const char *device;     /* NULL when none */
    const char *code;       /* alarm code, NULL when none */
    const char *child;      /* ATTACH/DETACH: key of the child fault, NULL for a plain device */
    const char *title;      /* OPEN */
    const char *rule;       /* OPEN/GRADE: rule that set the grade, NULL for the default */
    int grade;              /* OPEN, GRADE */
    int old_grade;          /* GRADE */
    bool raised;            /* ALARM, SUPPRESS */
    bool flapping;          /* OPEN */
    bool initial;           /* ALARM: reports a raise already known when the fault opened or
                             * a child attached, not a new transition */
    int64_t ts_ms;          /* OPEN: first seen; others: when it happened */
    int64_t alarm_event_id; /* ALARM/SUPPRESS: alarm_events row, 0 when unknown */
    int64_t window_id;      /* SUPPRESS */
};

typedef void (*corr_action_cb)(void *data, const struct corr_action *a);

/* One device of a site's inventory. Strings and tags are borrowed. */
struct corr_device_info {
    const char *name;
    const char *device_class; /* "ups", "camera", ... */
    const char *parent;       /* device it depends on, NULL or "" for none */
    const struct fmc_kv *tags;
    size_t n_tags;
};

/* A maintenance window: alarms of the devices it covers, while it lasts,
 * are recorded but open no ticket. Strings borrowed. */
struct corr_window {
    int64_t id;
    const char *site;   /* NULL or "": every site */
    const char *device; /* glob; NULL or "": every device of the site, and the site itself */
    int64_t start_ms, end_ms;
};

/* Returns a new engine grading with rules (borrowed; must outlive it) and
 * calling cb(data, action) for each action. Free with corr_destroy. */
corr_t *corr_create(const struct rules_conf *rules, corr_action_cb cb, void *data);
void corr_destroy(corr_t *e);

/* Sets the inventory of site (devices it holds). Devices missing from the
 * new list stop counting towards "every device unreachable". */
void corr_inventory(corr_t *e, const char *site, const struct corr_device_info *devs, size_t n,
                    int64_t now_ms);

/* An alarm transition of device at site (device "" = the agent itself). */
void corr_alarm(corr_t *e, const char *site, const char *device, const char *code,
                const char *point, bool raised, int64_t now_ms, int64_t alarm_event_id);

/* Device reachability change. */
void corr_reach(corr_t *e, const char *site, const char *device, bool reachable, int64_t now_ms);

/* The agent of site stopped (lost = true) or resumed talking. */
void corr_agent(corr_t *e, const char *site, bool lost, int64_t now_ms);

/* Replaces the maintenance windows (copied). */
void corr_set_windows(corr_t *e, const struct corr_window *w, size_t n, int64_t now_ms);

/* Moves the clock: opens faults whose hold passed, raises grades whose
 * `after` passed, clears quiet flapping faults, ends maintenance windows. */
void corr_tick(corr_t *e, int64_t now_ms);

/* Restoring a site from what PostgreSQL holds, when the collector starts
 * correlating it (an agent of the site said Hello, or the rules were
 * reloaded): the caller forgets the site, calls corr_restore_begin, feeds
 * the site's inventory and its stored transitions in time order with their
 * original times, then corr_restore_end with the site's tickets. Between
 * the two calls nothing is emitted and no fault opens, so replaying history
 * writes nothing twice; corr_restore_end then marks the faults that already
 * have a ticket as opened, clears the tickets whose condition ended while
 * nobody was correlating the site, and moves the clock to now_ms, so a fault
 * still in its group wait opens when the wait ends, counted from its
 * original raise. */

/* Drops everything the engine holds about site (faults, devices, alarms,
 * flapping history) without emitting anything: its tickets stay as they
 * are in PostgreSQL. */
void corr_site_forget(corr_t *e, const char *site);

/* A ticket the site has in PostgreSQL: the latest one of each fault key. */
struct corr_ticket {
    const char *key;      /* dedupe key (borrowed) */
    bool open;            /* not resolved or closed */
    bool cleared;         /* cleared_at is set */
    bool closed;          /* state closed */
    int64_t last_seen_ms; /* the last raise it recorded */
};

/* A frozen site's faults do not open (its agent left this collector; it
 * may be reporting elsewhere). corr_site_forget and a restore thaw it. */
void corr_site_freeze(corr_t *e, const char *site, bool frozen);

void corr_restore_begin(corr_t *e);
/* whole_site: the restored agents are every agent of the site; when not,
 * only tickets of devices this engine follows are cleared. */
void corr_restore_end(corr_t *e, const char *site, const struct corr_ticket *t, size_t n,
                      bool whole_site, int64_t now_ms);

/* Alarm codes that mean "the agent cannot talk to the device" (comm_loss):
 * they join the device's unreachable fault, so one problem is one ticket. */
bool corr_is_comm_code(const char *code);

/* Counters for tests, logs and /metrics. */
struct corr_stats {
    uint64_t faults_active; /* faults the engine holds (pending or open) */
    uint64_t faults_opened; /* OPEN actions emitted */
    uint64_t alarms;        /* alarm and reachability transitions seen */
    uint64_t suppressed;    /* transitions inside maintenance windows */
};
void corr_stats(const corr_t *e, struct corr_stats *st);

/* Name of an action type / fault kind, for logs and the store. */
const char *corr_act_name(int type);
const char *corr_kind_name(int kind);

#endif
