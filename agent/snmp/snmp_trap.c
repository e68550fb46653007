/* snmp_trap: see snmp_trap.h.
 *
 * One datagram at a time: when the socket is readable we first peek at the
 * datagram (its real length and its source) without consuming it, drop it
 * if it is over max_packet, and otherwise let net-snmp read, parse and
 * authenticate it. net-snmp calls on_notification for a message it
 * accepted; if it did not (no callback during the read), its USM counters
 * tell us why: a v3 discovery or time-sync step that net-snmp answered with
 * a Report itself (not a drop), failed authentication, an unknown user, or
 * a packet that did not parse. */
#include "snmp_trap.h"

#include "oid.h"
#include "snmp_poll.h"
#include "snmp_target.h"
#include "snmp_usm.h"

#include "fm_addr.h"
#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fmwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define TRAP_LOG_SOURCES 64
#define TRAP_LOG_INTERVAL_MS 60000

struct log_slot {
    char src[64];
    int64_t last_ms;
};

struct snmp_trap {
    uv_loop_t *loop;
    const struct agent_cfg *cfg;
    event_sink_t *sink;
    void *sessp;
    int fd;
    uv_poll_t poll;
    netsnmp_large_fd_set fdset;
    bool delivered;  /* net-snmp accepted the datagram being read */
    char src_ip[64]; /* source of the datagram being read */
    char src[80];    /* ip:port */
    struct snmp_trap_stats stats;
    struct log_slot logged[TRAP_LOG_SOURCES];
    const snmp_poll_t *poller; /* the addresses devices are polled at (may be NULL) */
    unsigned pending_acks;     /* informs waiting for their event to be spooled */
    bool closed;               /* the handle is closed: free when no ack is pending */
    void (*freed_cb)(void *arg);
    void *freed_arg;
};

/* An inform whose response waits until its event is durably kept. */
struct inform_ack {
    snmp_trap_t *t;
    netsnmp_pdu *reply;
    char src[80];
};

static const char *const drop_names[TRAP_DROP_N] = {
    [TRAP_DROP_OVERSIZE] = "oversize datagram",
    [TRAP_DROP_MALFORMED] = "malformed packet",
    [TRAP_DROP_COMMUNITY] = "wrong community",
    [TRAP_DROP_AUTH] = "SNMPv3 authentication failed",
    [TRAP_DROP_USER] = "unknown SNMPv3 user",
    [TRAP_DROP_NOT_NOTIFICATION] = "not a trap or inform",
    [TRAP_DROP_TOO_MANY_VARBINDS] = "too many varbinds",
    [TRAP_DROP_ENGINE] = "SNMPv3 user not accepted from this engine id",
};

const char *snmp_trap_drop_name(enum snmp_trap_drop why)
{
    return (unsigned)why < TRAP_DROP_N ? drop_names[why] : "unknown";
}

/* Counts a drop; logs it unless this source was logged in the last minute. */
static void drop(snmp_trap_t *t, enum snmp_trap_drop why)
{
    int64_t now = fm_clock_wall_ms();
    struct log_slot *slot = NULL, *oldest = &t->logged[0];

    t->stats.dropped[why]++;
    for (size_t i = 0; i < TRAP_LOG_SOURCES; i++) {
        if (strcmp(t->logged[i].src, t->src_ip) == 0) {
            slot = &t->logged[i];
            break;
        }
        if (t->logged[i].last_ms < oldest->last_ms)
            oldest = &t->logged[i];
    }
    if (slot != NULL && now - slot->last_ms < TRAP_LOG_INTERVAL_MS)
        return;
    if (slot == NULL) {
        slot = oldest;
        snprintf(slot->src, sizeof(slot->src), "%s", t->src_ip);
    }
    slot->last_ms = now;
    FM_WARN("trap: %s: dropped: %s (%" PRIu64 " so far; next report from this source in a "
            "minute at most)",
            t->src, drop_names[why], t->stats.dropped[why]);
}

/* ------------------------------------------------------------ events */

static const char *type_name(u_char type)
{
    switch (type) {
    case ASN_INTEGER:
        return "INTEGER";
    case ASN_OCTET_STR:
        return "OCTET STRING";
    case ASN_OBJECT_ID:
        return "OID";
    case ASN_IPADDRESS:
        return "IpAddress";
    case ASN_COUNTER:
        return "Counter32";
    case ASN_GAUGE:
        return "Gauge32";
    case ASN_TIMETICKS:
        return "TimeTicks";
    case ASN_COUNTER64:
        return "Counter64";
    case ASN_OPAQUE:
        return "Opaque";
    case ASN_NULL:
        return "NULL";
    default:
        return "other";
    }
}

/* Printable strings are kept as text; anything else is shown as hex. */
static void format_value(const netsnmp_variable_list *vb, char *out, size_t cap)
{
    out[0] = '\0';
    switch (vb->type) {
    case ASN_INTEGER:
        snprintf(out, cap, "%ld", *vb->val.integer);
        break;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
        snprintf(out, cap, "%lu", (unsigned long)*vb->val.integer & 0xffffffffUL);
        break;
    case ASN_COUNTER64:
        snprintf(out, cap, "%" PRIu64,
                 ((uint64_t)(vb->val.counter64->high & 0xffffffffUL) << 32) |
                     (vb->val.counter64->low & 0xffffffffUL));
        break;
    case ASN_OBJECT_ID:
        oid_format(vb->val.objid, vb->val_len / sizeof(oid), out, cap);
        break;
    case ASN_IPADDRESS:
        if (vb->val_len == 4)
            snprintf(out, cap, "%u.%u.%u.%u", vb->val.string[0], vb->val.string[1],
                     vb->val.string[2], vb->val.string[3]);
        break;
    case ASN_OCTET_STR:
    case ASN_OPAQUE: {
        bool printable = true;
        size_t n = 0;

        for (size_t i = 0; i < vb->val_len; i++)
            printable &= vb->val.string[i] >= 0x20 && vb->val.string[i] < 0x7f;
        if (printable) {
            n = vb->val_len < cap - 1 ? vb->val_len : cap - 1;
            memcpy(out, vb->val.string, n);
            out[n] = '\0';
            break;
        }
        for (size_t i = 0; i < vb->val_len && n + 3 < cap; i++)
            n += (size_t)snprintf(out + n, cap - n, "%02x", vb->val.string[i]);
        break;
    }
    default:
        break;
    }
}

static const oid trap_oid_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0}; /* snmpTrapOID.0 */
static const oid trap_addr_oid[] = {1, 3, 6, 1, 6, 3, 18, 1, 3, 0};  /* snmpTrapAddress.0 */

/* The notification's OID, for v1 built as RFC 3584 section 3.1 says. */
static void notification_oid(const netsnmp_pdu *pdu, char *out, size_t cap)
{
    out[0] = '\0';
    if (pdu->command == SNMP_MSG_TRAP) {
        if (pdu->trap_type == SNMP_TRAP_ENTERPRISESPECIFIC) {
            size_t n = oid_format(pdu->enterprise, pdu->enterprise_length, out, cap);

            if (n + 1 < cap)
                snprintf(out + n, cap - n, ".0.%ld", pdu->specific_type);
        } else {
            snprintf(out, cap, "1.3.6.1.6.3.1.1.5.%ld", pdu->trap_type + 1);
        }
        return;
    }
    for (const netsnmp_variable_list *vb = pdu->variables; vb; vb = vb->next_variable) {
        if (vb->type == ASN_OBJECT_ID && snmp_oid_compare(vb->name, vb->name_length, trap_oid_oid,
                                                          OID_LENGTH(trap_oid_oid)) == 0) {
            oid_format(vb->val.objid, vb->val_len / sizeof(oid), out, cap);
            return;
        }
    }
}

/* The address the notification says it is from: v1 agent-addr, or the
 * snmpTrapAddress.0 varbind a proxy adds. "" if none. */
static void agent_address(const netsnmp_pdu *pdu, char *out, size_t cap)
{
    const unsigned char *a = NULL;

    out[0] = '\0';
    if (pdu->command == SNMP_MSG_TRAP &&
        (pdu->agent_addr[0] | pdu->agent_addr[1] | pdu->agent_addr[2] | pdu->agent_addr[3]))
        a = pdu->agent_addr;
    for (const netsnmp_variable_list *vb = pdu->variables; vb && a == NULL;
         vb = vb->next_variable) {
        if (vb->type == ASN_IPADDRESS && vb->val_len == 4 &&
            snmp_oid_compare(vb->name, vb->name_length, trap_addr_oid, OID_LENGTH(trap_addr_oid)) ==
                0)
            a = vb->val.string;
    }
    if (a != NULL)
        snprintf(out, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

static const struct trap_map_cfg *find_mapping(const struct device_cfg *d, const char *trap_oid)
{
    oid_t want, o;

    if (d == NULL || oid_parse(trap_oid, &want) != 0)
        return NULL;
    for (size_t i = 0; i < d->prof->n_traps; i++) {
        if (oid_parse(d->prof->traps[i].oid, &o) == 0 &&
            snmp_oid_compare(o.v, o.len, want.v, want.len) == 0)
            return &d->prof->traps[i];
    }
    return NULL;
}

static void emit_trap(snmp_trap_t *t, const netsnmp_pdu *pdu, size_t n_vb, event_sink_done_cb done,
                      void *ud)
{
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Trap tr = FM__TRAP__INIT;
    char trap_oid[FMW_MAX_OID], agent_ip[32];
    const struct device_cfg *d;
    const struct trap_map_cfg *map;
    Fm__Varbind *vbs = fm_xcalloc(n_vb + 1, sizeof(*vbs));
    Fm__Varbind **vbp = fm_xcalloc(n_vb + 1, sizeof(*vbp));
    char *text = fm_xmalloc((n_vb + 1) * (FMW_MAX_OID + FMW_MAX_TEXT));
    size_t k = 0;

    notification_oid(pdu, trap_oid, sizeof(trap_oid));
    agent_address(pdu, agent_ip, sizeof(agent_ip));
    /* An agent address names the device explicitly (a proxy or forwarder
     * may have sent the datagram); otherwise the source address does. The
     * poller knows the address each device is polled at (a host name
     * resolved at the device's first poll). */
    d = snmp_poll_device_at(t->poller, agent_ip);
    if (d == NULL)
        d = snmp_poll_device_at(t->poller, t->src_ip);
    map = find_mapping(d, trap_oid);
    for (const netsnmp_variable_list *vb = pdu->variables; vb; vb = vb->next_variable, k++) {
        char *o = text + k * (FMW_MAX_OID + FMW_MAX_TEXT);

        fm__varbind__init(&vbs[k]);
        oid_format(vb->name, vb->name_length, o, FMW_MAX_OID);
        format_value(vb, o + FMW_MAX_OID, FMW_MAX_TEXT);
        vbs[k].oid = o;
        vbs[k].type = (char *)type_name(vb->type);
        vbs[k].value = o + FMW_MAX_OID;
        vbp[k] = &vbs[k];
    }
    ev.ts_ms = fm_clock_wall_ms();
    ev.device = d != NULL ? d->name : "";
    ev.kind_case = FM__EVENT__KIND_TRAP;
    ev.trap = &tr;
    tr.trap_oid = trap_oid;
    tr.source = t->src;
    tr.snmp_version = pdu->version == SNMP_VERSION_1 ? 1 : pdu->version == SNMP_VERSION_3 ? 3 : 2;
    tr.inform = pdu->command == SNMP_MSG_INFORM;
    tr.n_varbinds = k;
    tr.varbinds = vbp;
    if (map != NULL) {
        tr.alarm_code = map->alarm;
        tr.alarm_state = map->state == TRAP_STATE_RAISED    ? FM__ALARM_STATE__ALARM_STATE_RAISED
                         : map->state == TRAP_STATE_CLEARED ? FM__ALARM_STATE__ALARM_STATE_CLEARED
                                                            : 0;
    }
    if (d == NULL)
        FM_INFO("trap: %s: %s from an address no device has", t->src, trap_oid);
    t->stats.received++;
    if (done != NULL)
        t->sink->emit_durable(t->sink, &ev, done, ud);
    else
        event_sink_emit(t->sink, &ev);
    free(text);
    free(vbp);
    free(vbs);
}

/* ------------------------------------------------------------ receive */

static bool community_ok(const snmp_trap_t *t, const netsnmp_pdu *pdu)
{
    const struct trap_cfg *c = &t->cfg->trap_receiver;

    for (size_t i = 0; i < c->n_communities; i++) {
        if (strlen(c->communities[i]) == pdu->community_len &&
            memcmp(c->communities[i], pdu->community, pdu->community_len) == 0)
            return true;
    }
    return false;
}

/* Which v3 notifications are accepted: net-snmp authenticates against one
 * process-wide USM user table, which also holds the users the poller
 * creates for its v3 devices (their polling credentials, localised to each
 * device's engine id). Authentication alone would therefore accept a trap
 * signed with a device's polling credentials. The receiver accepts only its
 * own users: an inform (authoritative engine: this agent) from any
 * trap_receiver.users entry, a trap (authoritative engine: the sender) only
 * from an entry whose engine_id is the sender's. Returns 0, or the drop
 * reason. */
static int user_check(const snmp_trap_t *t, const netsnmp_pdu *pdu)
{
    const struct trap_cfg *c = &t->cfg->trap_receiver;
    bool named = false;

    for (size_t i = 0; i < c->n_users; i++) {
        const struct trap_user_cfg *u = &c->users[i];
        unsigned char engine[32];
        int n;

        if (pdu->securityName == NULL || strlen(u->user) != pdu->securityNameLen ||
            memcmp(u->user, pdu->securityName, pdu->securityNameLen) != 0)
            continue;
        named = true;
        if (pdu->command == SNMP_MSG_INFORM)
            n = (int)snmpv3_get_engineID(engine, sizeof(engine));
        else if (u->engine_id[0] != '\0')
            n = snmp_target_parse_hex(u->engine_id, engine, sizeof(engine));
        else
            n = -EINVAL;
        if (n > 0 && (size_t)n == pdu->securityEngineIDLen &&
            memcmp(engine, pdu->securityEngineID, (size_t)n) == 0)
            return 0;
    }
    return named ? TRAP_DROP_ENGINE : TRAP_DROP_USER;
}

static void acknowledge(snmp_trap_t *t, netsnmp_pdu *pdu)
{
    netsnmp_pdu *reply = snmp_clone_pdu(pdu);

    if (reply == NULL)
        return;
    reply->command = SNMP_MSG_RESPONSE;
    reply->errstat = 0;
    reply->errindex = 0;
    if (snmp_sess_send(t->sessp, reply) == 0) {
        snmp_free_pdu(reply);
        FM_WARN("trap: %s: cannot acknowledge the inform", t->src);
        return;
    }
    t->stats.informs_acked++;
}

static void trap_free(snmp_trap_t *t)
{
    void (*freed_cb)(void *) = t->freed_cb;
    void *freed_arg = t->freed_arg;

    netsnmp_large_fd_set_cleanup(&t->fdset);
    free(t);
    if (freed_cb != NULL)
        freed_cb(freed_arg);
}

void snmp_trap_set_freed_cb(snmp_trap_t *t, void (*cb)(void *arg), void *arg)
{
    t->freed_cb = cb;
    t->freed_arg = arg;
}

/* The inform's event is in the spool (status 0): only now is the inform
 * acknowledged. If it could not be kept, no response goes out and the
 * device sends the inform again. */
static void on_inform_kept(int status, void *ud)
{
    struct inform_ack *a = ud;
    snmp_trap_t *t = a->t;

    t->pending_acks--;
    if (status == 0 && t->sessp != NULL && snmp_sess_send(t->sessp, a->reply) != 0) {
        t->stats.informs_acked++;
    } else {
        if (status != 0)
            FM_WARN("trap: %s: inform not acknowledged, its event was not spooled: %s", a->src,
                    strerror(-status));
        snmp_free_pdu(a->reply);
    }
    free(a);
    if (t->closed && t->pending_acks == 0)
        trap_free(t);
}

static void acknowledge_when_kept(snmp_trap_t *t, netsnmp_pdu *pdu, size_t n_vb)
{
    struct inform_ack *a;
    netsnmp_pdu *reply = snmp_clone_pdu(pdu);

    if (reply == NULL) {
        emit_trap(t, pdu, n_vb, NULL, NULL);
        return;
    }
    reply->command = SNMP_MSG_RESPONSE;
    reply->errstat = 0;
    reply->errindex = 0;
    a = fm_xcalloc(1, sizeof(*a));
    a->t = t;
    a->reply = reply;
    snprintf(a->src, sizeof(a->src), "%s", t->src);
    t->pending_acks++;
    emit_trap(t, pdu, n_vb, on_inform_kept, a);
}

static int on_notification(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
    snmp_trap_t *t = magic;
    size_t n_vb = 0;

    t->delivered = true;
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || pdu == NULL)
        return 1;
    /* A v3 message that failed USM checks arrives without a PDU type and
     * with the reason in the session's error. */
    if (pdu->command == 0 && pdu->version == SNMP_VERSION_3) {
        int e = sess->s_snmp_errno;

        drop(t, e == SNMPERR_UNKNOWN_USER_NAME || e == SNMPERR_USM_UNKNOWNSECURITYNAME
                    ? TRAP_DROP_USER
                    : TRAP_DROP_AUTH);
        return 1;
    }
    if (pdu->command != SNMP_MSG_TRAP && pdu->command != SNMP_MSG_TRAP2 &&
        pdu->command != SNMP_MSG_INFORM) {
        FM_DEBUG("trap: %s: PDU type %d, version %ld, error %d", t->src, pdu->command, pdu->version,
                 sess->s_snmp_errno);
        drop(t, TRAP_DROP_NOT_NOTIFICATION);
        return 1;
    }
    if (pdu->version == SNMP_VERSION_3) {
        int why = user_check(t, pdu);

        if (why != 0) {
            drop(t, (enum snmp_trap_drop)why);
            return 1;
        }
    } else if (!community_ok(t, pdu)) {
        drop(t, TRAP_DROP_COMMUNITY);
        return 1;
    }
    for (const netsnmp_variable_list *vb = pdu->variables; vb; vb = vb->next_variable)
        n_vb++;
    if (n_vb > FMW_MAX_VARBINDS) {
        drop(t, TRAP_DROP_TOO_MANY_VARBINDS);
        return 1;
    }
    if (pdu->command == SNMP_MSG_INFORM && event_sink_durable(t->sink)) {
        acknowledge_when_kept(t, pdu, n_vb);
        return 1;
    }
    if (pdu->command == SNMP_MSG_INFORM)
        acknowledge(t, pdu);
    emit_trap(t, pdu, n_vb, NULL, NULL);
    return 1;
}

/* The source in the canonical form devices' addresses have (fm_addr.h):
 * an IPv4 sender on a dual-stack socket is named as IPv4, an IPv6 one
 * compressed, a link-local one with its interface. */
static void set_source(snmp_trap_t *t, const struct sockaddr_storage *ss)
{
    int port = 0;

    fm_addr_from_sockaddr((const struct sockaddr *)ss, t->src_ip, sizeof(t->src_ip), &port);
    snprintf(t->src, sizeof(t->src), strchr(t->src_ip, ':') != NULL ? "[%s]:%d" : "%s:%d",
             t->src_ip, port);
}

/* Why net-snmp refused the datagram just read, from its counters. */
enum verdict { V_DISCOVERY, V_AUTH, V_USER, V_MALFORMED };
static const int auth_stats[] = {STAT_USMSTATSWRONGDIGESTS, STAT_USMSTATSDECRYPTIONERRORS,
                                 STAT_USMSTATSUNSUPPORTEDSECLEVELS};

static void snapshot(u_int *s)
{
    s[0] = snmp_get_statistic(STAT_USMSTATSUNKNOWNENGINEIDS) +
           snmp_get_statistic(STAT_USMSTATSNOTINTIMEWINDOWS);
    s[1] = 0;
    for (size_t i = 0; i < sizeof(auth_stats) / sizeof(auth_stats[0]); i++)
        s[1] += snmp_get_statistic(auth_stats[i]);
    s[2] = snmp_get_statistic(STAT_USMSTATSUNKNOWNUSERNAMES);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    snmp_trap_t *t = h->data;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    unsigned char byte;
    u_int before[3], after[3];
    ssize_t n;

    if (status < 0) {
        FM_WARN("trap: socket error: %s", uv_strerror(status));
        return;
    }
    /* MSG_TRUNC makes Linux return the datagram's full length. */
    n = recvfrom(t->fd, &byte, 1, MSG_PEEK | MSG_TRUNC, (struct sockaddr *)&ss, &sl);
    if (n < 0)
        return; /* EAGAIN: another wakeup already consumed it */
    set_source(t, &ss);
    if ((uint64_t)n > t->cfg->trap_receiver.max_packet) {
        (void)recv(t->fd, &byte, 1, MSG_TRUNC); /* discards the datagram */
        drop(t, TRAP_DROP_OVERSIZE);
        return;
    }
    snapshot(before);
    t->delivered = false;
    NETSNMP_LARGE_FD_SET(t->fd, &t->fdset);
    snmp_sess_read2(t->sessp, &t->fdset);
    NETSNMP_LARGE_FD_CLR(t->fd, &t->fdset);
    if (t->delivered)
        return;
    snapshot(after);
    if (after[0] != before[0])
        return; /* v3 discovery or time sync: net-snmp sent the Report */
    if (after[1] != before[1])
        drop(t, TRAP_DROP_AUTH);
    else if (after[2] != before[2])
        drop(t, TRAP_DROP_USER);
    else
        drop(t, TRAP_DROP_MALFORMED);
}

/* ------------------------------------------------------------ set-up */

/* Adds a USM user through net-snmp's own createUser parser, which derives
 * and localises the keys. Without engine: the agent's engine id (informs). */
static void add_user(const struct trap_user_cfg *u, const char *engine)
{
    char line[1024];
    int n = 0;

    if (engine != NULL)
        n = snprintf(line, sizeof(line), "-e %s ", engine);
    if (u->auth_protocol == SNMP_AUTH_NONE)
        snprintf(line + n, sizeof(line) - (size_t)n, "%s", u->user);
    else if (u->priv_protocol == SNMP_PRIV_NONE)
        snprintf(line + n, sizeof(line) - (size_t)n, "%s %s \"%s\"", u->user,
                 snmp_usm_auth_token(u->auth_protocol), u->auth_passphrase);
    else
        snprintf(line + n, sizeof(line) - (size_t)n, "%s %s \"%s\" %s \"%s\"", u->user,
                 snmp_usm_auth_token(u->auth_protocol), u->auth_passphrase,
                 snmp_usm_priv_token(u->priv_protocol), u->priv_passphrase);
    usm_parse_create_usmUser("createUser", line);
    memset(line, 0, sizeof(line)); /* it held passphrases */
}

/* net-snmp's transport spec for listen: udp6:[address]:port for IPv6
 * (net-snmp's udp6 socket is IPv6 only), udp:host:port otherwise. */
static int listen_spec(const char *listen, char *out, size_t cap)
{
    char host[256];
    int port, kind = fm_addr_split(listen, host, sizeof(host), &port, NULL);

    if (kind < 0)
        return -EINVAL;
    if (kind == FM_ADDR_IPV6)
        snprintf(out, cap, "udp6:[%s]:%d", host, port);
    else
        snprintf(out, cap, "udp:%s:%d", host, port);
    return 0;
}

int snmp_trap_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                     snmp_trap_t **out)
{
    const struct trap_cfg *c = &cfg->trap_receiver;
    snmp_trap_t *t;
    netsnmp_transport *tp;
    netsnmp_session s;
    char spec[300];
    int rc;

    if (listen_spec(c->listen, spec, sizeof(spec)) != 0) {
        FM_ERR("trap: listen '%s': not address:port ([address]:port for IPv6)", c->listen);
        return -EINVAL;
    }
    snmp_target_init();
    for (size_t i = 0; i < c->n_users; i++) {
        add_user(&c->users[i], NULL);
        if (c->users[i].engine_id[0] != '\0')
            add_user(&c->users[i], c->users[i].engine_id);
    }
    tp = netsnmp_transport_open_server("snmptrap", spec);
    if (tp == NULL) {
        FM_ERR("trap: cannot listen on %s: address in use, not local, or not permitted "
               "(ports below 1024 need CAP_NET_BIND_SERVICE)",
               c->listen);
        return -EADDRINUSE;
    }
    t = fm_xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->cfg = cfg;
    t->sink = sink;
    snmp_sess_init(&s);
    s.peername = SNMP_DEFAULT_PEERNAME;
    s.version = SNMP_DEFAULT_VERSION;
    s.retries = 0;
    s.timeout = 0;
    s.callback = on_notification;
    s.callback_magic = t;
    s.isAuthoritative = SNMP_SESS_UNKNOWNAUTH;
    t->fd = tp->sock;
    t->sessp = snmp_sess_add(&s, tp, NULL, NULL);
    if (t->sessp == NULL) {
        FM_ERR("trap: cannot set up the receiving session on %s", c->listen);
        free(t);
        return -EIO;
    }
    netsnmp_large_fd_set_init(&t->fdset, t->fd + 1 > FD_SETSIZE ? t->fd + 1 : FD_SETSIZE);
    NETSNMP_LARGE_FD_ZERO(&t->fdset);
    rc = uv_poll_init_socket(loop, &t->poll, t->fd);
    if (rc == 0)
        rc = uv_poll_start(&t->poll, UV_READABLE, on_readable);
    if (rc != 0) {
        FM_ERR("trap: cannot watch %s: %s", c->listen, uv_strerror(rc));
        snmp_sess_close(t->sessp);
        netsnmp_large_fd_set_cleanup(&t->fdset);
        free(t);
        return rc;
    }
    t->poll.data = t;
    FM_INFO("trap: receiving on %s", c->listen);
    *out = t;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    snmp_trap_t *t = h->data;

    /* Informs still waiting for the spool keep t alive until they end. */
    t->closed = true;
    if (t->pending_acks == 0)
        trap_free(t);
}

void snmp_trap_destroy(snmp_trap_t *t)
{
    uint64_t dropped = 0;
    char why[512];
    size_t n = 0;

    if (t == NULL)
        return;
    why[0] = '\0';
    for (int i = 0; i < TRAP_DROP_N; i++) {
        dropped += t->stats.dropped[i];
        if (t->stats.dropped[i] > 0 && n < sizeof(why))
            n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%s %" PRIu64, n ? ", " : "",
                                  drop_names[i], t->stats.dropped[i]);
    }
    FM_INFO("trap: received %" PRIu64 ", informs acknowledged %" PRIu64 ", dropped %" PRIu64
            "%s%s%s",
            t->stats.received, t->stats.informs_acked, dropped, n ? " (" : "", why, n ? ")" : "");
    /* Stop watching the socket before net-snmp closes it. */
    uv_close((uv_handle_t *)&t->poll, on_closed);
    snmp_sess_close(t->sessp);
    t->sessp = NULL;
}

void snmp_trap_set_poller(snmp_trap_t *t, const snmp_poll_t *poller)
{
    if (t != NULL)
        t->poller = poller;
}

const struct snmp_trap_stats *snmp_trap_stats(const snmp_trap_t *t)
{
    return &t->stats;
}
