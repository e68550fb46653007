/* spool: appending, flushing, acknowledging and overflow (see spool.h).
 * Recovery at open and the sender's reader are in spool_open.c and
 * spool_iter.c; the three share spool_int.h. */
#include "spool_int.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t spool_auto_cap(double events_per_s)
{
    double want = events_per_s * 86400.0 * SPOOL_EST_EVENT_BYTES;
    uint64_t min = 16u << 20;

    if (!(want > (double)min))
        return min;
    if (want > 1e15)
        return (uint64_t)1e15;
    return (uint64_t)want;
}

uint64_t spool__total_bytes(const spool_t *sp)
{
    uint64_t n = sp->wlen;

    for (size_t i = 0; i < sp->n_segs; i++)
        n += sp->segs[i].bytes;
    return n;
}

uint64_t spool__unwritten(const spool_t *sp)
{
    return sp->w_n > 0 ? sp->w_first : sp->next_seq;
}

void spool__seg_name(char *buf, size_t len, uint64_t first)
{
    snprintf(buf, len, "%020" PRIu64 ".seg", first);
}

/* Creates a new, empty active segment for sequences from first. */
int spool__seg_create(spool_t *sp, uint64_t first)
{
    char name[40];
    uint8_t hdr[SPOOL_HDR_SIZE];
    int fd;

    spool__seg_name(name, sizeof(name), first);
    fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    spool_seg_hdr_pack(hdr, sp->epoch, first);
    if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
        int rc = errno ? -errno : -ENOSPC;
        close(fd);
        unlinkat(sp->dirfd, name, 0);
        return rc;
    }
    /* The file's existence must survive power loss as much as its data. */
    if (sp->cfg->fsync != SPOOL_FSYNC_NEVER) {
        fdatasync(fd);
        fsync(sp->dirfd);
    }
    if (sp->n_segs == sp->segs_cap) {
        sp->segs_cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
        sp->segs = fm_xrealloc(sp->segs, sp->segs_cap * sizeof(*sp->segs));
    }
    sp->segs[sp->n_segs++] =
        (struct spool__seg){.first = first, .last = first - 1, .bytes = SPOOL_HDR_SIZE};
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = fd;
    return 0;
}

/* Closes the active segment and starts the next one. */
static int rotate(spool_t *sp)
{
    int rc;

    if (sp->cfg->fsync != SPOOL_FSYNC_NEVER && sp->fd >= 0)
        fdatasync(sp->fd);
    rc = spool__seg_create(sp, spool__unwritten(sp));
    if (rc < 0)
        FM_ERR("spool: %s: cannot start a new segment: %s", sp->cfg->dir, strerror(-rc));
    return rc;
}

void spool__seg_remove(spool_t *sp, size_t i)
{
    char name[40];

    spool__seg_name(name, sizeof(name), sp->segs[i].first);
    if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
        FM_WARN("spool: %s/%s: cannot delete: %s", sp->cfg->dir, name, strerror(errno));
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->n_segs - i - 1) * sizeof(*sp->segs));
    sp->n_segs--;
    sp->gen++;
}

int spool_append(spool_t *sp, Fm__Event *ev, spool_done_cb cb, void *ud)
{
    size_t size;
    uint8_t *rec;
    uint8_t flags;

    /* The sequence is part of the packed size: set it before measuring, and
     * again after a flush, which may have appended an overflow report. */
    ev->seq = sp->next_seq;
    size = fm__event__get_packed_size(ev);
    if (size > SPOOL_MAX_RECORD)
        return -EMSGSIZE;
    if (sp->wlen + SPOOL_REC_HDR + size > sp->wcap) {
        spool_flush(sp);
        ev->seq = sp->next_seq;
        size = fm__event__get_packed_size(ev);
        if (sp->wlen + SPOOL_REC_HDR + size > sp->wcap) {
            if (sp->wlen == 0) {
                /* A record larger than the configured buffer: grow it. */
                sp->wcap = SPOOL_REC_HDR + size;
                sp->wbuf = fm_xrealloc(sp->wbuf, sp->wcap);
            } else {
                sp->stats.dropped_nobuf++;
                return -ENOBUFS;
            }
        }
    }
    if (sp->w_n == 0)
        sp->w_first = sp->next_seq;
    sp->next_seq++;
    flags = ev->kind_case == FM__EVENT__KIND_MEASUREMENT ? 0 : SPOOL_F_KEEP;
    rec = sp->wbuf + sp->wlen;
    fm__event__pack(ev, rec + SPOOL_REC_HDR);
    spool_seg_rec_seal(rec, ev->seq, flags, (uint32_t)size);
    sp->wlen += SPOOL_REC_HDR + size;
    sp->w_n++;
    sp->w_measure += flags & SPOOL_F_KEEP ? 0 : 1;
    sp->stats.appended++;
    if (cb != NULL) {
        if (sp->n_waiters == sp->waiters_cap) {
            sp->waiters_cap = sp->waiters_cap ? sp->waiters_cap * 2 : 16;
            sp->waiters = fm_xrealloc(sp->waiters, sp->waiters_cap * sizeof(*sp->waiters));
        }
        sp->waiters[sp->n_waiters++] = (struct spool__waiter){ev->seq, cb, ud};
    }
    return 0;
}

/* Calls the done callbacks of every waiter up to seq with status. The list
 * is detached first: a callback may append (and so register) again. */
static void waiters_done(spool_t *sp, int status)
{
    struct spool__waiter *w = sp->waiters;
    size_t n = sp->n_waiters;

    if (n == 0)
        return;
    sp->waiters = NULL;
    sp->n_waiters = sp->waiters_cap = 0;
    for (size_t i = 0; i < n; i++)
        w[i].cb(status, w[i].seq, w[i].ud);
    free(w);
}

/* Writes the whole buffer or nothing: a short write is cut back, so the file
 * never ends in half a record while the agent runs. */
static int write_all(spool_t *sp)
{
    struct spool__seg *a = &sp->segs[sp->n_segs - 1];
    size_t done = 0;

    while (done < sp->wlen) {
        ssize_t n = write(sp->fd, sp->wbuf + done, sp->wlen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int rc = n < 0 ? -errno : -ENOSPC;
            if (done > 0 && ftruncate(sp->fd, (off_t)a->bytes) != 0)
                FM_ERR("spool: %s: cannot cut back a partial write: %s", sp->cfg->dir,
                       strerror(errno));
            return rc;
        }
        done += (size_t)n;
    }
    return 0;
}

int spool_flush(spool_t *sp)
{
    struct spool__seg *a;
    int rc;

    if (sp->wlen == 0)
        return 0;
    rc = write_all(sp);
    if (rc < 0) {
        if (sp->write_failing++ == 0)
            FM_ERR("spool: %s: write failed, events stay buffered and are retried: %s",
                   sp->cfg->dir, strerror(-rc));
        sp->stats.write_errors++;
        return rc;
    }
    if (sp->write_failing) {
        FM_NOTICE("spool: %s: writing again after %d failed attempts", sp->cfg->dir,
                  sp->write_failing);
        sp->write_failing = 0;
    }
    if (sp->cfg->fsync == SPOOL_FSYNC_ALWAYS)
        fdatasync(sp->fd);
    else
        sp->unsynced = true;
    a = &sp->segs[sp->n_segs - 1];
    a->bytes += sp->wlen;
    a->last = sp->next_seq - 1;
    a->n_rec += sp->w_n;
    a->n_measure += sp->w_measure;
    sp->written_seq = sp->next_seq - 1;
    sp->wlen = 0;
    sp->w_n = sp->w_measure = 0;
    waiters_done(sp, 0);
    if (spool__total_bytes(sp) > sp->cap)
        spool__overflow(sp);
    if (sp->segs[sp->n_segs - 1].bytes >= sp->seg_cap)
        rotate(sp);
    if (sp->flushed_cb != NULL)
        sp->flushed_cb(sp->flushed_ud);
    return 0;
}

int spool_sync(spool_t *sp)
{
    if (!sp->unsynced || sp->fd < 0)
        return 0;
    sp->unsynced = false;
    if (fdatasync(sp->fd) != 0) {
        FM_ERR("spool: %s: fdatasync: %s", sp->cfg->dir, strerror(errno));
        return -errno;
    }
    return 0;
}

void spool_ack(spool_t *sp, uint64_t seq)
{
    if (seq <= sp->acked)
        return;
    if (seq > sp->written_seq)
        seq = sp->written_seq;
    sp->acked = seq;
    /* The active segment stays: its name carries the next sequence across a
     * restart even when everything before it was deleted. */
    while (sp->n_segs > 1 && sp->segs[0].last <= sp->acked)
        spool__seg_remove(sp, 0);
}

void spool_set_flushed_cb(spool_t *sp, spool_flushed_cb cb, void *ud)
{
    sp->flushed_cb = cb;
    sp->flushed_ud = ud;
}

void spool_get_stats(const spool_t *sp, struct spool_stats *st)
{
    *st = (struct spool_stats){0};
    st->epoch = sp->epoch;
    st->next_seq = sp->next_seq;
    st->written_seq = sp->written_seq;
    st->acked_seq = sp->acked;
    st->bytes = spool__total_bytes(sp);
    st->cap = sp->cap;
    st->segments = sp->n_segs;
    st->dropped = sp->stats.dropped + sp->stats.dropped_nobuf;
    st->dropped_kept = sp->stats.dropped_kept;
    st->overflows = sp->stats.overflows;
    st->appended = sp->stats.appended;
    st->write_errors = sp->stats.write_errors;
    /* Unacknowledged events: whole segments above the ack, the part of the
     * segment holding the ack estimated by its sequence span. */
    st->events = sp->w_n;
    for (size_t i = 0; i < sp->n_segs; i++) {
        const struct spool__seg *s = &sp->segs[i];
        if (s->n_rec == 0 || s->last <= sp->acked)
            continue;
        uint64_t lo = s->first > sp->acked ? s->first : sp->acked + 1;
        uint64_t span = s->last - lo + 1;
        st->events += span < s->n_rec ? span : s->n_rec;
    }
}

void spool_close(spool_t *sp)
{
    if (sp == NULL)
        return;
    spool_flush(sp);
    waiters_done(sp, -ECANCELED);
    if (sp->fd >= 0) {
        if (sp->cfg->fsync != SPOOL_FSYNC_NEVER)
            fdatasync(sp->fd);
        close(sp->fd);
    }
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->segs);
    free(sp->wbuf);
    free(sp->waiters);
    free(sp);
}
