/* sla_run: the contract clocks inside fieldmon-collector.
 *
 * Loads the contract file, then every `sla.interval` runs one sla_sync
 * round on libuv's thread pool (its own PostgreSQL connection), and runs
 * the webhook notifier on the loop, kicking it whenever a round queued
 * notifications. Database failures are logged once per outage and retried
 * every round. Loop thread only. */
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

/* Stops the rounds and the notifier; frees r once the loop has finished the
 * round in progress and the close callbacks. NULL is fine. */
void sla_run_stop(sla_run_t *r);

#endif
