/* Interop: fieldmon's Modbus worker, planner and decoder against pymodbus
 * (Debian python3-pymodbus), a Modbus TCP server fieldmon did not write,
 * serving the register maps of tests/sim/data/modbus/ (tests/modbus/serve_regmap.py).
 * Also: a device that accepts TCP and never answers, a refused connect with
 * back-off, and reconnecting after the server restarts. Loopback only; every
 * port is picked by the kernel at run time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mb_decode.h"
#include "mb_plan.h"
#include "mb_worker.h"
#include "peer_proc.h"
#include "regmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define DATA FM_SOURCE_DIR "/tests/sim/data/modbus/"
#define MAX_READS 64
#define MAX_WORDS 4096

/* One device being polled: its map, plan, job and result buffers. */
struct tdev {
    struct regmap map;
    struct mb_plan plan;
    size_t off[MAX_READS];
    uint16_t data[MAX_WORDS];
    struct mb_read_result results[MAX_READS];
    struct mb_job job;
    mb_worker_t *w;
    bool done;
    uint64_t done_ns;
};

static const char *const maps[] = {"ahu-ddc.json", "th-transmitter-xymd02.json",
                                   "leak-detector-aqualeak.json", "power-meter-sdm120.json",
                                   "all-types.json"};
#define N_MAPS (sizeof(maps) / sizeof(maps[0]))

static uv_loop_t loop;
static struct peer_proc server;
static int server_port;

static void start_server(int port)
{
    char portarg[16];
    char *argv[2 * N_MAPS + 5];
    char specs[N_MAPS][512];
    int a = 0;

    snprintf(portarg, sizeof(portarg), "%d", port);
    argv[a++] = "/usr/bin/python3";
    argv[a++] = FM_SOURCE_DIR "/tests/modbus/serve_regmap.py";
    for (size_t i = 0; i < N_MAPS; i++) {
        /* Unit ids 1..5 in list order: two of the maps both say unit 1. */
        snprintf(specs[i], sizeof(specs[i]), "%s%s:%zu", DATA, maps[i], i + 1);
        argv[a++] = "--map";
        argv[a++] = specs[i];
    }
    argv[a++] = "--port";
    argv[a++] = portarg;
    argv[a] = NULL;
    assert_int_equal(peer_start(&server, argv), 0);
    server_port = (int)peer_wait_value(&server, "port", 20000);
    assert_true(server_port > 0);
}

static void on_job_done(struct mb_job *job)
{
    struct tdev *d = job->ctx;

    d->done = true;
    d->done_ns = uv_hrtime();
}

static void on_tick(uv_timer_t *t)
{
}

/* Runs the loop until every device in devs is done, at most limit_ms. */
static void run_until_done(struct tdev **devs, size_t n, int limit_ms)
{
    uv_timer_t tick;
    uint64_t end = uv_hrtime() + (uint64_t)limit_ms * 1000000u;
    bool all;

    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 20, 20);
    do {
        uv_run(&loop, UV_RUN_ONCE);
        all = true;
        for (size_t i = 0; i < n; i++)
            all = all && devs[i]->done;
    } while (!all && uv_hrtime() < end);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(all);
}

static mb_worker_t *tcp_worker(int port, int timeout_ms)
{
    struct mb_link_cfg cfg = {
        .kind = MB_LINK_TCP,
        .name = "test",
        .host = "127.0.0.1",
        .port = port,
        .timeout_ms = timeout_ms,
        .backoff_min_ms = 100,
        .backoff_max_ms = 400,
        .max_queue = 64,
    };
    const char *why = NULL;
    mb_worker_t *w = mb_worker_create(&loop, &cfg, &why);

    if (w == NULL)
        fail_msg("mb_worker_create: %s", why);
    return w;
}

static void dev_init(struct tdev *d, const char *map, int unit, unsigned max_gap)
{
    struct mb_plan_limits lim = {.max_gap = max_gap};
    size_t total = 0;

    memset(d, 0, sizeof(*d));
    assert_int_equal(regmap_load(map, &d->map), 0);
    assert_int_equal(mb_plan_build(d->map.where, d->map.n, &lim, &d->plan), 0);
    assert_true(d->plan.n_reads <= MAX_READS);
    for (size_t i = 0; i < d->plan.n_reads; i++) {
        d->off[i] = total;
        total += d->plan.reads[i].count;
    }
    assert_true(total <= MAX_WORDS);
    d->job.unit_id = unit;
    d->job.reads = d->plan.reads;
    d->job.n_reads = d->plan.n_reads;
    d->job.data = d->data;
    d->job.data_len = MAX_WORDS;
    d->job.results = d->results;
    d->job.cb = on_job_done;
    d->job.ctx = d;
}

static void dev_submit(struct tdev *d)
{
    d->done = false;
    assert_int_equal(mb_worker_submit(d->w, &d->job), 0);
}

static void dev_free(struct tdev *d)
{
    mb_plan_free(&d->plan);
    regmap_free(&d->map);
}

/* Decodes every point from the words its read returned and compares. */
static void check_values(struct tdev *d, const char *what)
{
    char buf[128];

    for (size_t i = 0; i < d->map.n; i++) {
        const struct regmap_point *p = &d->map.pts[i];
        const struct mb_plan_slot *s = &d->plan.slots[i];
        const struct mb_read_result *r = &d->results[s->read];
        struct mb_value v;
        double got;

        if (r->status != MB_ST_OK)
            fail_msg("%s: %s: %s", what, p->name, mb_result_describe(r, buf, sizeof(buf)));
        assert_int_equal(mb_decode_value(p->type, p->order, -1,
                                         d->data + d->off[s->read] + s->offset, p->where.count, &v),
                         0);
        got = mb_decode_scale(&v, p->scale, 0.0);
        if (fabs(got - p->value) > 1e-3 * fabs(p->value) + 1e-9)
            fail_msg("%s: %s: read %.9g, map says %.9g", what, p->name, got, p->value);
    }
}

static void on_worker_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Closes one worker while others stay open: runs the loop only until its
 * close has completed (a closing handle makes the loop not block). */
static void close_worker(mb_worker_t *w)
{
    bool closed = false;

    mb_worker_close(w, on_worker_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
}

static int setup(void **state)
{
    assert_int_equal(uv_loop_init(&loop), 0);
    start_server(0);
    return 0;
}

static int teardown(void **state)
{
    peer_stop(&server);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* nothing left open */
    return 0;
}

static void test_mb_pymodbus_reads_every_point_of_every_map(void **state)
{
    static struct tdev devs[N_MAPS];
    struct tdev *all[N_MAPS];

    /* One worker (one TCP connection) per device, all polled at once. */
    for (size_t i = 0; i < N_MAPS; i++) {
        char path[512];

        snprintf(path, sizeof(path), "%s%s", DATA, maps[i]);
        dev_init(&devs[i], path, (int)i + 1, 0);
        devs[i].w = tcp_worker(server_port, 2000);
        all[i] = &devs[i];
        dev_submit(&devs[i]);
    }
    run_until_done(all, N_MAPS, 20000);
    for (size_t i = 0; i < N_MAPS; i++) {
        check_values(&devs[i], maps[i]);
        close_worker(devs[i].w);
        dev_free(&devs[i]);
    }
}

static void test_mb_pymodbus_merged_reads_and_named_exceptions(void **state)
{
    static struct tdev tight, wide;
    struct tdev *d;
    char buf[128];
    size_t fc3 = 0;

    /* max_gap 0: only mapped registers, five holding-register reads. */
    dev_init(&tight, DATA "ahu-ddc.json", 1, 0);
    tight.w = tcp_worker(server_port, 2000);
    for (size_t i = 0; i < tight.plan.n_reads; i++)
        fc3 += tight.plan.reads[i].function == 3;
    assert_int_equal(fc3, 5);
    assert_int_equal(tight.plan.n_reads, 7); /* + one coil read + one input read */
    dev_submit(&tight);
    d = &tight;
    run_until_done(&d, 1, 10000);
    check_values(&tight, "max_gap 0");

    /* max_gap 20: one read of 0..41 across unmapped registers, which this
     * server (like strict devices) refuses with exception 02. */
    dev_init(&wide, DATA "ahu-ddc.json", 1, 20);
    wide.w = tight.w;
    assert_int_equal(wide.plan.n_reads, 3);
    dev_submit(&wide);
    d = &wide;
    run_until_done(&d, 1, 10000);
    for (size_t i = 0; i < wide.plan.n_reads; i++) {
        const struct mb_read_result *r = &wide.results[i];

        if (wide.plan.reads[i].function != 3) {
            assert_int_equal(r->status, MB_ST_OK);
            continue;
        }
        assert_int_equal(wide.plan.reads[i].count, 42);
        assert_int_equal(r->status, MB_ST_EXCEPTION);
        assert_int_equal(r->exception, 2);
        assert_false(mb_result_is_comm_failure(r)); /* the device answered */
        assert_string_equal(mb_result_describe(r, buf, sizeof(buf)),
                            "modbus exception 02 illegal data address");
    }
    close_worker(tight.w);
    dev_free(&tight);
    dev_free(&wide);
}

/* A listening socket nobody accepts on: the kernel completes the handshake,
 * then nothing ever answers, like a hung device. */
static int silent_listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_mb_dead_device_costs_one_timeout_and_delays_no_other(void **state)
{
    static struct tdev dead, live;
    struct tdev *both[2] = {&dead, &live};
    int port, fd = silent_listener(&port);
    uint64_t t0;

    dev_init(&dead, DATA "ahu-ddc.json", 1, 0); /* 7 reads */
    dev_init(&live, DATA "power-meter-sdm120.json", 4, 0);
    dead.w = tcp_worker(port, 500);
    live.w = tcp_worker(server_port, 2000);
    t0 = uv_hrtime();
    dev_submit(&dead);
    dev_submit(&live);
    run_until_done(both, 2, 10000);
    check_values(&live, "live next to a dead device");
    /* The live device finished long before the dead one's timeout. */
    assert_true(live.done_ns - t0 < 400u * 1000000u);
    for (size_t i = 0; i < dead.plan.n_reads; i++) {
        assert_int_equal(dead.results[i].status, MB_ST_TIMEOUT);
        assert_true(mb_result_is_comm_failure(&dead.results[i]));
    }
    /* Seven reads, one timeout: the rest were not sent. */
    assert_true(dead.job.duration_us >= 450000);
    assert_true(dead.job.duration_us < 1000000);
    close_worker(dead.w);
    close_worker(live.w);
    close(fd);
    dev_free(&dead);
    dev_free(&live);
}

static void test_mb_refused_connect_fails_fast_and_backs_off(void **state)
{
    static struct tdev d;
    struct tdev *p = &d;
    int port, fd = silent_listener(&port);
    char buf[128];

    close(fd); /* nobody listens on port now: connect is refused */
    dev_init(&d, DATA "th-transmitter-xymd02.json", 2, 0);
    d.w = tcp_worker(port, 1000);
    dev_submit(&d);
    run_until_done(&p, 1, 5000);
    for (size_t i = 0; i < d.plan.n_reads; i++)
        assert_int_equal(d.results[i].status, MB_ST_CONNECT);
    assert_int_equal(d.results[0].err, ECONNREFUSED);
    assert_non_null(strstr(mb_result_describe(&d.results[0], buf, sizeof(buf)), "cannot connect"));
    /* Within the back-off the next poll fails at once without connecting. */
    dev_submit(&d);
    run_until_done(&p, 1, 5000);
    assert_int_equal(d.results[0].status, MB_ST_CONNECT);
    assert_true(d.job.duration_us < 50000);
    close_worker(d.w);
    dev_free(&d);
}

static void test_mb_reconnects_after_server_restart(void **state)
{
    static struct tdev d;
    struct tdev *p = &d;
    int port = server_port;
    bool ok = false;

    dev_init(&d, DATA "all-types.json", 5, 0);
    d.w = tcp_worker(port, 1000);
    dev_submit(&d);
    run_until_done(&p, 1, 10000);
    check_values(&d, "before restart");

    peer_stop(&server);
    dev_submit(&d);
    run_until_done(&p, 1, 10000);
    assert_true(mb_result_is_comm_failure(&d.results[0]));

    start_server(port); /* same port, as a device coming back */
    assert_int_equal(server_port, port);
    for (int i = 0; i < 50 && !ok; i++) {
        dev_submit(&d);
        run_until_done(&p, 1, 10000);
        ok = d.results[0].status == MB_ST_OK;
        if (!ok)
            usleep(100000);
    }
    assert_true(ok);
    check_values(&d, "after restart");
    close_worker(d.w);
    dev_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mb_pymodbus_reads_every_point_of_every_map, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mb_pymodbus_merged_reads_and_named_exceptions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mb_dead_device_costs_one_timeout_and_delays_no_other,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mb_refused_connect_fails_fast_and_backs_off, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mb_reconnects_after_server_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
