/* spool_seg: see spool_seg.h. */
#include "spool_seg.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void spool_seg_hdr_pack(uint8_t *out, uint64_t epoch, uint64_t first_seq)
{
    memcpy(out, SPOOL_SEG_MAGIC, 8);
    put64(out + 8, epoch);
    put64(out + 16, first_seq);
}

int spool_seg_hdr_parse(const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *first_seq)
{
    if (len < SPOOL_HDR_SIZE)
        return -ENODATA;
    if (memcmp(buf, SPOOL_SEG_MAGIC, 8) != 0)
        return -EINVAL;
    *epoch = get64(buf + 8);
    *first_seq = get64(buf + 16);
    return 0;
}

/* The CRC covers seq, flags and payload: everything a reader acts on. */
static uint32_t rec_crc(const uint8_t *rec, uint32_t len)
{
    return (uint32_t)crc32(0L, rec + 8, (uInt)(SPOOL_REC_HDR - 8 + len));
}

void spool_seg_rec_seal(uint8_t *out, uint64_t seq, uint8_t flags, uint32_t len)
{
    put32(out, len);
    put64(out + 8, seq);
    out[16] = flags;
    put32(out + 4, rec_crc(out, len));
}

int spool_seg_rec_parse(const uint8_t *buf, size_t len, struct spool_rec *rec, size_t *used)
{
    uint32_t plen;

    if (len < SPOOL_REC_HDR)
        return SPOOL_PARSE_SHORT;
    plen = get32(buf);
    /* Check the declared length before trusting it for anything. */
    if (plen > SPOOL_MAX_RECORD)
        return SPOOL_PARSE_BAD;
    if (len - SPOOL_REC_HDR < plen)
        return SPOOL_PARSE_SHORT;
    if (rec_crc(buf, plen) != get32(buf + 4))
        return SPOOL_PARSE_BAD;
    rec->seq = get64(buf + 8);
    rec->flags = buf[16];
    rec->payload = buf + SPOOL_REC_HDR;
    rec->len = plen;
    *used = SPOOL_REC_HDR + plen;
    return SPOOL_PARSE_OK;
}

int64_t spool_seg_scan(const uint8_t *buf, size_t len, uint64_t *epoch, spool_seg_rec_cb cb,
                       void *ud, int *torn)
{
    uint64_t first;
    uint64_t last = 0;
    size_t off = SPOOL_HDR_SIZE;

    *torn = 0;
    if (spool_seg_hdr_parse(buf, len, epoch, &first) != 0)
        return -EINVAL;
    while (off < len) {
        struct spool_rec rec;
        size_t used;
        int rc = spool_seg_rec_parse(buf + off, len - off, &rec, &used);

        /* A record whose sequence does not increase was not written by this
         * spool in this order: treat it like damage. */
        if (rc != SPOOL_PARSE_OK || rec.seq < first || (last != 0 && rec.seq <= last)) {
            *torn = 1;
            break;
        }
        if (cb != NULL && cb(&rec, ud) != 0)
            break;
        last = rec.seq;
        off += used;
    }
    return (int64_t)off;
}
