/* tlsio: TLS over memory BIOs between a server and a client session in one
 * process, with certificates from deploy/make-test-certs.sh: mutual
 * authentication, the peer's identity, and the refusals a collector must
 * make (unknown CA, expired certificate, unreadable files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsio.h"

static char dir[] = "/tmp/fm-tlsio.XXXXXX";

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

static tlsio_ctx_t *ctx(bool server, const char *name, const char *ca)
{
    char cert[256], key[256], cafile[256], why[256] = "";
    tlsio_ctx_t *c;

    snprintf(cert, sizeof(cert), "%s/%s.crt", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    snprintf(cafile, sizeof(cafile), "%s/%s.crt", dir, ca);
    c = tlsio_ctx_create(server, cert, key, cafile, why, sizeof(why));
    if (c == NULL)
        fail_msg("context %s: %s", name, why);
    return c;
}

/* Moves ciphertext from one session to the other. Returns bytes moved. */
static size_t pump(tlsio_t *from, tlsio_t *to)
{
    uint8_t buf[16384];
    size_t n, total = 0;

    while ((n = tlsio_take_out(from, buf, sizeof(buf))) > 0) {
        assert_int_equal(tlsio_feed(to, buf, n), 0);
        total += n;
    }
    return total;
}

/* Runs both handshakes to the end; returns the server's result. */
static int handshake(tlsio_t *srv, tlsio_t *cli)
{
    int rs = 0, rc = 0;

    for (int i = 0; i < 20; i++) {
        rc = tlsio_handshake(cli);
        pump(cli, srv);
        rs = tlsio_handshake(srv);
        pump(srv, cli);
        if (rs < 0 || (rs == 1 && rc == 1))
            break;
    }
    return rs;
}

static void test_tlsio_mutual_auth_names_the_agent(void **state)
{
    tlsio_ctx_t *sc = ctx(true, "collector", "ca"), *cc = ctx(false, "agent-1", "ca");
    tlsio_t *srv = tlsio_create(sc), *cli = tlsio_create(cc);
    uint8_t buf[64];
    char cn[64];

    (void)state;
    assert_int_equal(handshake(srv, cli), 1);
    assert_true(tlsio_peer_is(srv, "agent-1"));
    assert_false(tlsio_peer_is(srv, "agent-2"));
    assert_false(tlsio_peer_is(srv, "agent-"));
    tlsio_peer_cn(srv, cn, sizeof(cn));
    assert_string_equal(cn, "agent-1");
    /* the client checked the collector's chain too */
    assert_true(tlsio_peer_is(cli, "collector"));

    assert_int_equal(tlsio_write(cli, (const uint8_t *)"hello", 5), 0);
    assert_true(tlsio_pending_out(cli) > 5);
    pump(cli, srv);
    assert_int_equal(tlsio_read(srv, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(tlsio_read(srv, buf, sizeof(buf)), 0); /* nothing more yet */
    tlsio_destroy(srv);
    tlsio_destroy(cli);
    tlsio_ctx_destroy(sc);
    tlsio_ctx_destroy(cc);
}

static void test_tlsio_server_refuses_bad_client_certificates(void **state)
{
    static const struct {
        const char *cert, *ca, *why;
    } cases[] = {
        /* signed by another CA, though it names agent-1 */
        {"rogue-agent-1", "other-ca", "unable to get local issuer certificate"},
        /* signed by our CA, but out of date */
        {"expired", "ca", "certificate has expired"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tlsio_ctx_t *sc = ctx(true, "collector", "ca"), *cc = ctx(false, cases[i].cert, "ca");
        tlsio_t *srv = tlsio_create(sc), *cli = tlsio_create(cc);

        assert_int_equal(handshake(srv, cli), -EPROTO);
        if (strstr(tlsio_why(srv), cases[i].why) == NULL)
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].cert, tlsio_why(srv), cases[i].why);
        assert_false(tlsio_peer_is(srv, "agent-1"));
        tlsio_destroy(srv);
        tlsio_destroy(cli);
        tlsio_ctx_destroy(sc);
        tlsio_ctx_destroy(cc);
    }
}

static void test_tlsio_context_names_the_unreadable_file(void **state)
{
    char why[256] = "", cert[256], ca[256];

    (void)state;
    snprintf(cert, sizeof(cert), "%s/collector.crt", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    assert_null(tlsio_ctx_create(true, cert, "/nonexistent/collector.key", ca, why, sizeof(why)));
    assert_non_null(strstr(why, "/nonexistent/collector.key"));
    /* a key that does not belong to the certificate */
    char key[256];
    snprintf(key, sizeof(key), "%s/agent-1.key", dir);
    assert_null(tlsio_ctx_create(true, cert, key, ca, why, sizeof(why)));
    assert_non_null(strstr(why, "agent-1.key"));
    assert_non_null(strstr(why, "key values mismatch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlsio_mutual_auth_names_the_agent),
        cmocka_unit_test(test_tlsio_server_refuses_bad_client_certificates),
        cmocka_unit_test(test_tlsio_context_names_the_unreadable_file),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
