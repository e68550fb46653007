/* fm_tls: a server and a client session in one process, ciphertext moved
 * between them by hand, with a throwaway PKI that deploy/make-test-certs.sh
 * makes with the openssl CLI at the start of the run: mutual authentication
 * with data both ways, the peer's identity, each refusal with the reason an
 * operator reads in the logs, and contexts that name the unusable file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_tls.h"

static char dir[] = "/tmp/fm-tls.XXXXXX";

static int make_certs(void **state)
{
    char cmd[512];

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "%s/deploy/make-test-certs.sh %s agent-1 >/dev/null", FM_SOURCE_DIR,
             dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path(char *buf, size_t len, const char *name, const char *ext)
{
    snprintf(buf, len, "%s/%s.%s", dir, name, ext);
}

/* A context presenting name.crt/.key and trusting ca.crt. */
static fm_tls_ctx_t *ctx(enum fm_tls_role role, const char *name, const char *ca,
                         const char *server_name)
{
    char cert[256], key[256], cafile[256], why[512] = "";
    struct fm_tls_cfg cfg = {cafile, cert, key, (char *)server_name};
    fm_tls_ctx_t *c;

    path(cert, sizeof(cert), name, "crt");
    path(key, sizeof(key), name, "key");
    path(cafile, sizeof(cafile), ca, "crt");
    if (fm_tls_ctx_create(&cfg, role, &c, why, sizeof(why)) != 0)
        fail_msg("context %s: %s", name, why);
    return c;
}

static fm_tls_t *session(fm_tls_ctx_t *c)
{
    fm_tls_t *t;

    assert_int_equal(fm_tls_create(c, &t), 0);
    return t;
}

/* Moves ciphertext from one session to the other. */
static void pump(fm_tls_t *from, fm_tls_t *to)
{
    uint8_t buf[16384];
    size_t n;

    while ((n = fm_tls_take(from, buf, sizeof(buf))) > 0)
        assert_int_equal(fm_tls_feed(to, buf, n), 0);
}

/* Runs both handshakes until each side has an outcome (1 or a negative
 * errno). With TLS 1.3 a client is done before the server has checked its
 * certificate; a refusal then reaches it as an alert, read as data. */
static void handshake(fm_tls_t *srv, fm_tls_t *cli, int *rs, int *rc)
{
    *rs = *rc = 0;
    for (int i = 0; i < 20 && (*rs == 0 || *rc == 0); i++) {
        *rc = fm_tls_handshake(cli);
        pump(cli, srv);
        *rs = fm_tls_handshake(srv);
        pump(srv, cli);
    }
    if (*rs < 0 && *rc == 1) {
        uint8_t b[64];
        ssize_t n = fm_tls_read(cli, b, sizeof(b));
        *rc = n < 0 ? (int)n : *rc;
    }
}

/* Sends text from one session and reads it at the other. */
static void send_through(fm_tls_t *from, fm_tls_t *to, const char *text)
{
    uint8_t buf[64];
    size_t len = strlen(text);

    assert_int_equal(fm_tls_write(from, (const uint8_t *)text, len), 0);
    assert_true(fm_tls_pending(from) > len); /* encrypted, with a record header */
    pump(from, to);
    assert_int_equal(fm_tls_read(to, buf, sizeof(buf)), (ssize_t)len);
    assert_memory_equal(buf, text, len);
    assert_int_equal(fm_tls_read(to, buf, sizeof(buf)), 0); /* nothing more yet */
}

static void test_fm_tls_mutual_handshake_carries_data_both_ways(void **state)
{
    /* The client also checks the name, as an agent with server_name does. */
    fm_tls_ctx_t *sc = ctx(FM_TLS_SERVER, "collector", "ca", NULL);
    fm_tls_ctx_t *cc = ctx(FM_TLS_CLIENT, "agent-1", "ca", "localhost");
    fm_tls_t *srv = session(sc), *cli = session(cc);
    int rs, rc;

    (void)state;
    assert_false(fm_tls_established(cli));
    assert_string_equal(fm_tls_peer_cn(srv), "");
    handshake(srv, cli, &rs, &rc);
    assert_int_equal(rs, 1);
    assert_int_equal(rc, 1);
    assert_true(fm_tls_established(srv));
    assert_true(fm_tls_established(cli));
    assert_string_equal(fm_tls_why(srv), "");
    assert_string_equal(fm_tls_why(cli), "");

    send_through(cli, srv, "hello from the agent");
    send_through(srv, cli, "ack from the collector");
    send_through(cli, srv, "and again");

    fm_tls_destroy(srv);
    fm_tls_destroy(cli);
    fm_tls_ctx_destroy(sc);
    fm_tls_ctx_destroy(cc);
}

static void test_fm_tls_peer_identity_is_the_verified_cn_or_san(void **state)
{
    fm_tls_ctx_t *sc = ctx(FM_TLS_SERVER, "collector", "ca", NULL);
    fm_tls_ctx_t *cc = ctx(FM_TLS_CLIENT, "agent-1", "ca", NULL);
    fm_tls_t *srv = session(sc), *cli = session(cc);
    int rs, rc;

    (void)state;
    assert_false(fm_tls_peer_is(srv, "agent-1")); /* not before the handshake */
    handshake(srv, cli, &rs, &rc);
    assert_int_equal(rs, 1);
    assert_int_equal(rc, 1);
    assert_string_equal(fm_tls_peer_cn(srv), "agent-1");
    assert_string_equal(fm_tls_peer_cn(cli), "collector");
    static const struct {
        int client_side; /* 0: the server asks about the agent; 1: the client about the collector */
        const char *id;
        bool is;
    } cases[] = {
        {0, "agent-1", true},    /* the subject CN (and the SAN DNS name) */
        {0, "agent-2", false},   /* another agent */
        {0, "agent-", false},    /* a prefix is not the name */
        {0, "agent-10", false},  /* nor is a longer name */
        {0, "", false},          /* nor nothing */
        {1, "collector", true},  /* the CN only */
        {1, "localhost", true},  /* a SAN DNS name only */
        {1, "127.0.0.1", false}, /* a SAN IP address is not a DNS name */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = fm_tls_peer_is(cases[i].client_side ? cli : srv, cases[i].id);
        if (got != cases[i].is)
            fail_msg("case %zu: peer_is(\"%s\") = %d", i, cases[i].id, got);
    }
    fm_tls_destroy(srv);
    fm_tls_destroy(cli);
    fm_tls_ctx_destroy(sc);
    fm_tls_ctx_destroy(cc);
}

static void test_fm_tls_refusals_name_the_reason(void **state)
{
    static const struct {
        const char *server_cert, *client_ca, *client_cert, *server_name;
        const char *srv_why; /* the refusing server's reason (exact), or NULL */
        const char *cli_why; /* in the client's reason, or NULL if it passed */
    } cases[] = {
        /* an agent certificate from another CA, though it names agent-1 */
        {"collector", "ca", "rogue-agent-1", NULL,
         "certificate verify failed: unable to get local issuer certificate", "alert unknown ca"},
        /* an agent certificate from our CA, but out of date */
        {"collector", "ca", "expired", NULL, "certificate verify failed: certificate has expired",
         "alert certificate expired"},
        /* the agent trusts another CA than the collector's (the collector
         * sends its chain, the CA included, which the agent does not trust) */
        {"collector", "other-ca", "rogue-agent-1", NULL, NULL,
         "certificate verify failed: self-signed certificate in certificate chain"},
        /* the collector's certificate is out of date */
        {"expired", "ca", "agent-1", NULL, NULL,
         "certificate verify failed: certificate has expired"},
        /* server_name is not in the collector's certificate */
        {"collector", "ca", "agent-1", "collector.example", NULL,
         "certificate verify failed: hostname mismatch"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fm_tls_ctx_t *sc = ctx(FM_TLS_SERVER, cases[i].server_cert, "ca", NULL);
        fm_tls_ctx_t *cc =
            ctx(FM_TLS_CLIENT, cases[i].client_cert, cases[i].client_ca, cases[i].server_name);
        fm_tls_t *srv = session(sc), *cli = session(cc);
        uint8_t buf[16];
        int rs, rc;

        handshake(srv, cli, &rs, &rc);
        if (cases[i].srv_why != NULL) {
            if (rs != -EPROTO || strcmp(fm_tls_why(srv), cases[i].srv_why) != 0)
                fail_msg("case %zu: server %d \"%s\", want \"%s\"", i, rs, fm_tls_why(srv),
                         cases[i].srv_why);
            assert_false(fm_tls_peer_is(srv, "agent-1"));
        }
        if (cases[i].srv_why == NULL && cases[i].cli_why != NULL) {
            /* the client refused: its own verdict, word for word */
            if (rc != -EPROTO || strcmp(fm_tls_why(cli), cases[i].cli_why) != 0)
                fail_msg("case %zu: client %d \"%s\", want \"%s\"", i, rc, fm_tls_why(cli),
                         cases[i].cli_why);
            assert_true(rs < 0); /* the server heard the client's alert */
        } else if (rc != -EPROTO || strstr(fm_tls_why(cli), cases[i].cli_why) == NULL) {
            /* the server refused: the client learns it from the alert */
            fail_msg("case %zu: client %d \"%s\", want \"%s\"", i, rc, fm_tls_why(cli),
                     cases[i].cli_why);
        }
        /* A failed session stays failed, with its first reason. */
        assert_int_equal(fm_tls_read(cli, buf, sizeof(buf)), -EPROTO);
        assert_int_equal(fm_tls_write(cli, (const uint8_t *)"x", 1), -EPROTO);
        fm_tls_destroy(srv);
        fm_tls_destroy(cli);
        fm_tls_ctx_destroy(sc);
        fm_tls_ctx_destroy(cc);
    }
}

/* A client without a certificate cannot be made with fm_tls (it requires
 * one), so this one is plain OpenSSL, trusting our CA. */
static void test_fm_tls_server_refuses_a_client_without_certificate(void **state)
{
    fm_tls_ctx_t *sc = ctx(FM_TLS_SERVER, "collector", "ca", NULL);
    fm_tls_t *srv = session(sc);
    SSL_CTX *rctx = SSL_CTX_new(TLS_client_method());
    char cafile[256];
    uint8_t buf[16384];
    int rs = 0;

    (void)state;
    path(cafile, sizeof(cafile), "ca", "crt");
    assert_int_equal(SSL_CTX_load_verify_locations(rctx, cafile, NULL), 1);
    SSL_CTX_set_verify(rctx, SSL_VERIFY_PEER, NULL);
    SSL *raw = SSL_new(rctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(raw, in, out);
    SSL_set_connect_state(raw);
    for (int i = 0; i < 20 && rs == 0; i++) {
        int n;

        SSL_do_handshake(raw);
        while ((n = BIO_read(out, buf, sizeof(buf))) > 0)
            assert_int_equal(fm_tls_feed(srv, buf, (size_t)n), 0);
        rs = fm_tls_handshake(srv);
        for (size_t m; (m = fm_tls_take(srv, buf, sizeof(buf))) > 0;)
            assert_int_equal(BIO_write(in, buf, (int)m), (int)m);
    }
    assert_int_equal(rs, -EPROTO);
    if (strstr(fm_tls_why(srv), "peer did not return a certificate") == NULL)
        fail_msg("server: \"%s\"", fm_tls_why(srv));
    assert_false(fm_tls_established(srv));
    assert_string_equal(fm_tls_peer_cn(srv), "");
    SSL_free(raw);
    SSL_CTX_free(rctx);
    fm_tls_destroy(srv);
    fm_tls_ctx_destroy(sc);
}

static void test_fm_tls_write_waits_for_the_handshake(void **state)
{
    fm_tls_ctx_t *cc = ctx(FM_TLS_CLIENT, "agent-1", "ca", NULL);
    fm_tls_t *cli = session(cc);
    uint8_t buf[16];

    (void)state;
    assert_int_equal(fm_tls_handshake(cli), 0); /* ClientHello out, waiting */
    assert_true(fm_tls_pending(cli) > 0);
    assert_int_equal(fm_tls_write(cli, (const uint8_t *)"early", 5), -ENOTCONN);
    assert_int_equal(fm_tls_read(cli, buf, sizeof(buf)), 0);
    fm_tls_destroy(cli);
    fm_tls_ctx_destroy(cc);
}

static void test_fm_tls_ctx_names_the_unusable_file(void **state)
{
    char ca[256], cert[256], key[256], other_key[256], why[512];
    struct fm_tls_cfg cfg = {ca, cert, key, NULL};
    fm_tls_ctx_t *c = (fm_tls_ctx_t *)&cfg; /* must be reset to NULL on failure */

    (void)state;
    path(ca, sizeof(ca), "ca", "crt");
    path(cert, sizeof(cert), "collector", "crt");
    path(key, sizeof(key), "collector", "key");
    path(other_key, sizeof(other_key), "agent-1", "key");

    cfg.key_file = "/nonexistent/collector.key";
    assert_int_equal(fm_tls_ctx_create(&cfg, FM_TLS_SERVER, &c, why, sizeof(why)), -EINVAL);
    assert_null(c);
    assert_non_null(strstr(why, "/nonexistent/collector.key: cannot load the private key: "));

    cfg.key_file = other_key; /* a key that does not belong to the certificate */
    assert_int_equal(fm_tls_ctx_create(&cfg, FM_TLS_SERVER, &c, why, sizeof(why)), -EINVAL);
    char want[600];
    snprintf(want, sizeof(want), "%s: key does not match %s: ", other_key, cert);
    if (strstr(why, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", why, want);
    assert_non_null(strstr(why, "key values mismatch"));

    cfg.key_file = key;
    cfg.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(fm_tls_ctx_create(&cfg, FM_TLS_CLIENT, &c, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "/nonexistent/ca.pem: cannot load the CA: "));

    cfg.ca_file = ca;
    cfg.cert_file = "/nonexistent/collector.crt";
    assert_int_equal(fm_tls_ctx_create(&cfg, FM_TLS_SERVER, &c, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "/nonexistent/collector.crt: cannot load the certificate: "));

    cfg.cert_file = NULL;
    assert_int_equal(fm_tls_ctx_create(&cfg, FM_TLS_CLIENT, &c, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "ca, cert and key are all required for mutual TLS");
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_tls_mutual_handshake_carries_data_both_ways),
        cmocka_unit_test(test_fm_tls_peer_identity_is_the_verified_cn_or_san),
        cmocka_unit_test(test_fm_tls_refusals_name_the_reason),
        cmocka_unit_test(test_fm_tls_server_refuses_a_client_without_certificate),
        cmocka_unit_test(test_fm_tls_write_waits_for_the_handshake),
        cmocka_unit_test(test_fm_tls_ctx_names_the_unusable_file),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
