/* faults: grading, correlation and tickets inside fieldmon-collector.
 *
 * The correlation engine (correlate.h) runs on the event loop: it is fed the
 * events of every batch once the batch is committed (so tickets only ever
 * refer to stored events, and a batch resent after a crash is not fed
 * twice), each agent's inventory from its Hello, and agent loss when a
 * connection ends and the agent has not come back within
 * faults.agent_lost_after, here or at another collector (checked in the
 * agents table). A one-second timer moves the engine's clock.
 *
 * The engine's actions are written to PostgreSQL by one writer thread with
 * its own connection (faults_writer.c), in order, one transaction per batch
 * of actions, handed to it and answered through fm_queue. While PostgreSQL
 * is away the actions wait and are written when it returns; a transaction
 * that fails is retried as pg_classify (pg.h) says, and only a batch
 * PostgreSQL refuses for its content is dropped (logged, and counted in
 * the metric faults_write_given_up). The same thread reloads the
 * maintenance windows every faults.windows_reload and checks lost agents.
 *
 * Loop thread only, except where said. */
#ifndef FAULTS_H
#define FAULTS_H

#include <stdint.h>
#include <uv.h>

#include "collconf.h"
#include "fmwire.h"
#include "rules.h"

typedef struct faults faults_t;

/* Loads the rules named by cfg->faults (or the built-in defaults) into
 * *rules (zeroed by the caller; free with rules_free). For `-t` and
 * faults_create. 0 or a negative errno with "file:line: key: what" in err. */
int faults_load_rules(const struct collconf *cfg, struct rules_conf *rules, char *err,
                      size_t errlen);

/* Creates the module and starts its writer thread and timers. Borrows loop,
 * cfg and collector_id for its lifetime. NULL with the reason in err (the
 * rules, or the queues' initialisation); nothing is left open then. */
faults_t *faults_create(uv_loop_t *loop, const struct collconf *cfg, const char *collector_id,
                        char *err, size_t errlen);

/* An agent's Hello was committed: its inventory replaces its site's, and an
 * agent counted as lost is back. Borrows h. */
void faults_hello(faults_t *f, const Fm__Hello *h);

/* The events of a committed batch of agent_id (at site, in its epoch)
 * with seq > after_seq (earlier ones were fed before). Borrows b. */
void faults_events(faults_t *f, const char *site, const char *agent_id, uint64_t epoch,
                   const Fm__EventBatch *b, uint64_t after_seq);

/* The connection of agent (watching site) ended without the collector
 * shutting down. */
void faults_agent_gone(faults_t *f, const char *site, const char *agent_id);

/* SIGHUP: grades with rules (taken: *rules is zeroed) from now on. The
 * engine is rebuilt: every site with an agent here (or counted as lost) is
 * restored from PostgreSQL under the new rules, as at an agent's Hello, so
 * pending group waits keep their original raise and nothing opens twice. */
void faults_reload_rules(faults_t *f, struct rules_conf *rules);

/* SIGHUP: reads the maintenance windows again now. */
void faults_reload_windows(faults_t *f);

/* Stops the timers, writes what the engine produced (waiting for PostgreSQL
 * at most grace_ms), joins the thread and closes the handles. Free with
 * faults_destroy after the loop has run the close callbacks. */
void faults_stop(faults_t *f, int64_t grace_ms);
void faults_destroy(faults_t *f);

/* Counters (any thread). */
struct faults_stats {
    uint64_t batches_written, actions_written, write_failures;
    uint64_t tickets_opened, tickets_joined, tickets_reopened;
};
void faults_get_stats(const faults_t *f, struct faults_stats *st);

#endif
