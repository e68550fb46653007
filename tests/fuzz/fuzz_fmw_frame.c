/* libFuzzer target: the frame decoder and envelope validation, as the
 * collector and agent run them on bytes from a socket.
 *
 * The first input byte picks the chunk size the stream is delivered in
 * (1..256 bytes), so the fuzzer explores split frames too; the rest is the
 * stream. Each complete frame is unpacked and validated. The target asserts
 * the decoder's own invariants: a payload never exceeds the limit, and after
 * an error the decoder stays failed. */
#include "fmwire.h"
#include "fm_clock.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FRAME 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmw_decoder_t *d;
    size_t chunk, off;
    char why[256];
    int failed = 0;

    if (size < 1)
        return 0;
    chunk = (size_t)data[0] + 1;
    data++;
    size--;
    d = fmw_decoder_create(FUZZ_MAX_FRAME);
    if (d == NULL)
        abort();
    for (off = 0; off < size && !failed; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        const uint8_t *payload;
        size_t plen;
        int rc;

        /* Copy each chunk to its own allocation so ASan sees reads past it. */
        uint8_t *piece = malloc(n);
        memcpy(piece, data + off, n);
        fmw_decoder_input(d, piece, n);
        while ((rc = fmw_decoder_next(d, &payload, &plen)) == 1) {
            Fm__Envelope *env;

            if (plen == 0 || plen > FUZZ_MAX_FRAME)
                abort();
            if (fmw_envelope_unpack(payload, plen, NULL, &env) == 0) {
                (void)fmw_envelope_validate(env, fm_clock_wall_ms(), why, sizeof(why));
                (void)fmw_envelope_kind(env);
                fmw_envelope_free(env, NULL);
            }
        }
        if (rc < 0) {
            failed = 1;
            if (fmw_decoder_next(d, &payload, &plen) != FMW_EFAILED)
                abort();
        }
        free(piece);
    }
    (void)fmw_decoder_finish(d);
    fmw_decoder_destroy(d);
    return 0;
}
