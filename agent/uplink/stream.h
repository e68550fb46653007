/* link: one TCP connection on the loop, plain or TLS (fm_tls.h), carrying a
 * byte stream in both directions. The sender uses it towards the collector,
 * the test receiver for the other end.
 *
 * Callbacks (never called inside the call that caused them):
 *   on_open   the connection is up (TLS: handshake done, peer verified);
 *   on_data   plaintext arrived (borrowed for the call);
 *   on_close  the connection is gone, with a negative errno status and a
 *             reason ("certificate verify failed: ...", "connection reset by
 *             peer"); the link is freed right after this callback returns.
 * After on_close nothing else is called. link_close is idempotent and ends
 * in on_close (status 0) unless it already ran.
 *
 * Writes are copied and queued; link_queued says how many bytes wait for
 * the kernel, for flow control. Loop thread only. */
#ifndef LINK_H
#define LINK_H

#include "fm_tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct link link_t;

struct link_cbs {
    void (*on_open)(link_t *l, void *ud);
    void (*on_data)(link_t *l, const uint8_t *p, size_t n, void *ud);
    void (*on_close)(link_t *l, int status, const char *why, void *ud);
};

/* Returns a new link. ctx NULL means plain TCP; borrowed, must outlive the
 * link. cbs borrowed. If the TLS session cannot be made (out of memory),
 * link_connect and link_accept fail with -ENOMEM. */
link_t *link_create(uv_loop_t *loop, fm_tls_ctx_t *ctx, const struct link_cbs *cbs, void *ud);

/* Connects to addr (copied) within timeout_ms. Returns 0, or a negative
 * errno, in which case on_close follows on the next loop turn. */
int link_connect(link_t *l, const struct sockaddr *addr, int64_t timeout_ms);

/* Accepts a pending connection from server. Returns 0, or a negative errno
 * after which the caller ends the link with link_close. */
int link_accept(link_t *l, uv_stream_t *server);

/* Queues n bytes (copied). Returns 0 or -ENOTCONN / -EPROTO. */
int link_write(link_t *l, const uint8_t *p, size_t n);

size_t link_queued(const link_t *l);

/* Closes with a reason (logged by the owner's on_close, not here). */
void link_close(link_t *l, int status, const char *why);

/* "127.0.0.1:5050" of the peer, for log lines. */
const char *link_peer(const link_t *l);
/* Verified peer certificate CN (TLS), or "". */
const char *link_peer_cn(const link_t *l);

#endif
