/* snmp_bulk: whether a GETBULK answer of a table walk can be trusted.
 *
 * Some embedded SNMP stacks answer GETBULK wrongly while their GETNEXT is
 * fine. The walk (snmp_req.c) checks every GETBULK answer and, when it is
 * wrong, walks that device with GETNEXT from then on (docs/agent.md, "Tables
 * and GETBULK-shy devices"). An answer is wrong when:
 *
 *   loop   a repeater's name is not after the one before it (the name asked,
 *          or its previous varbind in the answer): the same OID again, or
 *          going backwards. Following it would never end.
 *   empty  no varbinds and no error, though names were asked: no progress.
 *   short  fewer varbinds than repeaters x max-repetitions, the last one not
 *          endOfMibView (an agent may stop early only when every repeater ran
 *          off the end), and the message far below any size limit: its
 *          estimated size plus its largest varbind (the next one would have
 *          been about as big) plus SNMP_BULK_OVERHEAD fits in
 *          SNMP_BULK_MIN_MSG, the size every SNMP engine must accept (RFC
 *          3417 3.2). RFC 3416 4.2.3 lets an agent drop varbinds from the
 *          end only to fit its message size, so an answer cut short that
 *          small was not cut for size. Answers cut near a real limit (snmpd
 *          and the simulator cut at theirs) pass, and the walk goes on from
 *          where they stop.
 *
 * Pure functions, any thread. */
#ifndef AGENT_SNMP_BULK_H
#define AGENT_SNMP_BULK_H

#include "oid.h"

#include <stdbool.h>
#include <stddef.h>

#define SNMP_BULK_MIN_MSG 484
/* Message, PDU and security header allowance (a v2c community or SNMPv3's
 * USM parameters) on top of the varbinds. */
#define SNMP_BULK_OVERHEAD 200

enum snmp_bulk_verdict {
    SNMP_BULK_OK,
    SNMP_BULK_LOOP,
    SNMP_BULK_EMPTY,
    SNMP_BULK_SHORT,
};

/* One varbind of an answer. */
struct snmp_bulk_vb {
    const oid *name; /* borrowed */
    size_t len;
    size_t val_len; /* bytes of the value as decoded (net-snmp's val_len) */
    bool end;       /* endOfMibView (or another exception): the repeater ran out */
};

struct snmp_bulk_result {
    enum snmp_bulk_verdict verdict;
    size_t at;       /* loop: index of the varbind that loops; the ones before are good */
    const oid *prev; /* loop: the name it should have followed (borrowed) */
    size_t prev_len;
    size_t n_vb; /* varbinds in the answer */
    size_t want; /* repeaters x max-repetitions */
};

/* Checks the answer vb[0..n_vb) to a GETBULK of the n names asked (all
 * repeaters, no non-repeaters) with max_rep. Returns the verdict, also in
 * *out. Borrows everything; out->prev points into asked or vb. */
enum snmp_bulk_verdict snmp_bulk_check(const oid_t *const *asked, size_t n, unsigned max_rep,
                                       const struct snmp_bulk_vb *vb, size_t n_vb,
                                       struct snmp_bulk_result *out);

/* Encoded size of a varbind, at least (BER headers of the name, the value
 * and the sequence). */
size_t snmp_bulk_vb_bytes(const oid *name, size_t len, size_t val_len);

/* RFC 3416's name of an error-status ("genErr"), or "error-status N". buf
 * holds the latter (at least 24 bytes). */
const char *snmp_bulk_err_name(long status, char *buf, size_t len);

/* Why r is wrong, for the log: "GETBULK answers loop (1.3.6.1.2.1.2.2.1.2.3
 * after 1.3.6.1.2.1.2.2.1.2.3)". Writes "" for SNMP_BULK_OK. */
void snmp_bulk_why(const struct snmp_bulk_result *r, const struct snmp_bulk_vb *vb, char *buf,
                   size_t len);

#endif
