/* snmp_usm: the SNMPv3 (USM) protocols the agent speaks, one table row
 * each: the name in the configuration, net-snmp's name and OID, the key
 * length, and the risk logged when a weak one is configured.
 *
 * Authentication: md5, sha1 (older spelling `sha`), sha224, sha256, sha384,
 * sha512 (HMAC-SHA-2 of RFC 7860). Privacy: des, aes128 (`aes`), aes192 and
 * aes256 (draft-blumenthal-aes-usm-04, net-snmp's usmAES192PrivProtocol and
 * usmAES256PrivProtocol), aes192c and aes256c (the same ciphers with the
 * Reeder key extension, net-snmp's AES-192-C / AES-256-C, as Cisco devices
 * do it). A privacy key longer than the authentication hash (aes256 with
 * md5, sha1 or sha224; aes192 with md5) is extended by net-snmp with the
 * method of the protocol's draft.
 *
 * snmp_usm_check runs at configuration load (config.c) for every v3 device
 * and trap user. The rest maps the enums of config.h to net-snmp for
 * snmp_target.c (sessions) and snmp_trap.c (trap users). */
#ifndef AGENT_SNMP_USM_H
#define AGENT_SNMP_USM_H

#include "fm_conf.h"

#include <stddef.h>

/* The configuration names, indexed by enum snmp_auth_proto and enum
 * snmp_priv_proto; NULL-terminated for the key tables. */
extern const char *const snmp_usm_auth_names[];
extern const char *const snmp_usm_priv_names[];

/* The v3 credentials of a device or trap user, borrowed from its config. */
struct snmp_usm_creds {
    const char *user;
    int *auth;            /* enum snmp_auth_proto; an older spelling is folded in */
    const char *authpass; /* "" when none */
    int *priv;            /* enum snmp_priv_proto; likewise */
    const char *privpass;
    const char *engine_id; /* hex or "" */
};

/* Checks c for the mapping at path (e.g. "devices[3].snmp"): a user name,
 * privacy only with authentication, passphrases of 8 characters or more,
 * an engine id in hex. Folds `sha` and `aes` into sha1 and aes128. Logs one
 * warning per weak protocol (md5, des) naming file, line and key. Returns 0,
 * or -EINVAL with "file:line: path: key: why" in err. */
int snmp_usm_check(const fmc_doc_t *doc, const char *path, const struct snmp_usm_creds *c,
                   char *err, size_t errlen);

/* net-snmp's name of a protocol, as `snmpget -a` / `-x` and createUser take
 * it ("SHA-512", "AES-256-C"); NULL for none. */
const char *snmp_usm_auth_token(int auth);
const char *snmp_usm_priv_token(int priv);

#endif
