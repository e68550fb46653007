/* snmp_enc: see snmp_enc.h. */
#include "snmp_enc.h"

#include "ber.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <string.h>

/* Writes one varbind { name, NULL } in front of what w holds; false for
 * an OID BER cannot encode. */
static bool put_varbind(struct ber_wr *w, const oid_t *o)
{
    uint32_t sub[OID_MAX_LEN];
    size_t before = ber_wr_used(w);

    if (o->len > OID_MAX_LEN)
        return false;
    for (size_t i = 0; i < o->len; i++) {
        if (o->v[i] > UINT32_MAX)
            return false;
        sub[i] = (uint32_t)o->v[i];
    }
    if (!ber_oid_encodable(sub, (uint32_t)o->len))
        return false;
    ber_put_hdr(w, BER_NULL, 0);
    ber_put_oid(w, sub, (uint32_t)o->len);
    ber_put_hdr(w, BER_SEQUENCE, ber_wr_used(w) - before);
    return true;
}

int snmp_enc_request(const struct snmp_enc_req *r, uint8_t *buf, size_t cap)
{
    struct ber_wr w;
    size_t mark;

    if (r->command != SNMP_MSG_GET && r->command != SNMP_MSG_GETNEXT &&
        r->command != SNMP_MSG_GETBULK)
        return -EINVAL;
    if (r->version != SNMP_VERSION_1 && r->version != SNMP_VERSION_2c)
        return -EINVAL;
    if (r->command == SNMP_MSG_GETBULK && r->version == SNMP_VERSION_1)
        return -EINVAL;
    /* Backwards from the end of buf: the last varbind first. */
    ber_wr_init(&w, buf, cap);
    for (size_t i = r->n_oids; i > 0; i--) {
        if (!put_varbind(&w, r->oids[i - 1]))
            return -EINVAL;
    }
    ber_put_hdr(&w, BER_SEQUENCE, ber_wr_used(&w));
    ber_put_int(&w, BER_INTEGER, r->field2);
    ber_put_int(&w, BER_INTEGER, r->field1);
    ber_put_int(&w, BER_INTEGER, r->reqid);
    ber_put_hdr(&w, r->command, ber_wr_used(&w));
    mark = ber_wr_used(&w);
    ber_put_raw(&w, r->community, r->community_len);
    ber_put_hdr(&w, BER_OCTET_STRING, ber_wr_used(&w) - mark);
    ber_put_int(&w, BER_INTEGER, r->version);
    ber_put_hdr(&w, BER_SEQUENCE, ber_wr_used(&w));
    if (w.overflow || ber_wr_used(&w) > (size_t)INT32_MAX)
        return -ENOSPC;
    memmove(buf, w.p, ber_wr_used(&w));
    return (int)ber_wr_used(&w);
}
