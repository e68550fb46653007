/* sender_batch: framing spool records into an EventBatch without
 * re-encoding them (see sender.h).
 *
 * Protobuf encodes a sub-message as tag, varint length, bytes. The records
 * in the spool are packed fm.Event messages, so a batch is the events laid
 * out as field 2 of EventBatch, then EventBatch's epoch and its length as
 * field 3 of Envelope, then the 4-byte frame prefix. The headers are written
 * backwards into headroom kept at the front, so the events are copied once.
 * The result is byte-for-byte what protobuf-c would produce for the same
 * Envelope, which tests/unit/test_agent_sender.c checks. */
#include "sender.h"

#include "fm_alloc.h"
#include "spool_seg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

void sender_batch_reset(struct sender_batch *b)
{
    b->len = SENDER_BATCH_HEADROOM;
    b->first_seq = b->last_seq = 0;
    b->n_events = 0;
}

int sender_batch_add(struct sender_batch *b, const struct spool_rec *rec, size_t max_bytes)
{
    size_t need = 1 + varint_len(rec->len) + rec->len;

    if (b->n_events > 0 && b->len - SENDER_BATCH_HEADROOM + need > max_bytes)
        return -ENOSPC;
    if (b->len + need > b->cap) {
        b->cap = (b->len + need) * 2;
        b->buf = fm_xrealloc(b->buf, b->cap);
    }
    b->buf[b->len++] = 0x12; /* EventBatch.events, field 2, length-delimited */
    b->len += varint_put(b->buf + b->len, rec->len);
    memcpy(b->buf + b->len, rec->payload, rec->len);
    b->len += rec->len;
    if (b->n_events++ == 0)
        b->first_seq = rec->seq;
    b->last_seq = rec->seq;
    return 0;
}

const uint8_t *sender_batch_finish(struct sender_batch *b, uint64_t epoch, size_t *len)
{
    size_t events = b->len - SENDER_BATCH_HEADROOM;
    size_t batch = 1 + varint_len(epoch) + events;
    size_t env = 1 + varint_len(batch) + batch;
    uint8_t hdr[SENDER_BATCH_HEADROOM];
    size_t h = 0;

    /* Frame prefix: big-endian envelope length. */
    hdr[h++] = (uint8_t)(env >> 24);
    hdr[h++] = (uint8_t)(env >> 16);
    hdr[h++] = (uint8_t)(env >> 8);
    hdr[h++] = (uint8_t)env;
    hdr[h++] = 0x1a; /* Envelope.batch, field 3, length-delimited */
    h += varint_put(hdr + h, batch);
    hdr[h++] = 0x08; /* EventBatch.epoch, field 1, varint */
    h += varint_put(hdr + h, epoch);
    memcpy(b->buf + SENDER_BATCH_HEADROOM - h, hdr, h);
    *len = h + events;
    return b->buf + SENDER_BATCH_HEADROOM - h;
}

void sender_batch_free(struct sender_batch *b)
{
    free(b->buf);
    b->buf = NULL;
    b->cap = b->len = 0;
}
