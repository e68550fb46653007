/* snmp_server: SNMP devices on UDP (see snmp_server.h). */
#include "snmp_server.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct snmp_server_stats snmp_server_stats;

/* A reply held back by a "slow" fault, or an inform awaiting its response. */
struct pending {
    uv_timer_t timer;
    struct sim_dev *dev;
    struct pending *next;
    struct sockaddr_storage to;
    bool inform;
    int32_t request_id;
    uint32_t tries_left;
    size_t len;
    uint8_t msg[];
};

static struct pending *pendings;
static uint8_t rx_buf[65536];
static uint8_t tx_buf[65536];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One static buffer: each datagram is answered before the next is read. */
    buf->base = (char *)rx_buf;
    buf->len = sizeof(rx_buf);
}

static void pending_on_close(uv_handle_t *h)
{
    struct pending *p = h->data;

    free(p);
}

static void pending_drop(struct pending *p)
{
    for (struct pending **pp = &pendings; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&p->timer, pending_on_close);
}

static void send_to(struct sim_dev *d, const uint8_t *msg, size_t len, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);

    /* UDP: a reply that does not fit the socket buffer now is lost, as it
     * would be on a real network. */
    if (uv_udp_try_send(&d->udp, &b, 1, to) < 0)
        snmp_server_stats.dropped++;
}

static void pending_on_timer(uv_timer_t *t)
{
    struct pending *p = t->data;

    if (p->inform && p->tries_left == 0) {
        FM_WARN("snmp: %s: inform %d: no response from receiver %s", p->dev->name,
                (int)p->request_id, p->dev->sim->traps.receiver);
        pending_drop(p);
        return;
    }
    if (!sim_dev_silent(p->dev))
        send_to(p->dev, p->msg, p->len, (const struct sockaddr *)&p->to);
    if (!p->inform) {
        pending_drop(p);
        return;
    }
    p->tries_left--;
    uv_timer_start(&p->timer, pending_on_timer, (uint64_t)p->dev->sim->traps.timeout_ms, 0);
}

static struct pending *pending_new(struct sim_dev *d, const uint8_t *msg, size_t len,
                                   const struct sockaddr *to, socklen_t tolen)
{
    struct pending *p = fm_xmalloc(sizeof(*p) + len);

    memset(p, 0, sizeof(*p));
    p->dev = d;
    p->len = len;
    memcpy(p->msg, msg, len);
    memcpy(&p->to, to, tolen);
    uv_timer_init(d->sim->loop, &p->timer);
    p->timer.data = p;
    p->next = pendings;
    pendings = p;
    return p;
}

static void inform_acked(struct sim_dev *d, int32_t request_id)
{
    for (struct pending *p = pendings; p != NULL; p = p->next) {
        if (p->inform && p->dev == d && p->request_id == request_id) {
            snmp_server_stats.inform_acks++;
            FM_INFO("snmp: %s: inform %d acknowledged", d->name, (int)request_id);
            pending_drop(p);
            return;
        }
    }
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    struct sim_dev *d = h->data;
    struct snmp_view v;
    struct snmp_req_info info;
    const uint8_t *resp;
    size_t resp_len;
    int rc;

    if (nread <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL))
        return;
    snmp_server_stats.requests++;
    if (sim_dev_silent(d))
        return;
    v.mib = d->tmpl->mib;
    v.ovl = d->ovl;
    v.n_ovl = d->n_ovl;
    v.community = d->community;
    v.uptime = sim_dev_uptime(d);
    v.error_status = d->snmp_error;
    v.error_index = d->snmp_error_index;
    v.max_msg = d->sim->snmp_max_msg;
    if (d->toobig_bytes > 0 && d->toobig_bytes < v.max_msg)
        v.max_msg = d->toobig_bytes;
    v.bulk_toobig = d->toobig_bytes > 0;
    v.bulk_fault = d->snmp_bulk;
    rc = snmp_agent_handle(&v, rx_buf, (size_t)nread, tx_buf, sizeof(tx_buf), &resp, &resp_len,
                           &info);
    d->snmp_gets += info.pdu == SNMP_PDU_GET;
    d->snmp_getnexts += info.pdu == SNMP_PDU_GETNEXT;
    d->snmp_getbulks += info.pdu == SNMP_PDU_GETBULK;
    if (rc == -EBADMSG) {
        snmp_server_stats.malformed++;
        return;
    }
    if (rc != 0) {
        if (info.pdu == SNMP_PDU_RESPONSE && info.version == SNMP_V2C)
            inform_acked(d, info.request_id);
        return;
    }
    if (d->drop_big_bytes > 0 && resp_len > d->drop_big_bytes) {
        /* A device (or a firewall in front of it) that loses big answers:
         * the client sees a timeout. */
        snmp_server_stats.dropped_big++;
        return;
    }
    snmp_server_stats.answered++;
    if (d->delay_ms > 0) {
        struct pending *p = pending_new(d, resp, resp_len, addr,
                                        addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                    : sizeof(struct sockaddr_in));

        uv_timer_start(&p->timer, pending_on_timer, d->delay_ms, 0);
        return;
    }
    send_to(d, resp, resp_len, addr);
}

int snmp_server_start(struct sim_dev *d, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int namelen = sizeof(ss);
    int rc;

    rc = sim_sockaddr(d->address, d->port, &ss, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "%s: address '%s': %s", d->name, d->address, uv_strerror(rc));
        return rc;
    }
    uv_udp_init(d->sim->loop, &d->udp);
    d->udp.data = d;
    rc = uv_udp_bind(&d->udp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_udp_recv_start(&d->udp, on_alloc, on_recv);
    if (rc == 0)
        rc = uv_udp_getsockname(&d->udp, (struct sockaddr *)&ss, &namelen);
    if (rc != 0) {
        snprintf(err, errlen, "%s: bind udp %s:%d: %s", d->name, d->address, d->port,
                 uv_strerror(rc));
        return rc;
    }
    d->bound_port = sim_sockaddr_port(&ss);
    return 0;
}

/* Current value TLV of oid on the device, or NULL. */
static const uint8_t *current_value(const struct sim_dev *d, const struct ber_oid *oid,
                                    uint16_t *len)
{
    const struct sim_mib *mib = d->tmpl->mib;
    bool exact;
    size_t rec = snmprec_lower_bound(mib, oid->sub, oid->len, &exact);

    if (!exact)
        return NULL;
    for (size_t i = 0; i < d->n_ovl; i++) {
        if (d->ovl[i].rec == rec) {
            *len = d->ovl[i].len;
            return d->ovl[i].val;
        }
    }
    *len = mib->recs[rec].val_len;
    return mib->recs[rec].val;
}

/* Appends the TLV encoding of oid to the arena; returns its start. */
static const uint8_t *arena_oid(uint8_t *arena, size_t *used, size_t cap, const uint32_t *sub,
                                uint32_t n, uint16_t *len)
{
    uint8_t tmp[BER_OID_MAX * 5 + 8];
    struct ber_wr w;
    size_t k;

    ber_wr_init(&w, tmp, sizeof(tmp));
    ber_put_oid(&w, sub, n);
    k = ber_wr_used(&w);
    if (*used + k > cap)
        return NULL;
    memcpy(arena + *used, w.p, k);
    *used += k;
    *len = (uint16_t)k;
    return arena + *used - k;
}

int snmp_server_notify(struct sim_dev *d, const struct ber_oid *trap, const struct ber_oid *objects,
                       size_t n)
{
    static const uint32_t sysuptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
    static const uint32_t trapoid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
    struct sim *s = d->sim;
    struct snmp_vb vbs[SNMP_VB_IN_MAX + 2];
    uint8_t arena[16384], uptime[16];
    size_t used = 0, nv = 0;
    const uint8_t *msg;
    size_t msg_len;
    int32_t reqid = ++d->next_request_id;
    int rc;

    if (!s->trap_addr_ok)
        return -ENOTCONN;
    vbs[nv].oid = arena_oid(arena, &used, sizeof(arena), sysuptime, 9, &vbs[nv].oid_len);
    vbs[nv].val_len = (uint16_t)snmprec_encode_number(BER_TIMETICKS, sim_dev_uptime(d), 0, uptime,
                                                      sizeof(uptime));
    vbs[nv++].val = uptime;
    vbs[nv].oid = arena_oid(arena, &used, sizeof(arena), trapoid, 11, &vbs[nv].oid_len);
    vbs[nv].val = arena_oid(arena, &used, sizeof(arena), trap->sub, trap->len, &vbs[nv].val_len);
    nv++;
    for (size_t i = 0; i < n && nv < SNMP_VB_IN_MAX + 2; i++) {
        uint16_t vlen;
        const uint8_t *val = current_value(d, &objects[i], &vlen);

        if (val == NULL)
            continue;
        vbs[nv].oid = arena_oid(arena, &used, sizeof(arena), objects[i].sub, objects[i].len,
                                &vbs[nv].oid_len);
        vbs[nv].val = val;
        vbs[nv].val_len = vlen;
        if (vbs[nv].oid == NULL)
            return -EMSGSIZE;
        nv++;
    }
    if (vbs[0].oid == NULL || vbs[1].oid == NULL || vbs[1].val == NULL)
        return -EMSGSIZE;
    rc = snmp_encode_msg(SNMP_V2C, s->traps.community,
                         s->traps.inform ? SNMP_PDU_INFORM : SNMP_PDU_TRAP2, reqid, 0, 0, vbs, nv,
                         tx_buf, sizeof(tx_buf), &msg, &msg_len);
    if (rc != 0)
        return rc;
    send_to(d, msg, msg_len, (const struct sockaddr *)&s->trap_addr);
    if (s->traps.inform) {
        struct pending *p =
            pending_new(d, msg, msg_len, (const struct sockaddr *)&s->trap_addr, s->trap_addr_len);

        p->inform = true;
        p->request_id = reqid;
        p->tries_left = s->traps.retries;
        uv_timer_start(&p->timer, pending_on_timer, (uint64_t)s->traps.timeout_ms, 0);
        snmp_server_stats.informs++;
    } else {
        snmp_server_stats.traps++;
    }
    return 0;
}

static void dev_on_close(uv_handle_t *h)
{
    struct sim_dev *d = h->data;

    d->sim->closing--;
}

void snmp_server_stop(struct sim_dev *d)
{
    struct pending **pp = &pendings;

    while (*pp != NULL) {
        struct pending *p = *pp;

        if (p->dev == d) {
            *pp = p->next;
            uv_close((uv_handle_t *)&p->timer, pending_on_close);
        } else {
            pp = &p->next;
        }
    }
    if (!uv_is_closing((uv_handle_t *)&d->udp)) {
        d->sim->closing++;
        uv_close((uv_handle_t *)&d->udp, dev_on_close);
    }
}
