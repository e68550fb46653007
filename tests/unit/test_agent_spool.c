/* Unit tests for the spool: sequences across restarts, torn tails, reading,
 * acknowledgement, overflow policy, done callbacks and its config table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spool.h"
#include "spool_conf.h"
#include "spool_seg.h"

#include "agent_samples.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fm-spool-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    strcat(dir, "/spool");
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    *strrchr(dir, '/') = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static struct spool_cfg cfg_of(int fsync_policy)
{
    struct spool_cfg c = {.dir = dir, .fsync = fsync_policy, .fsync_interval_ms = 1000};
    return c;
}

/* Appends one measurement (or an alarm when alarm is set) with value v. */
static uint64_t put(spool_t *sp, double v, int alarm)
{
    struct agent_sample s;

    agent_sample_init(&s, v, alarm);
    assert_int_equal(spool_append(sp, &s.ev, NULL, NULL), 0);
    return s.ev.seq;
}

/* Reads every record from `from` and checks their sequences are from..to
 * without a gap; returns how many. */
static uint64_t read_all(spool_t *sp, uint64_t from, uint64_t *last)
{
    struct spool_iter it;
    struct spool_rec rec;
    uint64_t n = 0, prev = 0;
    int rc;

    spool_iter_init(&it, from);
    while ((rc = spool_iter_next(sp, &it, &rec)) == 1) {
        Fm__Event *ev = fm__event__unpack(NULL, rec.len, rec.payload);
        assert_non_null(ev);
        assert_int_equal(ev->seq, rec.seq);
        assert_true(rec.seq > prev);
        prev = rec.seq;
        fm__event__free_unpacked(ev, NULL);
        n++;
    }
    assert_int_equal(rc, 0);
    spool_iter_close(&it);
    if (last != NULL)
        *last = prev;
    return n;
}

static void test_spool_sequences_continue_across_restart(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_INTERVAL);
    struct spool_stats st;
    spool_t *sp;
    uint64_t epoch, last;

    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(put(sp, i, 0), (uint64_t)i + 1);
    spool_get_stats(sp, &st);
    epoch = st.epoch;
    assert_int_equal(st.written_seq, 0); /* nothing written before a flush */
    assert_int_equal(read_all(sp, 1, NULL), 0);
    assert_int_equal(spool_flush(sp), 0);
    assert_int_equal(read_all(sp, 1, &last), 100);
    assert_int_equal(last, 100);
    spool_close(sp);

    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    spool_get_stats(sp, &st);
    assert_int_equal(st.epoch, epoch);
    assert_int_equal(st.next_seq, 101);
    assert_int_equal(put(sp, 1, 0), 101);
    spool_flush(sp);
    assert_int_equal(read_all(sp, 51, &last), 51);
    assert_int_equal(last, 101);
    spool_close(sp);
}

/* Size of the one segment file in dir. */
static char *only_segment(char *path, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".seg") != NULL && strlen(de->d_name) == 24) {
            snprintf(path, len, "%s/%s", dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
    return path;
}

/* Torn tails: each row damages the end of the last record differently. */
static void test_spool_torn_last_record_is_skipped_never_replayed(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        int cut;    /* bytes cut off the end */
        int garble; /* flip a payload byte of the last record */
        int append; /* zero bytes appended (a preallocated tail) */
    } cases[] = {
        {"cut inside the payload", 5, 0, 0},
        {"cut inside the record header", 0, 0, 0},
        {"garbled payload", 0, 1, 0},
        {"zeros after the last record", 0, 0, 40},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_ALWAYS);
        spool_t *sp;
        char path[400];
        struct stat st;
        uint64_t last;
        char cmd[300];

        assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
        for (int i = 0; i < 10; i++)
            put(sp, i, 0);
        spool_flush(sp);
        spool_close(sp);
        only_segment(path, sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        int fd = open(path, O_RDWR);
        if (cases[c].cut)
            assert_int_equal(ftruncate(fd, st.st_size - cases[c].cut), 0);
        else if (cases[c].garble) {
            char b;
            assert_int_equal(pread(fd, &b, 1, st.st_size - 3), 1);
            b ^= 0x55;
            assert_int_equal(pwrite(fd, &b, 1, st.st_size - 3), 1);
        } else if (cases[c].append) {
            static const char zeros[64];
            assert_int_equal(pwrite(fd, zeros, cases[c].append, st.st_size), cases[c].append);
        } else {
            /* Leave only 6 bytes of the last record's 17-byte header. */
            off_t rec = st.st_size;
            /* Find the last record by reading from the start. */
            uint8_t *buf = malloc(st.st_size);
            assert_int_equal(pread(fd, buf, st.st_size, 0), st.st_size);
            size_t off = SPOOL_HDR_SIZE, used;
            struct spool_rec r;
            while (spool_seg_rec_parse(buf + off, st.st_size - off, &r, &used) == 1) {
                rec = (off_t)off;
                off += used;
            }
            free(buf);
            assert_int_equal(ftruncate(fd, rec + 6), 0);
        }
        close(fd);

        assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
        uint64_t n = read_all(sp, 1, &last);
        if (cases[c].append) {
            assert_int_equal(n, 10); /* nothing was lost, only the zeros */
        } else {
            assert_int_equal(n, 9);
            assert_int_equal(last, 9);
        }
        /* The next event takes the torn record's sequence: it was never
         * reported as spooled, so nobody has seen it. */
        assert_int_equal(put(sp, 0, 0), last + 1);
        spool_flush(sp);
        assert_int_equal(read_all(sp, 1, NULL), n + 1);
        spool_close(sp);
        *strrchr(dir, '/') = '\0';
        snprintf(cmd, sizeof(cmd), "rm -rf %s/spool", dir);
        assert_int_equal(system(cmd), 0);
        strcat(dir, "/spool");
    }
}

static void test_spool_ack_deletes_only_acknowledged_segments(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_NEVER);
    struct spool_stats st;
    spool_t *sp;
    uint64_t last;

    cfg.segment_bytes = 4096;
    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    for (int i = 0; i < 1000; i++) {
        put(sp, i, 0);
        if (i % 50 == 49)
            spool_flush(sp);
    }
    spool_flush(sp);
    spool_get_stats(sp, &st);
    assert_true(st.segments > 5);
    assert_int_equal(st.events, 1000);
    uint64_t segs = st.segments;
    spool_ack(sp, 500);
    spool_get_stats(sp, &st);
    assert_true(st.segments < segs);
    assert_int_equal(st.events, 500);
    /* Everything after the ack is still readable, and the reader resumes
     * across the deletion. */
    assert_int_equal(read_all(sp, 501, &last), 500);
    assert_int_equal(last, 1000);
    spool_ack(sp, 1000);
    spool_get_stats(sp, &st);
    assert_int_equal(st.segments, 1); /* the active segment stays */
    assert_int_equal(st.events, 0);
    spool_close(sp);
    /* Even with everything acknowledged and deleted, sequences continue. */
    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    assert_int_equal(put(sp, 1, 0), 1001);
    spool_close(sp);
}

static void test_spool_overflow_drops_measurements_keeps_alarms(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_NEVER);
    struct spool_stats st;
    struct spool_iter it;
    struct spool_rec rec;
    spool_t *sp;
    uint64_t alarms = 0, overflow_seen = 0, dropped_reported = 0;

    cfg.segment_bytes = 8192;
    assert_int_equal(spool_open(&cfg, 64 * 1024, &sp), 0);
    /* Far more than the cap, one alarm every 100 events. */
    for (int i = 0; i < 20000; i++) {
        put(sp, i, i % 100 == 0);
        alarms += i % 100 == 0;
        if (i % 64 == 63)
            spool_flush(sp);
    }
    spool_flush(sp);
    spool_get_stats(sp, &st);
    assert_true(st.bytes <= 64 * 1024);
    assert_true(st.dropped > 0);
    assert_true(st.overflows > 0);
    assert_int_equal(st.dropped_kept, 0);

    spool_iter_init(&it, 1);
    uint64_t kept_alarms = 0, prev = 0;
    int rc;
    while ((rc = spool_iter_next(sp, &it, &rec)) == 1) {
        Fm__Event *ev = fm__event__unpack(NULL, rec.len, rec.payload);
        assert_true(rec.seq > prev);
        prev = rec.seq;
        if (ev->kind_case == FM__EVENT__KIND_ALARM)
            kept_alarms++;
        if (ev->kind_case == FM__EVENT__KIND_OVERFLOW) {
            overflow_seen++;
            dropped_reported += ev->overflow->dropped;
            assert_true(ev->overflow->first_seq <= ev->overflow->last_seq);
        }
        fm__event__free_unpacked(ev, NULL);
    }
    spool_iter_close(&it);
    assert_int_equal(rc, 0);
    assert_int_equal(prev, st.written_seq);
    assert_int_equal(kept_alarms, alarms);
    assert_int_equal(overflow_seen, st.overflows);
    assert_int_equal(dropped_reported, st.dropped);
    spool_close(sp);
}

static int done_calls;
static uint64_t done_seq;

static void on_done(int status, uint64_t seq, void *ud)
{
    assert_int_equal(status, 0);
    assert_ptr_equal(ud, &done_calls);
    done_calls++;
    done_seq = seq;
}

static void test_spool_done_callback_runs_after_write_not_inside_append(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_ALWAYS);
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Trap trap = FM__TRAP__INIT;
    spool_t *sp;

    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    ev.ts_ms = 1700000000000LL;
    ev.kind_case = FM__EVENT__KIND_TRAP;
    ev.trap = &trap;
    trap.trap_oid = "1.3.6.1.2.1.33.2.1";
    trap.inform = 1;
    done_calls = 0;
    assert_int_equal(spool_append(sp, &ev, on_done, &done_calls), 0);
    assert_int_equal(done_calls, 0);
    assert_int_equal(spool_flush(sp), 0);
    assert_int_equal(done_calls, 1);
    assert_int_equal(done_seq, ev.seq);
    spool_close(sp);
}

static void test_spool_auto_cap_holds_a_day(void **state)
{
    (void)state;
    /* 1,000 devices x 20 points every 60 s = 333 events/s. */
    uint64_t cap = spool_auto_cap(1000.0 * 20 / 60);
    assert_true(cap >= (uint64_t)(333.3 * 86400 * SPOOL_EST_EVENT_BYTES));
    assert_int_equal(spool_auto_cap(0), 16u << 20);
}

static void test_spool_config_table_loads_defaults_and_rejects_bad_policy(void **state)
{
    (void)state;
    struct spool_cfg c;
    char err[256];
    const char *good = "fsync: always\nmax_size: 64MiB\n";
    const char *bad = "max_size: 1MiB\nfsync: sometimes\n";

    memset(&c, 0, sizeof(c));
    assert_int_equal(fmc_load_string("agent.yaml", good, strlen(good), &spool_cfg_schema, &c, NULL,
                                     err, sizeof(err)),
                     0);
    assert_null(c.dir); /* the directory is the agent's root key spool_dir */
    assert_int_equal(c.fsync, SPOOL_FSYNC_ALWAYS);
    assert_int_equal(c.max_bytes, 64u << 20);
    assert_int_equal(c.fsync_interval_ms, 1000);
    assert_int_equal(c.write_buffer, 256u << 10);
    fmc_free(&spool_cfg_schema, &c);
    memset(&c, 0, sizeof(c));
    assert_int_equal(fmc_load_string("agent.yaml", bad, strlen(bad), &spool_cfg_schema, &c, NULL,
                                     err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "agent.yaml:2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spool_sequences_continue_across_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_torn_last_record_is_skipped_never_replayed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_ack_deletes_only_acknowledged_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_overflow_drops_measurements_keeps_alarms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_done_callback_runs_after_write_not_inside_append,
                                        setup, teardown),
        cmocka_unit_test(test_spool_auto_cap_holds_a_day),
        cmocka_unit_test(test_spool_config_table_loads_defaults_and_rejects_bad_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
