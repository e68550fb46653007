/* pg: the one PostgreSQL layer of fieldmon-collector and fieldmonctl.
 *
 * Every connection either program makes goes through pg_connect (one
 * attempt) or pg_connect_retry (attempts paced by a doubling back-off that
 * threads may share, pg_pace, waited through the caller's fmq_work queue so
 * that a stop never waits out a back-off). Every failed result is judged by one rule, pg_classify:
 *
 *   PG_RETRY      run the transaction again on the same connection:
 *                 class 40 (serialization_failure 40001, deadlock_detected
 *                 40P01, statement_completion_unknown 40003) except 40002
 *                 (an integrity violation, which a retry repeats);
 *   PG_RECONNECT  the connection is gone or the server is going away: the
 *                 connection's status is bad, libpq gave no SQLSTATE, class
 *                 08 (connection exception), 57 (operator intervention:
 *                 admin_shutdown 57P01, crash_shutdown 57P02, ...) or 53
 *                 (insufficient resources: too_many_connections, disk_full);
 *   PG_GIVE_UP    anything else: the statement or its data is at fault and
 *                 trying again cannot help; the reason says why.
 *
 * As an errno (the convention of every int-returning function here and of
 * the modules above): PG_RETRY is -EAGAIN, PG_RECONNECT -ENOTCONN,
 * PG_GIVE_UP -EIO. Transactions start and end through pg_begin, pg_commit
 * and pg_rollback, whose results are checked.
 *
 * Blocking (libpq): call from a worker thread, a test or a command-line
 * program, never from the event loop. Nothing here logs: the caller decides
 * what a failure means and logs it once. Strings are borrowed for the call;
 * reasons are written into the caller's why buffer as one line. */
#ifndef PG_H
#define PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "fm_queue.h"

enum pg_verdict {
    PG_OK = 0,
    PG_RETRY,
    PG_RECONNECT,
    PG_GIVE_UP,
};

/* The rule above, from a SQLSTATE ("" or NULL: none) and whether the
 * connection is still good. Pure: any thread. */
enum pg_verdict pg_classify_state(const char *sqlstate, bool conn_ok);

/* Classifies the failure of r (NULL: a call that gave no result, such as
 * PQputCopyData; conn's message is used) on conn, and writes
 * "what: PostgreSQL's message" as one line into why (whylen > 0). Copies
 * the SQLSTATE into sqlstate[6] when it is not NULL ("" when none). Borrows
 * r (the caller clears it). Never PG_OK. */
enum pg_verdict pg_classify(PGconn *conn, const PGresult *r, const char *what, char *why,
                            size_t whylen, char *sqlstate);

/* The errno of a verdict (0, -EAGAIN, -ENOTCONN, -EIO) and back (other
 * negative values are PG_GIVE_UP). */
int pg_verdict_errno(enum pg_verdict v);
enum pg_verdict pg_errno_verdict(int rc);

/* Copies msg into buf (len > 0) as "what: msg" on one line: newlines and
 * tabs become spaces, runs of spaces one, no trailing space. what may be
 * NULL. A reason is never empty: a NULL or blank msg reads
 * PG_NO_REASON. */
#define PG_NO_REASON "libpq gave no reason"
void pg_oneline(char *buf, size_t len, const char *what, const char *msg);

/* One attempt. dsn may be NULL or "" (libpq's PG* environment) and may be a
 * whole connection string; app is the application_name PostgreSQL shows.
 * Returns a new connection (free with PQfinish), or NULL with libpq's
 * reason (one line) in why. */
PGconn *pg_connect(const char *dsn, const char *app, char *why, size_t whylen);

/* A doubling wait between min_ms and max_ms. */
struct pg_backoff {
    uint64_t min_ms, max_ms;
    uint64_t next_ms; /* the wait after the next failure */
};
void pg_backoff_init(struct pg_backoff *b, uint64_t min_ms, uint64_t max_ms);
/* Returns the wait to use now, and doubles the next one up to max_ms. */
uint64_t pg_backoff_next(struct pg_backoff *b);
void pg_backoff_reset(struct pg_backoff *b);

/* One back-off shared by the threads of a program that connect to the same
 * PostgreSQL (the collector's DB writers). While PostgreSQL is reachable,
 * every thread connects when it needs to. Once an attempt has failed, it is
 * "down": one thread at a time tries again (the probe), no sooner than the
 * back-off allows, and the others wait for the probe's outcome instead of
 * trying on their own; when the probe succeeds they connect at once. So an
 * outage costs one schedule of attempts (min_ms doubling up to max_ms) per
 * pace, however many threads wait and however many jobs arrive, and the
 * threads reconnect within max_ms (plus PG_PACE_POLL_MS) of PostgreSQL's
 * return. Embedded by its owner; any thread. */
struct pg_pace {
    uv_mutex_t mu;             /* guards the rest */
    struct pg_backoff backoff; /* the wait after the next failed probe */
    uint64_t next_ms;          /* monotonic: no probe before this while down */
    bool down;                 /* the last attempt failed */
    bool probing;              /* a thread holds the probe */
};

/* How often a thread waiting for another thread's probe looks again. */
#define PG_PACE_POLL_MS 50

/* Returns 0 or a negative errno from uv_mutex_init (nothing to destroy). */
int pg_pace_init(struct pg_pace *p, uint64_t min_ms, uint64_t max_ms);
/* Once no thread uses p. */
void pg_pace_destroy(struct pg_pace *p);

/* The steps of pg_connect_retry, public for tests. pg_pace_turn returns 0
 * when the caller may attempt now (*probe: it holds the probe and must
 * report with pg_pace_done), else how long to wait before asking again.
 * pg_pace_done reports an attempt's outcome and returns the wait before
 * the next probe (0 after a success). now_ms is fm_clock_mono_ms(). */
uint64_t pg_pace_turn(struct pg_pace *p, uint64_t now_ms, bool *probe);
uint64_t pg_pace_done(struct pg_pace *p, bool probe, bool ok, uint64_t now_ms);

/* How pg_connect_retry tries. Owned by the caller. */
struct pg_retry {
    struct pg_pace *pace;   /* borrowed: the back-off, shared or the caller's own */
    struct fmq_work *queue; /* the calling worker's queue: its stop ends a wait */
    /* Optional: run on a fresh connection before it is handed out (schema
     * check, registration). 0, or a negative errno with the reason in why:
     * the attempt fails like a failed connect. */
    int (*setup)(void *arg, PGconn *conn, char *why, size_t whylen);
    /* Called after each failed attempt with the reason, the attempt's errno
     * (-ENOTCONN for connect, else setup's) and the wait before the next
     * probe; the caller logs and counts. Returns false to stop trying. */
    bool (*failed)(void *arg, const char *why, int rc, uint64_t wait_ms);
    void *arg;
};

/* Worker thread. Connects (and sets up) until it succeeds, taking turns
 * through r->pace and waiting through fmq_work_sleep(r->queue), which
 * returns at once once the queue is stopped; a stopped queue attempts
 * without waiting for its turn, and failed() decides when to give up. A
 * push to the queue does not end a wait: jobs arriving never cause an
 * attempt. A failed connect's reason reads "connect: libpq's reason"; a
 * failed setup's is setup's. Returns the connection (free with PQfinish),
 * or NULL when failed() returned false (why holds the last reason). */
PGconn *pg_connect_retry(const char *dsn, const char *app, struct pg_retry *r, char *why,
                         size_t whylen);

/* Worker thread. Whether conn is still open: reads what the server sent
 * without blocking (libpq's socket is non-blocking), so that a server that
 * closed the connection, as PostgreSQL does when it stops, is noticed by a
 * connection at rest. Returns 0, or -ENOTCONN with the reason in why. */
int pg_check(PGconn *conn, char *why, size_t whylen);

/* BEGIN / COMMIT on conn. Return 0, or the verdict's errno with why. A
 * COMMIT that PostgreSQL answers with ROLLBACK (the transaction had failed)
 * is -EIO. */
int pg_begin(PGconn *conn, char *why, size_t whylen);
int pg_commit(PGconn *conn, char *why, size_t whylen);

/* ROLLBACK, when the connection is still good (on a lost one there is
 * nothing to roll back). Its failure needs no handling: the connection is
 * then gone, and the next statement says so. */
void pg_rollback(PGconn *conn);

/* The highest schema version recorded in schema_migrations (0 when the
 * table does not exist), or the verdict's errno with why. */
int pg_schema_version(PGconn *conn, char *why, size_t whylen);

#endif
