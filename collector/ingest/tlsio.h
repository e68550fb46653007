/* tlsio: TLS over memory BIOs, so that OpenSSL never touches a socket and
 * libuv keeps doing all I/O. The owner feeds ciphertext read from the
 * socket into tlsio_feed, takes plaintext out with tlsio_read, hands
 * plaintext to tlsio_write, and sends whatever tlsio_take_out returns.
 *
 * Both sides authenticate: the server requires a client certificate that
 * chains to its CA, the client checks the server's chain against its CA.
 * One tlsio belongs to one thread at a time (the loop). */
#ifndef TLSIO_H
#define TLSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tlsio_ctx tlsio_ctx_t;
typedef struct tlsio tlsio_t;

/* Loads cert/key (PEM) and the CA file that peers must chain to. Returns
 * new (free with tlsio_ctx_destroy), or NULL with the reason in why. */
tlsio_ctx_t *tlsio_ctx_create(bool server, const char *cert, const char *key, const char *ca,
                              char *why, size_t whylen);
void tlsio_ctx_destroy(tlsio_ctx_t *c);

/* A session on ctx (borrowed; must outlive it). Returns new; free with
 * tlsio_destroy. */
tlsio_t *tlsio_create(tlsio_ctx_t *ctx);
void tlsio_destroy(tlsio_t *t);

/* Drives the handshake: 1 when done, 0 while it needs more input, or
 * -EPROTO with the reason in tlsio_why. Call after each feed until 1 (the
 * client calls it once first, to produce its ClientHello). */
int tlsio_handshake(tlsio_t *t);

/* Ciphertext from the socket (copied). 0 or -ENOMEM. */
int tlsio_feed(tlsio_t *t, const uint8_t *data, size_t len);

/* Plaintext into buf: bytes read (> 0), 0 when none is ready, -EPIPE when
 * the peer closed the session cleanly, or -EPROTO (see tlsio_why). */
int tlsio_read(tlsio_t *t, uint8_t *buf, size_t cap);

/* Encrypts len bytes for sending. 0 or -EPROTO. */
int tlsio_write(tlsio_t *t, const uint8_t *data, size_t len);

/* Ciphertext waiting to go out, in bytes, and taking it (up to cap). */
size_t tlsio_pending_out(const tlsio_t *t);
size_t tlsio_take_out(tlsio_t *t, uint8_t *buf, size_t cap);

/* After the handshake: true if the peer certificate names id, as its
 * subject CN or one of its subjectAltName DNS names. */
bool tlsio_peer_is(const tlsio_t *t, const char *id);

/* The peer certificate's subject CN ("" when none), into buf. */
void tlsio_peer_cn(const tlsio_t *t, char *buf, size_t len);

/* The reason of the last error. */
const char *tlsio_why(const tlsio_t *t);

#endif
