/* snmp_usm: see snmp_usm.h. */
#include "snmp_usm.h"

#include "config.h"

#include "fm_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The names in the configuration are snmp_usm_auth_names and
 * snmp_usm_priv_names, in the same order. */
struct usm_proto {
    const char *token; /* net-snmp's (createUser, snmpget -a/-x) */
    const char *risk;  /* not NULL: accepted with this warning */
};

/* Indexed by enum snmp_auth_proto. */
static const struct usm_proto auth_protos[] = {
    [SNMP_AUTH_NONE] = {NULL, NULL},
    [SNMP_AUTH_MD5] = {"MD5",
                       "HMAC-MD5 is a broken hash; use sha256 or stronger if the device has it"},
    [SNMP_AUTH_SHA1] = {"SHA", NULL},
    [SNMP_AUTH_SHA224] = {"SHA-224", NULL},
    [SNMP_AUTH_SHA256] = {"SHA-256", NULL},
    [SNMP_AUTH_SHA384] = {"SHA-384", NULL},
    [SNMP_AUTH_SHA512] = {"SHA-512", NULL},
    [SNMP_AUTH_SHA_ALIAS] = {"SHA", NULL},
};

/* Indexed by enum snmp_priv_proto. */
static const struct usm_proto priv_protos[] = {
    [SNMP_PRIV_NONE] = {NULL, NULL},
    [SNMP_PRIV_DES] = {"DES",
                       "DES has a 56-bit key that can be found by brute force; use aes128 or "
                       "stronger if the device has it"},
    [SNMP_PRIV_AES128] = {"AES", NULL},
    [SNMP_PRIV_AES192] = {"AES-192", NULL},
    [SNMP_PRIV_AES256] = {"AES-256", NULL},
    [SNMP_PRIV_AES192C] = {"AES-192-C", NULL},
    [SNMP_PRIV_AES256C] = {"AES-256-C", NULL},
    [SNMP_PRIV_AES_ALIAS] = {"AES", NULL},
};

#define N_AUTH (sizeof(auth_protos) / sizeof(auth_protos[0]))
#define N_PRIV (sizeof(priv_protos) / sizeof(priv_protos[0]))

const char *const snmp_usm_auth_names[] = {"none",   "md5",    "sha1", "sha224", "sha256",
                                           "sha384", "sha512", "sha",  NULL};
const char *const snmp_usm_priv_names[] = {"none",    "des",     "aes128", "aes192", "aes256",
                                           "aes192c", "aes256c", "aes",    NULL};

const char *snmp_usm_auth_token(int auth)
{
    return (unsigned)auth < N_AUTH ? auth_protos[auth].token : NULL;
}

const char *snmp_usm_priv_token(int priv)
{
    return (unsigned)priv < N_PRIV ? priv_protos[priv].token : NULL;
}

static bool is_hex(const char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n == 0 || n % 2 != 0 || n > 64)
        return false;
    return strspn(s, "0123456789abcdefABCDEF") == n;
}

/* One line per weak protocol: "config: file:line: path.key: name: risk". */
static void warn_risk(const fmc_doc_t *doc, const char *path, const char *key,
                      const struct usm_proto *p, const char *name)
{
    char at[160], msg[512];

    if (p->risk == NULL)
        return;
    snprintf(at, sizeof(at), "%s.%s", path, key);
    (void)fmc_errorf(doc, msg, sizeof(msg), at, "%s: %s", name, p->risk);
    FM_WARN("config: %s", msg);
}

int snmp_usm_check(const fmc_doc_t *doc, const char *path, const struct snmp_usm_creds *c,
                   char *err, size_t errlen)
{
    if (*c->auth == SNMP_AUTH_SHA_ALIAS)
        *c->auth = SNMP_AUTH_SHA1;
    if (*c->priv == SNMP_PRIV_AES_ALIAS)
        *c->priv = SNMP_PRIV_AES128;
    if (c->user == NULL || *c->user == '\0')
        return fmc_errorf(doc, err, errlen, path, "user: version 3 needs a user name");
    if (*c->auth != SNMP_AUTH_NONE && strlen(c->authpass) < 8)
        return fmc_errorf(doc, err, errlen, path, "auth_passphrase: needs at least 8 characters");
    if (*c->priv != SNMP_PRIV_NONE && *c->auth == SNMP_AUTH_NONE)
        return fmc_errorf(doc, err, errlen, path, "priv_protocol: privacy needs an auth_protocol");
    if (*c->priv != SNMP_PRIV_NONE && strlen(c->privpass) < 8)
        return fmc_errorf(doc, err, errlen, path, "priv_passphrase: needs at least 8 characters");
    if (c->engine_id != NULL && *c->engine_id != '\0' && !is_hex(c->engine_id))
        return fmc_errorf(doc, err, errlen, path, "engine_id: '%s' is not 1-32 bytes of hex",
                          c->engine_id);
    warn_risk(doc, path, "auth_protocol", &auth_protos[*c->auth], snmp_usm_auth_names[*c->auth]);
    warn_risk(doc, path, "priv_protocol", &priv_protos[*c->priv], snmp_usm_priv_names[*c->priv]);
    return 0;
}
