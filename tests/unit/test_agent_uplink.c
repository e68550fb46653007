/* Unit tests for the uplink pipeline on a real loop: spooled-callbacks for
 * informs, refused events, status events, metrics text and a clean stop
 * that leaves no handle open. The collector endpoint refuses connections
 * (a closed loopback port), so everything stays in the spool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "uplink.h"
#include "spool_seg.h"

#include "agent_samples.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[128], spooldir[160], ep[32];

static int setup(void **state)
{
    uv_tcp_t t;
    struct sockaddr_in sa;
    int len = sizeof(sa);
    uv_loop_t loop;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fm-uplink-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
    /* A port that was free a moment ago: connecting to it is refused. */
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &t);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_bind(&t, (struct sockaddr *)&sa, 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&sa, &len);
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", ntohs(sa.sin_port));
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

struct ctx {
    uv_loop_t loop;
    uplink_t *uplink;
    uv_timer_t t;
    int in_call, calls, refused_status, waits;
    uint64_t spooled_seq;
    bool stopped;
};

static void on_spooled(int status, uint64_t seq, void *ud)
{
    struct ctx *c = ud;

    assert_int_equal(c->in_call, 0); /* never inside uplink_emit_cb */
    if (status == 0)
        c->spooled_seq = seq;
    else
        c->refused_status = status;
    c->calls++;
}

static void on_stopped(void *ud)
{
    ((struct ctx *)ud)->stopped = true;
}

static void on_later(uv_timer_t *t)
{
    struct ctx *c = t->data;
    struct spool_stats st;
    char text[8192];

    /* Ten measurements, the inform and two status events (every 50 ms):
     * wait for them, up to 20 s (slow machines, valgrind). */
    spool_get_stats(uplink_spool(c->uplink), &st);
    if (st.written_seq < 13 && ++c->waits < 400)
        return;
    uv_timer_stop(t);
    assert_true(st.written_seq >= 13);
    uplink_metrics_text(c->uplink, text, sizeof(text));
    assert_non_null(strstr(text, "fieldmon_agent_connected 0\n"));
    assert_non_null(strstr(text, "# TYPE fieldmon_agent_spool_events gauge\n"));
    assert_non_null(strstr(text, "fieldmon_agent_events_dropped_total 1\n")); /* the refused */
    uv_close((uv_handle_t *)t, NULL);
    uplink_stop(c->uplink, on_stopped, c);
}

static void test_edge_spools_informs_status_and_stops_cleanly(void **state)
{
    (void)state;
    struct uplink_cfg cfg = {
        .spool = {.dir = spooldir, .fsync = SPOOL_FSYNC_ALWAYS},
        .sender = {.transport = SENDER_PLAIN,
                   .connect_timeout_ms = 500,
                   .heartbeat_ms = 1000,
                   .dead_after_ms = 3000,
                   .backoff_min_ms = 50,
                   .backoff_max_ms = 100,
                   .batch_events = 100,
                   .batch_bytes = 65536,
                   .window_bytes = 1 << 20},
        .status = {.interval_ms = 50, .metrics_listen = ""},
    };
    char *eps[] = {ep};
    Fm__Inventory inv = FM__INVENTORY__INIT;
    struct sender_identity id = {.agent_id = "agent-1", .site_id = "lab", .inventory = &inv};
    struct ctx c = {0};
    struct agent_sample s;
    uint64_t polls_ok = 7;
    struct uplink_counters counters = {.polls_ok = &polls_ok};

    uv_loop_init(&c.loop);
    assert_int_equal(uplink_create(&c.loop, &cfg, eps, 1, &id, 10.0, &c.uplink), 0);
    uplink_start(c.uplink, &counters);
    agent_sample_init(&s, 1, 0);
    for (int i = 0; i < 10; i++)
        uplink_emit(c.uplink, &s.ev);
    /* An inform's trap: acknowledged only once spooled. */
    agent_sample_init(&s, 5, 1);
    c.in_call = 1;
    uplink_emit_cb(c.uplink, &s.ev, on_spooled, &c);
    c.in_call = 0;
    assert_int_equal(c.calls, 0);
    /* An event over the record limit is refused, also on a later turn. */
    static char big[SPOOL_MAX_RECORD + 10];
    memset(big, 'x', sizeof(big) - 1);
    s.a.message = big;
    c.in_call = 1;
    uplink_emit_cb(c.uplink, &s.ev, on_spooled, &c);
    c.in_call = 0;
    assert_int_equal(c.calls, 0);
    uv_timer_init(&c.loop, &c.t);
    c.t.data = &c;
    uv_timer_start(&c.t, on_later, 50, 50);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_true(c.stopped);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.spooled_seq, 11);
    assert_int_equal(c.refused_status, -EMSGSIZE);
    /* Nothing left open: the loop closes. */
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

static void test_edge_refuses_bad_metrics_address_and_endpoint(void **state)
{
    (void)state;
    struct uplink_cfg cfg = {
        .spool = {.dir = spooldir, .fsync = SPOOL_FSYNC_NEVER},
        .sender = {.transport = SENDER_PLAIN,
                   .heartbeat_ms = 1000,
                   .dead_after_ms = 3000,
                   .backoff_min_ms = 50,
                   .backoff_max_ms = 100},
        .status = {.interval_ms = 1000, .metrics_listen = "nowhere"},
    };
    char *eps[] = {ep}, *bad[] = {"no-port-here"};
    Fm__Inventory inv = FM__INVENTORY__INIT;
    struct sender_identity id = {.agent_id = "agent-1", .site_id = "lab", .inventory = &inv};
    uv_loop_t loop;
    uplink_t *e = NULL;

    uv_loop_init(&loop);
    assert_int_equal(uplink_create(&loop, &cfg, eps, 1, &id, 1.0, &e), -EINVAL);
    cfg.status.metrics_listen = "";
    assert_int_equal(uplink_create(&loop, &cfg, bad, 1, &id, 1.0, &e), -EINVAL);
    assert_null(e);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edge_spools_informs_status_and_stops_cleanly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_edge_refuses_bad_metrics_address_and_endpoint, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
