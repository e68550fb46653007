/* Unit tests for the spool: sequences across restarts, torn tails, reading,
 * acknowledgement, overflow policy, done callbacks, its config table; what
 * counts as dropped (known answers), and a failing disk through the spool's
 * I/O table (spool_int.h: EIO and ENOSPC injected per call). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spool.h"
#include "spool_conf.h"
#include "spool_int.h"
#include "spool_seg.h"

#include "fm_log.h"

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

/* Empties the spool directory between the rows of a table test. */
static void reset_dir(void)
{
    char cmd[300];

    *strrchr(dir, '/') = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf %s/spool", dir);
    assert_int_equal(system(cmd), 0);
    strcat(dir, "/spool");
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
        reset_dir();
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

/* ---------------------------------------------------------- what is dropped */

/* Opens a spool in dir with 4 KiB segments, no fsync and a 16 MiB cap. */
static spool_t *open_4k(struct spool_cfg *cfg)
{
    spool_t *sp;

    *cfg = cfg_of(SPOOL_FSYNC_NEVER);
    cfg->segment_bytes = 4096;
    assert_int_equal(spool_open(cfg, 1 << 24, &sp), 0);
    return sp;
}

/* Appends n measurements (seq 1..n on a new spool), flushing every 50 so
 * they spread over several 4 KiB segments. */
static void fill(spool_t *sp, int n)
{
    for (int i = 0; i < n; i++) {
        put(sp, i, 0);
        if (i % 50 == 49)
            assert_int_equal(spool_flush(sp), 0);
    }
    assert_int_equal(spool_flush(sp), 0);
}

/* Records at or below seq still in the files. */
static uint64_t held_upto(spool_t *sp, uint64_t seq)
{
    struct spool_iter it;
    struct spool_rec rec;
    uint64_t n = 0;

    spool_iter_init(&it, 1);
    while (spool_iter_next(sp, &it, &rec) == 1 && rec.seq <= seq)
        n++;
    spool_iter_close(&it);
    return n;
}

/* 1000 measurements, then a cap so small that the cap removes every one of
 * them. Each row says how far the sender got and what the collector said;
 * the counts are exact. */
static void test_spool_dropped_counts_only_unacknowledged_events_gone(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t sent;     /* spool_sent before the cap bites */
        uint64_t ack;      /* spool_ack before the cap bites */
        uint64_t ack_late; /* spool_ack after it (same session), 0: none */
        uint64_t hello;    /* spool_confirm after it (HelloAck), 0: none */
        uint64_t dropped, unconfirmed_before;
    } cases[] = {
        /* nothing ever sent: every removal is a drop, at once */
        {"never sent", 0, 0, 0, 0, 1000, 0},
        /* acknowledged events the cap removes are not dropped */
        {"acked 300 of 300 sent", 300, 300, 0, 0, 700, 0},
        /* sent but unacknowledged: in doubt until the ack arrives */
        {"ack arrives late", 600, 300, 600, 0, 400, 300},
        /* the ack was lost with the connection; HelloAck says 600 */
        {"lost ack, HelloAck confirms", 600, 300, 0, 600, 400, 300},
        /* HelloAck says the collector committed only 450 of 600 sent */
        {"HelloAck confirms less", 600, 300, 0, 450, 550, 300},
        /* an ack below the doubt settles nothing; HelloAck settles all */
        {"partial ack then HelloAck", 900, 100, 500, 700, 300, 800},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_NEVER);
        struct spool_stats st;
        spool_t *sp;
        cfg.segment_bytes = 4096;
        assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
        fill(sp, 1000);
        spool_sent(sp, cases[c].sent);
        spool_ack(sp, cases[c].ack);
        uint64_t acked_on_disk = held_upto(sp, cases[c].ack);
        spool_reconfigure(sp, &cfg, 1);
        spool_get_stats(sp, &st);
        assert_int_equal(held_upto(sp, 1000), 0); /* every measurement went */
        assert_int_equal(st.unconfirmed, cases[c].unconfirmed_before);
        assert_int_equal(st.removed_acked, acked_on_disk);
        if (cases[c].ack_late)
            spool_ack(sp, cases[c].ack_late);
        if (cases[c].hello)
            spool_confirm(sp, cases[c].hello);
        spool_get_stats(sp, &st);
        if (st.dropped != cases[c].dropped || st.unconfirmed != 0)
            fail_msg("%s: dropped %llu (want %llu), unconfirmed %llu", cases[c].what,
                     (unsigned long long)st.dropped, (unsigned long long)cases[c].dropped,
                     (unsigned long long)st.unconfirmed);
        assert_int_equal(st.dropped_kept, 0);
        assert_int_equal(st.dropped_refused, 0);
        /* Everything is accounted for exactly once: acknowledged (by ack
         * deletion or as removed_acked) or dropped. */
        assert_int_equal(st.dropped + cases[c].ack - acked_on_disk + st.removed_acked, 1000);
        spool_close(sp);
        reset_dir();
    }
}

/* The agent restarts with a smaller max_size before the collector has
 * answered: what the cap removes is in doubt (the previous run may have
 * sent it) until the HelloAck. */
static void test_spool_smaller_cap_on_restart_counts_after_hello(void **state)
{
    (void)state;
    struct spool_cfg cfg;
    struct spool_stats st;
    spool_t *sp = open_4k(&cfg);
    fill(sp, 1000);
    spool_sent(sp, 1000);
    spool_ack(sp, 250); /* acked 251..800 never arrived: the agent stopped */
    spool_close(sp);

    assert_int_equal(spool_open(&cfg, 1, &sp), 0); /* the new, tiny cap */
    put(sp, 0, 1);                                 /* an alarm: kept */
    assert_int_equal(spool_flush(sp), 0);          /* the cap bites here */
    spool_get_stats(sp, &st);
    assert_int_equal(held_upto(sp, 1000), 0);
    assert_int_equal(st.dropped, 0);
    uint64_t removed = st.unconfirmed; /* everything still in the files */
    assert_true(removed >= 750 && removed <= 1000);
    spool_confirm(sp, 800); /* the collector committed up to 800 */
    spool_get_stats(sp, &st);
    assert_int_equal(st.dropped, 200); /* 801..1000 */
    assert_int_equal(st.removed_acked, removed - 200);
    assert_int_equal(st.unconfirmed, 0);
    assert_int_equal(held_upto(sp, 1001), 1); /* the alarm stays */
    spool_close(sp);
}

/* SIGHUP with a smaller max_size applies at once, and a larger one stops
 * the removal; a later flush at the old size would have kept everything. */
static void test_spool_smaller_cap_on_reload_applies_at_once(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_NEVER), small;
    struct spool_stats st;
    spool_t *sp;

    cfg.segment_bytes = 4096;
    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    fill(sp, 1000);
    spool_get_stats(sp, &st);
    uint64_t before = st.bytes;
    small = cfg;
    small.segment_bytes = 2048;
    spool_reconfigure(sp, &small, before / 2);
    spool_get_stats(sp, &st);
    assert_int_equal(st.cap, before / 2);
    assert_true(st.bytes <= before / 2);
    assert_true(st.overflows == 1);
    /* Nothing was sent: what went is dropped, exactly what is missing. */
    assert_int_equal(st.dropped, 1000 - held_upto(sp, 1000));
    assert_true(st.dropped > 0);
    spool_reconfigure(sp, &cfg, 1 << 24);
    fill(sp, 100);
    spool_get_stats(sp, &st);
    assert_int_equal(st.overflows, 1);
    spool_close(sp);
}

/* ------------------------------------------------------------ failing disk */

/* Injected failures: each counter > 0 fails that many next calls with err;
 * write_part makes the first failing write write that many bytes first. */
static struct {
    int write, fdatasync, renameat;
    int err;
    size_t write_part;
    int calls_sync;
} inj;

static ssize_t inj_write(int fd, const void *buf, size_t len)
{
    if (inj.write > 0) {
        inj.write--;
        if (inj.write_part > 0 && inj.write_part < len) {
            size_t part = inj.write_part;
            inj.write_part = 0;
            return write(fd, buf, part);
        }
        errno = inj.err;
        return -1;
    }
    return write(fd, buf, len);
}

static int inj_fdatasync(int fd)
{
    inj.calls_sync++;
    if (inj.fdatasync > 0) {
        inj.fdatasync--;
        errno = inj.err;
        return -1;
    }
    return fdatasync(fd);
}

static int inj_renameat(int a, const char *b, int c, const char *d)
{
    if (inj.renameat > 0) {
        inj.renameat--;
        errno = inj.err;
        return -1;
    }
    return renameat(a, b, c, d);
}

static char logpath[300];
static int logfd = -1;

static int setup_inject(void **state)
{
    memset(&inj, 0, sizeof(inj));
    spool__io.write = inj_write;
    spool__io.fdatasync = inj_fdatasync;
    spool__io.renameat = inj_renameat;
    setup(state);
    snprintf(logpath, sizeof(logpath), "%.200s.log", dir);
    logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(logfd >= 0);
    fm_log_init("test", logfd);
    return 0;
}

static int teardown_inject(void **state)
{
    spool__io.write = write;
    spool__io.fdatasync = fdatasync;
    spool__io.renameat = renameat;
    fm_log_init("test", 2);
    close(logfd);
    unlink(logpath);
    return teardown(state);
}

/* Lines of the captured log containing needle. */
static int log_lines(const char *needle)
{
    char buf[65536];
    int fd = open(logpath, O_RDONLY), n = 0;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);

    close(fd);
    buf[len > 0 ? len : 0] = '\0';
    for (char *p = buf; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static int status_seen[8], n_seen;

static void on_status(int status, uint64_t seq, void *ud)
{
    (void)seq;
    (void)ud;
    status_seen[n_seen++ % 8] = status;
}

static uint64_t put_trap(spool_t *sp)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Trap trap = FM__TRAP__INIT;

    ev.ts_ms = 1700000000000LL;
    ev.kind_case = FM__EVENT__KIND_TRAP;
    ev.trap = &trap;
    trap.trap_oid = "1.3.6.1.2.1.33.2.1";
    trap.inform = 1;
    assert_int_equal(spool_append(sp, &ev, on_status, NULL), 0);
    return ev.seq;
}

/* fsync: always and fdatasync fails with EIO: the inform's waiter gets
 * -EIO (so it is not acknowledged), the failure is logged once with the
 * segment's path, and the next good sync acknowledges again. */
static void test_spool_failed_fdatasync_fails_the_waiter(void **state)
{
    (void)state;
    struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_ALWAYS);
    struct spool_stats st;
    spool_t *sp;

    assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
    n_seen = 0;
    inj.err = EIO;
    inj.fdatasync = 3;
    for (int i = 0; i < 3; i++) {
        put_trap(sp);
        assert_int_equal(spool_flush(sp), -EIO);
        assert_int_equal(n_seen, i + 1);
        assert_int_equal(status_seen[i], -EIO);
    }
    put_trap(sp);
    assert_int_equal(spool_flush(sp), 0);
    assert_int_equal(n_seen, 4);
    assert_int_equal(status_seen[3], 0);
    spool_get_stats(sp, &st);
    assert_int_equal(st.write_errors, 3);
    assert_int_equal(st.written_seq, 4); /* written, only not known durable */
    assert_int_equal(log_lines("fdatasync: Input/output error"), 1);
    assert_int_equal(log_lines("/spool/00000000000000000001.seg: fdatasync"), 1);
    assert_int_equal(log_lines("writing and syncing again after 3 failed"), 1);
    /* The interval policy's timer sync: a failure is returned and logged. */
    spool_close(sp);
}

/* ENOSPC, then EIO, on write: measurements fill the write buffer and are
 * then refused, kept events are held up to hold_size, then refused too;
 * every refusal is counted as dropped. When writing works again, what was
 * held is written first, in sequence order, without a gap: a write cut in
 * the middle of a record leaves no half record behind. */
static void test_spool_failed_writes_hold_kept_events_and_resume_in_order(void **state)
{
    (void)state;
    static const int errs[] = {ENOSPC, EIO};
    for (size_t e = 0; e < 2; e++) {
        struct spool_cfg cfg = cfg_of(SPOOL_FSYNC_NEVER);
        struct spool_stats st;
        spool_t *sp;
        uint64_t refused_m = 0, refused_k = 0, alarms = 0, last;
        struct agent_sample s;

        cfg.write_buffer = 4096;
        cfg.hold_bytes = 4096;
        assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
        for (int i = 0; i < 10; i++)
            put(sp, i, 0);
        assert_int_equal(spool_flush(sp), 0);
        spool_get_stats(sp, &st);
        uint64_t disk = st.bytes;
        inj.err = errs[e];
        inj.write = 1000000;
        inj.write_part = 100; /* the first failing write gets 100 bytes out */
        for (int i = 0; i < 400; i++) {
            agent_sample_init(&s, i, i % 4 == 0);
            int rc = spool_append(sp, &s.ev, NULL, NULL);
            if (rc == -ENOBUFS)
                *(i % 4 == 0 ? &refused_k : &refused_m) += 1;
            else
                assert_int_equal(rc, 0);
            alarms += rc == 0 && i % 4 == 0;
            if (i % 20 == 19)
                assert_int_equal(spool_flush(sp), -errs[e]);
        }
        spool_get_stats(sp, &st);
        assert_true(refused_m > 0 && refused_k > 0 && alarms > 0);
        assert_int_equal(st.dropped_refused, refused_m + refused_k);
        assert_int_equal(st.dropped, refused_m + refused_k);
        /* The whole records of the cut write are in the file. */
        assert_true(st.written_seq > 10);
        assert_int_equal(st.held, st.next_seq - 1 - st.written_seq);
        assert_true(st.held_max >= st.held);
        assert_true(st.bytes <= disk + 100 + cfg.write_buffer + cfg.hold_bytes);
        assert_int_equal(log_lines(errs[e] == EIO ? "write: Input/output error"
                                                  : "write: No space left on device"),
                         1);
        /* Space is back. */
        inj.write = 0;
        assert_int_equal(spool_flush(sp), 0);
        spool_get_stats(sp, &st);
        assert_int_equal(st.held, 0);
        assert_int_equal(st.written_seq, st.next_seq - 1);
        /* 1..written without a gap, every accepted alarm among them. */
        assert_int_equal(read_all(sp, 1, &last), st.written_seq);
        assert_int_equal(last, st.written_seq);
        struct spool_iter it;
        struct spool_rec rec;
        uint64_t got = 0;
        spool_iter_init(&it, 1);
        while (spool_iter_next(sp, &it, &rec) == 1)
            got += !(rec.flags & SPOOL_F_KEEP) ? 0 : 1;
        spool_iter_close(&it);
        assert_int_equal(got, alarms);
        spool_close(sp);
        /* And after a restart too (the cut record left nothing torn). */
        assert_int_equal(spool_open(&cfg, 1 << 24, &sp), 0);
        assert_int_equal(read_all(sp, 1, NULL), st.written_seq);
        spool_close(sp);
        assert_int_equal(log_lines("torn record"), 0);
        reset_dir();
    }
}

/* A rename that fails while the cap rewrites a segment: the segment stays
 * as it was, nothing is counted as removed or dropped, the failure is
 * logged with the file; the next flush succeeds. */
static void test_spool_failed_rename_in_overflow_keeps_the_segment(void **state)
{
    (void)state;
    struct spool_cfg cfg;
    struct spool_stats st;
    spool_t *sp = open_4k(&cfg);
    for (int i = 0; i < 1000; i++) {
        put(sp, i, i % 10 == 0); /* alarms: the rewrite keeps them */
        if (i % 50 == 49)
            spool_flush(sp);
    }
    spool_flush(sp);
    spool_get_stats(sp, &st);
    uint64_t cap = st.bytes / 2;
    inj.err = EIO;
    inj.renameat = 1;
    spool_reconfigure(sp, &cfg, cap);
    spool_get_stats(sp, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.overflows, 0);
    assert_int_equal(st.write_errors, 1);
    assert_int_equal(read_all(sp, 1, NULL), 1000);
    assert_int_equal(log_lines(".seg.tmp: rename: Input/output error"), 1);
    put(sp, 0, 0);
    assert_int_equal(spool_flush(sp), 0); /* the cap bites this time */
    spool_get_stats(sp, &st);
    assert_int_equal(st.overflows, 1);
    assert_true(st.bytes <= cap);
    assert_int_equal(spool_flush(sp), 0); /* the SpoolOverflow report */
    /* Measurements went (exactly those missing), every alarm stayed. */
    struct spool_iter it;
    struct spool_rec rec;
    uint64_t measurements = 0, alarms = 0;
    spool_iter_init(&it, 1);
    while (spool_iter_next(sp, &it, &rec) == 1) {
        if (rec.flags & SPOOL_F_KEEP)
            alarms++;
        else
            measurements++;
    }
    spool_iter_close(&it);
    assert_int_equal(alarms, 100 + 1); /* and the SpoolOverflow report */
    assert_true(measurements < 901);
    assert_int_equal(st.dropped, 901 - measurements);
    assert_int_equal(st.dropped_kept, 0);
    spool_close(sp);
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
        cmocka_unit_test_setup_teardown(test_spool_dropped_counts_only_unacknowledged_events_gone,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_smaller_cap_on_restart_counts_after_hello, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_smaller_cap_on_reload_applies_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_failed_fdatasync_fails_the_waiter, setup_inject,
                                        teardown_inject),
        cmocka_unit_test_setup_teardown(
            test_spool_failed_writes_hold_kept_events_and_resume_in_order, setup_inject,
            teardown_inject),
        cmocka_unit_test_setup_teardown(test_spool_failed_rename_in_overflow_keeps_the_segment,
                                        setup_inject, teardown_inject),
        cmocka_unit_test(test_spool_auto_cap_holds_a_day),
        cmocka_unit_test(test_spool_config_table_loads_defaults_and_rejects_bad_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
