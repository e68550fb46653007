/* spool_int: what the spool's files share; not part of its API. */
#ifndef SPOOL_INT_H
#define SPOOL_INT_H

#include "spool.h"
#include "spool_seg.h"

#include <stdbool.h>

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

struct spool {
    const struct spool_cfg *cfg;
    uint64_t cap, seg_cap;
    int dirfd;
    int fd; /* active segment, O_APPEND */
    uint64_t epoch;
    struct spool__seg *segs; /* oldest first; the last one is active */
    size_t n_segs, segs_cap;
    uint64_t gen; /* bumped when a segment is deleted or rewritten */

    uint8_t *wbuf;
    size_t wlen, wcap;
    uint64_t w_n, w_measure;
    uint64_t w_first; /* sequence of the first buffered record */

    uint64_t next_seq, written_seq, acked;
    struct spool__waiter *waiters;
    size_t n_waiters, waiters_cap;
    bool unsynced;
    int write_failing;
    int64_t overflow_logged_ms;

    spool_flushed_cb flushed_cb;
    void *flushed_ud;

    struct {
        uint64_t appended, dropped, dropped_kept, dropped_nobuf, overflows, write_errors;
    } stats;
};

uint64_t spool__total_bytes(const spool_t *sp);
void spool__seg_name(char *buf, size_t len, uint64_t first);
int spool__seg_create(spool_t *sp, uint64_t first);
void spool__seg_remove(spool_t *sp, size_t i);
void spool__overflow(spool_t *sp);
/* First sequence not yet written: where a new segment starts. */
uint64_t spool__unwritten(const spool_t *sp);
/* Reads a whole segment file into a new buffer (free with free). */
int spool__read_file(int dirfd, const char *name, uint8_t **buf, size_t *len);

#endif
