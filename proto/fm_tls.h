/* fm_tls: the one TLS module of fieldmon, OpenSSL over memory BIOs.
 *
 * libuv owns the socket; OpenSSL never sees it. The owner of a session feeds
 * the ciphertext it read from the socket into fm_tls_feed, drives the
 * handshake with fm_tls_handshake, takes plaintext out with fm_tls_read,
 * hands plaintext to fm_tls_write, and writes to the socket whatever
 * fm_tls_take returns (handshake records and alerts included). Nothing here
 * blocks, so TLS stays inside the loop thread.
 *
 * Both sides authenticate (TLS 1.2 or newer):
 * - a server requires a client certificate that chains to its CA, and sends
 *   that CA's name in its certificate request;
 * - a client checks the server's chain against its CA and, when
 *   server_name is set, that the certificate carries that name (SNI is sent
 *   too); it always presents its own certificate.
 * No session resumption: sessions are long-lived and few per peer.
 *
 * Errors: calls return 0 (or a count) on success and a negative errno on
 * failure; a session keeps the reason, readable with fm_tls_why, worded by
 * OpenSSL, e.g. "certificate verify failed: certificate has expired",
 * "certificate verify failed: hostname mismatch", or "error:0A0000C7:SSL
 * routines::peer did not return a certificate". Nothing here logs: the
 * caller decides and logs once.
 *
 * Threads: a context is read-only once created and may be shared; a session
 * belongs to one thread at a time (the loop). */
#ifndef FM_TLS_H
#define FM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum fm_tls_role { FM_TLS_CLIENT = 0, FM_TLS_SERVER = 1 };

/* Files and names of one side; the strings are borrowed (only read while
 * fm_tls_ctx_create runs). */
struct fm_tls_cfg {
    char *ca_file;     /* PEM CA bundle that signs the peer; required */
    char *cert_file;   /* our certificate (PEM, may include the chain); required */
    char *key_file;    /* our private key (PEM); required */
    char *server_name; /* client: name the server certificate must carry; NULL or "": unchecked */
};

typedef struct fm_tls_ctx fm_tls_ctx_t;
typedef struct fm_tls fm_tls_t;

/* Loads the files of cfg for role. Returns 0 and a new context in *out (free
 * with fm_tls_ctx_destroy), or a negative errno with *out NULL and the reason
 * in why (naming the file and OpenSSL's error, e.g. "/etc/fieldmon/agent.key:
 * key does not match /etc/fieldmon/agent.pem: ..."):
 *   -EINVAL  a file is missing from cfg, unreadable, or the key does not
 *            match the certificate;
 *   -ENOMEM  OpenSSL could not create the context. */
int fm_tls_ctx_create(const struct fm_tls_cfg *cfg, enum fm_tls_role role, fm_tls_ctx_t **out,
                      char *why, size_t whylen);
/* Frees ctx; NULL does nothing. Every session made on it must be gone. */
void fm_tls_ctx_destroy(fm_tls_ctx_t *ctx);

/* Returns 0 and a new session in ctx's role in *out (free with
 * fm_tls_destroy), or -ENOMEM. ctx is borrowed and must outlive it. */
int fm_tls_create(fm_tls_ctx_t *ctx, fm_tls_t **out);
/* Frees t; NULL does nothing. */
void fm_tls_destroy(fm_tls_t *t);

/* Ciphertext read from the socket (copied). Returns 0 or -ENOMEM. It is
 * consumed by the next fm_tls_handshake or fm_tls_read. */
int fm_tls_feed(fm_tls_t *t, const uint8_t *in, size_t n);

/* Drives the handshake. Returns 1 once it is done (the peer verified), 0
 * while it needs more input, or -EPROTO (also -EPIPE if the peer closed the
 * session) with the reason in fm_tls_why. A client calls it once first, to
 * produce its ClientHello; then after every feed until 1. Take the pending
 * output after each call, failed ones included: it may carry an alert that
 * tells the peer why. */
int fm_tls_handshake(fm_tls_t *t);

/* Plaintext into buf: bytes read (> 0), 0 when none is ready (or the
 * handshake is not done), -EPIPE when the peer closed the session cleanly,
 * or -EPROTO (fm_tls_why says why). */
ssize_t fm_tls_read(fm_tls_t *t, uint8_t *buf, size_t cap);

/* Encrypts n bytes of p for sending; take the result with fm_tls_take.
 * Returns 0, -ENOTCONN before the handshake is done, or -EPROTO. */
int fm_tls_write(fm_tls_t *t, const uint8_t *p, size_t n);

/* Ciphertext waiting to go to the socket, in bytes, and taking up to cap of
 * it into buf (returns the bytes taken). */
size_t fm_tls_pending(const fm_tls_t *t);
size_t fm_tls_take(fm_tls_t *t, uint8_t *buf, size_t cap);

/* True once the handshake is done. */
bool fm_tls_established(const fm_tls_t *t);

/* Why the session failed; "" if it did not. Valid until t is destroyed. */
const char *fm_tls_why(const fm_tls_t *t);

/* Subject CN of the verified peer certificate, or "" (before the handshake
 * is done, or if it has none). Valid until t is destroyed. */
const char *fm_tls_peer_cn(const fm_tls_t *t);

/* True if the handshake is done and the verified peer certificate names id,
 * as its subject CN or as one of its subjectAltName DNS names (exact,
 * case-sensitive match). */
bool fm_tls_peer_is(const fm_tls_t *t, const char *id);

#endif
