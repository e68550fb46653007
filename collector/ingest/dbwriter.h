/* dbwriter: the writer threads between the event loop and PostgreSQL.
 *
 * The loop submits jobs (a Hello to register, a batch to commit, a goodbye
 * to record); each job goes to the writer that owns its agent (a hash of the
 * agent id), so one agent's jobs are done in the order submitted. A writer
 * takes every batch waiting for it, up to txn_max_events, and commits them
 * in one transaction (dbs). Jobs reach a writer through its fmq_work
 * queue and come back to the loop through one fmq_loop (fm_queue.h); the
 * done callback runs on the loop for each job.
 *
 * When PostgreSQL is unreachable a writer keeps its jobs and reconnects with
 * a doubling backoff (pg_connect_retry); the loop sees the queue grow
 * (dbw_queued_events) and stops reading from agents. A failed transaction
 * is judged by pg_classify: run again (serialization failure, deadlock),
 * run again after a reconnect (connection lost), or handed back with its
 * error. Thread rules: every function here is for the loop thread, except
 * where said. */
#ifndef DBWRITER_H
#define DBWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "collconf.h"
#include "fm_queue.h"
#include "fmw_arena.h"
#include "fmwire.h"

enum dbw_kind {
    DBW_HELLO,
    DBW_BATCH,
    DBW_BYE,
};

/* The batches of one connection, in order. Once one of them could not be
 * stored, the writer applies none of the later ones (the connection is
 * closed and the agent resends from its committed sequence). Lives in the
 * connection; read and written only by the writer that owns the agent. */
struct dbw_chain {
    bool broken;
};

struct dbw_job {
    struct fmq_node node; /* first: queue link, the queue's while queued */
    enum dbw_kind kind;
    void *owner; /* the connection; opaque here */
    char agent_id[FMW_MAX_ID + 1];
    char peer[64];
    Fm__Envelope *env;       /* HELLO and BATCH: decoded into arena */
    fmw_arena_t *arena;      /* owned by the job (NULL for BYE): holds env */
    struct dbw_chain *chain; /* BATCH: its connection's chain (borrowed) */
    size_t bytes;            /* memory charged to the connection (decoded envelope and job) */
    size_t nevents;
    uint64_t queued_us; /* uv_hrtime()/1000 at submit */
    /* Results, written by the writer. */
    int rc; /* 0, or negative errno with why */
    char why[256];
    uint64_t committed_seq;
    uint64_t applied;
};

typedef struct dbw dbw_t;
typedef void (*dbw_done_cb)(struct dbw_job *job, void *arg);

/* Creates the writers (threads not started) and sets *out. Borrows loop,
 * cfg and collector_id for the writer's lifetime. Returns 0, or a negative
 * errno from the queues' initialisation (uv_async_init, mutexes), with
 * nothing left to close or free. Free with dbw_stop, then dbw_destroy. */
int dbw_create(uv_loop_t *loop, const struct collconf_db *cfg, const char *collector_id,
               dbw_done_cb done, void *arg, dbw_t **out);

/* Starts the threads; each connects (retrying in the background). Returns 0
 * or a negative errno (logged); then no thread runs, and dbw_stop still
 * closes the writers. */
int dbw_start(dbw_t *w);

/* Queues a job (takes ownership until the done callback). */
void dbw_submit(dbw_t *w, struct dbw_job *job);

/* Events submitted and not yet done: the backpressure signal. */
size_t dbw_queued_events(const dbw_t *w);

/* Writers connected to PostgreSQL right now (any thread). */
unsigned dbw_connected(const dbw_t *w);

/* Asks the writers to finish the jobs they hold (giving up on PostgreSQL
 * after grace_ms), joins them, delivers the remaining results, and closes
 * the async handle. Jobs never done are delivered with rc -ECANCELED. A
 * second call does nothing. */
void dbw_stop(dbw_t *w, int64_t grace_ms);
/* After dbw_stop: frees w now if the loop has run the handle's close
 * callback, else from that callback. NULL is fine. */
void dbw_destroy(dbw_t *w);

/* Frees a job and its envelope (loop thread, after the done callback). */
void dbw_job_free(struct dbw_job *job);

#endif
