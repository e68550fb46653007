/* alarm_comm: device-level communication loss (see alarm.h).
 *
 * devices.md §0: raise comm-loss after 3 failed polls or 60 s, whichever is
 * longer; clear after 2 good polls. "Whichever is longer" means both must
 * hold: at least fail_polls failures in a row, and the first of them at least
 * fail_time ago. A device polled every 5 s therefore raises after 60 s, one
 * polled every 5 min after 3 polls. */
#include "alarm.h"

#include "fm_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alarm_comm {
    const struct alarm_comm_cfg *cfg;
    char *device;
    bool raised;
    uint64_t fails, goods;
    int64_t first_fail_ms;
    int64_t since_ms;
};

alarm_comm_t *alarm_comm_create(const struct alarm_comm_cfg *cfg, const char *device)
{
    alarm_comm_t *c = fm_xcalloc(1, sizeof(*c));

    c->cfg = cfg;
    c->device = fm_xstrdup(device != NULL ? device : "");
    return c;
}

void alarm_comm_destroy(alarm_comm_t *c)
{
    if (c == NULL)
        return;
    free(c->device);
    free(c);
}

void alarm_comm_set_cfg(alarm_comm_t *c, const struct alarm_comm_cfg *cfg)
{
    c->cfg = cfg;
}

bool alarm_comm_raised(const alarm_comm_t *c)
{
    return c->raised;
}

void alarm_comm_save(const alarm_comm_t *c, struct alarm_state *st)
{
    struct alarm_state_rec *r;

    if (!c->raised)
        return;
    r = alarm_state_add(st, ALARM_STATE_COMM, c->device, NULL, NULL, 0, "comm_loss");
    r->since_ms = c->since_ms;
    r->fails = c->fails;
}

void alarm_comm_restore(alarm_comm_t *c, int64_t since_ms, uint64_t fails)
{
    c->raised = true;
    c->since_ms = since_ms;
    c->first_fail_ms = since_ms;
    c->fails = fails;
    c->goods = 0;
}

static void comm_emit(alarm_comm_t *c, int64_t ts_ms, const char *why, alarm_emit_cb cb, void *ud)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__AlarmTransition at = FM__ALARM_TRANSITION__INIT;
    char msg[FMW_MAX_TEXT];

    if (c->raised)
        snprintf(msg, sizeof(msg), "no answer to %llu polls: %s", (unsigned long long)c->fails,
                 why != NULL && why[0] ? why : "poll failed");
    else
        snprintf(msg, sizeof(msg), "answering again after %llu good polls",
                 (unsigned long long)c->goods);
    ev.ts_ms = ts_ms;
    ev.device = c->device;
    ev.kind_case = FM__EVENT__KIND_ALARM;
    ev.alarm = &at;
    at.code = "comm_loss";
    at.point = "";
    at.state =
        c->raised ? FM__ALARM_STATE__ALARM_STATE_RAISED : FM__ALARM_STATE__ALARM_STATE_CLEARED;
    at.level = FM__ALARM_LEVEL__ALARM_LEVEL_COMM;
    at.value = (double)c->fails;
    at.limit = (double)c->cfg->fail_polls;
    at.message = msg;
    at.since_ms = c->since_ms;
    cb(&ev, ud);
}

void alarm_comm_poll(alarm_comm_t *c, bool ok, int64_t ts_ms, const char *reason, alarm_emit_cb cb,
                     void *ud)
{
    if (ok) {
        c->goods++;
        if (c->raised && c->goods >= c->cfg->clear_polls) {
            c->raised = false;
            comm_emit(c, ts_ms, NULL, cb, ud);
            c->since_ms = ts_ms;
        }
        if (!c->raised)
            c->fails = 0;
        return;
    }
    if (c->fails == 0 || c->goods > 0) {
        if (!c->raised) {
            c->fails = 0;
            c->first_fail_ms = ts_ms;
        }
    }
    c->goods = 0;
    c->fails++;
    if (!c->raised && c->cfg->fail_polls > 0 && c->fails >= c->cfg->fail_polls &&
        ts_ms - c->first_fail_ms >= c->cfg->fail_time_ms) {
        c->raised = true;
        c->since_ms = c->first_fail_ms;
        comm_emit(c, ts_ms, reason, cb, ud);
    }
}
