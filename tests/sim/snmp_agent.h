/* snmp_agent: answers one SNMP v1/v2c request datagram from a device's data.
 *
 * Pure function of (device view, request bytes): no sockets, no clock, no
 * allocation, so the fuzz target drives exactly what the UDP server runs.
 * GET, GETNEXT and GETBULK are answered from the view's mib, with per-device
 * values laid over it; SET is refused (notWritable / v1 noSuchName); v3 and
 * PDUs an agent does not receive are dropped. A malformed message is dropped,
 * as RFC 3416 asks (the snmpInASNParseErrs case). */
#ifndef SIM_SNMP_AGENT_H
#define SIM_SNMP_AGENT_H

#include "snmprec.h"

#include <stddef.h>
#include <stdint.h>

enum {
    SNMP_V1 = 0,
    SNMP_V2C = 1,
};

enum {
    SNMP_PDU_GET = 0xa0,
    SNMP_PDU_GETNEXT = 0xa1,
    SNMP_PDU_RESPONSE = 0xa2,
    SNMP_PDU_SET = 0xa3,
    SNMP_PDU_GETBULK = 0xa5,
    SNMP_PDU_INFORM = 0xa6,
    SNMP_PDU_TRAP2 = 0xa7,
};

/* Error statuses used here (RFC 3416). */
enum {
    SNMP_ERR_TOOBIG = 1,
    SNMP_ERR_NOSUCHNAME = 2,
    SNMP_ERR_GENERR = 5,
    SNMP_ERR_NOTWRITABLE = 17,
};

/* Most varbinds in one request, and in one GETBULK response. */
#define SNMP_VB_IN_MAX 128
#define SNMP_VB_OUT_MAX 1024

/* Fault: how a device answers GETBULK (snmp_bulk_fault_names). */
enum snmp_bulk_fault {
    SNMP_BULK_RIGHT,    /* as RFC 3416 4.2.3 says */
    SNMP_BULK_TRUNCATE, /* one repetition, whatever max-repetitions asks */
    SNMP_BULK_EMPTY,    /* no varbinds and no error */
    SNMP_BULK_LOOP,     /* every repetition repeats the first: the same OIDs again */
    SNMP_BULK_ERROR,    /* genErr (GETNEXT still works) */
};
extern const char *const snmp_bulk_fault_names[];

/* A per-device value that replaces record `rec` of the mib. */
struct snmp_ovl {
    uint32_t rec;
    uint16_t len;
    uint8_t *val; /* whole TLV */
};

/* What a device looks like to one request. All pointers are borrowed. */
struct snmp_view {
    const struct sim_mib *mib;
    const struct snmp_ovl *ovl; /* sorted by rec */
    size_t n_ovl;
    const char *community;
    uint32_t uptime;  /* TimeTicks served for sysUpTime.0 */
    int error_status; /* fault: answer every request with this, 0 = none */
    int error_index;
    size_t max_msg; /* largest response in bytes */
    /* Fault: a GETBULK answer that would pass max_msg is refused with
     * tooBig instead of cut short (a device that answers bulk requests the
     * way RFC 3416 answers GET). */
    bool bulk_toobig;
    int bulk_fault; /* enum snmp_bulk_fault */
};

/* Set for every request whose header parsed, even if it is not answered. */
struct snmp_req_info {
    int version;
    int pdu;
    int32_t request_id;
};

/* A varbind to encode: OID and value as whole TLVs (borrowed). */
struct snmp_vb {
    const uint8_t *oid;
    const uint8_t *val;
    uint16_t oid_len;
    uint16_t val_len;
};

/* Answers req. On 0, the response is *resp (inside out) of *resp_len bytes.
 * -ENOMSG: nothing to send (wrong community, v3, a response or trap PDU,
 * GETBULK in v1); -EBADMSG: malformed. info is filled once the header parsed. */
int snmp_agent_handle(const struct snmp_view *v, const uint8_t *req, size_t len, uint8_t *out,
                      size_t cap, const uint8_t **resp, size_t *resp_len,
                      struct snmp_req_info *info);

/* Encodes a whole message (version, community, PDU with the varbinds) at the
 * end of out. Returns 0 with msg and msg_len set, or -EMSGSIZE. */
int snmp_encode_msg(int version, const char *community, int pdu, int32_t request_id,
                    int error_status, int error_index, const struct snmp_vb *vbs, size_t n,
                    uint8_t *out, size_t cap, const uint8_t **msg, size_t *msg_len);

#endif
