/* spool: the agent's durable store-and-forward log.
 *
 * Every event the agent produces gets the next sequence number of the
 * agent's epoch and is appended to segment files in one directory (format
 * and the choice of segment files over SQLite: spool_seg.h). The sender reads
 * only what has been written to the files, and the spool deletes only what
 * the collector acknowledged.
 *
 * Durability. spool_append packs the event into a write buffer; spool_flush
 * writes that buffer with one write(2) and, with fsync policy `always`,
 * fdatasync(2)s it. An event is "spooled" once its write returned: from then
 * on it survives kill -9 of the agent under every policy (the data is in the
 * kernel). Policy `interval` (the default) adds an fdatasync every
 * fsync_interval, bounding what a power loss can take; `always` loses nothing
 * spooled even then; `never` leaves it to the kernel. The agent flushes at
 * the end of every loop iteration (spool_pump.h), so "spooled" follows the
 * event within one iteration.
 *
 * Epoch. A spool directory has one epoch (Unix microseconds when it was
 * created), kept in the file `epoch`. Sequences start at 1 and continue
 * across restarts; a new epoch starts only with an empty or unusable
 * directory.
 *
 * Overflow. The spool never holds more than cap bytes for long: when a flush
 * finds it larger, the oldest segments are rewritten without their
 * measurements (alarm transitions, traps, reachability and status events are
 * kept) and without anything already acknowledged, oldest first, until it is
 * under 90 % of the cap. The removal is reported by an appended SpoolOverflow
 * event. Only when nothing but kept events remains are whole oldest segments
 * dropped, which is logged as an error.
 *
 * Dropped. An event is dropped when it was never acknowledged and is gone:
 * refused by spool_append (never spooled), or removed by the cap and not
 * committed by the collector. Acknowledged events the cap removes are not
 * dropped. An event removed after it was sent is in doubt (its ack may have
 * been lost) until the collector commits past it (spool_ack) or answers a
 * Hello with a lower committed sequence (spool_confirm): only then is it
 * counted one way or the other. At open everything in the files counts as
 * possibly sent.
 *
 * Failing disk. Every failed write, fdatasync, fsync, rename, truncate and
 * close is returned, counted and logged once per failure streak with its
 * path and errno. Records whose write failed stay in the write buffer, in
 * order, and are retried at every flush; their done callbacks are called at
 * once with the error (an inform is not acknowledged). While writes fail,
 * measurements that do not fit the write buffer are refused (dropped) and
 * kept events are held in memory up to hold_size more; what does not fit
 * that either is refused. When writing works again everything held is
 * written first, in sequence order.
 *
 * Single-threaded: every call from the agent's loop thread. */
#ifndef SPOOL_H
#define SPOOL_H

#include "fmwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum spool_fsync { SPOOL_FSYNC_ALWAYS = 0, SPOOL_FSYNC_INTERVAL = 1, SPOOL_FSYNC_NEVER = 2 };

/* Configuration (key `spool` of the agent config; table in spool_conf.c). */
struct spool_cfg {
    char *dir;
    uint64_t max_bytes;     /* 0: automatic, 24 h at the configured event rate */
    uint64_t segment_bytes; /* 0: automatic, cap / 16 within 64 KiB .. 16 MiB */
    int fsync;              /* enum spool_fsync */
    int64_t fsync_interval_ms;
    uint64_t write_buffer; /* bytes buffered between flushes */
    uint64_t hold_bytes;   /* kept events held beyond write_buffer while writes fail */
};

/* Bytes an average event takes in the spool, for automatic sizing. */
#define SPOOL_EST_EVENT_BYTES 96u
/* Automatic cap: 24 h of events at events_per_s, at least 16 MiB. */
uint64_t spool_auto_cap(double events_per_s);

typedef struct spool spool_t;

/* Called after an event's record has been written (and synced, under
 * `always`): status 0, or a negative errno if the event could not be
 * spooled. Never called inside the spool_append that registered it. */
typedef void (*spool_done_cb)(int status, uint64_t seq, void *ud);

/* Opens (creating if needed) the spool in cfg->dir: recovers the epoch and
 * next sequence, truncates a torn last record of every segment, and deletes
 * nothing. cap is the resolved byte cap (spool_auto_cap if cfg->max_bytes is
 * 0). Borrows cfg for the spool's life. Returns 0 and *out, or a negative
 * errno (logged). Free with spool_close. */
int spool_open(const struct spool_cfg *cfg, uint64_t cap, spool_t **out);

/* Flushes, syncs (unless policy `never`) and frees; done callbacks still
 * waiting get -ECANCELED. NULL does nothing. */
void spool_close(spool_t *sp);

/* SIGHUP: the spool borrows cfg from now on (same directory: the caller
 * refuses a new one) and applies the new cap, segment size (from the next
 * segment), write buffer, hold size and fsync policy at once; a cap below
 * what the spool holds runs the overflow policy now. */
void spool_reconfigure(spool_t *sp, const struct spool_cfg *cfg, uint64_t cap);

/* Assigns ev->seq (overwriting it) and appends ev. cb (may be NULL) is
 * called from a later spool_flush once the record is written (status 0) or
 * its write failed (negative errno). Borrows ev. Returns 0, -EMSGSIZE for an
 * event over SPOOL_MAX_RECORD, or -ENOBUFS when the disk refuses writes and
 * neither the write buffer nor the hold has room for it; a refused event
 * gets no sequence, is counted as dropped and its cb is never called. */
int spool_append(spool_t *sp, Fm__Event *ev, spool_done_cb cb, void *ud);

/* Writes the buffer, syncs per policy, handles overflow and calls the done
 * callbacks. Returns 0 or the negative errno of a failed write or sync
 * (logged once per failure streak; unwritten records stay buffered and are
 * retried; their done callbacks get the error). */
int spool_flush(spool_t *sp);

/* fdatasync of the active segment (the `interval` policy's timer). Returns
 * 0 or a negative errno (logged once per failure streak). */
int spool_sync(spool_t *sp);

/* The sender wrote records up to seq to a session with the collector. */
void spool_sent(spool_t *sp, uint64_t seq);

/* The collector acknowledged everything up to seq on the current session:
 * segments wholly at or below it are deleted. */
void spool_ack(spool_t *sp, uint64_t seq);

/* The collector's HelloAck: seq is the last sequence it committed. Like
 * spool_ack, and settles every event the cap removed after it was sent:
 * committed if at or below seq, dropped above. */
void spool_confirm(spool_t *sp, uint64_t seq);

/* Called at the end of every spool_flush that wrote something (the sender
 * uses it to wake up). One hook; NULL removes it. */
typedef void (*spool_flushed_cb)(void *ud);
void spool_set_flushed_cb(spool_t *sp, spool_flushed_cb cb, void *ud);

/* Reading for the sender. An iterator walks spooled (written) records in
 * sequence order from a starting sequence; it survives segment deletion and
 * overflow rewriting by seeking again. */
struct spool_iter {
    uint64_t next_seq;  /* next sequence wanted */
    uint64_t seg_first; /* segment being read (its name) */
    uint64_t off;       /* offset in it */
    uint64_t gen;       /* spool generation the position belongs to */
    int fd;             /* open segment, -1: none */
    uint8_t *buf;       /* read buffer (owned) */
    size_t cap, len, pos;
    uint64_t buf_off; /* file offset of buf[0] */
};

void spool_iter_init(struct spool_iter *it, uint64_t from_seq);
void spool_iter_close(struct spool_iter *it);

/* Next written record with seq >= it->next_seq: returns 1 and fills *rec
 * (payload valid until the next call), 0 when the iterator is at the end of
 * written data, or a negative errno on a read error (logged). */
struct spool_rec;
int spool_iter_next(spool_t *sp, struct spool_iter *it, struct spool_rec *rec);

/* Figures for status events and metrics. */
struct spool_stats {
    uint64_t epoch;
    uint64_t next_seq;    /* the sequence the next event gets */
    uint64_t written_seq; /* last sequence written to the files */
    uint64_t acked_seq;
    uint64_t bytes; /* on disk, plus the write buffer */
    uint64_t cap;
    uint64_t events; /* unacknowledged events held */
    uint64_t segments;
    /* Dropped since start: never acknowledged and gone (see above). */
    uint64_t dropped;
    uint64_t dropped_kept;    /* of which alarm transitions and other kept events */
    uint64_t dropped_refused; /* of which refused by spool_append (never spooled) */
    uint64_t unconfirmed;     /* removed by the cap after being sent, in doubt */
    uint64_t removed_acked;   /* acknowledged events removed by the cap (not dropped) */
    uint64_t held;            /* events appended and not yet written */
    uint64_t held_max;        /* the most at once since start */
    uint64_t overflows;       /* overflow episodes since start */
    uint64_t appended;        /* events appended since start */
    uint64_t write_errors;    /* failed write, sync, rename, truncate, close calls */
};
void spool_get_stats(const spool_t *sp, struct spool_stats *st);

#endif
