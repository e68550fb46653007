/* spool_seg: the on-disk format of spool segment files, and its parser.
 *
 * Why segment files and not SQLite: the spool is an append-only log read in
 * order and deleted from the front. Segment files make an append one write(2)
 * of many records and deleting acknowledged data one unlink(2); SQLite would
 * add a B-tree, a WAL and a page cache to do the same, cost several times the
 * CPU per event at the 100,000 events/s target, and its VACUUM would be needed
 * to give space back. The format is small enough to fuzz completely.
 *
 * Why zlib's crc32 and not CRC-32C: both detect a torn or garbled record
 * equally well for this purpose (all burst errors up to 32 bits, random
 * damage with probability 2^-32); zlib is a Debian library already on every
 * gateway, so nothing is hand-written, and its braided implementation runs
 * at several GB/s, far above what the spool writes.
 *
 * A segment file is named `<first seq, 20 digits>.seg` and holds:
 *   header  8 bytes magic "FMSPOOL1", u64 epoch, u64 first seq  (24 bytes)
 *   record  u32 payload length, u32 crc32 of everything after the crc field,
 *           u64 seq, u8 flags, payload (one packed fm.Event)     (17 + len)
 * All integers little-endian. Records are appended whole by one write; after
 * power loss the last record can be cut short or hold garbage, which the CRC
 * detects: the reader stops there and the spool truncates the file to the
 * last good record, so a torn record is never replayed.
 *
 * Pure functions on caller memory; any thread. */
#ifndef SPOOL_SEG_H
#define SPOOL_SEG_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_SEG_MAGIC "FMSPOOL1"
#define SPOOL_HDR_SIZE 24u
#define SPOOL_REC_HDR 17u
/* No event is near this; a larger length is garbage, not a record. */
#define SPOOL_MAX_RECORD (1u << 20)

/* Record flags. */
#define SPOOL_F_KEEP 0x01u /* not a measurement: never dropped on overflow */

struct spool_rec {
    uint64_t seq;
    uint8_t flags;
    const uint8_t *payload; /* points into the parsed buffer */
    uint32_t len;
};

enum spool_parse {
    SPOOL_PARSE_OK = 1,    /* a whole, valid record */
    SPOOL_PARSE_SHORT = 0, /* the buffer ends inside a record: torn tail or read more */
    SPOOL_PARSE_BAD = -1,  /* length over the limit, or CRC mismatch */
};

/* Writes a segment header into out (SPOOL_HDR_SIZE bytes). */
void spool_seg_hdr_pack(uint8_t *out, uint64_t epoch, uint64_t first_seq);

/* Parses a header. Returns 0, or -EINVAL (bad magic) / -ENODATA (short). */
int spool_seg_hdr_parse(const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *first_seq);

/* Writes the record header for payload (already at out + SPOOL_REC_HDR) and
 * computes its CRC. out must hold SPOOL_REC_HDR + len bytes. */
void spool_seg_rec_seal(uint8_t *out, uint64_t seq, uint8_t flags, uint32_t len);

/* Parses the record at buf. On SPOOL_PARSE_OK fills *rec and *used (bytes
 * the record takes). Never reads past len. */
int spool_seg_rec_parse(const uint8_t *buf, size_t len, struct spool_rec *rec, size_t *used);

/* Scans a whole segment image: calls cb for each good record in order and
 * stops at the first short or bad one. Returns the byte offset where valid
 * data ends (the truncation point), or -EINVAL for a bad header. *torn is
 * set when data follows the last good record. cb may be NULL. */
typedef int (*spool_seg_rec_cb)(const struct spool_rec *rec, void *ud);
int64_t spool_seg_scan(const uint8_t *buf, size_t len, uint64_t *epoch, spool_seg_rec_cb cb,
                       void *ud, int *torn);

#endif
