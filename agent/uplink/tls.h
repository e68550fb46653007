/* tls: OpenSSL with mutual authentication over memory BIOs.
 *
 * libuv owns the socket; OpenSSL never sees it. Ciphertext read from the
 * socket is fed in with tls_conn_feed, plaintext comes out of tls_conn_read,
 * plaintext to send goes into tls_conn_write, and the ciphertext OpenSSL
 * produced (handshake records included) is taken with tls_conn_take for the
 * caller to write to the socket. This keeps TLS inside the one loop thread
 * with no blocking call.
 *
 * Both sides verify the peer: a client checks the server's certificate
 * against the configured CA (and its name, when one is configured) and
 * presents its own certificate; a server requires a client certificate
 * signed by its CA. TLS 1.2 is the minimum.
 *
 * Single-threaded per connection; contexts are read-only once created. */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_cfg {
    char *ca_file;     /* PEM CA bundle that signs the peer */
    char *cert_file;   /* our certificate (PEM, may include the chain) */
    char *key_file;    /* our private key (PEM) */
    char *server_name; /* client: name the server certificate must carry; NULL: not checked */
};

typedef struct tls_ctx tls_ctx_t;
typedef struct tls_conn tls_conn_t;

/* Returns a new context, or NULL with the reason (file and OpenSSL's error)
 * in err. server selects the role. Free with tls_ctx_destroy. */
tls_ctx_t *tls_ctx_create(const struct tls_cfg *cfg, bool server, char *err, size_t errlen);
void tls_ctx_destroy(tls_ctx_t *ctx);

/* Returns a new connection in ctx's role. Free with tls_conn_destroy. */
tls_conn_t *tls_conn_create(tls_ctx_t *ctx);
void tls_conn_destroy(tls_conn_t *c);

/* Feeds ciphertext from the socket and drives the handshake. Returns 0, or
 * -EPROTO when the handshake or the stream failed (tls_conn_error says why;
 * take the pending output anyway: it may carry an alert for the peer). */
int tls_conn_feed(tls_conn_t *c, const uint8_t *in, size_t n);

/* Starts the handshake (client). Returns 0 or -EPROTO. */
int tls_conn_start(tls_conn_t *c);

/* Plaintext received: returns bytes (> 0), 0 if none yet, or -EPROTO. */
ssize_t tls_conn_read(tls_conn_t *c, uint8_t *buf, size_t cap);

/* Encrypts plaintext; returns 0 or -EPROTO. Only after the handshake. */
int tls_conn_write(tls_conn_t *c, const uint8_t *p, size_t n);

/* Ciphertext waiting to go to the socket, and taking it. */
size_t tls_conn_pending(const tls_conn_t *c);
size_t tls_conn_take(tls_conn_t *c, uint8_t *buf, size_t cap);

bool tls_conn_established(const tls_conn_t *c);

/* Why the connection failed, e.g. "certificate verify failed: certificate
 * has expired" or "peer did not return a certificate"; "" if it did not. */
const char *tls_conn_error(const tls_conn_t *c);

/* Subject CN of the verified peer certificate, or "" (after the handshake). */
const char *tls_conn_peer_cn(tls_conn_t *c);

#endif
