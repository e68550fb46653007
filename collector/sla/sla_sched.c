/* sla_sched: see sla_sched.h. Tickets live in a growing array; a collector
 * has at most a few thousand open tickets, and a tick walks them all. */
#include "sla_sched.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "ladder.h"
#include "sla_store.h"

#define SCHED_MAX_ROLES 32

/* Bits of tracked.settled: clock k settled, and clock k complete (nothing
 * more to record; a breach waits for its late event while the ticket runs). */
#define SETTLED(k) (1u << (k))
#define COMPLETE(k) (1u << ((k) + 4))

struct tracked {
    int64_t id;
    int visit;
    char *customer;
    struct sla_clock clock;
    char *engaged[SCHED_MAX_ROLES];
    size_t n_engaged;
    struct sla_events ev;
    char ended_why[96];
    struct sla_steps st;
    char dispatched_to[128];
    unsigned settled;
    int64_t reported[SLA_KINDS]; /* deadlines last returned by deadlines_changed */
    bool reported_once;
};

struct sla_sched {
    const struct contract_set *contracts;
    sla_now_cb now;
    void *now_arg;
    struct tracked *t;
    size_t n, cap;
};

sla_sched_t *sla_sched_create(const struct contract_set *contracts, sla_now_cb now, void *arg)
{
    sla_sched_t *s = fm_xcalloc(1, sizeof(*s));

    s->contracts = contracts;
    s->now = now;
    s->now_arg = arg;
    return s;
}

sla_sched_t *sla_sched_sibling(const sla_sched_t *s)
{
    return sla_sched_create(s->contracts, s->now, s->now_arg);
}

static void tracked_free(struct tracked *t)
{
    free(t->customer);
    for (size_t i = 0; i < t->n_engaged; i++)
        free(t->engaged[i]);
}

void sla_sched_destroy(sla_sched_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        tracked_free(&s->t[i]);
    free(s->t);
    free(s);
}

static struct tracked *find(const sla_sched_t *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->t[i].id == id)
            return &s->t[i];
    }
    return NULL;
}

const struct sla_clock *sla_sched_clock(const sla_sched_t *s, int64_t ticket_id)
{
    struct tracked *t = find(s, ticket_id);

    return t ? &t->clock : NULL;
}

static void engage(struct tracked *t, const char *role)
{
    for (size_t i = 0; i < t->n_engaged; i++) {
        if (strcmp(t->engaged[i], role) == 0)
            return;
    }
    if (t->n_engaged < SCHED_MAX_ROLES)
        t->engaged[t->n_engaged++] = fm_xstrdup(role);
}

int sla_sched_open(sla_sched_t *s, PGconn *conn, int64_t ticket_id, int visit, const char *customer,
                   int grade, double distance_km, int64_t opened_at, char *why, size_t whylen)
{
    const struct contract *c = contract_find(s->contracts, customer);
    struct tracked t = {0};
    char **roles = NULL;
    size_t n_roles = 0;
    int rc;

    if (find(s, ticket_id) != NULL) {
        snprintf(why, whylen, "ticket %" PRId64 " is already open", ticket_id);
        return -EEXIST;
    }
    if (c == NULL) {
        snprintf(why, whylen, "no contract for customer \"%s\" and no default contract", customer);
        return -ENOENT;
    }
    if (sla_clock_open(&t.clock, c, grade, distance_km, opened_at) != 0) {
        snprintf(why, whylen, "grade %d is not in 1..%d", grade, CONTRACT_GRADES);
        return -EINVAL;
    }
    rc = sla_store_engaged_roles(conn, ticket_id, visit, &roles, &n_roles, why, whylen);
    if (rc == 0)
        rc = sla_store_settled_kinds(conn, ticket_id, visit, &t.settled, why, whylen);
    if (rc != 0) {
        if (roles != NULL)
            sla_store_free_roles(roles, n_roles);
        return rc;
    }
    t.id = ticket_id;
    t.visit = visit;
    t.customer = fm_xstrdup(customer);
    for (size_t i = 0; i < n_roles; i++)
        engage(&t, roles[i]);
    sla_store_free_roles(roles, n_roles);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->t = fm_xrealloc(s->t, s->cap * sizeof(*s->t));
    }
    s->t[s->n++] = t;
    return 0;
}

static struct sla_subject subject(const struct tracked *t)
{
    struct sla_subject sub = {t->id, t->visit, t->customer, &t->clock};

    return sub;
}

static struct tracked *lookup(sla_sched_t *s, int64_t id, char *why, size_t whylen)
{
    struct tracked *t = find(s, id);

    if (t == NULL)
        snprintf(why, whylen, "ticket %" PRId64 " is not open", id);
    return t;
}

int sla_sched_regrade(sla_sched_t *s, PGconn *conn, int64_t ticket_id, int grade, int64_t at,
                      char *why, size_t whylen)
{
    struct tracked *t = lookup(s, ticket_id, why, whylen);
    struct sla_subject sub;
    int rc;

    if (t == NULL)
        return -ENOENT;
    rc = sla_clock_regrade(&t->clock, at, grade);
    if (rc != 0) {
        snprintf(why, whylen, "ticket %" PRId64 ": grade %d: %s", ticket_id, grade,
                 rc == -EALREADY ? "is the grade already" : strerror(-rc));
        return rc;
    }
    sub = subject(t);
    return conn ? sla_store_regrade(conn, &sub, why, whylen) : 0;
}

int sla_sched_pause(sla_sched_t *s, PGconn *conn, int64_t ticket_id, const char *reason, int64_t at,
                    char *why, size_t whylen)
{
    struct tracked *t = lookup(s, ticket_id, why, whylen);
    struct sla_subject sub;
    int rc;

    if (t == NULL)
        return -ENOENT;
    if (reason != NULL)
        rc = sla_clock_pause(&t->clock, at, reason);
    else
        rc = sla_clock_resume(&t->clock, at);
    if (rc != 0) {
        snprintf(why, whylen, "ticket %" PRId64 ": %s", ticket_id,
                 rc == -EALREADY  ? "already paused"
                 : reason == NULL ? "not paused"
                 : rc == -ENOSPC  ? "too many pauses"
                                  : "a pause needs a reason");
        return rc;
    }
    sub = subject(t);
    return conn ? sla_store_pause(conn, &sub, why, whylen) : 0;
}

int sla_sched_met(sla_sched_t *s, int64_t ticket_id, enum sla_kind k, int64_t at)
{
    struct tracked *t = find(s, ticket_id);

    if (t == NULL)
        return -ENOENT;
    if ((unsigned)k >= SLA_KINDS)
        return -EINVAL;
    if (t->ev.at[k] == 0)
        t->ev.at[k] = at;
    return 0;
}

int sla_sched_visit(const sla_sched_t *s, int64_t ticket_id)
{
    struct tracked *t = find(s, ticket_id);

    return t ? t->visit : 0;
}

int sla_sched_events(sla_sched_t *s, int64_t ticket_id, const struct sla_events *ev,
                     const struct sla_steps *st)
{
    struct tracked *t = find(s, ticket_id);

    if (t == NULL)
        return -ENOENT;
    /* The texts are copied into the ticket's own buffers, and no pointer
     * to them is kept: tickets move when the array grows or one is closed
     * (settle_one points a copy of the events at the text when judging). */
    t->ev = *ev;
    snprintf(t->ended_why, sizeof(t->ended_why), "%s", ev->ended_why ? ev->ended_why : "");
    t->ev.ended_why = NULL;
    t->st = *st;
    snprintf(t->dispatched_to, sizeof(t->dispatched_to), "%s",
             st->dispatched_to ? st->dispatched_to : "");
    t->st.dispatched_to = NULL;
    return 0;
}

static bool is_engaged(const struct tracked *t, const char *role)
{
    for (size_t i = 0; i < t->n_engaged; i++) {
        if (strcmp(t->engaged[i], role) == 0)
            return true;
    }
    return false;
}

/* The step of the visit that engaged role r on its own, and when; NULL if
 * none has: a dispatch to the role by name, or a step the role lists under
 * engaged_by (the earliest). */
static const char *engaged_by_step(const struct tracked *t, const struct contract_role *r,
                                   int64_t *at)
{
    const int64_t when[CONTRACT_STEPS] = {t->st.acknowledged, t->st.dispatched, t->st.remote,
                                          t->st.on_site};
    const char *how = NULL;

    *at = 0;
    if (t->st.dispatched != 0 && strcmp(t->dispatched_to, r->name) == 0) {
        *at = t->st.dispatched;
        how = "dispatch";
    }
    for (int i = 0; i < CONTRACT_STEPS; i++) {
        if ((r->engaged_mask & (1u << i)) && when[i] != 0 && (how == NULL || when[i] < *at)) {
            *at = when[i];
            how = contract_step_name(i);
        }
    }
    return how;
}

/* Records the roles the ticket's own steps engaged, so the ladder skips them. */
static int engage_by_steps(struct tracked *t, PGconn *conn, char *why, size_t whylen)
{
    const struct contract *c = t->clock.contract;
    const struct contract_grade *g = contract_grade(c, t->clock.grade);
    struct sla_subject sub = subject(t);

    for (size_t i = 0; i < c->n_roles; i++) {
        const struct contract_role *r = &c->roles[i];
        int64_t at, due = 0;
        const char *how;
        int rc;

        if (is_engaged(t, r->name) || (how = engaged_by_step(t, r, &at)) == NULL)
            continue;
        for (size_t j = 0; g != NULL && j < g->n_ladder; j++) {
            if (strcmp(g->ladder[j].role, r->name) == 0)
                due = sla_clock_at(&t->clock, g->ladder[j].after_ms / 1000);
        }
        rc = sla_store_engaged(conn, &sub, r->name, how, due == SLA_NEVER ? 0 : due, at, why,
                               whylen);
        if (rc != 0)
            return rc;
        engage(t, r->name);
    }
    return 0;
}

int sla_sched_close(sla_sched_t *s, int64_t ticket_id)
{
    struct tracked *t = find(s, ticket_id);

    if (t == NULL)
        return -ENOENT;
    tracked_free(t);
    *t = s->t[--s->n];
    return 0;
}

static bool ended(const struct tracked *t)
{
    return t->ev.resolved_at != 0 || t->ev.ended_at != 0;
}

/* Settles what has settled of clock k at now: a breach (recorded and
 * notified), or a met or not-applicable clock, or a breach's late event. */
static int settle_one(struct tracked *t, PGconn *conn, enum sla_kind k, int64_t now,
                      unsigned *queued, char *why, size_t whylen)
{
    struct sla_subject sub = subject(t);
    struct sla_events ev = t->ev;
    struct sla_verdict v;
    int rc, recorded = 0;

    if (t->settled & COMPLETE(k))
        return 0;
    ev.ended_why = t->ended_why;
    sla_clock_judge(&t->clock, k, &ev, now, &v);
    if (v.outcome == SLA_RUNNING)
        return 0;
    if (t->settled & SETTLED(k)) {
        /* Breached before without its event: the event, when it is
         * recorded, says when it happened. Met late, it stays breached;
         * recorded after the fact with a time within the deadline, it was
         * met after all. */
        if (v.event_at == 0) {
            if (ended(t))
                t->settled |= COMPLETE(k);
            return 0;
        }
        rc = sla_store_settle(conn, &sub, k, &v, why, whylen);
    } else if (v.outcome == SLA_BREACHED) {
        rc = sla_store_breach(conn, &sub, k, &v, now, (const char *const *)t->engaged, t->n_engaged,
                              &recorded, why, whylen);
        *queued += (unsigned)recorded;
    } else {
        rc = sla_store_settle(conn, &sub, k, &v, why, whylen);
    }
    if (rc != 0)
        return rc;
    t->settled |= SETTLED(k);
    if (v.outcome != SLA_BREACHED || v.event_at != 0 || ended(t))
        t->settled |= COMPLETE(k);
    return 0;
}

/* Escalations, engagements and settled clocks of one ticket at now. */
static int tick_one(struct tracked *t, PGconn *conn, int64_t now, unsigned *queued, char *why,
                    size_t whylen)
{
    struct sla_subject sub = subject(t);
    struct ladder_due due[SCHED_MAX_ROLES];
    size_t n = 0;
    int rc, recorded;

    rc = engage_by_steps(t, conn, why, whylen);
    if (rc != 0)
        return rc;
    if (!ended(t))
        n = ladder_due(&t->clock, now, (const char *const *)t->engaged, t->n_engaged, due,
                       SCHED_MAX_ROLES);
    for (size_t i = 0; i < n; i++) {
        rc = sla_store_escalate(conn, &sub, &due[i], now, &recorded, why, whylen);
        if (rc != 0)
            return rc;
        engage(t, due[i].step->role);
        *queued += (unsigned)recorded;
    }
    for (int k = 0; k < SLA_KINDS; k++) {
        rc = settle_one(t, conn, (enum sla_kind)k, now, queued, why, whylen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sla_sched_finish(sla_sched_t *s, PGconn *conn, int64_t ticket_id, unsigned *queued, char *why,
                     size_t whylen)
{
    struct tracked *t = lookup(s, ticket_id, why, whylen);
    unsigned q = 0;
    int rc;

    if (t == NULL)
        return -ENOENT;
    rc = tick_one(t, conn, s->now(s->now_arg), &q, why, whylen);
    if (queued != NULL)
        *queued = q;
    if (rc != 0)
        return rc;
    for (int k = 0; k < SLA_KINDS; k++) {
        if (!(t->settled & SETTLED(k)))
            return 0; /* not ended after all (the caller's events say) */
    }
    rc = sla_store_mark_settled(conn, t->id, t->visit, why, whylen);
    if (rc == 0)
        sla_sched_close(s, ticket_id);
    return rc;
}

int sla_sched_tick(sla_sched_t *s, PGconn *conn, unsigned *queued, char *why, size_t whylen)
{
    int64_t now = s->now(s->now_arg);
    unsigned q = 0;
    int rc = 0;

    for (size_t i = 0; i < s->n && rc == 0; i++)
        rc = tick_one(&s->t[i], conn, now, &q, why, whylen);
    if (queued != NULL)
        *queued = q;
    return rc;
}

int64_t sla_sched_next(const sla_sched_t *s)
{
    int64_t next = SLA_NEVER;

    for (size_t i = 0; i < s->n; i++) {
        const struct tracked *t = &s->t[i];
        int64_t at = ended(t)
                         ? SLA_NEVER
                         : ladder_next(&t->clock, (const char *const *)t->engaged, t->n_engaged);

        if (at < next)
            next = at;
        for (int k = 0; k < SLA_KINDS; k++) {
            int64_t d = t->clock.deadline[k];

            /* A breach is seen one second after the deadline. */
            if (!(t->settled & SETTLED(k)) && t->ev.at[k] == 0 && d != 0 && d != SLA_NEVER &&
                d + 1 < next)
                next = d + 1;
        }
    }
    return next;
}

size_t sla_sched_count(const sla_sched_t *s)
{
    return s->n;
}

int64_t sla_sched_id_at(const sla_sched_t *s, size_t i)
{
    return i < s->n ? s->t[i].id : -1;
}

bool sla_sched_deadlines_changed(sla_sched_t *s, int64_t ticket_id, int64_t out[SLA_KINDS])
{
    struct tracked *t = find(s, ticket_id);
    bool changed;

    if (t == NULL)
        return false;
    memcpy(out, t->clock.deadline, sizeof(t->clock.deadline));
    changed = !t->reported_once || memcmp(t->reported, out, sizeof(t->reported)) != 0;
    memcpy(t->reported, out, sizeof(t->reported));
    t->reported_once = true;
    return changed;
}
