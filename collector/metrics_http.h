/* metrics_http: the HTTP listener that serves the collector's metrics
 * (metrics.h) in Prometheus text format at GET /metrics, with libh2o on the
 * loop. Loop thread only. */
#ifndef METRICS_HTTP_H
#define METRICS_HTTP_H

#include <uv.h>

typedef struct metrics_server metrics_server_t;

/* Starts the HTTP listener on address:port (port 0: any; *bound receives
 * the port). Returns new, or NULL with the reason logged. Loop thread. */
metrics_server_t *metrics_server_start(uv_loop_t *loop, const char *address, unsigned port,
                                       unsigned *bound);
/* Closes the listener and its connections; frees on the loop's next turns. */
void metrics_server_stop(metrics_server_t *s);

#endif
