/* stream: one TCP connection on the loop, plain or TLS (fm_tls.h), carrying a
 * byte stream in both directions. The sender uses it towards the collector,
 * the test receiver for the other end.
 *
 * Callbacks (never called inside the call that caused them):
 *   on_open   the connection is up (TLS: handshake done, peer verified);
 *   on_data   plaintext arrived (borrowed for the call);
 *   on_close  the connection is gone, with a negative errno status and a
 *             reason ("certificate verify failed: ...", "connection reset by
 *             peer"); the stream is freed right after this callback returns.
 * After on_close nothing else is called. stream_close is idempotent and ends
 * in on_close (status 0) unless it already ran.
 *
 * Writes are copied and queued; stream_queued says how many bytes wait for
 * the kernel, for flow control. Loop thread only. */
#ifndef STREAM_H
#define STREAM_H

#include "fm_tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct stream stream_t;

struct stream_cbs {
    void (*on_open)(stream_t *l, void *ud);
    void (*on_data)(stream_t *l, const uint8_t *p, size_t n, void *ud);
    void (*on_close)(stream_t *l, int status, const char *why, void *ud);
};

/* Returns a new stream. ctx NULL means plain TCP; borrowed, must outlive the
 * stream. cbs borrowed. If the TLS session cannot be made (out of memory),
 * stream_connect and stream_accept fail with -ENOMEM. */
stream_t *stream_create(uv_loop_t *loop, fm_tls_ctx_t *ctx, const struct stream_cbs *cbs, void *ud);

/* Connects to addr (copied) within timeout_ms. Returns 0, or a negative
 * errno, in which case on_close follows on the next loop turn. */
int stream_connect(stream_t *l, const struct sockaddr *addr, int64_t timeout_ms);

/* Accepts a pending connection from server. Returns 0, or a negative errno
 * after which the caller ends the stream with stream_close. */
int stream_accept(stream_t *l, uv_stream_t *server);

/* Queues n bytes (copied). Returns 0 or -ENOTCONN / -EPROTO. */
int stream_write(stream_t *l, const uint8_t *p, size_t n);

size_t stream_queued(const stream_t *l);

/* Closes with a reason (logged by the owner's on_close, not here). */
void stream_close(stream_t *l, int status, const char *why);

/* "127.0.0.1:5050" of the peer, for log lines. */
const char *stream_peer(const stream_t *l);
/* Verified peer certificate CN (TLS), or "". */
const char *stream_peer_cn(const stream_t *l);

#endif
