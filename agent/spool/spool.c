/* spool: appending, flushing, syncing and acknowledging (see spool.h).
 * Recovery at open, the sender's reader, the cap, the accounting of what
 * the cap removes and the I/O layer are in spool_open.c, spool_iter.c,
 * spool_overflow.c, spool_drop.c and spool_io.c; they share spool_int.h. */
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

/* Name of the active segment, for log lines. */
static const char *active_name(const spool_t *sp, char *buf, size_t len)
{
    if (sp->n_segs == 0)
        return NULL;
    spool__seg_name(buf, len, sp->segs[sp->n_segs - 1].first);
    return buf;
}

void spool__apply_cfg(spool_t *sp, const struct spool_cfg *cfg, uint64_t cap)
{
    uint64_t seg = cap / 16;

    if (seg < (64u << 10))
        seg = 64u << 10;
    if (seg > (16u << 20))
        seg = 16u << 20;
    sp->cfg = cfg;
    sp->cap = cap;
    sp->seg_cap = cfg->segment_bytes ? cfg->segment_bytes : seg;
    sp->wcap = cfg->write_buffer ? cfg->write_buffer : 256u << 10;
    if (sp->wcap > sp->walloc) {
        sp->walloc = sp->wcap;
        sp->wbuf = fm_xrealloc(sp->wbuf, sp->walloc);
    }
}

/* Creates a new, empty active segment for sequences from first. */
int spool__seg_create(spool_t *sp, uint64_t first)
{
    char name[40], old[40];
    uint8_t hdr[SPOOL_HDR_SIZE];
    ssize_t n;
    int fd, rc;

    spool__seg_name(name, sizeof(name), first);
    fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool__io_fail(sp, SPOOL_OP_CREATE, name, -errno);
    spool_seg_hdr_pack(hdr, sp->epoch, first);
    n = spool__io.write(fd, hdr, sizeof(hdr));
    if (n != (ssize_t)sizeof(hdr)) {
        rc = spool__io_fail(sp, SPOOL_OP_WRITE, name, n < 0 ? -errno : -ENOSPC);
        goto out_unlink;
    }
    /* The file's existence must survive power loss as much as its data. */
    if (sp->cfg->fsync != SPOOL_FSYNC_NEVER) {
        rc = spool__sync_fd(fd, true);
        if (rc < 0) {
            spool__io_fail(sp, SPOOL_OP_FDATASYNC, name, rc);
            goto out_unlink;
        }
        rc = spool__sync_fd(sp->dirfd, false);
        if (rc < 0) {
            spool__io_fail(sp, SPOOL_OP_FSYNC_DIR, NULL, rc);
            goto out_unlink;
        }
    }
    if (sp->n_segs == sp->segs_cap) {
        sp->segs_cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
        sp->segs = fm_xrealloc(sp->segs, sp->segs_cap * sizeof(*sp->segs));
    }
    sp->segs[sp->n_segs++] =
        (struct spool__seg){.first = first, .last = first - 1, .bytes = SPOOL_HDR_SIZE};
    if (sp->fd >= 0 && spool__io.close(sp->fd) != 0) {
        spool__seg_name(old, sizeof(old), sp->segs[sp->n_segs - 2].first);
        spool__io_fail(sp, SPOOL_OP_CLOSE, old, -errno);
    }
    sp->fd = fd;
    sp->unsynced = false;
    return 0;
out_unlink:
    close(fd);
    unlinkat(sp->dirfd, name, 0);
    return rc;
}

/* Syncs the active segment (unless policy `never`) and starts the next
 * one; on failure the active segment stays and rotation is tried again at
 * the next flush. Failures are logged by the calls below. */
int spool__rotate(spool_t *sp)
{
    char name[40];
    int rc;

    if (sp->cfg->fsync != SPOOL_FSYNC_NEVER && sp->fd >= 0) {
        rc = spool__sync_fd(sp->fd, true);
        if (rc < 0)
            return spool__io_fail(sp, SPOOL_OP_FDATASYNC, active_name(sp, name, sizeof(name)), rc);
    }
    return spool__seg_create(sp, spool__unwritten(sp));
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

/* The write buffer is full: flush it, unless writes are failing (then the
 * pump retries once per loop iteration, not every append), and decide
 * whether the record fits: measurements only within the buffer, kept
 * events also within the hold. Out of the append's fast path. */
static int make_room(spool_t *sp, Fm__Event *ev, size_t *size, bool keep)
{
    size_t need, limit;

    if (!sp->write_failing) {
        spool_flush(sp);
        /* The flush may have appended an overflow report. */
        ev->seq = sp->next_seq;
        *size = fm__event__get_packed_size(ev);
    }
    need = sp->wlen + SPOOL_REC_HDR + *size;
    if (need <= sp->wcap)
        return 0;
    if (sp->wlen == 0)
        limit = need; /* a record larger than the configured buffer */
    else if (keep)
        limit = sp->wcap + sp->cfg->hold_bytes;
    else
        limit = sp->wcap;
    if (need > limit) {
        sp->stats.refused++;
        return -ENOBUFS;
    }
    if (need > sp->walloc) {
        sp->walloc = need > sp->walloc * 2 ? need : sp->walloc * 2;
        if (sp->walloc > limit)
            sp->walloc = limit;
        sp->wbuf = fm_xrealloc(sp->wbuf, sp->walloc);
    }
    if (sp->w_n + 1 > sp->stats.held_max)
        sp->stats.held_max = sp->w_n + 1;
    return 0;
}

int spool_append(spool_t *sp, Fm__Event *ev, spool_done_cb cb, void *ud)
{
    size_t size;
    uint8_t *rec;
    uint8_t flags;
    bool keep = ev->kind_case != FM__EVENT__KIND_MEASUREMENT;

    /* The sequence is part of the packed size: set it before measuring. */
    ev->seq = sp->next_seq;
    size = fm__event__get_packed_size(ev);
    if (size > SPOOL_MAX_RECORD) {
        sp->stats.refused++;
        return -EMSGSIZE;
    }
    if (sp->wlen + SPOOL_REC_HDR + size > sp->wcap) {
        int rc = make_room(sp, ev, &size, keep);
        if (rc < 0)
            return rc;
    }
    if (sp->w_n == 0)
        sp->w_first = sp->next_seq;
    sp->next_seq++;
    flags = keep ? SPOOL_F_KEEP : 0;
    rec = sp->wbuf + sp->wlen;
    fm__event__pack(ev, rec + SPOOL_REC_HDR);
    spool_seg_rec_seal(rec, ev->seq, flags, (uint32_t)size);
    sp->wlen += SPOOL_REC_HDR + size;
    sp->w_n++;
    sp->w_measure += keep ? 0 : 1;
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

/* Calls the done callbacks of the waiters up to seq with status. They are
 * detached first: a callback may append (and so register) again. */
static void waiters_done(spool_t *sp, uint64_t seq, int status)
{
    struct spool__waiter *w = sp->waiters;
    size_t n = 0;

    while (n < sp->n_waiters && sp->waiters[n].seq <= seq)
        n++;
    if (n == 0)
        return;
    if (n == sp->n_waiters) {
        sp->waiters = NULL;
        sp->n_waiters = sp->waiters_cap = 0;
    } else {
        w = fm_xmalloc(n * sizeof(*w));
        memcpy(w, sp->waiters, n * sizeof(*w));
        memmove(sp->waiters, sp->waiters + n, (sp->n_waiters - n) * sizeof(*w));
        sp->n_waiters -= n;
    }
    for (size_t i = 0; i < n; i++)
        w[i].cb(status, w[i].seq, w[i].ud);
    free(w);
}

/* The whole records at the start of buf[0..len): their length, count,
 * measurements and last sequence. */
static size_t whole_records(const uint8_t *buf, size_t len, uint64_t *n, uint64_t *measure,
                            uint64_t *last)
{
    size_t off = 0, used;
    struct spool_rec rec;

    *n = *measure = 0;
    while (spool_seg_rec_parse(buf + off, len - off, &rec, &used) == SPOOL_PARSE_OK) {
        (*n)++;
        *measure += rec.flags & SPOOL_F_KEEP ? 0 : 1;
        *last = rec.seq;
        off += used;
    }
    return off;
}

/* Writes the buffer to the active segment. *done is set to the bytes now
 * in the file, always whole records: after a failed or short write the
 * part of a record that made it is cut off again, so the file never ends
 * in half a record while the agent runs. */
static int write_buf(spool_t *sp, size_t *done)
{
    struct spool__seg *a = &sp->segs[sp->n_segs - 1];
    uint64_t n, measure, last;
    char name[40];
    size_t off = 0;
    int rc = 0;

    *done = 0;
    if (sp->tail_dirty) {
        if (spool__io.ftruncate(sp->fd, (off_t)a->bytes) != 0)
            return spool__io_fail(sp, SPOOL_OP_TRUNCATE, active_name(sp, name, sizeof(name)),
                                  -errno);
        sp->tail_dirty = false;
    }
    while (off < sp->wlen) {
        ssize_t w = spool__io.write(sp->fd, sp->wbuf + off, sp->wlen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -ENOSPC;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0) {
        *done = off;
        return 0;
    }
    spool__io_fail(sp, SPOOL_OP_WRITE, active_name(sp, name, sizeof(name)), rc);
    *done = whole_records(sp->wbuf, off, &n, &measure, &last);
    if (*done != off && spool__io.ftruncate(sp->fd, (off_t)(a->bytes + *done)) != 0) {
        spool__io_fail(sp, SPOOL_OP_TRUNCATE, name, -errno);
        sp->tail_dirty = true; /* cut again before the next write */
    }
    return rc;
}

/* done bytes of the buffer are in the file: account for them, drop them
 * from the buffer and tell their waiters (status: 0, or a failed sync). */
static void commit(spool_t *sp, size_t done, int status)
{
    struct spool__seg *a = &sp->segs[sp->n_segs - 1];
    uint64_t n = sp->w_n, measure = sp->w_measure, last = sp->next_seq - 1;

    if (done < sp->wlen) {
        whole_records(sp->wbuf, done, &n, &measure, &last);
        memmove(sp->wbuf, sp->wbuf + done, sp->wlen - done);
    }
    a->bytes += done;
    a->last = last;
    a->n_rec += n;
    a->n_measure += measure;
    sp->written_seq = last;
    sp->wlen -= done;
    sp->w_n -= n;
    sp->w_measure -= measure;
    sp->w_first = last + 1;
    waiters_done(sp, last, status);
}

int spool_flush(spool_t *sp)
{
    uint64_t errors = sp->stats.io_errors;
    char name[40];
    size_t done;
    int rc, src = 0;

    if (sp->wlen == 0)
        return 0;
    rc = write_buf(sp, &done);
    if (done > 0) {
        if (sp->cfg->fsync == SPOOL_FSYNC_ALWAYS) {
            src = spool__sync_fd(sp->fd, true);
            sp->sync_failing = src < 0;
            if (src < 0)
                spool__io_fail(sp, SPOOL_OP_FDATASYNC, active_name(sp, name, sizeof(name)), src);
        } else {
            sp->unsynced = true;
        }
        commit(sp, done, src);
    }
    sp->write_failing = rc < 0;
    if (rc < 0) {
        if (sp->w_n > sp->stats.held_max)
            sp->stats.held_max = sp->w_n;
        /* Still buffered and retried, but not kept as promised: an inform
         * waiting for its event is not acknowledged. */
        waiters_done(sp, UINT64_MAX, rc);
    }
    if (done > 0) {
        if (spool__total_bytes(sp) > sp->cap)
            spool__overflow(sp);
        if (sp->segs[sp->n_segs - 1].bytes >= sp->seg_cap)
            spool__rotate(sp);
        if (sp->flushed_cb != NULL)
            sp->flushed_cb(sp->flushed_ud);
    }
    if (sp->io_streak > 0 && sp->stats.io_errors == errors && !sp->sync_failing) {
        FM_NOTICE("spool: %s: writing and syncing again after %" PRIu64 " failed I/O calls",
                  sp->cfg->dir, sp->io_streak);
        sp->io_streak = 0;
        sp->io_logged = 0;
    }
    return rc < 0 ? rc : src;
}

int spool_sync(spool_t *sp)
{
    char name[40];
    int rc;

    if (!sp->unsynced || sp->fd < 0)
        return 0;
    rc = spool__sync_fd(sp->fd, true);
    sp->sync_failing = rc < 0;
    if (rc < 0) /* unsynced stays set: tried again at the next tick */
        return spool__io_fail(sp, SPOOL_OP_FDATASYNC, active_name(sp, name, sizeof(name)), rc);
    sp->unsynced = false;
    return 0;
}

void spool_sent(spool_t *sp, uint64_t seq)
{
    if (seq > sp->sent)
        sp->sent = seq;
}

void spool_ack(spool_t *sp, uint64_t seq)
{
    if (seq <= sp->acked)
        return;
    if (seq > sp->written_seq)
        seq = sp->written_seq;
    sp->acked = seq;
    if (sp->n_runs > 0)
        spool__drop_resolve(sp, seq, false);
    /* The active segment stays: its name carries the next sequence across a
     * restart even when everything before it was deleted. */
    while (sp->n_segs > 1 && sp->segs[0].last <= sp->acked)
        spool__seg_remove(sp, 0);
}

void spool_confirm(spool_t *sp, uint64_t seq)
{
    spool_ack(sp, seq);
    spool__drop_resolve(sp, seq, true);
    /* Nothing above seq is with the collector now; the session resends. */
    sp->sent = seq;
}

void spool_reconfigure(spool_t *sp, const struct spool_cfg *cfg, uint64_t cap)
{
    spool__apply_cfg(sp, cfg, cap);
    if (cfg->fsync == SPOOL_FSYNC_ALWAYS)
        spool_sync(sp);
    if (spool__total_bytes(sp) > sp->cap)
        spool__overflow(sp);
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
    st->dropped_kept = sp->stats.lost_kept;
    st->dropped_refused = sp->stats.refused;
    st->dropped = sp->stats.lost_measure + sp->stats.lost_kept + sp->stats.refused;
    st->unconfirmed = spool__drop_unconfirmed(sp);
    st->removed_acked = sp->stats.removed_acked;
    st->held = sp->w_n;
    st->held_max = sp->stats.held_max > sp->w_n ? sp->stats.held_max : sp->w_n;
    st->overflows = sp->stats.overflows;
    st->appended = sp->stats.appended;
    st->write_errors = sp->stats.io_errors;
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
    char name[40];
    uint64_t doubt;

    if (sp == NULL)
        return;
    if (sp->n_segs > 0)
        spool_flush(sp);
    waiters_done(sp, UINT64_MAX, -ECANCELED);
    if (sp->w_n > 0)
        FM_ERR("spool: %s: %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 ") could not be "
               "written before exit and are lost",
               sp->cfg->dir, sp->w_n, sp->w_first, sp->next_seq - 1);
    doubt = spool__drop_unconfirmed(sp);
    if (doubt > 0)
        FM_NOTICE("spool: %s: %" PRIu64 " events removed by the cap after they were sent were "
                  "never confirmed by the collector; not counted as dropped",
                  sp->cfg->dir, doubt);
    if (sp->fd >= 0) {
        int rc = sp->cfg->fsync != SPOOL_FSYNC_NEVER ? spool__sync_fd(sp->fd, true) : 0;
        active_name(sp, name, sizeof(name));
        if (rc < 0)
            spool__io_fail(sp, SPOOL_OP_FDATASYNC, name, rc);
        if (spool__io.close(sp->fd) != 0)
            spool__io_fail(sp, SPOOL_OP_CLOSE, name, -errno);
    }
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->segs);
    free(sp->wbuf);
    free(sp->waiters);
    free(sp->runs);
    free(sp);
}
