/* site_load: what PostgreSQL holds about one site, for rebuilding the
 * correlation engine's state of it (corr_restore_begin in correlate.h).
 *
 * One read-only transaction at REPEATABLE READ reads, from one snapshot,
 * for the agents of the site the caller correlates (those connected to it):
 * their inventories; their alarm, trap-alarm and reachability transitions
 * of the last `horizon` and, before it, each alarm still raised (from
 * alarm_current, schema 022); their committed sequence per epoch, so the
 * caller can tell which events it holds back were already in the snapshot;
 * whether they are all the agents of the site; and the latest ticket of
 * each fault key of the site.
 * Blocking: the faults writer thread calls it. */
#ifndef SITE_LOAD_H
#define SITE_LOAD_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate.h"
#include "fm_conf.h"

struct site_load_dev {
    char *name, *cls, *parent;
    struct fmc_kv *tags;
    size_t n_tags;
};

struct site_load_tr {
    char *device, *code, *point; /* point NULL when none */
    bool raised;
    int64_t ts_ms;
    int64_t alarm_event_id; /* 0: reachability or a trap */
};

struct site_load_progress {
    char *agent;
    int64_t epoch;
    uint64_t committed_seq;
};

struct site_load {
    struct site_load_dev *devs;
    size_t n_devs;
    struct site_load_tr *trs; /* in time order */
    size_t n_trs;
    struct corr_ticket *tickets; /* keys owned */
    size_t n_tickets;
    struct site_load_progress *progress;
    size_t n_progress;
    bool whole_site; /* the agents asked for are every agent of the site */
};

/* Fills *out (zeroed by the caller; free with site_load_free) for site and
 * agents (a PostgreSQL text[] literal, see site_load_agents),
 * with every transition from since_ms (Unix ms). 0, or pg_classify's verdict as an
 * errno with the reason in why. */
int site_load(PGconn *conn, const char *site, const char *agents, int64_t since_ms,
              struct site_load *out, char *why, size_t whylen);

/* Appends id to the text[] literal in buf ("{}" to start with), quoted.
 * 0, or -ENOSPC when it does not fit (buf unchanged). */
int site_load_agents_add(char *buf, size_t len, const char *id);
void site_load_free(struct site_load *l);

/* Committed sequence of agent's epoch in l, 0 when l has none. */
uint64_t site_load_committed(const struct site_load *l, const char *agent, int64_t epoch);

#endif
