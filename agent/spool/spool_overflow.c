/* spool_overflow: keeping the spool under its cap (see spool.h).
 *
 * Policy, in order:
 *  1. Rewrite the oldest segment that still holds measurements without
 *     them and without anything already acknowledged (write a temporary
 *     file, fdatasync, rename over the original, fsync the directory), so
 *     alarm transitions, traps and reachability changes survive. Repeat,
 *     oldest first, until the spool is under 90 % of its cap; the margin
 *     keeps one overflow from turning into a rewrite per flush.
 *  2. Only if nothing droppable is left and the spool is still over the cap,
 *     delete whole oldest segments: this loses kept events and is logged as
 *     an error with the sequences lost.
 * Every episode appends one SpoolOverflow event with the count and the
 * sequence range of the unacknowledged events removed, so the collector
 * sees the gap explained. Each removed record goes through spool__drop_rec,
 * which decides whether it counts as dropped (spool_drop.c).
 *
 * Rewriting is synchronous file I/O on the loop thread. It runs only in
 * overflow, at most a few segments (each at most 16 MiB) per episode. */
#include "spool_int.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct drop {
    uint64_t dropped, first, last;
};

struct compact {
    spool_t *sp;
    uint8_t *out;
    size_t len;
    uint64_t kept;
    struct drop *d;
};

/* Whether the cap keeps a record: kept events not yet acknowledged. */
static bool keeps(const spool_t *sp, const struct spool_rec *rec)
{
    return (rec->flags & SPOOL_F_KEEP) && rec->seq > sp->acked;
}

static int copy_rec(const struct spool_rec *rec, void *ud)
{
    struct compact *c = ud;

    if (keeps(c->sp, rec)) {
        /* Re-use the record bytes as they are: header, CRC and payload. */
        memcpy(c->out + c->len, rec->payload - SPOOL_REC_HDR, SPOOL_REC_HDR + rec->len);
        c->len += SPOOL_REC_HDR + rec->len;
        c->kept++;
    }
    return 0;
}

/* A record the cap removed: accounted for (spool_drop.c) and, unless
 * acknowledged, reported in the episode's SpoolOverflow event. */
static int removed_rec(const struct spool_rec *rec, void *ud)
{
    struct compact *c = ud;
    struct drop *d = c->d;

    if (keeps(c->sp, rec))
        return 0;
    if (rec->seq > c->sp->acked) {
        if (d->dropped++ == 0 || rec->seq < d->first)
            d->first = rec->seq;
        if (rec->seq > d->last)
            d->last = rec->seq;
    }
    spool__drop_rec(c->sp, rec->seq, rec->flags & SPOOL_F_KEEP);
    return 0;
}

/* Writes the kept records of segment `name` to a temporary file and
 * renames it over the original. 0 or a negative errno (logged). */
static int replace_file(spool_t *sp, const char *name, const struct compact *c)
{
    char tmp[48];
    ssize_t n;
    int fd, rc;

    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool__io_fail(sp, SPOOL_OP_CREATE, tmp, -errno);
    n = spool__io.write(fd, c->out, c->len);
    if (n != (ssize_t)c->len) {
        rc = spool__io_fail(sp, SPOOL_OP_WRITE, tmp, n < 0 ? -errno : -ENOSPC);
        goto out_unlink;
    }
    rc = spool__sync_fd(fd, true);
    if (rc < 0) {
        spool__io_fail(sp, SPOOL_OP_FDATASYNC, tmp, rc);
        goto out_unlink;
    }
    rc = spool__io.close(fd);
    fd = -1;
    if (rc != 0) {
        rc = spool__io_fail(sp, SPOOL_OP_CLOSE, tmp, -errno);
        goto out_unlink;
    }
    if (spool__io.renameat(sp->dirfd, tmp, sp->dirfd, name) != 0) {
        rc = spool__io_fail(sp, SPOOL_OP_RENAME, tmp, -errno);
        goto out_unlink;
    }
    /* The rename is done; a failed directory sync means a power loss may
     * bring back the old file, which holds everything the new one does. */
    rc = spool__sync_fd(sp->dirfd, false);
    if (rc < 0)
        spool__io_fail(sp, SPOOL_OP_FSYNC_DIR, NULL, rc);
    return 0;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlinkat(sp->dirfd, tmp, 0);
    return rc;
}

/* Rewrites segment i without measurements and acknowledged records; the
 * removed records are accounted for only once the rewrite is done. Returns
 * 0 or a negative errno (logged with the file). */
static int compact(spool_t *sp, size_t i, struct drop *d)
{
    struct spool__seg *s = &sp->segs[i];
    char name[40];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t epoch;
    int torn, rc;
    struct compact c = {.sp = sp, .d = d};

    spool__seg_name(name, sizeof(name), s->first);
    rc = spool__read_file(sp->dirfd, name, &buf, &len);
    if (rc < 0) {
        spool__io_fail(sp, SPOOL_OP_READ, name, rc);
        goto out;
    }
    if (len > s->bytes)
        len = s->bytes;
    c.out = fm_xmalloc(len);
    c.len = SPOOL_HDR_SIZE; /* kept records go behind a copy of the header */
    if (spool_seg_scan(buf, len, &epoch, copy_rec, &c, &torn) < 0) {
        rc = spool__io_fail(sp, SPOOL_OP_READ, name, -EINVAL);
        goto out;
    }
    if (c.kept > 0) {
        memcpy(c.out, buf, SPOOL_HDR_SIZE);
        rc = replace_file(sp, name, &c);
        if (rc < 0)
            goto out;
    }
    spool_seg_scan(buf, len, &epoch, removed_rec, &c, &torn);
    if (c.kept == 0) {
        spool__seg_remove(sp, i);
        goto out;
    }
    s->bytes = c.len;
    s->n_rec = c.kept;
    s->n_measure = 0;
    sp->gen++;
out:
    free(buf);
    free(c.out);
    return rc;
}

/* Every record of a segment deleted whole goes. */
static int gone_rec(const struct spool_rec *rec, void *ud)
{
    spool__drop_rec(ud, rec->seq, rec->flags & SPOOL_F_KEEP);
    return 0;
}

/* Deletes the oldest segment, which holds only kept events, accounting for
 * each (read from the file; if that fails, all of them count as lost). */
static void remove_oldest(spool_t *sp)
{
    const struct spool__seg *s = &sp->segs[0];
    char name[40];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t epoch, before = sp->stats.lost_kept;
    int torn;

    spool__seg_name(name, sizeof(name), s->first);
    if (spool__read_file(sp->dirfd, name, &buf, &len) == 0 && len >= s->bytes)
        spool_seg_scan(buf, s->bytes, &epoch, gone_rec, sp, &torn);
    else
        sp->stats.lost_kept += s->n_rec;
    FM_ERR("spool: %s: still over its cap with only alarm transitions and other kept events: "
           "removed %s (%" PRIu64 " events, seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
           " of them dropped now",
           sp->cfg->dir, name, s->n_rec, s->first, s->last, sp->stats.lost_kept - before);
    free(buf);
    spool__seg_remove(sp, 0);
}

static void report(spool_t *sp, const struct drop *d)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__SpoolOverflow ov = FM__SPOOL_OVERFLOW__INIT;
    struct spool_stats st;

    /* A spool that stays full overflows at every flush: one warning a
     * minute with the running totals says the same without flooding. */
    int64_t now = fm_clock_wall_ms();
    if (now - sp->overflow_logged_ms >= 60000) {
        spool_get_stats(sp, &st);
        FM_WARN("spool: %s: over its cap of %" PRIu64 " bytes: removed %" PRIu64
                " unacknowledged measurements (seq %" PRIu64 "..%" PRIu64 "), alarm "
                "transitions kept; since start %" PRIu64 " dropped, %" PRIu64
                " sent and awaiting the collector's word",
                sp->cfg->dir, sp->cap, d->dropped, d->first, d->last, st.dropped, st.unconfirmed);
        sp->overflow_logged_ms = now;
    }
    ev.ts_ms = now;
    ev.device = "";
    ev.kind_case = FM__EVENT__KIND_OVERFLOW;
    ev.overflow = &ov;
    ov.dropped = d->dropped;
    ov.first_seq = d->first;
    ov.last_seq = d->last;
    spool_append(sp, &ev, NULL, NULL);
}

void spool__overflow(spool_t *sp)
{
    uint64_t target = sp->cap / 10 * 9;
    struct drop d = {0};
    bool failed = false;

    while (spool__total_bytes(sp) > target) {
        size_t i = 0;
        while (i < sp->n_segs && sp->segs[i].n_measure == 0)
            i++;
        if (i == sp->n_segs)
            break;
        /* The oldest measurements are in the active segment: close it
         * first so it can be rewritten. A failure (logged with the file)
         * ends the episode: whole segments holding measurements are never
         * deleted instead, and the next flush tries again. */
        if ((i == sp->n_segs - 1 && spool__rotate(sp) < 0) || compact(sp, i, &d) < 0) {
            failed = true;
            break;
        }
    }
    while (!failed && spool__total_bytes(sp) > sp->cap && sp->n_segs > 1 &&
           sp->segs[0].n_measure == 0)
        remove_oldest(sp);
    if (d.dropped > 0) {
        sp->stats.overflows++;
        report(sp, &d);
    }
}
