/* faults_int.h: what faults.c (the loop side) and faults_writer.c (the
 * writer thread) share. Not part of the API. */
#ifndef FAULTS_INT_H
#define FAULTS_INT_H

#include "faults.h"

#include <stdatomic.h>
#include <stdbool.h>

#include "correlate.h"
#include "fm_queue.h"
#include "site_load.h"
#include "tickets.h"

/* An agent whose connection ended (loop side). */
struct faults__lost {
    char site[FMW_MAX_ID + 1];
    char agent[FMW_MAX_ID + 1];
    int64_t due_ms; /* when to ask the database whether it came back elsewhere */
    bool asked;     /* a check is with the writer */
    bool declared;  /* the engine counts the site's agent as lost */
};

/* A question for the writer or its answer: is the agent connected to
 * another collector right now? */
struct faults__check {
    char site[FMW_MAX_ID + 1];
    char agent[FMW_MAX_ID + 1];
    bool elsewhere; /* answer */
    bool unknown;   /* answer: the database could not be asked; ask again later */
    bool orphan;    /* unasked: connected here before this collector started */
};

/* A site to rebuild from PostgreSQL, and the answer (site_load.h). */
struct faults__restore {
    char site[FMW_MAX_ID + 1];
    char *agents;          /* text[] literal: the site's agents correlated here */
    int64_t since_ms;      /* transitions from here (Unix ms) */
    bool failed;           /* answer: PostgreSQL refused the read (logged) */
    struct site_load load; /* answer */
};

/* What the loop hands the writer (fmq_work), and what the writer hands
 * back (fmq_loop). The receiver owns and frees a message. */
enum faults__kind {
    FAULTS__ACTIONS, /* to the writer: actions to apply, in order */
    FAULTS__CHECK,   /* to the writer: a lost agent to look up; back: the answer */
    FAULTS__WINDOWS, /* to the writer: reload now; back: the maintenance windows */
    FAULTS__RESTORE, /* to the writer: a site to read; back: what it holds */
};

struct faults__msg {
    struct fmq_node node; /* first: a node pointer is a message pointer */
    enum faults__kind kind;
    tickets_batch_t *actions;    /* ACTIONS */
    struct faults__check check;  /* CHECK */
    struct corr_window *windows; /* WINDOWS */
    size_t n_windows;
    struct faults__restore restore; /* RESTORE */
};

/* An input of a site being restored, held back until the restore is in
 * (faults_restore.c). */
struct faults__held {
    char *agent;
    int64_t epoch;
    uint64_t seq;
    char *device, *code, *point; /* code "unreachable" for reachability */
    bool raised;
    int64_t ts_ms;
};

/* A site being restored (loop side). */
struct faults__site {
    char site[FMW_MAX_ID + 1];
    bool again;        /* asked again while the read was out: read once more */
    uint64_t asked_ms; /* monotonic: when it was first asked for */
    struct faults__held *held;
    size_t n_held, cap_held;
};

/* An agent connected here, and its site. */
struct faults__present {
    char site[FMW_MAX_ID + 1];
    char agent[FMW_MAX_ID + 1];
};

struct faults {
    uv_loop_t *loop;
    const struct collconf *cfg;
    char actor[FMW_MAX_ID + 16];
    const char *collector_id;
    struct rules_conf rules;
    corr_t *engine;
    tickets_batch_t *outbox; /* engine actions not yet handed to the writer (loop) */
    uv_timer_t tick;
    int handles; /* open handles: the timer and the results queue */
    struct faults__lost *lost;
    size_t n_lost, cap_lost;
    struct faults__site *restoring;
    size_t n_restoring, cap_restoring;
    struct faults__present *present;
    size_t n_present, cap_present;
    struct corr_window *windows; /* the last windows loaded, for a rebuilt engine */
    size_t n_windows;

    struct fmq_work work;    /* to the writer thread */
    struct fmq_loop results; /* back to the loop */
    uv_thread_t thread;
    bool thread_started;
    uint64_t stop_deadline_ms; /* monotonic; written before work is stopped */

    _Atomic int64_t reopen_within_ms; /* of the rules in force (the writer reads it) */

    /* Counters (atomics: read from any thread). */
    _Atomic uint64_t batches_written, actions_written, write_failures;
    _Atomic uint64_t opened, joined, reopened;
};

/* The writer thread's body (faults_writer.c). */
void faults__writer_main(void *arg);

/* Frees a message and what it holds. */
void faults__msg_free(struct faults__msg *m);
struct faults__msg *faults__msg_new(enum faults__kind kind);

/* Hands what the engine produced to the writer. */
void faults__flush(struct faults *f);

/* Restoring sites (faults_restore.c). Request reads site back from
 * PostgreSQL (again after the read in flight, if one is); holding returns
 * the site's entry while it is being restored; hold keeps an input for
 * later; done applies the writer's answer. Free frees every entry. */
void faults__restore_request(struct faults *f, const char *site);
struct faults__site *faults__restore_holding(struct faults *f, const char *site);
void faults__restore_hold(struct faults__site *s, const struct faults__held *in);
void faults__restore_done(struct faults *f, struct faults__msg *m);
void faults__restore_free(struct faults *f);

#endif
