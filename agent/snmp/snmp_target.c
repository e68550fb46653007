/* snmp_target: see snmp_target.h. */
#include "snmp_target.h"

#include "snmp_usm.h"

#include "fm_addr.h"
#include "fm_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool target_initialised;

/* net-snmp's own messages (one per bad packet, for instance) go to our log
 * at debug level: the modules log what matters once, rate-limited. */
static int on_netsnmp_log(int major, int minor, void *serverarg, void *clientarg)
{
    const struct snmp_log_message *m = serverarg;
    size_t n;

    if (m == NULL || m->msg == NULL)
        return 0;
    n = strcspn(m->msg, "\n");
    FM_DEBUG("net-snmp: %.*s", (int)n, m->msg);
    return 0;
}

void snmp_target_init(void)
{
    if (target_initialised)
        return;
    target_initialised = true;
    /* Numeric OIDs only: an empty MIB list and path make init_snmp skip
     * reading MIB files, which would cost start-up time and memory. */
    setenv("MIBS", "", 1);
    setenv("MIBDIRS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_NO_TOKEN_WARNINGS, 1);
    snmp_disable_log();
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_netsnmp_log, NULL);
    init_snmp("fieldmon-agent");
}

void snmp_target_shutdown(void)
{
    if (!target_initialised)
        return;
    snmp_shutdown("fieldmon-agent");
    target_initialised = false;
}

int snmp_target_parse_hex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = 0;

    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        hex += 2;
    while (hex[0] != '\0') {
        unsigned v;

        if (hex[1] == '\0' || n == cap || sscanf(hex, "%2x", &v) != 1)
            return -EINVAL;
        buf[n++] = (unsigned char)v;
        hex += 2;
    }
    return n > 0 ? (int)n : -EINVAL;
}

/* net-snmp's OID of a protocol, by its name (snmp_usm_*_token). */
static oid *auth_oid(int auth_proto, size_t *len)
{
    const char *token = snmp_usm_auth_token(auth_proto);

    return token != NULL ? sc_get_auth_oid(usm_lookup_auth_type(token), len) : NULL;
}

static oid *priv_oid(int priv_proto, size_t *len)
{
    const char *token = snmp_usm_priv_token(priv_proto);

    return token != NULL ? sc_get_priv_oid(usm_lookup_priv_type(token), len) : NULL;
}

int snmp_target_set_protocols(netsnmp_session *s, int auth_proto, int priv_proto)
{
    s->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    if (auth_proto == SNMP_AUTH_NONE)
        return 0;
    s->securityAuthProto = auth_oid(auth_proto, &s->securityAuthProtoLen);
    if (s->securityAuthProto == NULL)
        return -ENOTSUP;
    s->securityLevel = SNMP_SEC_LEVEL_AUTHNOPRIV;
    if (priv_proto == SNMP_PRIV_NONE)
        return 0;
    s->securityPrivProto = priv_oid(priv_proto, &s->securityPrivProtoLen);
    if (s->securityPrivProto == NULL)
        return -ENOTSUP;
    s->securityLevel = SNMP_SEC_LEVEL_AUTHPRIV;
    return 0;
}

int snmp_target_ku(int auth_proto, const char *pass, unsigned char *key, size_t *keylen)
{
    size_t plen;
    const oid *proto = auth_oid(auth_proto, &plen);

    if (proto == NULL || generate_Ku(proto, (u_int)plen, (const u_char *)pass, strlen(pass), key,
                                     keylen) != SNMPERR_SUCCESS)
        return -EINVAL;
    return 0;
}

static int set_v3(netsnmp_session *s, const struct snmp_dev_cfg *c, unsigned char *engine,
                  char *err, size_t errlen)
{
    int n;

    s->securityName = c->user;
    s->securityNameLen = strlen(c->user);
    s->securityModel = SNMP_SEC_MODEL_USM;
    if (snmp_target_set_protocols(s, c->auth_protocol, c->priv_protocol) != 0) {
        snprintf(err, errlen, "this net-snmp library lacks auth_protocol %s or priv_protocol %s",
                 snmp_usm_auth_names[c->auth_protocol], snmp_usm_priv_names[c->priv_protocol]);
        return -ENOTSUP;
    }
    if (c->auth_protocol != SNMP_AUTH_NONE) {
        s->securityAuthKeyLen = USM_AUTH_KU_LEN;
        if (snmp_target_ku(c->auth_protocol, c->auth_passphrase, s->securityAuthKey,
                           &s->securityAuthKeyLen) != 0) {
            snprintf(err, errlen, "cannot derive the authentication key");
            return -EINVAL;
        }
    }
    if (c->priv_protocol != SNMP_PRIV_NONE) {
        s->securityPrivKeyLen = USM_PRIV_KU_LEN;
        if (snmp_target_ku(c->auth_protocol, c->priv_passphrase, s->securityPrivKey,
                           &s->securityPrivKeyLen) != 0) {
            snprintf(err, errlen, "cannot derive the privacy key");
            return -EINVAL;
        }
    }
    if (c->context[0] != '\0') {
        s->contextName = c->context;
        s->contextNameLen = strlen(c->context);
    }
    if (c->engine_id[0] != '\0') {
        n = snmp_target_parse_hex(c->engine_id, engine, 32);
        if (n < 0) {
            snprintf(err, errlen, "engine_id is not hex");
            return -EINVAL;
        }
        s->securityEngineID = engine;
        s->securityEngineIDLen = (size_t)n;
    }
    /* Engine-id discovery is done asynchronously by the poller. */
    s->flags |= SNMP_FLAGS_DONT_PROBE;
    return 0;
}

bool snmp_target_is_numeric(const char *host)
{
    return fm_addr_check_host(host, NULL) > 0;
}

/* Opens a v1/v2c session whose requests `build` encodes: what
 * snmp_sess_open does (net-snmp's UDP transport for the peer, then
 * snmp_sess_add), with the build hook added. */
static void *open_with_build(netsnmp_session *s, snmp_target_build_fn build)
{
    netsnmp_transport *t =
        netsnmp_tdomain_transport_full("snmp", s->peername, s->local_port, "udp,udp6", NULL);

    if (t == NULL) {
        s->s_snmp_errno = SNMPERR_BAD_ADDRESS;
        s->s_errno = errno;
        return NULL;
    }
    return snmp_sess_add_ex(s, t, NULL, NULL, NULL, NULL, build, NULL, NULL);
}

void snmp_target_canonical(const char *host, char *out, size_t cap)
{
    fm_addr_canonical(host, out, cap);
}

void *snmp_target_open(const struct device_cfg *d, const char *addr, snmp_target_build_fn build,
                       void *app, char *err, size_t errlen)
{
    const struct snmp_dev_cfg *c = &d->snmp;
    netsnmp_session s;
    unsigned char engine[32];
    char peer[300];
    void *sessp;

    snmp_sess_init(&s);
    if (strchr(addr, ':') != NULL)
        snprintf(peer, sizeof(peer), "udp6:[%s]:%d", addr, (int)c->port);
    else
        snprintf(peer, sizeof(peer), "udp:%s:%d", addr, (int)c->port);
    s.peername = peer;
    s.timeout = (long)c->timeout_ms * 1000L;
    s.retries = (int)c->retries;
    s.rcvMsgMaxSize = (size_t)c->max_msg_size;
    switch (c->version) {
    case SNMP_VERSION_CFG_1:
    case SNMP_VERSION_CFG_2C:
        s.version = c->version == SNMP_VERSION_CFG_1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
        s.community = (u_char *)c->community;
        s.community_len = strlen(c->community);
        break;
    default:
        s.version = SNMP_VERSION_3;
        if (set_v3(&s, c, engine, err, errlen) != 0)
            return NULL;
        break;
    }
    s.myvoid = app;
    if (build != NULL && s.version != SNMP_VERSION_3)
        sessp = open_with_build(&s, build);
    else
        sessp = snmp_sess_open(&s);
    if (sessp == NULL) {
        int liberr, syserr;
        char *msg = NULL;

        snmp_error(&s, &syserr, &liberr, &msg);
        snprintf(err, errlen, "cannot open session to %s: %s", peer, msg ? msg : "unknown error");
        free(msg);
        return NULL;
    }
    if (s.version == SNMP_VERSION_3 && s.securityEngineIDLen > 0 &&
        create_user_from_session(snmp_sess_session(sessp)) != SNMPERR_SUCCESS) {
        snprintf(err, errlen, "cannot set up the USM user for %s", peer);
        snmp_sess_close(sessp);
        return NULL;
    }
    return sessp;
}

netsnmp_pdu *snmp_target_probe_pdu(void)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

    pdu->version = SNMP_VERSION_3;
    pdu->securityName = strdup("");
    pdu->securityNameLen = 0;
    pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    pdu->securityModel = SNMP_SEC_MODEL_USM;
    return pdu;
}

/* Sets *id (owned by the session) to the report's engine id. */
static void take_engine_id(u_char **id, size_t *len, const netsnmp_pdu *report)
{
    free(*id);
    *id = netsnmp_memdup(report->securityEngineID, report->securityEngineIDLen);
    *len = report->securityEngineIDLen;
}

int snmp_target_set_engine_id(void *sessp, const netsnmp_pdu *report, bool replace)
{
    netsnmp_session *s = snmp_sess_session(sessp);
    int changed = 0;

    if (report->securityEngineIDLen == 0 || report->securityEngineID == NULL)
        return -EPROTO;
    if (s->securityEngineIDLen > 0 && replace &&
        (s->securityEngineIDLen != report->securityEngineIDLen ||
         memcmp(s->securityEngineID, report->securityEngineID, s->securityEngineIDLen) != 0)) {
        /* The context engine id followed the old one: it follows the new. */
        s->contextEngineIDLen = 0;
        s->securityEngineIDLen = 0;
        changed = 1;
    }
    if (s->securityEngineIDLen == 0)
        take_engine_id(&s->securityEngineID, &s->securityEngineIDLen, report);
    if (s->contextEngineIDLen == 0)
        take_engine_id(&s->contextEngineID, &s->contextEngineIDLen, report);
    return create_user_from_session(s) == SNMPERR_SUCCESS ? changed : -EPROTO;
}
