/* ber: the subset of ASN.1 BER that SNMP v1/v2c messages use.
 *
 * Decoding reads definite-length TLVs from a borrowed buffer and never
 * allocates; every length is checked against the bytes that remain, so a
 * hostile datagram can at worst be rejected (-EBADMSG). Encoding writes
 * backwards from the end of a caller's buffer, which lets a sequence's
 * length be written after its content without a second pass; running out
 * of room sets `overflow` and further writes do nothing.
 *
 * Why hand-written: net-snmp encodes and decodes through its variable lists
 * (about 1.1 KB allocated, zeroed and freed per varbind) and its agent
 * library keeps one agent per process. The simulator answers 1,000 devices
 * from one core with it (tests/sim/README.md), and fieldmon-agent encodes its
 * v1/v2c requests with it (agent/snmp/snmp_enc.h); everything else the agent
 * sends and receives goes through net-snmp. */
#ifndef FM_BER_H
#define FM_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 2578 limits an OID to 128 sub-identifiers. */
#define BER_OID_MAX 128

/* Tags used by SNMP. */
enum {
    BER_INTEGER = 0x02,
    BER_OCTET_STRING = 0x04,
    BER_NULL = 0x05,
    BER_OID = 0x06,
    BER_SEQUENCE = 0x30,
    BER_IPADDRESS = 0x40,
    BER_COUNTER32 = 0x41,
    BER_GAUGE32 = 0x42,
    BER_TIMETICKS = 0x43,
    BER_OPAQUE = 0x44,
    BER_COUNTER64 = 0x46,
    BER_NO_SUCH_OBJECT = 0x80,
    BER_NO_SUCH_INSTANCE = 0x81,
    BER_END_OF_MIB_VIEW = 0x82,
};

struct ber_oid {
    uint32_t len;
    uint32_t sub[BER_OID_MAX];
};

/* A decoded TLV: tag, content (borrowed) and the whole TLV (borrowed). */
struct ber_tlv {
    uint8_t tag;
    const uint8_t *val;
    size_t len;
    const uint8_t *tlv;
    size_t tlv_len;
};

/* Reads one TLV at *p (< end) and advances *p past it. Only single-byte tags
 * and definite lengths up to 4 length bytes. 0 or -EBADMSG. */
int ber_read(const uint8_t **p, const uint8_t *end, struct ber_tlv *out);

/* Decodes INTEGER content (1..8 bytes, two's complement). 0 or -EBADMSG. */
int ber_get_int(const uint8_t *v, size_t len, int64_t *out);
/* Decodes unsigned content (Counter32/Gauge32/TimeTicks/Counter64; up to 9
 * bytes with a leading zero). 0 or -EBADMSG. */
int ber_get_uint(const uint8_t *v, size_t len, uint64_t *out);
/* Decodes OID content. 0, or -EBADMSG (bad encoding, sub-id > 2^32-1, more
 * than BER_OID_MAX sub-ids). */
int ber_get_oid(const uint8_t *v, size_t len, struct ber_oid *out);

/* Compares two OIDs in lexicographic sub-identifier order: <0, 0, >0. */
int ber_oid_cmp(const uint32_t *a, uint32_t alen, const uint32_t *b, uint32_t blen);

/* Parses dotted text ("1.3.6.1.2.1.1.3.0", a leading dot is allowed) of an
 * OID BER can encode (ber_oid_encodable). 0 or -EINVAL. */
int ber_oid_parse(const char *text, struct ber_oid *out);

/* True when BER can encode the OID: at least two arcs, the first 0, 1 or
 * 2, and under 0 and 1 the second below 40. */
bool ber_oid_encodable(const uint32_t *sub, uint32_t len);

/* Backward writer over buf[0..size). */
struct ber_wr {
    uint8_t *buf;
    uint8_t *end;
    uint8_t *p; /* first written byte; writes go below it */
    bool overflow;
};

void ber_wr_init(struct ber_wr *w, uint8_t *buf, size_t size);
/* Bytes written so far (they start at w->p). */
size_t ber_wr_used(const struct ber_wr *w);
void ber_put_raw(struct ber_wr *w, const void *data, size_t n);
/* Writes tag and length in front of `len` bytes of content already written. */
void ber_put_hdr(struct ber_wr *w, uint8_t tag, size_t len);
void ber_put_int(struct ber_wr *w, uint8_t tag, int64_t v);
void ber_put_uint(struct ber_wr *w, uint8_t tag, uint64_t v);
void ber_put_oid(struct ber_wr *w, const uint32_t *sub, uint32_t len);

/* Size of a TLV header for content of length len. */
size_t ber_hdr_len(size_t len);

#endif
