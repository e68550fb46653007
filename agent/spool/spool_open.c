/* spool_open: opening a spool directory and recovering it after a crash or
 * power loss (see spool.h).
 *
 * Recovery reads every segment once: it checks the header, walks the
 * records with their CRCs, counts what is there, and cuts a torn tail off
 * with ftruncate so it can never be replayed. A segment with a bad header
 * or another epoch's header is renamed to `.bad` and left for an operator:
 * it is not ours to delete. */
#include "spool_int.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int spool__read_file(int dirfd, const char *name, uint8_t **buf, size_t *len)
{
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out_close;
    }
    *buf = fm_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    *len = got;
out_close:
    close(fd);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the sequence numbers in the names of the segment files, sorted. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
    int fd = dup(dirfd);
    DIR *d;
    struct dirent *de;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        char *end;
        size_t len = strlen(de->d_name);
        if (len != 24 || strcmp(de->d_name + 20, ".seg") != 0)
            continue;
        uint64_t first = strtoull(de->d_name, &end, 10);
        if (end != de->d_name + 20)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = fm_xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = first;
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof(**out), cmp_u64);
    return 0;
}

static int read_epoch(spool_t *sp)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = spool__read_file(sp->dirfd, "epoch", &buf, &len);

    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    sp->epoch = strtoull((char *)buf, NULL, 10);
    free(buf);
    return sp->epoch != 0 ? 0 : -EINVAL;
}

/* Starts a new epoch: Unix microseconds now, written to `epoch` atomically
 * (write, fsync, rename, fsync of the directory; each failure returned and
 * logged once). */
static int new_epoch(spool_t *sp)
{
    struct timeval tv;
    char text[32];
    ssize_t n;
    int fd, len, rc;

    gettimeofday(&tv, NULL);
    sp->epoch = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    len = snprintf(text, sizeof(text), "%" PRIu64 "\n", sp->epoch);
    fd = openat(sp->dirfd, "epoch.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool__io_fail(sp, SPOOL_OP_CREATE, "epoch.tmp", -errno);
    n = spool__io.write(fd, text, (size_t)len);
    if (n != len) {
        rc = spool__io_fail(sp, SPOOL_OP_WRITE, "epoch.tmp", n < 0 ? -errno : -ENOSPC);
        close(fd);
        return rc;
    }
    rc = spool__sync_fd(fd, false);
    if (rc < 0) {
        spool__io_fail(sp, SPOOL_OP_FDATASYNC, "epoch.tmp", rc);
        close(fd);
        return rc;
    }
    if (spool__io.close(fd) != 0)
        return spool__io_fail(sp, SPOOL_OP_CLOSE, "epoch.tmp", -errno);
    if (spool__io.renameat(sp->dirfd, "epoch.tmp", sp->dirfd, "epoch") != 0)
        return spool__io_fail(sp, SPOOL_OP_RENAME, "epoch.tmp", -errno);
    rc = spool__sync_fd(sp->dirfd, false);
    if (rc < 0)
        return spool__io_fail(sp, SPOOL_OP_FSYNC_DIR, NULL, rc);
    return 0;
}

struct count {
    uint64_t n, measure, last;
};

static int count_rec(const struct spool_rec *rec, void *ud)
{
    struct count *c = ud;

    c->n++;
    c->measure += rec->flags & SPOOL_F_KEEP ? 0 : 1;
    c->last = rec->seq;
    return 0;
}

/* Renames a segment that is not ours to `.bad`. If the rename fails the
 * file stays where it is, and is still left out: it is never read. */
static void set_aside(spool_t *sp, const char *name, const char *why)
{
    char bad[48];

    snprintf(bad, sizeof(bad), "%s.bad", name);
    if (spool__io.renameat(sp->dirfd, name, sp->dirfd, bad) != 0) {
        FM_ERR("spool: %s/%s: %s; left out (rename to %s failed: %s)", sp->cfg->dir, name, why, bad,
               strerror(errno));
        sp->stats.io_errors++;
        return;
    }
    FM_ERR("spool: %s/%s: %s; renamed to %s", sp->cfg->dir, name, why, bad);
}

/* Cuts a segment file after its last good record, durably. */
static int cut_tail(spool_t *sp, const char *name, int64_t end)
{
    int fd = openat(sp->dirfd, name, O_WRONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return spool__io_fail(sp, SPOOL_OP_TRUNCATE, name, -errno);
    if (spool__io.ftruncate(fd, end) != 0) {
        rc = spool__io_fail(sp, SPOOL_OP_TRUNCATE, name, -errno);
        close(fd);
        return rc;
    }
    rc = spool__sync_fd(fd, true);
    if (rc < 0) {
        spool__io_fail(sp, SPOOL_OP_FDATASYNC, name, rc);
        close(fd);
        return rc;
    }
    if (spool__io.close(fd) != 0)
        return spool__io_fail(sp, SPOOL_OP_CLOSE, name, -errno);
    return 0;
}

/* Checks one segment, truncates a torn tail and records it. */
static void recover_segment(spool_t *sp, uint64_t first)
{
    char name[40];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t epoch = 0;
    struct count c = {0};
    int torn;
    int64_t end;

    spool__seg_name(name, sizeof(name), first);
    if (spool__read_file(sp->dirfd, name, &buf, &len) < 0) {
        FM_ERR("spool: %s/%s: cannot read: %s", sp->cfg->dir, name, strerror(errno));
        goto out;
    }
    end = spool_seg_scan(buf, len, &epoch, count_rec, &c, &torn);
    if (end < 0) {
        set_aside(sp, name, "not a spool segment (bad header)");
        goto out;
    }
    if (epoch != sp->epoch) {
        set_aside(sp, name, "segment of another epoch");
        goto out;
    }
    if (torn) {
        /* Only what follows the last good record goes: a record cut short
         * or garbled by power loss, never a record the CRC vouches for. */
        FM_WARN("spool: %s/%s: torn record at offset %" PRId64 " (power loss?): %zu bytes "
                "discarded, %" PRIu64 " good records kept",
                sp->cfg->dir, name, end, len - (size_t)end, c.n);
        if (cut_tail(sp, name, end) < 0) {
            /* A tail that stays would sit between good records and the
             * next append: leave the segment out of the spool. */
            set_aside(sp, name, "torn record could not be cut off");
            goto out;
        }
    }
    if (sp->n_segs == sp->segs_cap) {
        sp->segs_cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
        sp->segs = fm_xrealloc(sp->segs, sp->segs_cap * sizeof(*sp->segs));
    }
    sp->segs[sp->n_segs++] = (struct spool__seg){
        .first = first,
        .last = c.n ? c.last : first - 1,
        .bytes = (uint64_t)end,
        .n_rec = c.n,
        .n_measure = c.measure,
    };
out:
    free(buf);
}

static int open_active(spool_t *sp)
{
    char name[40];

    if (sp->n_segs == 0)
        return spool__seg_create(sp, sp->next_seq);
    spool__seg_name(name, sizeof(name), sp->segs[sp->n_segs - 1].first);
    sp->fd = openat(sp->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    return sp->fd < 0 ? spool__io_fail(sp, SPOOL_OP_OPEN, name, -errno) : 0;
}

int spool_open(const struct spool_cfg *cfg, uint64_t cap, spool_t **out)
{
    spool_t *sp = fm_xcalloc(1, sizeof(*sp));
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc;

    spool__apply_cfg(sp, cfg, cap);
    sp->fd = -1;
    sp->dirfd = -1;
    sp->gen = 1;
    if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        FM_ERR("spool: %s: cannot create the directory: %s", cfg->dir, strerror(-rc));
        goto out_free;
    }
    sp->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        rc = -errno;
        FM_ERR("spool: %s: cannot open the directory: %s", cfg->dir, strerror(-rc));
        goto out_free;
    }
    rc = list_segments(sp->dirfd, &firsts, &n);
    if (rc < 0) {
        FM_ERR("spool: %s: cannot list: %s", cfg->dir, strerror(-rc));
        goto out_free;
    }
    if (read_epoch(sp) < 0) {
        if (n > 0)
            FM_ERR("spool: %s: epoch file missing or unreadable, %zu segments set aside with "
                   "a new epoch",
                   cfg->dir, n);
        rc = new_epoch(sp); /* a failure is logged with its file */
        if (rc < 0)
            goto out_free;
    }
    for (size_t i = 0; i < n; i++)
        recover_segment(sp, firsts[i]);
    sp->next_seq = 1;
    if (sp->n_segs > 0) {
        const struct spool__seg *l = &sp->segs[sp->n_segs - 1];
        sp->next_seq = l->last + 1;
    }
    sp->written_seq = sp->next_seq - 1;
    /* The previous run may have sent any of it: what the cap removes
     * before the collector's HelloAck is in doubt, not dropped. */
    sp->sent = sp->written_seq;
    rc = open_active(sp); /* a failure is logged with its file */
    if (rc < 0)
        goto out_free;
    free(firsts);
    *out = sp;
    return 0;
out_free:
    free(firsts);
    sp->n_waiters = 0;
    sp->wlen = 0;
    spool_close(sp);
    return rc;
}
