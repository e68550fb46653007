/* tls: see tls.h. */
#include "tls.h"

#include "fm_alloc.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_ctx {
    SSL_CTX *ssl;
    bool server;
    char *server_name;
};

struct tls_conn {
    SSL *ssl;
    BIO *in, *out; /* in: socket -> OpenSSL; out: OpenSSL -> socket */
    bool server, established;
    char error[256];
    char cn[128];
};

/* Appends OpenSSL's queued error text to buf and clears the queue. */
static void ssl_errors(char *buf, size_t len)
{
    unsigned long e;
    size_t n = strlen(buf);

    while ((e = ERR_get_error()) != 0 && n + 2 < len) {
        char one[200];
        ERR_error_string_n(e, one, sizeof(one));
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ": " : "", one);
    }
}

tls_ctx_t *tls_ctx_create(const struct tls_cfg *cfg, bool server, char *err, size_t errlen)
{
    tls_ctx_t *ctx = fm_xcalloc(1, sizeof(*ctx));
    const char *what = NULL;

    ERR_clear_error();
    ctx->server = server;
    ctx->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx->ssl == NULL) {
        what = "cannot create the TLS context";
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    if (cfg->ca_file == NULL || cfg->cert_file == NULL || cfg->key_file == NULL) {
        snprintf(err, errlen, "ca, cert and key are all required for mutual TLS");
        goto fail_quiet;
    }
    if (SSL_CTX_load_verify_locations(ctx->ssl, cfg->ca_file, NULL) != 1) {
        snprintf(err, errlen, "%s: cannot load the CA: ", cfg->ca_file);
        goto fail_err;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cfg->cert_file) != 1) {
        snprintf(err, errlen, "%s: cannot load the certificate: ", cfg->cert_file);
        goto fail_err;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "%s: cannot load the private key: ", cfg->key_file);
        goto fail_err;
    }
    if (SSL_CTX_check_private_key(ctx->ssl) != 1) {
        snprintf(err, errlen, "%s: key does not match %s: ", cfg->key_file, cfg->cert_file);
        goto fail_err;
    }
    SSL_CTX_set_verify(ctx->ssl,
                       server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       NULL);
    if (server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx->ssl, names);
    }
    if (!server && cfg->server_name != NULL && cfg->server_name[0] != '\0')
        ctx->server_name = fm_xstrdup(cfg->server_name);
    return ctx;
fail:
    snprintf(err, errlen, "%s: ", what);
fail_err:
    ssl_errors(err, errlen);
fail_quiet:
    tls_ctx_destroy(ctx);
    return NULL;
}

void tls_ctx_destroy(tls_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx->server_name);
    free(ctx);
}

tls_conn_t *tls_conn_create(tls_ctx_t *ctx)
{
    tls_conn_t *c = fm_xcalloc(1, sizeof(*c));

    c->ssl = SSL_new(ctx->ssl);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->in == NULL || c->out == NULL) {
        fprintf(stderr, "tls: out of memory creating a connection\n");
        abort();
    }
    /* An empty memory BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    c->server = ctx->server;
    if (c->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (ctx->server_name != NULL) {
            SSL_set_tlsext_host_name(c->ssl, ctx->server_name);
            SSL_set1_host(c->ssl, ctx->server_name);
        }
    }
    return c;
}

void tls_conn_destroy(tls_conn_t *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl); /* frees both BIOs */
    free(c);
}

/* Records why the connection failed, preferring the verification result,
 * which is what an operator can act on. */
static int conn_fail(tls_conn_t *c, int ret)
{
    long vr = SSL_get_verify_result(c->ssl);
    int e = SSL_get_error(c->ssl, ret);

    if (c->error[0] != '\0')
        return -EPROTO;
    if (vr != X509_V_OK)
        snprintf(c->error, sizeof(c->error), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
        snprintf(c->error, sizeof(c->error), "connection closed during TLS");
    else
        ssl_errors(c->error, sizeof(c->error)); /* e.g. "... alert certificate expired" */
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "TLS error %d", e);
    ERR_clear_error();
    return -EPROTO;
}

static int handshake(tls_conn_t *c)
{
    int ret;

    if (c->established)
        return 0;
    ERR_clear_error();
    ret = SSL_do_handshake(c->ssl);
    if (ret == 1) {
        X509 *peer = SSL_get0_peer_certificate(c->ssl);
        c->established = true;
        if (peer != NULL)
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->cn,
                                      sizeof(c->cn));
        return 0;
    }
    ret = SSL_get_error(c->ssl, ret);
    if (ret == SSL_ERROR_WANT_READ || ret == SSL_ERROR_WANT_WRITE)
        return 0;
    return conn_fail(c, 0);
}

int tls_conn_start(tls_conn_t *c)
{
    return handshake(c);
}

int tls_conn_feed(tls_conn_t *c, const uint8_t *in, size_t n)
{
    if (n > 0 && BIO_write(c->in, in, (int)n) != (int)n)
        return conn_fail(c, 0);
    return handshake(c);
}

ssize_t tls_conn_read(tls_conn_t *c, uint8_t *buf, size_t cap)
{
    int ret;

    if (!c->established)
        return 0;
    ERR_clear_error();
    ret = SSL_read(c->ssl, buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));
    if (ret > 0)
        return ret;
    ret = SSL_get_error(c->ssl, ret);
    if (ret == SSL_ERROR_WANT_READ || ret == SSL_ERROR_WANT_WRITE)
        return 0;
    if (ret == SSL_ERROR_ZERO_RETURN) {
        snprintf(c->error, sizeof(c->error), "peer closed the TLS session");
        return -EPROTO;
    }
    return conn_fail(c, 0);
}

int tls_conn_write(tls_conn_t *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int ret;
        ERR_clear_error();
        ret = SSL_write(c->ssl, p, chunk);
        if (ret <= 0)
            return conn_fail(c, ret);
        p += ret;
        n -= (size_t)ret;
    }
    return 0;
}

size_t tls_conn_pending(const tls_conn_t *c)
{
    return BIO_ctrl_pending(c->out);
}

size_t tls_conn_take(tls_conn_t *c, uint8_t *buf, size_t cap)
{
    int n = BIO_read(c->out, buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));
    return n > 0 ? (size_t)n : 0;
}

bool tls_conn_established(const tls_conn_t *c)
{
    return c->established;
}

const char *tls_conn_error(const tls_conn_t *c)
{
    return c->error;
}

const char *tls_conn_peer_cn(tls_conn_t *c)
{
    return c->cn;
}
