/* fmwire: the wire contract between fieldmon-agent and fieldmon-collector.
 *
 * A frame is a 4-byte big-endian length followed by that many bytes holding
 * one protobuf `fm.Envelope` (proto/fieldmon.proto). This header is the only
 * code both programs share for talking to each other: framing, the
 * incremental decoder, envelope packing and validation, and the limits.
 *
 * Every function here is pure computation on caller memory and may be called
 * from any thread; a decoder object belongs to one thread at a time. */
#ifndef FMWIRE_H
#define FMWIRE_H

#include "fieldmon.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ limits */

#define FMW_LEN_PREFIX 4u
/* Default largest frame payload, negotiated down or up in Hello/HelloAck. */
#define FMW_MAX_FRAME_DEFAULT (4u * 1024u * 1024u)
/* No configuration may raise the frame limit past this. */
#define FMW_MAX_FRAME_LIMIT (64u * 1024u * 1024u)
#define FMW_MAX_ID 64u        /* agent id, site id, device name (bytes) */
#define FMW_MAX_NAME 128u     /* point names, alarm codes, label keys */
#define FMW_MAX_TEXT 1024u    /* free text: messages, text values, details */
#define FMW_MAX_OID 512u      /* dotted OID text */
#define FMW_MAX_LABELS 16u    /* labels per measurement or alarm */
#define FMW_MAX_VARBINDS 128u /* varbinds per trap */
#define FMW_MAX_BATCH_EVENTS 20000u
#define FMW_MAX_DEVICES 20000u /* devices in one inventory */
#define FMW_MAX_POINTS 2000u   /* points per device */
#define FMW_MAX_TAGS 32u       /* tags per device */
#define FMW_DIGEST_LEN 32u     /* SHA-256 */
/* Timestamps before 2000-01-01 are a device with an unset clock. */
#define FMW_MIN_TS_MS 946684800000LL
/* Timestamps further than this ahead of the receiver's clock are refused. */
#define FMW_MAX_FUTURE_MS (24LL * 3600 * 1000)

/* ------------------------------------------------------------------ errors */

/* Errors are negative. fmwire's own codes sit below -10000 so they never
 * collide with a negative errno. */
enum fmw_err {
    FMW_EZEROLEN = -10001, /* a frame declared length 0 */
    FMW_ETOOBIG = -10002,  /* a frame declared a length over the maximum */
    FMW_ETRUNC = -10003,   /* the stream ended inside a frame */
    FMW_EDECODE = -10004,  /* the payload is not a valid protobuf Envelope */
    FMW_EINVALID = -10005, /* the Envelope decoded but breaks the contract */
    FMW_EFAILED = -10006,  /* the decoder already failed; close the connection */
    FMW_ENOSPC = -10007,   /* the caller's buffer is too small */
};

/* Returns a static description of an fmwire code or a negative errno. */
const char *fmw_strerror(int rc);

/* ------------------------------------------------------------------ frames */

/* Bytes the framed envelope takes on the wire, prefix included. */
size_t fmw_frame_size(const Fm__Envelope *env);

/* Writes the 4-byte prefix and the packed envelope into buf.
 * Returns the frame length, FMW_ETOOBIG if the payload exceeds max_frame, or
 * FMW_ENOSPC if cap is too small. Borrows env and buf. */
int64_t fmw_frame_pack(const Fm__Envelope *env, uint8_t *buf, size_t cap, size_t max_frame);

/* Incremental frame decoder. Feed it bytes in whatever chunks the socket
 * delivers; it hands back whole payloads. A frame that arrives in one piece is
 * returned in place (no copy); only a frame split across inputs is copied,
 * into a buffer allocated after its declared length passed the limit. */
typedef struct fmw_decoder fmw_decoder_t;

/* Returns a new decoder accepting payloads up to max_frame bytes
 * (1..FMW_MAX_FRAME_LIMIT), or NULL on a bad limit or out of memory.
 * Free with fmw_decoder_destroy. */
fmw_decoder_t *fmw_decoder_create(size_t max_frame);
void fmw_decoder_destroy(fmw_decoder_t *d);

/* Hands the decoder the next bytes of the stream. Borrows data until
 * fmw_decoder_next has returned 0 (all input consumed) or an error; call next
 * until then before the following input. */
void fmw_decoder_input(fmw_decoder_t *d, const uint8_t *data, size_t len);

/* Returns 1 and sets *payload and *len to the next complete frame's payload,
 * valid until the next call on this decoder; 0 when the input is used up;
 * or FMW_EZEROLEN / FMW_ETOOBIG on a bad length prefix. After an error the
 * decoder stays failed (FMW_EFAILED): the stream cannot be resynchronised. */
int fmw_decoder_next(fmw_decoder_t *d, const uint8_t **payload, size_t *len);

/* At end of stream: 0 if the stream ended between frames, FMW_ETRUNC if it
 * ended inside one. */
int fmw_decoder_finish(const fmw_decoder_t *d);

/* Bytes the decoder holds for a split frame (for per-connection memory limits). */
size_t fmw_decoder_buffered(const fmw_decoder_t *d);

/* ------------------------------------------------------------------ envelopes */

/* Unpacks a payload into *out. alloc may be NULL (malloc) or an arena.
 * Returns 0 or FMW_EDECODE. Free with fmw_envelope_free using the same alloc. */
int fmw_envelope_unpack(const uint8_t *payload, size_t len, ProtobufCAllocator *alloc,
                        Fm__Envelope **out);
void fmw_envelope_free(Fm__Envelope *env, ProtobufCAllocator *alloc);

/* Checks a decoded envelope against the contract: a body is present, required
 * fields are set, strings and repeated fields are within the limits above,
 * timestamps lie between FMW_MIN_TS_MS and now_ms + FMW_MAX_FUTURE_MS, event
 * sequences increase strictly, numbers are finite. Returns 0 or FMW_EINVALID
 * with a reason such as "batch.events[3].seq: 7 is not above 9" written to
 * why (always NUL-terminated when whylen > 0). */
int fmw_envelope_validate(const Fm__Envelope *env, int64_t now_ms, char *why, size_t whylen);

/* Name of the envelope's body ("hello", "batch", ...), or "empty". */
const char *fmw_envelope_kind(const Fm__Envelope *env);

/* Makes env a Heartbeat stamped with the wall clock now. Both are the
 * caller's storage; hb must outlive env's use. */
void fmw_heartbeat_init(Fm__Envelope *env, Fm__Heartbeat *hb);

#endif
