/* faults_int.h: what faults.c (the loop side) and faults_writer.c (the
 * writer thread) share. Not part of the API. */
#ifndef FAULTS_INT_H
#define FAULTS_INT_H

#include "faults.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "correlate.h"
#include "tickets.h"

/* An agent whose connection ended (loop side). */
struct faults__lost {
    char site[FMW_MAX_ID + 1];
    char agent[FMW_MAX_ID + 1];
    int64_t due_ms; /* when to ask the database whether it came back elsewhere */
    bool asked;     /* a check is with the writer */
    bool declared;  /* the engine counts the site's agent as lost */
};

/* A check result from the writer: is the agent connected to another
 * collector right now? */
struct faults__check {
    char site[FMW_MAX_ID + 1];
    char agent[FMW_MAX_ID + 1];
    bool elsewhere;
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
    uv_async_t async;
    int handles;
    struct faults__lost *lost;
    size_t n_lost, cap_lost;

    /* Shared with the writer thread, under mu. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tickets_batch_t *queue;       /* actions for the writer */
    struct faults__check *checks; /* agents to check (elsewhere unused) */
    size_t n_checks, cap_checks;
    struct faults__check *results; /* answers for the loop */
    size_t n_results, cap_results;
    struct corr_window *windows; /* newly loaded windows for the loop */
    size_t n_windows;
    bool windows_new;
    bool stop;
    int64_t stop_deadline_ms;

    /* Counters (atomics: read from any thread). */
    _Atomic uint64_t batches_written, actions_written, write_failures;
    _Atomic uint64_t opened, joined, reopened;
};

/* The writer thread's body (faults_writer.c). */
void *faults__writer_main(void *arg);

/* Appends a check to an array that grows (caller holds mu if shared). */
void faults__push_check(struct faults__check **arr, size_t *n, size_t *cap, const char *site,
                        const char *agent, bool elsewhere);

#endif
