/* daemon: runs fieldmon-agent in its normal mode, pollers -> thresholds ->
 * spool -> collectors, until SIGTERM or SIGINT; SIGHUP reloads (daemon.c
 * says what survives a reload). */
#ifndef AGENT_DAEMON_H
#define AGENT_DAEMON_H

#include "config.h"

/* Runs until stopped. cfg was loaded from path (borrowed; the caller frees
 * it after the return). log_level is the command-line override or NULL.
 * Returns the exit status: 0 after a clean stop, 1 on a run-time failure,
 * 2 on a configuration that cannot run (no collectors, bad TLS files). */
int daemon_run(const char *path, struct agent_cfg *cfg, const char *log_level);

#endif
