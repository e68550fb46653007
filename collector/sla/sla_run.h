/* sla_run: the contract clocks inside fieldmon-collector.
 *
 * Loads the contract file, then every `sla.interval` runs one sla_sync
 * round on its own thread (fed through fm_queue, with its own PostgreSQL
 * connection made through pg.h), and runs the webhook notifier, kicking it
 * whenever a round queued notifications. Database failures are logged once
 * per outage and retried every round. Loop thread only. */
#ifndef SLA_RUN_H
#define SLA_RUN_H

#include <stddef.h>
#include <uv.h>

#include "sla_conf.h"

typedef struct sla_run sla_run_t;

/* Starts on loop with the database dsn (borrowed during the call). Returns
 * 0 and *out, or -EINVAL with the contract file's error in why (nothing is
 * started then). */
int sla_run_start(uv_loop_t *loop, const struct sla_conf *cfg, const char *dsn, sla_run_t **out,
                  char *why, size_t whylen);

/* Stops the rounds and the notifier without blocking the loop; frees r once
 * the thread has finished the round in progress and the loop has run the
 * close callbacks. NULL is fine. */
void sla_run_stop(sla_run_t *r);

#endif
