/* Writes the seed corpus of fuzz_agent_spool: good segments, torn and
 * garbled tails, a bad header, an absurd length and a sequence going
 * backwards. Run after changing the segment format or fieldmon.proto:
 *   build/tests/fuzz/gen_agent_spool_seeds tests/fuzz/corpus/agent_spool */
#include "spool_seg.h"

#include "../unit/agent_samples.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t img[1 << 16];
static size_t len;

static void put(const char *dir, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fwrite(img, 1, len, f);
    fclose(f);
}

/* Appends one record holding a measurement or an alarm with sequence seq. */
static void rec(uint64_t seq, int alarm)
{
    struct agent_sample s;
    size_t n;

    agent_sample_init(&s, 24.5, alarm);
    s.ev.seq = seq;
    s.ev.ts_ms += (int64_t)seq;
    n = fm__event__pack(&s.ev, img + len + SPOOL_REC_HDR);
    spool_seg_rec_seal(img + len, seq, alarm ? SPOOL_F_KEEP : 0, (uint32_t)n);
    len += SPOOL_REC_HDR + n;
}

static void start(uint64_t first)
{
    spool_seg_hdr_pack(img, 1700000000000000ULL, first);
    len = SPOOL_HDR_SIZE;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    start(1);
    put(argv[1], "empty");
    for (uint64_t s = 1; s <= 5; s++)
        rec(s, s == 3);
    put(argv[1], "five");
    len -= 7;
    put(argv[1], "torn_payload");
    len -= 20;
    put(argv[1], "torn_header");
    start(100);
    rec(100, 0);
    rec(101, 1);
    img[len - 2] ^= 0x40;
    put(argv[1], "garbled_crc");
    start(7);
    rec(7, 0);
    memset(img + len, 0xff, 8); /* length 0xffffffff */
    len += 8;
    put(argv[1], "huge_length");
    start(10);
    rec(10, 0);
    rec(9, 0);
    put(argv[1], "seq_backwards");
    start(1);
    rec(1, 0);
    memcpy(img, "NOTSPOOL", 8);
    put(argv[1], "bad_magic");
    return 0;
}
