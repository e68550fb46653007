/* fmw_frame: length-prefixed framing and the incremental frame decoder. */
#include "fmwire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The decoder is a two-state machine. In HEADER it collects the four length
 * bytes (they may arrive one at a time); when they are complete the length is
 * checked against the limit before anything is allocated. In BODY it either
 * points straight into the caller's input, when the whole payload is there,
 * or copies the pieces into `buf` until the payload is complete. A bad length
 * moves it to FAILED for good, because after a corrupt prefix there is no way
 * to find the next frame boundary in a byte stream. */
/* Split-frame buffers up to this size are kept for reuse. */
#define FMW_KEEP_BUF (64u * 1024u)

enum dec_state { DEC_HEADER, DEC_BODY, DEC_FAILED };

struct fmw_decoder {
    enum dec_state state;
    size_t max_frame;
    uint8_t hdr[FMW_LEN_PREFIX];
    size_t hdr_have;
    size_t need;  /* payload length of the frame being read */
    uint8_t *buf; /* split-frame copy, capacity buf_cap */
    size_t buf_cap;
    size_t buf_have;
    const uint8_t *in; /* borrowed current input */
    size_t in_len;
    int failed_rc;
};

const char *fmw_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case FMW_EZEROLEN:
        return "frame with zero length";
    case FMW_ETOOBIG:
        return "frame longer than the maximum frame size";
    case FMW_ETRUNC:
        return "stream ended inside a frame";
    case FMW_EDECODE:
        return "frame payload is not a valid envelope";
    case FMW_EINVALID:
        return "envelope breaks the wire contract";
    case FMW_EFAILED:
        return "decoder already failed on this stream";
    case FMW_ENOSPC:
        return "buffer too small for the frame";
    default:
        return rc < 0 ? strerror(-rc) : "unknown error";
    }
}

size_t fmw_frame_size(const Fm__Envelope *env)
{
    return FMW_LEN_PREFIX + fm__envelope__get_packed_size(env);
}

int64_t fmw_frame_pack(const Fm__Envelope *env, uint8_t *buf, size_t cap, size_t max_frame)
{
    size_t n = fm__envelope__get_packed_size(env);

    if (n > max_frame || n > UINT32_MAX)
        return FMW_ETOOBIG;
    if (cap < FMW_LEN_PREFIX + n)
        return FMW_ENOSPC;
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    fm__envelope__pack(env, buf + FMW_LEN_PREFIX);
    return (int64_t)(FMW_LEN_PREFIX + n);
}

fmw_decoder_t *fmw_decoder_create(size_t max_frame)
{
    fmw_decoder_t *d;

    if (max_frame == 0 || max_frame > FMW_MAX_FRAME_LIMIT)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->state = DEC_HEADER;
    d->max_frame = max_frame;
    return d;
}

void fmw_decoder_destroy(fmw_decoder_t *d)
{
    if (d == NULL)
        return;
    free(d->buf);
    free(d);
}

void fmw_decoder_input(fmw_decoder_t *d, const uint8_t *data, size_t len)
{
    d->in = data;
    d->in_len = len;
}

static int dec_fail(fmw_decoder_t *d, int rc)
{
    d->state = DEC_FAILED;
    d->failed_rc = rc;
    free(d->buf);
    d->buf = NULL;
    d->buf_cap = 0;
    d->buf_have = 0;
    return rc;
}

/* Consumes length bytes; returns 1 when the header is complete, 0 when more
 * input is needed, or an error for a bad length. */
static int dec_header(fmw_decoder_t *d)
{
    size_t take = FMW_LEN_PREFIX - d->hdr_have;
    uint32_t n;

    if (take > d->in_len)
        take = d->in_len;
    memcpy(d->hdr + d->hdr_have, d->in, take);
    d->hdr_have += take;
    d->in += take;
    d->in_len -= take;
    if (d->hdr_have < FMW_LEN_PREFIX)
        return 0;
    n = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 | (uint32_t)d->hdr[2] << 8 |
        (uint32_t)d->hdr[3];
    if (n == 0)
        return dec_fail(d, FMW_EZEROLEN);
    if (n > d->max_frame)
        return dec_fail(d, FMW_ETOOBIG);
    d->need = n;
    d->buf_have = 0;
    d->hdr_have = 0;
    d->state = DEC_BODY;
    return 1;
}

int fmw_decoder_next(fmw_decoder_t *d, const uint8_t **payload, size_t *len)
{
    size_t take;
    int rc;

    /* The previous split frame has been handed out and its lifetime is over:
     * give back a large buffer rather than hold max_frame per connection. */
    if (d->state == DEC_HEADER && d->buf_cap > FMW_KEEP_BUF) {
        free(d->buf);
        d->buf = NULL;
        d->buf_cap = 0;
    }
    for (;;) {
        switch (d->state) {
        case DEC_FAILED:
            return FMW_EFAILED;
        case DEC_HEADER:
            if (d->in_len == 0)
                return 0;
            rc = dec_header(d);
            if (rc <= 0)
                return rc;
            break;
        case DEC_BODY:
            if (d->buf_have == 0 && d->in_len >= d->need) {
                /* Whole payload present in the input: return it in place. */
                *payload = d->in;
                *len = d->need;
                d->in += d->need;
                d->in_len -= d->need;
                d->state = DEC_HEADER;
                return 1;
            }
            if (d->in_len == 0)
                return 0;
            if (d->buf_cap < d->need) {
                uint8_t *nb = realloc(d->buf, d->need);

                if (nb == NULL)
                    return dec_fail(d, -ENOMEM);
                d->buf = nb;
                d->buf_cap = d->need;
            }
            take = d->need - d->buf_have;
            if (take > d->in_len)
                take = d->in_len;
            memcpy(d->buf + d->buf_have, d->in, take);
            d->buf_have += take;
            d->in += take;
            d->in_len -= take;
            if (d->buf_have < d->need)
                return 0;
            *payload = d->buf;
            *len = d->need;
            d->buf_have = 0;
            d->state = DEC_HEADER;
            /* A split frame's buffer is kept only while frames of that size
             * keep arriving split; the memory limit counts it. */
            return 1;
        }
    }
}

int fmw_decoder_finish(const fmw_decoder_t *d)
{
    if (d->state == DEC_FAILED)
        return d->failed_rc;
    if (d->state == DEC_BODY || d->hdr_have > 0)
        return FMW_ETRUNC;
    return 0;
}

size_t fmw_decoder_buffered(const fmw_decoder_t *d)
{
    return d->buf_cap + d->hdr_have;
}
