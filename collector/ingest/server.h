/* server: the agents' side of the collector. Listens (TLS with mutual
 * authentication, or plain TCP when configured), holds the connections
 * (conn.c), hands Hellos and batches to the DB writer and sends HelloAcks
 * and Acks when they are committed. Applies the limits: connections, frame
 * size, memory per connection, hello and idle timeouts, and backpressure:
 * when the writer's queue is over database.queue_max_events, no connection
 * is read until it drains to half of that. Loop thread only. */
#ifndef SERVER_H
#define SERVER_H

#include <uv.h>

#include "collconf.h"
#include "dbwriter.h"
#include "fm_tls.h"

typedef struct server server_t;

/* Creates the server; borrows loop, cfg, tls (NULL for plain) and
 * collector_id for its lifetime. The DB writer is created inside and its
 * threads started. Returns new, or NULL with the reason logged; then the
 * loop must still run once, to close what was opened. */
server_t *server_create(uv_loop_t *loop, const struct collconf *cfg, fm_tls_ctx_t *tls,
                        const char *collector_id);

/* Binds and listens; *port receives the bound port. 0 or a negative errno
 * (logged). */
int server_listen(server_t *s, unsigned *port);

/* Stops accepting, closes every connection, flushes the writer (waiting for
 * PostgreSQL at most grace_ms) and closes all handles. Free with
 * server_destroy once uv_run has returned. */
void server_stop(server_t *s, int64_t grace_ms);
void server_destroy(server_t *s);

/* The faults module the server feeds, NULL when faults are disabled. */
struct faults;
struct faults *server_faults(server_t *s);

#endif
