/* spool_drop: what counts as dropped when the cap removes records (see
 * spool.h, "Dropped").
 *
 * The collector's ack is a high-water mark: it commits in sequence order
 * and acks the last sequence of a committed batch. So for a record the cap
 * removes:
 *  - at or below the ack: the collector has it; counted as removed_acked;
 *  - above what the sender ever wrote to a session (spool.sent): nobody has
 *    it; lost at once;
 *  - in between: sent, not acknowledged. Its ack may be on its way or lost
 *    with the connection. A later ack at or above it on the same session
 *    proves it committed, because it was sent before what that ack covers.
 *    A HelloAck settles everything: the collector names the last sequence
 *    it committed, and what was removed above that is lost.
 * The records in between are kept as runs of consecutive sequences, which
 * is exact and small: the cap removes measurements, which a poll produces
 * in long runs. The number of runs is bounded; past the bound a removed
 * record is counted lost at once (logged once), the only inexact case. */
#include "spool_int.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <inttypes.h>

#define DROP_RUNS_MAX 65536u

static void lost(spool_t *sp, uint64_t n, bool kept)
{
    if (kept)
        sp->stats.lost_kept += n;
    else
        sp->stats.lost_measure += n;
}

void spool__drop_rec(spool_t *sp, uint64_t seq, bool kept)
{
    struct spool__run *r = sp->n_runs ? &sp->runs[sp->n_runs - 1] : NULL;

    if (seq <= sp->acked) {
        sp->stats.removed_acked++;
        return;
    }
    if (seq > sp->sent) {
        lost(sp, 1, kept);
        return;
    }
    if (r != NULL && r->kept == kept && r->last + 1 == seq) {
        r->last = seq;
        return;
    }
    if (sp->n_runs == DROP_RUNS_MAX) {
        if (!sp->runs_full_logged) {
            sp->runs_full_logged = true;
            FM_WARN("spool: %s: %u separate gaps await the collector's word; further removed "
                    "events are counted as dropped at once",
                    sp->cfg->dir, DROP_RUNS_MAX);
        }
        lost(sp, 1, kept);
        return;
    }
    if (sp->n_runs == sp->runs_cap) {
        sp->runs_cap = sp->runs_cap ? sp->runs_cap * 2 : 16;
        sp->runs = fm_xrealloc(sp->runs, sp->runs_cap * sizeof(*sp->runs));
    }
    sp->runs[sp->n_runs++] = (struct spool__run){seq, seq, kept};
}

void spool__drop_resolve(spool_t *sp, uint64_t seq, bool final)
{
    size_t k = 0;

    for (size_t i = 0; i < sp->n_runs; i++) {
        struct spool__run r = sp->runs[i];
        if (r.first <= seq) {
            uint64_t top = r.last < seq ? r.last : seq;
            sp->stats.removed_acked += top - r.first + 1;
            r.first = top + 1;
        }
        if (r.first > r.last)
            continue;
        if (final) {
            lost(sp, r.last - r.first + 1, r.kept);
            continue;
        }
        sp->runs[k++] = r;
    }
    sp->n_runs = k;
    if (k == 0)
        sp->runs_full_logged = false;
}

uint64_t spool__drop_unconfirmed(const spool_t *sp)
{
    uint64_t n = 0;

    for (size_t i = 0; i < sp->n_runs; i++)
        n += sp->runs[i].last - sp->runs[i].first + 1;
    return n;
}
