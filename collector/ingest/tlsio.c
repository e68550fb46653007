/* tlsio: see tlsio.h. */
#include "tlsio.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"

struct tlsio_ctx {
    SSL_CTX *ssl;
    bool server;
};

struct tlsio {
    SSL *ssl;
    BIO *in;  /* network -> OpenSSL */
    BIO *out; /* OpenSSL -> network */
    char why[256];
};

/* Puts OpenSSL's error queue (first entry) after prefix into why. */
static void ssl_why(char *why, size_t whylen, const char *prefix)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "unknown error";

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(why, whylen, "%s: %s", prefix, buf);
    ERR_clear_error();
}

tlsio_ctx_t *tlsio_ctx_create(bool server, const char *cert, const char *key, const char *ca,
                              char *why, size_t whylen)
{
    SSL_CTX *s = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    tlsio_ctx_t *c;

    if (s == NULL) {
        ssl_why(why, whylen, "tls: create context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(s, cert) != 1) {
        ssl_why(why, whylen, cert);
        goto out_free;
    }
    if (SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1) {
        ssl_why(why, whylen, key);
        goto out_free;
    }
    if (SSL_CTX_check_private_key(s) != 1) {
        ssl_why(why, whylen, "tls: key does not match certificate");
        goto out_free;
    }
    if (SSL_CTX_load_verify_locations(s, ca, NULL) != 1) {
        ssl_why(why, whylen, ca);
        goto out_free;
    }
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* Sessions are long-lived and few per peer: no resumption cache. */
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    c = fm_xcalloc(1, sizeof(*c));
    c->ssl = s;
    c->server = server;
    return c;
out_free:
    SSL_CTX_free(s);
    return NULL;
}

void tlsio_ctx_destroy(tlsio_ctx_t *c)
{
    if (c == NULL)
        return;
    SSL_CTX_free(c->ssl);
    free(c);
}

tlsio_t *tlsio_create(tlsio_ctx_t *ctx)
{
    tlsio_t *t = fm_xcalloc(1, sizeof(*t));

    t->ssl = SSL_new(ctx->ssl);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->in == NULL || t->out == NULL) {
        fprintf(stderr, "tlsio: out of memory\n");
        abort();
    }
    BIO_set_mem_eof_return(t->in, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both BIOs now */
    if (ctx->server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    return t;
}

void tlsio_destroy(tlsio_t *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* Explains a failed SSL call; a certificate problem names the verify error. */
static int fail(tlsio_t *t, int ret, const char *what)
{
    int err = SSL_get_error(t->ssl, ret);
    long vr = SSL_get_verify_result(t->ssl);

    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    if (err == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->why, sizeof(t->why), "%s: peer closed the TLS session", what);
        return -EPIPE;
    }
    if (vr != X509_V_OK) {
        snprintf(t->why, sizeof(t->why), "%s: peer certificate: %s", what,
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else {
        ssl_why(t->why, sizeof(t->why), what);
    }
    return -EPROTO;
}

int tlsio_handshake(tlsio_t *t)
{
    int ret;

    if (SSL_is_init_finished(t->ssl))
        return 1;
    ret = SSL_do_handshake(t->ssl);
    if (ret == 1)
        return 1;
    return fail(t, ret, "tls handshake");
}

int tlsio_feed(tlsio_t *t, const uint8_t *data, size_t len)
{
    return BIO_write(t->in, data, (int)len) == (int)len ? 0 : -ENOMEM;
}

int tlsio_read(tlsio_t *t, uint8_t *buf, size_t cap)
{
    int ret = SSL_read(t->ssl, buf, (int)cap);

    if (ret > 0)
        return ret;
    return fail(t, ret, "tls read");
}

int tlsio_write(tlsio_t *t, const uint8_t *data, size_t len)
{
    int ret = SSL_write(t->ssl, data, (int)len);

    if (ret == (int)len)
        return 0;
    int rc = fail(t, ret, "tls write");
    return rc ? rc : -EPROTO;
}

size_t tlsio_pending_out(const tlsio_t *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t tlsio_take_out(tlsio_t *t, uint8_t *buf, size_t cap)
{
    int n = BIO_read(t->out, buf, (int)cap);

    return n > 0 ? (size_t)n : 0;
}

void tlsio_peer_cn(const tlsio_t *t, char *buf, size_t len)
{
    X509 *x = SSL_get0_peer_certificate(t->ssl);

    buf[0] = '\0';
    if (x == NULL ||
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)len) < 0)
        buf[0] = '\0';
}

bool tlsio_peer_is(const tlsio_t *t, const char *id)
{
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    GENERAL_NAMES *names;
    char cn[256];
    bool ok = false;

    if (x == NULL || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return false;
    tlsio_peer_cn(t, cn, sizeof(cn));
    if (strcmp(cn, id) == 0)
        return true;
    names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !ok; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *s = g->d.dNSName;
            ok = (size_t)s->length == strlen(id) && memcmp(s->data, id, (size_t)s->length) == 0;
        }
    }
    GENERAL_NAMES_free(names);
    return ok;
}

const char *tlsio_why(const tlsio_t *t)
{
    return t->why;
}
