/* Unit tests for the sender's batch framing and for streams over TLS: both
 * ends run in this process on one loop over loopback TCP, with real OpenSSL
 * and certificates made by deploy/make-test-certs.sh. What TLS itself
 * accepts and refuses, and why, is tested with fm_tls (test_fmc_tls.c); here,
 * that a stream opens, carries data, names its peer, and closes with the
 * reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_tls.h"
#include "stream.h"
#include "sender.h"
#include "spool_seg.h"

#include "agent_samples.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char certs[128];

static int make_certs(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(certs, sizeof(certs), "/tmp/fm-certs-test.XXXXXX");
    assert_non_null(mkdtemp(certs));
    snprintf(cmd, sizeof(cmd), "%s/deploy/make-test-certs.sh %s agent-1 >/dev/null", FM_SOURCE_DIR,
             certs);
    return system(cmd);
}

static int rm_certs(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
    return system(cmd);
}

/* ------------------------------------------------------------ batches */

static void test_sender_batch_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    struct sender_batch b = {0};
    struct agent_sample s[3];
    Fm__Event *evs[3];
    uint8_t packed[3][256];
    Fm__EventBatch eb = FM__EVENT_BATCH__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;

    sender_batch_reset(&b);
    for (int i = 0; i < 3; i++) {
        struct spool_rec rec;
        agent_sample_init(&s[i], 20.5 + i, i == 1);
        s[i].ev.seq = 41 + (uint64_t)i;
        evs[i] = &s[i].ev;
        rec.seq = s[i].ev.seq;
        rec.len = (uint32_t)fm__event__pack(&s[i].ev, packed[i]);
        rec.payload = packed[i];
        assert_int_equal(sender_batch_add(&b, &rec, 1 << 20), 0);
    }
    eb.epoch = 1795300000000000ULL;
    eb.events = evs;
    eb.n_events = 3;
    env.body_case = FM__ENVELOPE__BODY_BATCH;
    env.batch = &eb;
    size_t want_len = fmw_frame_size(&env), len;
    uint8_t *want = malloc(want_len);
    assert_int_equal(fmw_frame_pack(&env, want, want_len, FMW_MAX_FRAME_DEFAULT), want_len);
    const uint8_t *got = sender_batch_finish(&b, eb.epoch, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    assert_int_equal(b.first_seq, 41);
    assert_int_equal(b.last_seq, 43);
    free(want);
    sender_batch_free(&b);
}

static void test_sender_batch_refuses_past_max_bytes_but_takes_one(void **state)
{
    (void)state;
    struct sender_batch b = {0};
    uint8_t big[3000] = {0};
    struct spool_rec rec = {.seq = 1, .payload = big, .len = sizeof(big)};

    sender_batch_reset(&b);
    /* The first record always fits, even over the limit: it must go. */
    assert_int_equal(sender_batch_add(&b, &rec, 1000), 0);
    rec.seq = 2;
    assert_int_equal(sender_batch_add(&b, &rec, 1000), -ENOSPC);
    assert_int_equal(b.n_events, 1);
    sender_batch_free(&b);
}

/* ------------------------------------------------------------ TLS streams */

struct end {
    bool opened, closed;
    int status;
    char why[256];
    char got[64];
    size_t n;
    char cn[64];
};

struct pair {
    uv_loop_t loop;
    uv_tcp_t server;
    fm_tls_ctx_t *sctx, *cctx;
    stream_t *sl, *cl;
    struct end s, c;
    uv_timer_t guard;
};

static void on_open(stream_t *l, void *ud)
{
    struct end *e = ud;
    e->opened = true;
    snprintf(e->cn, sizeof(e->cn), "%s", stream_peer_cn(l));
    stream_write(l, (const uint8_t *)"ping", 4);
}

static void on_data(stream_t *l, const uint8_t *p, size_t n, void *ud)
{
    struct end *e = ud;
    (void)l;
    if (e->n + n < sizeof(e->got)) {
        memcpy(e->got + e->n, p, n);
        e->n += n;
    }
}

static void on_close(stream_t *l, int status, const char *why, void *ud)
{
    struct end *e = ud;
    (void)l;
    e->closed = true;
    e->status = status;
    snprintf(e->why, sizeof(e->why), "%s", why);
}

static const struct stream_cbs cbs = {on_open, on_data, on_close};

static void on_conn(uv_stream_t *srv, int status)
{
    struct pair *p = srv->data;
    assert_int_equal(status, 0);
    p->sl = stream_create(&p->loop, p->sctx, &cbs, &p->s);
    assert_int_equal(stream_accept(p->sl, srv), 0);
}

static void on_guard(uv_timer_t *t)
{
    struct pair *p = t->data;
    /* Both sides settled (pinged or failed): close what is left. */
    if ((p->s.n >= 4 || p->s.closed) && (p->c.n >= 4 || p->c.closed)) {
        if (!p->s.closed && p->sl)
            stream_close(p->sl, 0, "done");
        if (!p->c.closed)
            stream_close(p->cl, 0, "done");
        uv_close((uv_handle_t *)&p->server, NULL);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static fm_tls_ctx_t *ctx(const char *ca, const char *name, bool server)
{
    char caf[256], cf[256], kf[256], err[512];
    struct fm_tls_cfg c = {caf, cf, kf, NULL};
    fm_tls_ctx_t *x;

    snprintf(caf, sizeof(caf), "%s/%s.crt", certs, ca);
    snprintf(cf, sizeof(cf), "%s/%s.crt", certs, name);
    snprintf(kf, sizeof(kf), "%s/%s.key", certs, name);
    if (fm_tls_ctx_create(&c, server ? FM_TLS_SERVER : FM_TLS_CLIENT, &x, err, sizeof(err)) != 0)
        fail_msg("fm_tls_ctx_create: %s", err);
    return x;
}

/* Runs a client (trusting client_ca, presenting client_cert) against a
 * server (trusting ca, presenting server_cert) until both settle. */
static void run_pair(struct pair *p, const char *client_ca, const char *client_cert,
                     const char *server_cert)
{
    struct sockaddr_in sa;
    int len = sizeof(sa);

    memset(p, 0, sizeof(*p));
    uv_loop_init(&p->loop);
    p->sctx = ctx("ca", server_cert, true);
    p->cctx = ctx(client_ca, client_cert, false);
    uv_tcp_init(&p->loop, &p->server);
    p->server.data = p;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&p->server, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->server, 8, on_conn), 0);
    uv_tcp_getsockname(&p->server, (struct sockaddr *)&sa, &len);
    p->cl = stream_create(&p->loop, p->cctx, &cbs, &p->c);
    /* Generous: the first handshake of a process is slow under valgrind. */
    assert_int_equal(stream_connect(p->cl, (struct sockaddr *)&sa, 60000), 0);
    uv_timer_init(&p->loop, &p->guard);
    p->guard.data = p;
    uv_timer_start(&p->guard, on_guard, 20, 20);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    fm_tls_ctx_destroy(p->sctx);
    fm_tls_ctx_destroy(p->cctx);
}

static void test_stream_mutual_tls_carries_data_and_names_peers(void **state)
{
    (void)state;
    struct pair p;

    run_pair(&p, "ca", "agent-1", "collector");
    if (!p.c.opened)
        fail_msg("client: %s; server: %s", p.c.why, p.s.why);
    assert_true(p.s.opened);
    assert_string_equal(p.c.cn, "collector");
    assert_string_equal(p.s.cn, "agent-1");
    assert_int_equal(p.s.n, 4);
    assert_int_equal(p.c.n, 4);
    assert_memory_equal(p.s.got, "ping", 4);
}

static void test_stream_tls_refusal_closes_both_ends_with_the_reason(void **state)
{
    (void)state;
    struct pair p;

    run_pair(&p, "ca", "expired", "collector");
    assert_false(p.s.opened);
    assert_int_equal(p.s.status, -EPROTO);
    assert_string_equal(p.s.why, "certificate verify failed: certificate has expired");
    /* The client learns it from the alert, whatever TLS version. */
    assert_true(p.c.closed);
    assert_int_equal(p.c.status, -EPROTO);
    assert_non_null(strstr(p.c.why, "alert certificate expired"));
    assert_int_equal(p.s.n, 0); /* nothing reached the application */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sender_batch_is_what_protobuf_c_packs),
        cmocka_unit_test(test_sender_batch_refuses_past_max_bytes_but_takes_one),
        cmocka_unit_test(test_stream_mutual_tls_carries_data_and_names_peers),
        cmocka_unit_test(test_stream_tls_refusal_closes_both_ends_with_the_reason),
    };
    return cmocka_run_group_tests(tests, make_certs, rm_certs);
}
