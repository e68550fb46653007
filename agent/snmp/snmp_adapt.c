/* snmp_adapt: the request sizes of one SNMP device, lowered when the device
 * cannot answer big requests and tried higher again later.
 *
 * Two sizes adapt per device: the varbinds per GET (d->chunk, from
 * max_varbinds) and the GETBULK max-repetitions (d->max_rep, from
 * max_repetitions). snmp_req.c lowers them within a poll, when the device
 * answers tooBig or a walk request times out after the device has shown it
 * is alive, and resends the same request smaller; the poll then goes on, so
 * the device is not counted as failing for it.
 *
 * What is learnt in a poll is kept only if that poll succeeds: a device that
 * dies in the middle of a walk also times out on every smaller request, and
 * must not be left polled one row at a time once it comes back. A lowered
 * size is tried one doubling higher after `wait` polls in a row without a
 * lowering (a timeout may have been a lost packet, or the device's firmware
 * may have changed); if that poll has to lower again, the wait doubles, up to
 * ADAPT_WAIT_MAX polls, so a device with a hard limit costs one extra
 * tooBig or timeout per ADAPT_WAIT_MAX polls at most.
 *
 * Each value a device reaches for the first time is logged once at notice
 * level (`snmp: ups-3: tooBig: max-repetitions lowered to 12`); going back
 * to a value seen before, and the tries upwards, are logged at debug level.
 * Loop thread only. */
#include "snmp_poll_int.h"

#include "fm_log.h"

#define ADAPT_WAIT_MIN 16
#define ADAPT_WAIT_MAX 1024

static unsigned doubled(unsigned v, int64_t cap)
{
    return (int64_t)v * 2 < cap ? v * 2 : (unsigned)cap;
}

void snmp__adapt_begin(struct snmp__dev *d)
{
    struct snmp__adapt *a = &d->adapt;
    const struct snmp_dev_cfg *c = &d->cfg->snmp;

    if (a->wait == 0) {
        a->wait = ADAPT_WAIT_MIN;
        a->low_chunk = d->chunk;
        a->low_rep = d->max_rep;
    }
    a->lowered = false;
    a->raised = false;
    a->start_chunk = d->chunk;
    a->start_rep = d->max_rep;
    if (a->clean < a->wait || (d->chunk >= c->max_varbinds && d->max_rep >= c->max_reps))
        return;
    d->chunk = doubled(d->chunk, c->max_varbinds);
    d->max_rep = doubled(d->max_rep, c->max_reps);
    a->raised = true;
    a->clean = 0;
    FM_DEBUG("snmp: %s: trying %u varbinds and %u repetitions per request again", d->cfg->name,
             d->chunk, d->max_rep);
}

void snmp__adapt_end(struct snmp__dev *d, bool ok)
{
    struct snmp__adapt *a = &d->adapt;

    if (!ok) {
        /* Back to the sizes from before this poll, undoing a try upwards
         * too: a failed poll says nothing about them. */
        d->chunk = a->start_chunk;
        d->max_rep = a->start_rep;
        a->clean = 0;
        return;
    }
    if (a->lowered) {
        a->clean = 0;
        if (a->raised && a->wait < ADAPT_WAIT_MAX)
            a->wait *= 2;
        return;
    }
    if (a->clean < UINT32_MAX)
        a->clean++;
}

void snmp__adapt_lower(struct snmp__dev *d, bool reps, unsigned to, const char *why)
{
    struct snmp__adapt *a = &d->adapt;
    unsigned *low = reps ? &a->low_rep : &a->low_chunk;
    const char *what = reps ? "max-repetitions" : "varbinds per request";

    if (to < 1)
        to = 1;
    if (reps)
        d->max_rep = to;
    else
        d->chunk = to;
    a->lowered = true;
    if (to < *low) {
        *low = to;
        FM_NOTICE("snmp: %s: %s: %s lowered to %u", d->cfg->name, why, what, to);
    } else {
        FM_DEBUG("snmp: %s: %s: %s lowered to %u", d->cfg->name, why, what, to);
    }
}
