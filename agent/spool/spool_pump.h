/* spool_pump: drives a spool from the agent's loop. Before the loop blocks
 * (uv_prepare) and after each round of I/O callbacks (uv_check), the write
 * buffer is flushed,
 * so an event is spooled within the iteration that produced it and the
 * done callbacks (SNMP inform acknowledgements) run right after. Under
 * fsync policy `interval` a timer fdatasyncs every fsync_interval.
 * Loop thread only. */
#ifndef SPOOL_PUMP_H
#define SPOOL_PUMP_H

#include "spool.h"

#include <uv.h>

typedef struct spool_pump spool_pump_t;

/* Starts pumping sp (borrowed; must outlive the pump). Free with
 * spool_pump_stop, which flushes once more and closes its handles; the
 * pump is freed by the loop afterwards. */
spool_pump_t *spool_pump_start(uv_loop_t *loop, spool_t *sp, const struct spool_cfg *cfg);
void spool_pump_stop(spool_pump_t *p);

/* SIGHUP: starts, stops or re-times the fsync timer for cfg's policy. */
void spool_pump_reload(spool_pump_t *p, const struct spool_cfg *cfg);

#endif
