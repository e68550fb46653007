/* sla: see sla.h. Deadlines are always recomputed from scratch (opening
 * time, current grade, every pause) rather than shifted, so a grade change
 * after pauses, or a pause after a grade change, cannot drift. */
#include "sla.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[SLA_KINDS] = {"response", "remote", "onsite", "resolution"};

const char *sla_kind_name(enum sla_kind k)
{
    return (unsigned)k < SLA_KINDS ? kind_names[k] : "?";
}

int sla_kind_parse(const char *name)
{
    for (int k = 0; k < SLA_KINDS; k++) {
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    }
    return -EINVAL;
}

static enum sla_window support_window(const struct contract_grade *g)
{
    return g->support == CONTRACT_5X8 ? SLA_WIN_BUSINESS : SLA_WIN_ALWAYS;
}

/* Limit of kind k in counting seconds and the window it counts in; 0 if the
 * grade has no such clock. */
static int64_t limit_of(const struct sla_clock *c, const struct contract_grade *g, enum sla_kind k,
                        enum sla_window *w)
{
    *w = support_window(g);
    switch (k) {
    case SLA_RESPONSE:
        return g->response_ms / 1000;
    case SLA_REMOTE:
        return g->remote_ms / 1000;
    case SLA_ONSITE:
        return contract_onsite_ms(c->contract, g, c->distance_km) / 1000;
    case SLA_RESOLUTION:
        *w = SLA_WIN_WORKING_DAYS;
        return g->resolution_days * 86400;
    default:
        return 0;
    }
}

static void recompute(struct sla_clock *c)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);

    for (int k = 0; k < SLA_KINDS; k++) {
        enum sla_window w;
        int64_t lim = g ? limit_of(c, g, (enum sla_kind)k, &w) : 0;

        c->deadline[k] = lim > 0 ? sla_cal_add(&c->contract->calendar, w, c->opened_at, lim,
                                               c->paused, c->n_pauses)
                                 : 0;
    }
}

int sla_clock_open(struct sla_clock *c, const struct contract *contract, int grade,
                   double distance_km, int64_t opened_at)
{
    if (grade < 1 || grade > CONTRACT_GRADES)
        return -EINVAL;
    memset(c, 0, sizeof(*c));
    c->contract = contract;
    c->grade = grade;
    c->distance_km = distance_km;
    c->opened_at = opened_at;
    recompute(c);
    return 0;
}

int sla_clock_regrade(struct sla_clock *c, int64_t at, int grade)
{
    struct sla_regrade *r;

    if (grade < 1 || grade > CONTRACT_GRADES || at < c->opened_at)
        return -EINVAL;
    if (grade == c->grade)
        return -EALREADY;
    if (c->n_regrades == SLA_MAX_REGRADES)
        return -ENOSPC;
    r = &c->regrades[c->n_regrades++];
    r->at = at;
    r->from = c->grade;
    r->to = grade;
    memcpy(r->before, c->deadline, sizeof(r->before));
    c->grade = grade;
    recompute(c);
    memcpy(r->after, c->deadline, sizeof(r->after));
    return 0;
}

bool sla_clock_paused(const struct sla_clock *c)
{
    return c->n_pauses > 0 && c->paused[c->n_pauses - 1].end == SLA_NEVER;
}

int sla_clock_pause(struct sla_clock *c, int64_t at, const char *reason)
{
    if (sla_clock_paused(c))
        return -EALREADY;
    if (reason == NULL || reason[0] == '\0' || at < c->opened_at ||
        (c->n_pauses > 0 && at < c->paused[c->n_pauses - 1].end))
        return -EINVAL;
    if (c->n_pauses == SLA_MAX_PAUSES)
        return -ENOSPC;
    c->paused[c->n_pauses].start = at;
    c->paused[c->n_pauses].end = SLA_NEVER;
    snprintf(c->pause_reason[c->n_pauses], SLA_REASON_MAX, "%s", reason);
    c->n_pauses++;
    recompute(c);
    return 0;
}

int sla_clock_resume(struct sla_clock *c, int64_t at)
{
    struct sla_interval *p;

    if (!sla_clock_paused(c))
        return -EINVAL;
    p = &c->paused[c->n_pauses - 1];
    if (at < p->start)
        return -EINVAL;
    p->end = at;
    recompute(c);
    return 0;
}

int64_t sla_clock_left(const struct sla_clock *c, enum sla_kind k, int64_t now)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);
    enum sla_window w;
    int64_t lim;

    if (g == NULL || (unsigned)k >= SLA_KINDS || c->deadline[k] == 0)
        return 0;
    if (c->deadline[k] != SLA_NEVER && now >= c->deadline[k])
        return -(now - c->deadline[k]);
    lim = limit_of(c, g, k, &w);
    return lim -
           sla_cal_between(&c->contract->calendar, w, c->opened_at, now, c->paused, c->n_pauses);
}

bool sla_clock_breached(const struct sla_clock *c, enum sla_kind k, int64_t met_at, int64_t now)
{
    int64_t t = met_at ? met_at : now;

    if ((unsigned)k >= SLA_KINDS || c->deadline[k] == 0 || c->deadline[k] == SLA_NEVER)
        return false;
    return t > c->deadline[k];
}

int64_t sla_clock_at(const struct sla_clock *c, int64_t after_s)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);

    if (g == NULL)
        return SLA_NEVER;
    return sla_cal_add(&c->contract->calendar, support_window(g), c->opened_at, after_s, c->paused,
                       c->n_pauses);
}

const char *sla_outcome_name(enum sla_outcome o)
{
    static const char *const names[] = {"running", "met", "breached", "na"};

    return (unsigned)o < 4 ? names[o] : "?";
}

/* What met clock k, for the record. */
static const char *event_name(enum sla_kind k)
{
    static const char *const names[SLA_KINDS] = {"responded", "remote support began",
                                                 "engineer on site", "resolved"};

    return names[k];
}

static int64_t taken(const struct sla_clock *c, enum sla_kind k, int64_t at)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);
    enum sla_window w = SLA_WIN_ALWAYS;

    if (g != NULL)
        (void)limit_of(c, g, k, &w);
    return sla_cal_between(&c->contract->calendar, w, c->opened_at, at, c->paused, c->n_pauses);
}

/* The grade in force at t: the one a later change replaced, else the
 * current one. */
static int grade_at(const struct sla_clock *c, int64_t t)
{
    for (size_t i = 0; i < c->n_regrades; i++) {
        if (c->regrades[i].at > t)
            return c->regrades[i].from;
    }
    return c->grade;
}

/* Kind k's deadline under grade (from the opening, every pause counted). */
static int64_t deadline_under(const struct sla_clock *c, int grade, enum sla_kind k)
{
    const struct contract_grade *g = contract_grade(c->contract, grade);
    enum sla_window w;
    int64_t lim = g ? limit_of(c, g, k, &w) : 0;

    return lim > 0
               ? sla_cal_add(&c->contract->calendar, w, c->opened_at, lim, c->paused, c->n_pauses)
               : 0;
}

void sla_clock_judge(const struct sla_clock *c, enum sla_kind k, const struct sla_events *ev,
                     int64_t now, struct sla_verdict *v)
{
    int64_t d = (unsigned)k < SLA_KINDS ? c->deadline[k] : 0;
    int64_t end = ev->resolved_at ? ev->resolved_at : ev->ended_at;
    int64_t e = (unsigned)k < SLA_KINDS ? ev->at[k] : 0;
    bool by_resolution = false;

    memset(v, 0, sizeof(*v));
    v->taken_s = -1;
    v->grade = c->grade;
    if ((unsigned)k >= SLA_KINDS)
        return;
    if (e == 0 && k == SLA_RESPONSE && ev->resolved_at != 0) {
        e = ev->resolved_at; /* resolving is a response */
        by_resolution = true;
    }
    if (e != 0 && grade_at(c, e) != c->grade) {
        v->grade = grade_at(c, e);
        d = deadline_under(c, v->grade, k);
    }
    v->due = d == SLA_NEVER ? 0 : d;
    if (d == 0) {
        if (end != 0) {
            v->outcome = SLA_NA;
            if (contract_grade(c->contract, c->grade) == NULL)
                snprintf(v->reason, sizeof(v->reason), "the contract has no grade %d", c->grade);
            else
                snprintf(v->reason, sizeof(v->reason), "grade %d has no %s clock", c->grade,
                         sla_kind_name(k));
        }
        return;
    }
    if (e != 0) {
        v->event_at = e;
        v->taken_s = taken(c, k, e);
        /* An open pause holds a deadline not reached before it began: an
         * event before or during the pause meets it. */
        v->outcome = d == SLA_NEVER || e <= d ? SLA_MET : SLA_BREACHED;
        snprintf(v->reason, sizeof(v->reason), "%s%s", by_resolution ? "resolved" : event_name(k),
                 v->outcome == SLA_BREACHED ? " after the deadline" : "");
        return;
    }
    if (d != SLA_NEVER && (end != 0 ? end : now) > d) {
        v->outcome = SLA_BREACHED;
        snprintf(v->reason, sizeof(v->reason), "deadline passed");
        return;
    }
    if (ev->resolved_at != 0) {
        v->outcome = SLA_NA;
        snprintf(v->reason, sizeof(v->reason), "%s",
                 k == SLA_ONSITE ? "resolved remotely; on-site does not apply"
                                 : "resolved without remote support; remote does not apply");
    } else if (ev->ended_at != 0) {
        v->outcome = SLA_NA;
        snprintf(v->reason, sizeof(v->reason), "%s",
                 ev->ended_why ? ev->ended_why : "ticket ended");
    }
}
