/* spool_int: what the spool's files share; not part of its API. */
#ifndef SPOOL_INT_H
#define SPOOL_INT_H

#include "spool.h"
#include "spool_seg.h"

#include <stdbool.h>
#include <sys/types.h>

/* One segment file. `last` is first - 1 while it holds no record. */
struct spool__seg {
    uint64_t first, last;
    uint64_t bytes;     /* file size */
    uint64_t n_rec;     /* records in the file */
    uint64_t n_measure; /* of which measurements (droppable) */
};

struct spool__waiter {
    uint64_t seq;
    spool_done_cb cb;
    void *ud;
};

/* A run of consecutive sequences removed by the cap after they were sent:
 * the collector may have committed them (their ack lost), so they are
 * neither acknowledged nor dropped until it says (spool_drop.c). */
struct spool__run {
    uint64_t first, last;
    bool kept; /* alarm transitions and other kept events, not measurements */
};

/* The system calls through which the spool writes, syncs and renames. The
 * spool calls them only through this table, whose entries are libc's; the
 * unit tests replace entries to inject failures (EIO, ENOSPC) on demand. */
struct spool__io_ops {
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
    int (*ftruncate)(int fd, off_t len);
    int (*close)(int fd);
};
extern struct spool__io_ops spool__io;

/* I/O operations named in failure logs; one bit each in spool.io_logged. */
enum spool__op {
    SPOOL_OP_WRITE,
    SPOOL_OP_FDATASYNC,
    SPOOL_OP_FSYNC_DIR,
    SPOOL_OP_RENAME,
    SPOOL_OP_TRUNCATE,
    SPOOL_OP_CREATE,
    SPOOL_OP_OPEN,
    SPOOL_OP_CLOSE,
    SPOOL_OP_READ,
};

struct spool {
    const struct spool_cfg *cfg;
    uint64_t cap, seg_cap;
    int dirfd;
    int fd; /* active segment, O_APPEND */
    uint64_t epoch;
    struct spool__seg *segs; /* oldest first; the last one is active */
    size_t n_segs, segs_cap;
    uint64_t gen; /* bumped when a segment is deleted or rewritten */

    /* Write buffer: records appended and not yet written, in sequence
     * order. wcap bounds it normally; while writes fail, kept events may
     * fill it up to wcap + cfg->hold_bytes (walloc is what is allocated). */
    uint8_t *wbuf;
    size_t wlen, wcap, walloc;
    uint64_t w_n, w_measure;
    uint64_t w_first; /* sequence of the first buffered record */
    bool tail_dirty;  /* a failed write left part of a record in the file */

    uint64_t next_seq, written_seq, acked;
    /* Highest sequence the collector may hold unacknowledged: raised by
     * spool_sent, set to the committed sequence by spool_confirm, and at
     * open to everything written (the previous run may have sent it). */
    uint64_t sent;
    struct spool__waiter *waiters;
    size_t n_waiters, waiters_cap;
    bool unsynced;
    bool sync_failing;  /* the last fdatasync failed */
    unsigned io_logged; /* operations whose failure this streak has logged */
    uint64_t io_streak; /* failed calls since the last successful write */
    bool write_failing; /* the last write failed: append does not retry */
    int64_t overflow_logged_ms;

    struct spool__run *runs; /* removed by the cap, in doubt */
    size_t n_runs, runs_cap;
    bool runs_full_logged;

    spool_flushed_cb flushed_cb;
    void *flushed_ud;

    struct {
        uint64_t appended, overflows, io_errors;
        uint64_t lost_measure, lost_kept; /* removed by the cap, never acknowledged */
        uint64_t refused;                 /* never spooled */
        uint64_t removed_acked;           /* acknowledged, removed by the cap */
        uint64_t held_max;                /* most events held in memory at once */
    } stats;
};

uint64_t spool__total_bytes(const spool_t *sp);
void spool__seg_name(char *buf, size_t len, uint64_t first);
int spool__seg_create(spool_t *sp, uint64_t first);
void spool__seg_remove(spool_t *sp, size_t i);
void spool__overflow(spool_t *sp);
/* Syncs the active segment and starts the next one. 0 or a negative errno
 * (logged). */
int spool__rotate(spool_t *sp);
/* Applies cap, segment size and write buffer from cfg (borrowed). */
void spool__apply_cfg(spool_t *sp, const struct spool_cfg *cfg, uint64_t cap);
/* First sequence not yet written: where a new segment starts. */
uint64_t spool__unwritten(const spool_t *sp);
/* Reads a whole segment file into a new buffer (free with free). */
int spool__read_file(int dirfd, const char *name, uint8_t **buf, size_t *len);

/* A failed I/O call on file `name` of the spool (NULL: the directory):
 * counts it and logs it with the path and errno unless this failure streak
 * already logged one of the same operation. Returns rc (a negative errno). */
int spool__io_fail(spool_t *sp, enum spool__op op, const char *name, int rc);
/* fdatasync or fsync through spool__io; 0 or a negative errno (not logged). */
int spool__sync_fd(int fd, bool data_only);

/* Accounting of records the cap removes (spool_drop.c). Every removed
 * record is passed to spool__drop_rec: acknowledged ones are counted as
 * such, ones never sent are lost at once, sent ones wait in runs for the
 * collector's word (spool__drop_resolve). */
void spool__drop_rec(spool_t *sp, uint64_t seq, bool kept);
/* The collector committed everything up to seq. final: it said so in a
 * HelloAck, so what is still in doubt above seq is lost. */
void spool__drop_resolve(spool_t *sp, uint64_t seq, bool final);
uint64_t spool__drop_unconfirmed(const spool_t *sp);

#endif
