/* fm_tls: see fm_tls.h.
 *
 * A session is an SSL object between two memory BIOs: "in" holds ciphertext
 * the owner fed from the socket, "out" collects what OpenSSL wants sent. The
 * empty "in" BIO answers "retry" rather than end of file, so OpenSSL reports
 * SSL_ERROR_WANT_READ when it has consumed everything and a session never
 * mistakes a pause in the stream for the peer going away.
 *
 * The first failure of a session is kept, with its reason, and returned by
 * every later call: the reason an operator reads is the one that started it,
 * not a consequence such as "shutdown while in init". */
#include "fm_tls.h"

#include "fm_alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fm_tls_ctx {
    SSL_CTX *ssl;
    bool server;
    char *server_name; /* client: NULL when unchecked */
};

struct fm_tls {
    SSL *ssl;
    BIO *in, *out; /* in: socket -> OpenSSL; out: OpenSSL -> socket; owned by ssl */
    bool established;
    int failed; /* 0, or the negative errno of the first failure */
    char why[256];
    char cn[256];
};

/* Appends OpenSSL's queued errors to buf (after ": " when buf has text) and
 * clears the queue. */
static void ssl_errors(char *buf, size_t len)
{
    unsigned long e;
    size_t n = strlen(buf);

    while ((e = ERR_get_error()) != 0 && n + 2 < len) {
        char one[200];
        int w;

        ERR_error_string_n(e, one, sizeof(one));
        w = snprintf(buf + n, len - n, "%s%s", n ? ": " : "", one);
        n = w > 0 && (size_t)w < len - n ? n + (size_t)w : len - 1;
    }
    ERR_clear_error();
}

/* Puts the reason (fmt, then OpenSSL's errors) into why, frees ssl and
 * returns rc. */
static int ctx_fail(SSL_CTX *ssl, int rc, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int ctx_fail(SSL_CTX *ssl, int rc, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    ssl_errors(why, whylen);
    SSL_CTX_free(ssl);
    return rc;
}

int fm_tls_ctx_create(const struct fm_tls_cfg *cfg, enum fm_tls_role role, fm_tls_ctx_t **out,
                      char *why, size_t whylen)
{
    bool server = role == FM_TLS_SERVER;
    fm_tls_ctx_t *ctx;
    SSL_CTX *ssl;

    *out = NULL;
    if (cfg->ca_file == NULL || cfg->cert_file == NULL || cfg->key_file == NULL) {
        snprintf(why, whylen, "ca, cert and key are all required for mutual TLS");
        return -EINVAL;
    }
    ERR_clear_error();
    ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ssl == NULL)
        return ctx_fail(NULL, -ENOMEM, why, whylen, "cannot create the TLS context");
    if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1)
        return ctx_fail(ssl, -EINVAL, why, whylen, "cannot require TLS 1.2");
    if (SSL_CTX_load_verify_locations(ssl, cfg->ca_file, NULL) != 1)
        return ctx_fail(ssl, -EINVAL, why, whylen, "%s: cannot load the CA", cfg->ca_file);
    if (SSL_CTX_use_certificate_chain_file(ssl, cfg->cert_file) != 1)
        return ctx_fail(ssl, -EINVAL, why, whylen, "%s: cannot load the certificate",
                        cfg->cert_file);
    if (SSL_CTX_use_PrivateKey_file(ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL 3 compares the key with the certificate as it loads it. */
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            return ctx_fail(ssl, -EINVAL, why, whylen, "%s: key does not match %s", cfg->key_file,
                            cfg->cert_file);
        return ctx_fail(ssl, -EINVAL, why, whylen, "%s: cannot load the private key",
                        cfg->key_file);
    }
    if (SSL_CTX_check_private_key(ssl) != 1)
        return ctx_fail(ssl, -EINVAL, why, whylen, "%s: key does not match %s", cfg->key_file,
                        cfg->cert_file);
    /* Mutual authentication: a server refuses a client without a
     * certificate, and names the CA it wants one from. */
    SSL_CTX_set_verify(
        ssl, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, NULL);
    if (server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ssl, names);
    }
    /* Sessions are long-lived and few per peer: no resumption cache and no
     * tickets, and idle sessions give their buffers back. */
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ssl, 0);
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    ERR_clear_error();

    ctx = fm_xcalloc(1, sizeof(*ctx));
    ctx->ssl = ssl;
    ctx->server = server;
    if (!server && cfg->server_name != NULL && cfg->server_name[0] != '\0')
        ctx->server_name = fm_xstrdup(cfg->server_name);
    *out = ctx;
    return 0;
}

void fm_tls_ctx_destroy(fm_tls_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx->server_name);
    free(ctx);
}

int fm_tls_create(fm_tls_ctx_t *ctx, fm_tls_t **out)
{
    SSL *ssl = SSL_new(ctx->ssl);
    BIO *in = BIO_new(BIO_s_mem()), *bout = BIO_new(BIO_s_mem());
    fm_tls_t *t;

    *out = NULL;
    if (ssl == NULL || in == NULL || bout == NULL)
        goto out_free;
    /* An empty memory BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, bout); /* the SSL owns both BIOs now */
    in = bout = NULL;
    if (ctx->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (ctx->server_name != NULL && (SSL_set_tlsext_host_name(ssl, ctx->server_name) != 1 ||
                                         SSL_set1_host(ssl, ctx->server_name) != 1))
            goto out_free;
    }
    t = fm_xcalloc(1, sizeof(*t));
    t->ssl = ssl;
    t->in = SSL_get_rbio(ssl);
    t->out = SSL_get_wbio(ssl);
    *out = t;
    return 0;
out_free:
    BIO_free(in);
    BIO_free(bout);
    SSL_free(ssl);
    ERR_clear_error();
    return -ENOMEM;
}

void fm_tls_destroy(fm_tls_t *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

/* Records why the session failed, e (SSL_get_error's answer) being the
 * failed call's result. The verification result comes first: it names what
 * an operator can act on (the expired or foreign certificate), where the
 * error queue only says "certificate verify failed". */
static int session_fail(fm_tls_t *t, int e)
{
    long vr = SSL_get_verify_result(t->ssl);

    if (t->failed != 0) {
        ERR_clear_error();
        return t->failed;
    }
    t->failed = -EPROTO;
    if (vr != X509_V_OK) {
        snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->why, sizeof(t->why), "peer closed the TLS session");
        t->failed = -EPIPE;
    } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(t->why, sizeof(t->why), "connection closed during TLS");
    } else {
        ssl_errors(t->why, sizeof(t->why)); /* e.g. "... alert certificate expired" */
    }
    if (t->why[0] == '\0')
        snprintf(t->why, sizeof(t->why), "TLS error %d", e);
    ERR_clear_error();
    return t->failed;
}

int fm_tls_feed(fm_tls_t *t, const uint8_t *in, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;

        if (BIO_write(t->in, in, chunk) != chunk) {
            ERR_clear_error();
            return -ENOMEM;
        }
        in += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int fm_tls_handshake(fm_tls_t *t)
{
    int ret, e;

    if (t->established)
        return 1;
    if (t->failed != 0)
        return t->failed;
    ERR_clear_error();
    ret = SSL_do_handshake(t->ssl);
    if (ret == 1) {
        X509 *peer = SSL_get0_peer_certificate(t->ssl);

        t->established = true;
        if (peer == NULL || X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
                                                      t->cn, sizeof(t->cn)) < 0)
            t->cn[0] = '\0';
        return 1;
    }
    e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    return session_fail(t, e);
}

ssize_t fm_tls_read(fm_tls_t *t, uint8_t *buf, size_t cap)
{
    int ret, e;

    if (t->failed != 0)
        return t->failed;
    if (!t->established || cap == 0)
        return 0;
    ERR_clear_error();
    ret = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (ret > 0)
        return ret;
    e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    return session_fail(t, e);
}

int fm_tls_write(fm_tls_t *t, const uint8_t *p, size_t n)
{
    if (t->failed != 0)
        return t->failed;
    if (!t->established) {
        snprintf(t->why, sizeof(t->why), "TLS handshake not finished");
        return -ENOTCONN;
    }
    /* A memory BIO takes everything, so SSL_write never wants to wait: any
     * result short of the whole chunk is a failure. */
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int ret;

        ERR_clear_error();
        ret = SSL_write(t->ssl, p, chunk);
        if (ret <= 0)
            return session_fail(t, SSL_get_error(t->ssl, ret));
        p += ret;
        n -= (size_t)ret;
    }
    return 0;
}

size_t fm_tls_pending(const fm_tls_t *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t fm_tls_take(fm_tls_t *t, uint8_t *buf, size_t cap)
{
    int n;

    if (cap == 0)
        return 0;
    n = BIO_read(t->out, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    return n > 0 ? (size_t)n : 0;
}

bool fm_tls_established(const fm_tls_t *t)
{
    return t->established;
}

const char *fm_tls_why(const fm_tls_t *t)
{
    return t->why;
}

const char *fm_tls_peer_cn(const fm_tls_t *t)
{
    return t->cn;
}

bool fm_tls_peer_is(const fm_tls_t *t, const char *id)
{
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    GENERAL_NAMES *names;
    size_t idlen = strlen(id);
    bool ok = false;

    if (!t->established || x == NULL || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return false;
    if (t->cn[0] != '\0' && strcmp(t->cn, id) == 0)
        return true;
    names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !ok; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *s = g->d.dNSName;
            ok = (size_t)s->length == idlen && memcmp(s->data, id, idlen) == 0;
        }
    }
    GENERAL_NAMES_free(names);
    return ok;
}
