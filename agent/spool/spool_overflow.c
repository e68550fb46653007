/* spool_overflow: keeping the spool under its cap (see spool.h).
 *
 * Policy, in order:
 *  1. Rewrite the oldest segment that still holds measurements without
 *     them (write a temporary file, fdatasync, rename over the original), so
 *     alarm transitions, traps and reachability changes survive. Repeat,
 *     oldest first, until the spool is under 90 % of its cap; the margin
 *     keeps one overflow from turning into a rewrite per flush.
 *  2. Only if nothing droppable is left and the spool is still over the cap,
 *     delete whole oldest segments: this loses kept events and is logged as
 *     an error with the sequences lost.
 * Every episode appends one SpoolOverflow event with the count and the
 * sequence range dropped, so the collector sees the gap explained.
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
    uint8_t *out;
    size_t len;
    uint64_t kept, last_kept;
    struct drop *d;
};

static int keep_rec(const struct spool_rec *rec, void *ud)
{
    struct compact *c = ud;

    if (rec->flags & SPOOL_F_KEEP) {
        /* Re-use the record bytes as they are: header, CRC and payload. */
        memcpy(c->out + c->len, rec->payload - SPOOL_REC_HDR, SPOOL_REC_HDR + rec->len);
        c->len += SPOOL_REC_HDR + rec->len;
        c->kept++;
        c->last_kept = rec->seq;
        return 0;
    }
    if (c->d->dropped++ == 0 || rec->seq < c->d->first)
        c->d->first = rec->seq;
    if (rec->seq > c->d->last)
        c->d->last = rec->seq;
    return 0;
}

/* Rewrites segment i without measurements. Returns 0 or a negative errno. */
static int compact(spool_t *sp, size_t i, struct drop *d)
{
    struct spool__seg *s = &sp->segs[i];
    char name[40], tmp[48];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t epoch;
    int torn, fd, rc;
    struct compact c = {.d = d};

    spool__seg_name(name, sizeof(name), s->first);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    rc = spool__read_file(sp->dirfd, name, &buf, &len);
    if (rc < 0)
        goto out;
    if (len > s->bytes)
        len = s->bytes;
    c.out = fm_xmalloc(len);
    c.len = SPOOL_HDR_SIZE; /* kept records go behind a copy of the header */
    if (spool_seg_scan(buf, len, &epoch, keep_rec, &c, &torn) < 0) {
        rc = -EINVAL;
        goto out;
    }
    if (c.kept == 0) {
        spool__seg_remove(sp, i);
        rc = 0;
        goto out;
    }
    memcpy(c.out, buf, SPOOL_HDR_SIZE);
    fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (write(fd, c.out, c.len) != (ssize_t)c.len || fdatasync(fd) != 0) {
        rc = errno ? -errno : -ENOSPC;
        close(fd);
        unlinkat(sp->dirfd, tmp, 0);
        goto out;
    }
    close(fd);
    if (renameat(sp->dirfd, tmp, sp->dirfd, name) != 0) {
        rc = -errno;
        unlinkat(sp->dirfd, tmp, 0);
        goto out;
    }
    fsync(sp->dirfd);
    s->bytes = c.len;
    s->n_rec = c.kept;
    s->n_measure = 0;
    sp->gen++;
    rc = 0;
out:
    free(buf);
    free(c.out);
    return rc;
}

static void report(spool_t *sp, const struct drop *d)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__SpoolOverflow ov = FM__SPOOL_OVERFLOW__INIT;

    /* A spool that stays full overflows at every flush: one warning a
     * minute with the running total says the same without flooding. */
    int64_t now = fm_clock_wall_ms();
    if (now - sp->overflow_logged_ms >= 60000) {
        FM_WARN("spool: %s: over its cap of %" PRIu64 " bytes: dropped %" PRIu64
                " oldest measurements (seq %" PRIu64 "..%" PRIu64 "), alarm transitions kept; "
                "%" PRIu64 " dropped since start",
                sp->cfg->dir, sp->cap, d->dropped, d->first, d->last, sp->stats.dropped);
        sp->overflow_logged_ms = now;
    }
    ev.ts_ms = fm_clock_wall_ms();
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

    while (spool__total_bytes(sp) > target) {
        size_t i = 0;
        while (i < sp->n_segs && sp->segs[i].n_measure == 0)
            i++;
        if (i == sp->n_segs)
            break;
        if (i == sp->n_segs - 1) {
            /* The oldest measurements are in the active segment: close it
             * first so it can be rewritten. */
            if (sp->fd >= 0 && sp->cfg->fsync != SPOOL_FSYNC_NEVER)
                fdatasync(sp->fd);
            if (spool__seg_create(sp, spool__unwritten(sp)) < 0)
                break;
        }
        int rc = compact(sp, i, &d);
        if (rc < 0) {
            FM_ERR("spool: %s: cannot rewrite the oldest segment to drop measurements: %s",
                   sp->cfg->dir, strerror(-rc));
            break;
        }
    }
    while (spool__total_bytes(sp) > sp->cap && sp->n_segs > 1) {
        const struct spool__seg *s = &sp->segs[0];
        FM_ERR("spool: %s: still over its cap with only alarm transitions and other kept "
               "events: dropping %" PRIu64 " of them (seq %" PRIu64 "..%" PRIu64 ")",
               sp->cfg->dir, s->n_rec, s->first, s->last);
        sp->stats.dropped_kept += s->n_rec;
        spool__seg_remove(sp, 0);
    }
    if (d.dropped > 0) {
        sp->stats.dropped += d.dropped;
        sp->stats.overflows++;
        report(sp, &d);
    }
}
