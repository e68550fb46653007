/* snmp_agent: one request in, one response out (see snmp_agent.h).
 *
 * Processing follows RFC 3416 section 4.2: parse the message, then resolve
 * each varbind against the sorted records (binary search), collecting the
 * answer as borrowed (OID TLV, value TLV) pairs; only then encode, backwards,
 * into the caller's buffer. Size is tracked while collecting, so GETBULK
 * stops at the message limit (or answers tooBig, with the view's
 * bulk_toobig fault) and GET/GETNEXT answer tooBig. */
#include "snmp_agent.h"

#include "ber.h"

#include <errno.h>
#include <string.h>

/* Upper bound of everything in a response except the varbinds, without the
 * community: message, version, PDU, request id, error status and index, and
 * the varbind list headers. */
#define MSG_OVERHEAD 36

const char *const snmp_bulk_fault_names[] = {"right", "truncate", "empty", "loop", "error", NULL};

static const uint8_t exc_no_such_object[] = {BER_NO_SUCH_OBJECT, 0};
static const uint8_t exc_no_such_instance[] = {BER_NO_SUCH_INSTANCE, 0};
static const uint8_t exc_end_of_mib[] = {BER_END_OF_MIB_VIEW, 0};
static const uint8_t null_value[] = {BER_NULL, 0};

struct in_vb {
    struct ber_tlv oid;
    struct ber_tlv val;
};

struct answer {
    const struct snmp_view *v;
    int version;
    struct snmp_vb *out;
    size_t n;
    size_t bytes; /* encoded size of the varbinds so far */
    uint8_t uptime[8];
    uint8_t uptime_len;
};

static size_t vb_size(size_t oid_len, size_t val_len)
{
    return ber_hdr_len(oid_len + val_len) + oid_len + val_len;
}

static void value_of(struct answer *a, size_t rec, const uint8_t **val, uint16_t *len)
{
    const struct snmp_view *v = a->v;
    size_t lo = 0, hi = v->n_ovl;

    if ((long)rec == v->mib->uptime_rec) {
        *val = a->uptime;
        *len = a->uptime_len;
        return;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->ovl[mid].rec < rec)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < v->n_ovl && v->ovl[lo].rec == rec) {
        *val = v->ovl[lo].val;
        *len = v->ovl[lo].len;
        return;
    }
    *val = v->mib->recs[rec].val;
    *len = v->mib->recs[rec].val_len;
}

/* Appends a varbind; -EMSGSIZE once the response would pass the limit. */
static int add(struct answer *a, const uint8_t *oid, uint16_t oid_len, const uint8_t *val,
               uint16_t val_len)
{
    size_t sz = vb_size(oid_len, val_len);

    if (a->n == SNMP_VB_OUT_MAX ||
        a->bytes + sz + MSG_OVERHEAD + strlen(a->v->community) > a->v->max_msg)
        return -EMSGSIZE;
    a->out[a->n].oid = oid;
    a->out[a->n].oid_len = oid_len;
    a->out[a->n].val = val;
    a->out[a->n].val_len = val_len;
    a->n++;
    a->bytes += sz;
    return 0;
}

static int add_rec(struct answer *a, size_t rec)
{
    const struct snmprec_rec *r = &a->v->mib->recs[rec];
    const uint8_t *val;
    uint16_t len;

    value_of(a, rec, &val, &len);
    return add(a, r->oid_tlv, r->oid_tlv_len, val, len);
}

/* v1 has no Counter64: such records are invisible to v1 requests. */
static bool visible(const struct answer *a, size_t rec)
{
    return a->version != SNMP_V1 || a->v->mib->recs[rec].val[0] != BER_COUNTER64;
}

/* Index of the first visible record after oid, or mib->n. */
static size_t next_rec(const struct answer *a, const struct ber_oid *oid)
{
    bool exact;
    size_t i = snmprec_lower_bound(a->v->mib, oid->sub, oid->len, &exact);

    if (exact)
        i++;
    while (i < a->v->mib->n && !visible(a, i))
        i++;
    return i;
}

/* noSuchInstance when a neighbour record shares the object (all but the last
 * sub-identifier), noSuchObject otherwise. */
static const uint8_t *missing_exception(const struct answer *a, const struct ber_oid *oid,
                                        size_t at)
{
    const struct sim_mib *m = a->v->mib;

    for (size_t i = at > 0 ? at - 1 : 0; i < m->n && i <= at; i++) {
        const struct snmprec_rec *r = &m->recs[i];

        if (oid->len > 1 && r->oid_len >= oid->len &&
            memcmp(r->oid, oid->sub, (oid->len - 1) * sizeof(uint32_t)) == 0)
            return exc_no_such_instance;
    }
    return exc_no_such_object;
}

/* Resolves GET and GETNEXT. Returns 0, or an error status with *index set. */
static int answer_simple(struct answer *a, int pdu, const struct in_vb *in, size_t n_in, int *index)
{
    for (size_t i = 0; i < n_in; i++) {
        struct ber_oid oid;
        size_t rec;
        bool exact;
        int rc;

        if (ber_get_oid(in[i].oid.val, in[i].oid.len, &oid) != 0)
            return -EBADMSG;
        *index = (int)i + 1;
        if (pdu == SNMP_PDU_GET) {
            rec = snmprec_lower_bound(a->v->mib, oid.sub, oid.len, &exact);
            if (exact && visible(a, rec)) {
                rc = add_rec(a, rec);
            } else if (a->version == SNMP_V1) {
                return SNMP_ERR_NOSUCHNAME;
            } else {
                rc = add(a, in[i].oid.tlv, (uint16_t)in[i].oid.tlv_len,
                         missing_exception(a, &oid, rec), 2);
            }
        } else {
            rec = next_rec(a, &oid);
            if (rec < a->v->mib->n)
                rc = add_rec(a, rec);
            else if (a->version == SNMP_V1)
                return SNMP_ERR_NOSUCHNAME;
            else
                rc = add(a, in[i].oid.tlv, (uint16_t)in[i].oid.tlv_len, exc_end_of_mib, 2);
        }
        if (rc != 0) {
            *index = 0;
            return SNMP_ERR_TOOBIG;
        }
    }
    return 0;
}

/* GETBULK (RFC 3416 4.2.3): non-repeaters once, then max-repetitions rounds
 * over the repeaters, stopping early at the size limit or when every
 * repeater has run off the end of the data. The view's bulk_fault answers
 * wrongly on purpose (snmp_bulk_fault). */
static int answer_bulk(struct answer *a, const struct in_vb *in, size_t n_in, int64_t nonrep,
                       int64_t maxrep, int *index)
{
    size_t cursor[SNMP_VB_IN_MAX];
    const uint8_t *last[SNMP_VB_IN_MAX]; /* name of each repeater's last answer */
    uint16_t last_len[SNMP_VB_IN_MAX];
    size_t nr = nonrep < 0 ? 0 : (size_t)nonrep > n_in ? n_in : (size_t)nonrep;
    size_t n_rep = n_in - nr;
    int rc = answer_simple(a, SNMP_PDU_GETNEXT, in, nr, index);

    if (rc != 0)
        return rc;
    if (maxrep <= 0 || n_rep == 0 || a->v->bulk_fault == SNMP_BULK_EMPTY)
        return 0;
    if (a->v->bulk_fault == SNMP_BULK_ERROR) {
        *index = 0;
        return SNMP_ERR_GENERR;
    }
    if (a->v->bulk_fault == SNMP_BULK_TRUNCATE && maxrep > 1)
        maxrep = 1;
    for (size_t j = 0; j < n_rep; j++) {
        struct ber_oid oid;

        if (ber_get_oid(in[nr + j].oid.val, in[nr + j].oid.len, &oid) != 0)
            return -EBADMSG;
        cursor[j] = next_rec(a, &oid);
        last[j] = in[nr + j].oid.tlv;
        last_len[j] = (uint16_t)in[nr + j].oid.tlv_len;
    }
    for (int64_t r = 0; r < maxrep; r++) {
        bool any = false;

        for (size_t j = 0; j < n_rep; j++) {
            size_t rec = cursor[j];

            if (rec < a->v->mib->n) {
                rc = add_rec(a, rec);
                any = true;
                last[j] = a->v->mib->recs[rec].oid_tlv;
                last_len[j] = a->v->mib->recs[rec].oid_tlv_len;
                for (rec++; rec < a->v->mib->n && !visible(a, rec); rec++)
                    ;
                if (a->v->bulk_fault != SNMP_BULK_LOOP)
                    cursor[j] = rec;
            } else {
                /* Successive GETNEXTs: the name is the last one reached. */
                rc = add(a, last[j], last_len[j], exc_end_of_mib, 2);
            }
            /* A bulk answer is truncated, not refused, unless nothing fits
             * or the device is set to refuse it. */
            if (rc != 0) {
                if (a->n == 0 || a->v->bulk_toobig) {
                    *index = 0;
                    return SNMP_ERR_TOOBIG;
                }
                return 0;
            }
        }
        if (!any)
            break;
    }
    return 0;
}

static int read_int(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    struct ber_tlv t;

    if (ber_read(p, end, &t) != 0 || t.tag != BER_INTEGER)
        return -EBADMSG;
    return ber_get_int(t.val, t.len, out);
}

/* Parses the varbind list into in[]; -EBADMSG, or -E2BIG past the limit. */
static int read_varbinds(const uint8_t *p, const uint8_t *end, struct in_vb *in, size_t *n_in)
{
    *n_in = 0;
    while (p < end) {
        struct ber_tlv vb;
        const uint8_t *q;

        if (ber_read(&p, end, &vb) != 0 || vb.tag != BER_SEQUENCE)
            return -EBADMSG;
        if (*n_in == SNMP_VB_IN_MAX)
            return -E2BIG;
        q = vb.val;
        if (ber_read(&q, vb.val + vb.len, &in[*n_in].oid) != 0 || in[*n_in].oid.tag != BER_OID ||
            in[*n_in].oid.tlv_len > UINT16_MAX ||
            ber_read(&q, vb.val + vb.len, &in[*n_in].val) != 0 ||
            in[*n_in].val.tlv_len > UINT16_MAX || q != vb.val + vb.len)
            return -EBADMSG;
        (*n_in)++;
    }
    return 0;
}

static void echo_request(struct answer *a, const struct in_vb *in, size_t n_in, bool values)
{
    a->n = 0;
    for (size_t i = 0; i < n_in; i++) {
        a->out[i].oid = in[i].oid.tlv;
        a->out[i].oid_len = (uint16_t)in[i].oid.tlv_len;
        a->out[i].val = values ? in[i].val.tlv : null_value;
        a->out[i].val_len = values ? (uint16_t)in[i].val.tlv_len : 2;
        a->n++;
    }
}

int snmp_agent_handle(const struct snmp_view *v, const uint8_t *req, size_t len, uint8_t *out,
                      size_t cap, const uint8_t **resp, size_t *resp_len,
                      struct snmp_req_info *info)
{
    static struct snmp_vb vbs[SNMP_VB_OUT_MAX];
    struct in_vb in[SNMP_VB_IN_MAX];
    struct answer a = {.v = v, .out = vbs};
    const uint8_t *p = req, *end = req + len, *q, *qend;
    struct ber_tlv msg, comm, pdu, vbl;
    int64_t version, reqid, e1, e2;
    size_t n_in = 0;
    int status = 0, index = 0, rc;

    memset(info, 0, sizeof(*info));
    info->version = -1;
    if (ber_read(&p, end, &msg) != 0 || msg.tag != BER_SEQUENCE)
        return -EBADMSG;
    q = msg.val;
    qend = msg.val + msg.len;
    if (read_int(&q, qend, &version) != 0)
        return -EBADMSG;
    if (version != SNMP_V1 && version != SNMP_V2C)
        return -ENOMSG;
    if (ber_read(&q, qend, &comm) != 0 || comm.tag != BER_OCTET_STRING ||
        ber_read(&q, qend, &pdu) != 0 || (pdu.tag & 0xf0) != 0xa0)
        return -EBADMSG;
    q = pdu.val;
    qend = pdu.val + pdu.len;
    if (read_int(&q, qend, &reqid) != 0 || read_int(&q, qend, &e1) != 0 ||
        read_int(&q, qend, &e2) != 0 || ber_read(&q, qend, &vbl) != 0 || vbl.tag != BER_SEQUENCE ||
        reqid < INT32_MIN || reqid > INT32_MAX)
        return -EBADMSG;
    info->version = (int)version;
    info->pdu = pdu.tag;
    info->request_id = (int32_t)reqid;
    if (comm.len != strlen(v->community) || memcmp(comm.val, v->community, comm.len) != 0)
        return -ENOMSG;
    if (pdu.tag != SNMP_PDU_GET && pdu.tag != SNMP_PDU_GETNEXT && pdu.tag != SNMP_PDU_SET &&
        pdu.tag != SNMP_PDU_GETBULK)
        return -ENOMSG;
    if (pdu.tag == SNMP_PDU_GETBULK && version == SNMP_V1)
        return -ENOMSG;
    a.version = (int)version;
    rc = read_varbinds(vbl.val, vbl.val + vbl.len, in, &n_in);
    if (rc == -EBADMSG)
        return rc;
    a.uptime_len =
        (uint8_t)snmprec_encode_number(BER_TIMETICKS, v->uptime, 0, a.uptime, sizeof(a.uptime));
    if (rc == -E2BIG) {
        status = SNMP_ERR_TOOBIG;
    } else if (v->error_status != 0) {
        status = v->error_status;
        index = v->error_index;
        echo_request(&a, in, n_in, true);
    } else if (pdu.tag == SNMP_PDU_SET) {
        status = version == SNMP_V1 ? SNMP_ERR_NOSUCHNAME : SNMP_ERR_NOTWRITABLE;
        index = n_in > 0 ? 1 : 0;
        echo_request(&a, in, n_in, true);
    } else {
        if (pdu.tag == SNMP_PDU_GETBULK)
            status = answer_bulk(&a, in, n_in, e1, e2, &index);
        else
            status = answer_simple(&a, pdu.tag, in, n_in, &index);
        if (status < 0)
            return status;
        /* v1 errors carry the request's varbinds; v2c tooBig an empty list. */
        if (status == SNMP_ERR_NOSUCHNAME)
            echo_request(&a, in, n_in, true);
        else if (status != 0)
            a.n = 0;
    }
    if (status == SNMP_ERR_TOOBIG)
        a.n = 0;
    rc = snmp_encode_msg(a.version, v->community, SNMP_PDU_RESPONSE, info->request_id, status,
                         index, a.out, a.n, out, cap, resp, resp_len);
    if (rc != 0 && status != SNMP_ERR_TOOBIG)
        rc = snmp_encode_msg(a.version, v->community, SNMP_PDU_RESPONSE, info->request_id,
                             SNMP_ERR_TOOBIG, 0, NULL, 0, out, cap, resp, resp_len);
    return rc;
}

int snmp_encode_msg(int version, const char *community, int pdu, int32_t request_id,
                    int error_status, int error_index, const struct snmp_vb *vbs, size_t n,
                    uint8_t *out, size_t cap, const uint8_t **msg, size_t *msg_len)
{
    struct ber_wr w;
    size_t clen = strlen(community);

    ber_wr_init(&w, out, cap);
    for (size_t i = n; i > 0; i--) {
        const struct snmp_vb *vb = &vbs[i - 1];

        ber_put_raw(&w, vb->val, vb->val_len);
        ber_put_raw(&w, vb->oid, vb->oid_len);
        ber_put_hdr(&w, BER_SEQUENCE, (size_t)vb->oid_len + vb->val_len);
    }
    ber_put_hdr(&w, BER_SEQUENCE, ber_wr_used(&w));
    ber_put_int(&w, BER_INTEGER, error_index);
    ber_put_int(&w, BER_INTEGER, error_status);
    ber_put_int(&w, BER_INTEGER, request_id);
    ber_put_hdr(&w, (uint8_t)pdu, ber_wr_used(&w));
    ber_put_raw(&w, community, clen);
    ber_put_hdr(&w, BER_OCTET_STRING, clen);
    ber_put_int(&w, BER_INTEGER, version);
    ber_put_hdr(&w, BER_SEQUENCE, ber_wr_used(&w));
    if (w.overflow)
        return -EMSGSIZE;
    *msg = w.p;
    *msg_len = ber_wr_used(&w);
    return 0;
}
