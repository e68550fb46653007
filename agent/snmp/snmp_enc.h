/* snmp_enc: the poller's SNMPv1/v2c requests, encoded without net-snmp's
 * variable lists.
 *
 * net-snmp builds a request from a linked list of variable structs (about
 * 1.1 KB each, allocated, zeroed and freed per varbind) and encodes it with
 * its general encoder; for a poller of 1,000 devices that was about a fifth
 * of its CPU (docs/agent.md, Performance). A v1/v2c GET, GETNEXT or GETBULK
 * whose values are all NULL has a fixed shape, so the poller encodes it here
 * with the BER writer the simulator uses too (proto/ber.h), and net-snmp
 * takes the bytes through its build hook (snmp_sess_add_ex): net-snmp still
 * assigns the request id, sends, retries, matches and parses the response.
 * SNMPv3 requests (USM) are built by net-snmp.
 *
 * Pure functions, any thread. */
#ifndef AGENT_SNMP_ENC_H
#define AGENT_SNMP_ENC_H

#include "oid.h"

#include <stddef.h>
#include <stdint.h>

struct snmp_enc_req {
    long version; /* SNMP_VERSION_1 or SNMP_VERSION_2c */
    const uint8_t *community;
    size_t community_len;
    uint8_t command; /* SNMP_MSG_GET, SNMP_MSG_GETNEXT or SNMP_MSG_GETBULK */
    long reqid;
    /* error-status and error-index (0 in a request), or for GETBULK
     * non-repeaters and max-repetitions */
    long field1, field2;
    const oid_t *const *oids; /* the varbinds' names, in order */
    size_t n_oids;
};

/* Encodes r as one message into buf[0..cap). Returns its length, -ENOSPC
 * when it does not fit, or -EINVAL for a command it does not build or an
 * OID BER cannot encode (fewer than two arcs, a first arc above 2, a second
 * arc of 40 or more under 0 or 1, an arc above 2^32-1). */
int snmp_enc_request(const struct snmp_enc_req *r, uint8_t *buf, size_t cap);

#endif
