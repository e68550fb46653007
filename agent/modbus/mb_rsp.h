/* mb_rsp: checks a Modbus TCP read response against its request.
 *
 * libmodbus 3.1.6 frames a TCP response by its function code and byte count
 * and never looks at the MBAP length field (_modbus_tcp_check_integrity
 * returns the length it read); its protocol id check rejects only ids whose
 * two bytes are both non-zero, and it does not compare the unit id. A
 * response whose byte count disagrees with its MBAP length is therefore
 * either accepted, read into the next response, or waited on until the
 * timeout. fieldmon frames TCP responses by the MBAP length instead and
 * checks every field here, against the request it sent; the functions are
 * pure (no I/O) so that they are unit-tested and fuzzed.
 *
 * All functions are thread-safe and never read past the lengths given. */
#ifndef AGENT_MODBUS_RSP_H
#define AGENT_MODBUS_RSP_H

#include <stddef.h>
#include <stdint.h>

#define MB_RSP_MBAP_LEN 7  /* transaction id, protocol id, length, unit id */
#define MB_RSP_PDU_MAX 253 /* function code + 252 bytes */

/* What a read asked for. */
struct mb_rsp_req {
    uint16_t tid;     /* transaction id sent */
    uint8_t unit;     /* unit id sent */
    uint8_t function; /* 1..4 */
    uint16_t count;   /* coils/inputs (1..2000) or registers (1..125) */
};

/* Checks the 7-byte MBAP header of a response: transaction id, protocol
 * id 0, a length of 2..254 and the unit id. Returns the number of PDU bytes
 * that follow (1..253), or -EBADMSG with *why naming the wrong field
 * (static string). */
int mb_rsp_mbap(const struct mb_rsp_req *req, const uint8_t *hdr, const char **why);

/* Checks a response PDU (function code onwards, len bytes) against req.
 * Returns 0 for a good read response (its values can be taken with
 * mb_rsp_values), a positive Modbus exception code (1..255) for a
 * well-formed exception response, or -EBADMSG with *why set (static
 * string) for anything else: another function, a byte count that does not
 * match the request or the bytes present, a malformed exception. */
int mb_rsp_check(const struct mb_rsp_req *req, const uint8_t *pdu, size_t len, const char **why);

/* Copies the values of a response that mb_rsp_check accepted into out
 * (req->count words; a coil or input becomes one word 0 or 1). */
void mb_rsp_values(const struct mb_rsp_req *req, const uint8_t *pdu, uint16_t *out);

#endif
