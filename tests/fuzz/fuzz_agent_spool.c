/* libFuzzer target: the spool segment reader, as the agent runs it when it
 * recovers a spool after a crash or power loss.
 *
 * The input is one segment file. It is parsed twice: in memory with
 * spool_seg_scan, whose every good record must unpack as an fm.Event with
 * increasing sequences; and for real, written into a spool directory (with
 * the epoch its header names) and opened with spool_open, which must
 * truncate any torn tail, after which the iterator must return exactly the
 * records the in-memory scan accepted and a new append must follow them. */
#include "spool.h"
#include "spool_seg.h"

#include "fm_log.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks stay in release builds, where assert() would vanish together with
 * the calls inside it (the fuzz build is RelWithDebInfo). */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct scan {
    uint64_t n, last;
};

static int on_rec(const struct spool_rec *rec, void *ud)
{
    struct scan *s = ud;
    Fm__Event *ev = fm__event__unpack(NULL, rec->len, rec->payload);

    CHECK(rec->seq > s->last);
    s->last = rec->seq;
    s->n++;
    if (ev != NULL)
        fm__event__free_unpacked(ev, NULL);
    return 0;
}

static char base[64];

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scan s = {0};
    uint64_t epoch, first;
    int torn;
    int64_t end;
    char dir[128], path[192], text[32];

    fm_log_level = 0; /* torn records are expected here; stay quiet */
    end = spool_seg_scan(data, size, &epoch, on_rec, &s, &torn);
    if (end < 0)
        return 0;
    CHECK((size_t)end <= size);
    CHECK(torn == ((size_t)end < size));
    spool_seg_hdr_parse(data, size, &epoch, &first);
    if (epoch == 0 || first == 0 || first > UINT64_MAX / 2 || s.last > UINT64_MAX / 2)
        return 0;

    if (base[0] == '\0') {
        snprintf(base, sizeof(base), "/tmp/fm-fuzz-spool.XXXXXX");
        CHECK(mkdtemp(base) != NULL);
    }
    snprintf(dir, sizeof(dir), "%s/spool", base);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/epoch", dir);
    snprintf(text, sizeof(text), "%" PRIu64 "\n", epoch);
    write_file(path, text, strlen(text));
    snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, first);
    write_file(path, data, size);

    struct spool_cfg cfg = {.dir = dir, .fsync = SPOOL_FSYNC_NEVER};
    spool_t *sp;
    if (spool_open(&cfg, 1u << 24, &sp) == 0) {
        struct spool_iter it;
        struct spool_rec rec;
        uint64_t n = 0;
        Fm__Event ev = FM__EVENT__INIT;

        spool_iter_init(&it, 1);
        while (spool_iter_next(sp, &it, &rec) == 1)
            n++;
        spool_iter_close(&it);
        CHECK(n == s.n);
        ev.ts_ms = 1700000000000LL;
        CHECK(spool_append(sp, &ev, NULL, NULL) == 0);
        CHECK(ev.seq == (s.n ? s.last + 1 : first));
        spool_close(sp);
    }
    /* The one segment (1 MiB segments: the append never starts another)
     * and the epoch are all the directory holds. */
    unlink(path);
    snprintf(path, sizeof(path), "%s/epoch", dir);
    unlink(path);
    return 0;
}
