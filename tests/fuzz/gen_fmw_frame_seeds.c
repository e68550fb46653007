/* Writes the seed corpus of fuzz_fmw_frame: one framed envelope of every body,
 * a stream of all of them, split-friendly chunk sizes, and the classic bad
 * frames. Run after changing fieldmon.proto:
 *   build/tests/fuzz/gen_fmw_frame_seeds tests/fuzz/corpus/fmw_frame */
#include "../unit/fmw_samples.h"

#include <stdio.h>

static void put(const char *dir, const char *name, uint8_t chunk, const uint8_t *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputc(chunk, f); /* first byte: chunk size - 1 */
    fwrite(p, 1, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    static const Fm__Envelope__BodyCase bodies[] = {
        FM__ENVELOPE__BODY_HELLO,     FM__ENVELOPE__BODY_HELLO_ACK,
        FM__ENVELOPE__BODY_BATCH,     FM__ENVELOPE__BODY_ACK,
        FM__ENVELOPE__BODY_COMMAND,   FM__ENVELOPE__BODY_COMMAND_RESULT,
        FM__ENVELOPE__BODY_HEARTBEAT, FM__ENVELOPE__BODY_GOODBYE,
    };
    static const char *names[] = {"hello",   "hello_ack",      "batch",     "ack",
                                  "command", "command_result", "heartbeat", "goodbye"};
    uint8_t *stream = malloc(1 << 16);
    size_t slen = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < 8; i++) {
        struct sample s;
        uint8_t buf[8192];
        int64_t n;

        if (bodies[i] == FM__ENVELOPE__BODY_HELLO)
            sample_hello(&s);
        else if (bodies[i] == FM__ENVELOPE__BODY_BATCH)
            sample_batch(&s);
        else
            sample_other(&s, bodies[i]);
        n = fmw_frame_pack(&s.env, buf, sizeof(buf), FMW_MAX_FRAME_DEFAULT);
        if (n < 0)
            return 1;
        put(argv[1], names[i], 255, buf, (size_t)n);
        memcpy(stream + slen, buf, (size_t)n);
        slen += (size_t)n;
    }
    put(argv[1], "stream_whole", 255, stream, slen);
    put(argv[1], "stream_chunk1", 0, stream, slen);
    put(argv[1], "stream_chunk7", 6, stream, slen);
    put(argv[1], "zero_length", 255, (const uint8_t *)"\0\0\0\0", 4);
    put(argv[1], "oversize", 255, (const uint8_t *)"\x7f\xff\xff\xff", 4);
    put(argv[1], "truncated", 255, stream, 9);
    put(argv[1], "garbage", 255, (const uint8_t *)"\0\0\0\4\xff\xff\xff\xff", 8);
    free(stream);
    return 0;
}
