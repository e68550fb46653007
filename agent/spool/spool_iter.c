/* spool_iter: the sender's reader over written records (see spool.h).
 *
 * The iterator remembers a segment (by its first sequence, which is its
 * name) and an offset. Deleting or rewriting segments bumps the spool's
 * generation; an iterator from an older generation seeks again by sequence,
 * which is always correct because sequences only grow. Reads stop at the
 * bytes the spool knows are written, never at the end of the file, so a
 * write in progress is never seen half done. */
#include "spool_int.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITER_BUF (256u << 10)

void spool_iter_init(struct spool_iter *it, uint64_t from_seq)
{
    memset(it, 0, sizeof(*it));
    it->next_seq = from_seq ? from_seq : 1;
    it->fd = -1;
}

void spool_iter_close(struct spool_iter *it)
{
    if (it->fd >= 0)
        close(it->fd);
    free(it->buf);
    it->buf = NULL;
    it->fd = -1;
}

/* Index of segment `first`, or -1. */
static ssize_t seg_index(const spool_t *sp, uint64_t first)
{
    for (size_t i = sp->n_segs; i-- > 0;) {
        if (sp->segs[i].first == first)
            return (ssize_t)i;
    }
    return -1;
}

static int iter_open(spool_t *sp, struct spool_iter *it, size_t i)
{
    char name[40];

    if (it->fd >= 0)
        close(it->fd);
    spool__seg_name(name, sizeof(name), sp->segs[i].first);
    it->fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (it->fd < 0)
        return -errno;
    it->seg_first = sp->segs[i].first;
    it->off = SPOOL_HDR_SIZE;
    it->len = it->pos = 0;
    it->buf_off = SPOOL_HDR_SIZE;
    it->gen = sp->gen;
    return 0;
}

/* Positions the iterator on the segment that holds next_seq. */
static int iter_seek(spool_t *sp, struct spool_iter *it)
{
    size_t i = 0;

    for (size_t k = 0; k < sp->n_segs; k++) {
        if (sp->segs[k].first <= it->next_seq)
            i = k;
    }
    return iter_open(sp, it, i);
}

/* Reads more of the segment (up to `limit`, the written size) into buf. */
static int iter_fill(struct spool_iter *it, uint64_t limit, size_t need)
{
    if (it->pos > 0) {
        memmove(it->buf, it->buf + it->pos, it->len - it->pos);
        it->buf_off += it->pos;
        it->len -= it->pos;
        it->pos = 0;
    }
    if (need > it->cap) {
        it->cap = need > ITER_BUF ? need : ITER_BUF;
        it->buf = fm_xrealloc(it->buf, it->cap);
    }
    uint64_t at = it->buf_off + it->len;
    size_t want = it->cap - it->len;
    if (at >= limit)
        return 0;
    if (want > limit - at)
        want = (size_t)(limit - at);
    ssize_t n = pread(it->fd, it->buf + it->len, want, (off_t)at);
    if (n < 0)
        return -errno;
    it->len += (size_t)n;
    return (int)(n > 0);
}

int spool_iter_next(spool_t *sp, struct spool_iter *it, struct spool_rec *rec)
{
    int rc;

    for (;;) {
        size_t used;
        ssize_t i;

        if (it->next_seq > sp->written_seq || sp->n_segs == 0)
            return 0;
        if (it->gen != sp->gen || it->fd < 0) {
            rc = iter_seek(sp, it);
            if (rc < 0)
                goto fail;
        }
        i = seg_index(sp, it->seg_first);
        if (i < 0) {
            it->gen = 0;
            continue;
        }
        /* No buffer yet (nothing read from this segment): parse nothing
         * rather than form an offset from a null pointer. */
        rc = spool_seg_rec_parse(it->buf ? it->buf + it->pos : NULL, it->len - it->pos, rec, &used);
        if (rc == SPOOL_PARSE_OK) {
            it->pos += used;
            if (rec->seq < it->next_seq)
                continue;
            it->next_seq = rec->seq + 1;
            return 1;
        }
        if (rc == SPOOL_PARSE_BAD) {
            /* Recovery checked every record; damage now means the disk or
             * someone else changed the file. Skip the rest of it. */
            FM_ERR("spool: %s: segment %" PRIu64 ": bad record at offset %" PRIu64
                   ", skipping the rest of the segment",
                   sp->cfg->dir, it->seg_first, it->buf_off + it->pos);
            it->pos = it->len;
            it->buf_off = sp->segs[i].bytes;
            it->len = 0;
            it->pos = 0;
        }
        /* Short: read more of this segment, or move on to the next. */
        size_t need = SPOOL_REC_HDR;
        if (it->len - it->pos >= 4) {
            const uint8_t *p = it->buf + it->pos;
            uint32_t plen =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            need = SPOOL_REC_HDR + (plen <= SPOOL_MAX_RECORD ? plen : 0);
        }
        rc = iter_fill(it, sp->segs[i].bytes, need);
        if (rc < 0)
            goto fail;
        if (rc > 0)
            continue;
        if ((size_t)i + 1 >= sp->n_segs)
            return 0; /* end of written data in the active segment */
        rc = iter_open(sp, it, (size_t)i + 1);
        if (rc < 0)
            goto fail;
    }
fail:
    FM_ERR("spool: %s: reading segment %" PRIu64 ": %s", sp->cfg->dir, it->seg_first,
           strerror(-rc));
    return -EIO;
}
