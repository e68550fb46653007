/* snmp_target: net-snmp set-up for the agent, and one net-snmp session per
 * device.
 *
 * snmp_target_init configures net-snmp for a daemon that uses numeric OIDs
 * only: no MIB files, no snmp.conf from the user's home, no persistent state
 * files. snmp_target_open opens a single-session-API session (one UDP socket)
 * for a device with its version, community or USM credentials, timeout and
 * retries. SNMPv3 sessions are opened without the blocking engine-id probe
 * that snmp_sess_open normally does; the poller discovers the engine id
 * asynchronously (snmp_target_probe_pdu, snmp_target_set_engine_id), so a
 * dead v3 device never blocks the loop.
 *
 * All functions run on the loop thread (net-snmp's global state is not
 * locked). */
#ifndef AGENT_SNMP_TARGET_H
#define AGENT_SNMP_TARGET_H

#include "config.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include <stdbool.h>
#include <stddef.h>

/* Initialises net-snmp once per process (further calls do nothing). */
void snmp_target_init(void);
/* Releases net-snmp's global state; call after every session is closed. */
void snmp_target_shutdown(void);

/* net-snmp's build hook (snmp_sess_add_ex's frbuild): writes the whole
 * message for pdu at the start of *buf (which it may grow with realloc,
 * updating *buf_len) and its length in *len. 0, or -1 to fail the send. */
typedef int (*snmp_target_build_fn)(netsnmp_session *s, netsnmp_pdu *pdu, u_char **buf,
                                    size_t *buf_len, size_t *len);

/* Opens the session of d (borrowed for the session's lifetime) to addr, a
 * numeric IPv4 or IPv6 address (d's host, or what its name resolved to:
 * net-snmp would resolve a name itself, blocking). A v1/v2c session gets
 * `build` (if not NULL) as its build hook; the session's myvoid is `app`.
 * Returns the opaque single-session pointer, or NULL with the reason in err
 * (secrets are never written there). Close with snmp_sess_close. */
void *snmp_target_open(const struct device_cfg *d, const char *addr, snmp_target_build_fn build,
                       void *app, char *err, size_t errlen);

/* True when host is a numeric IPv4 or IPv6 address, IPv6 bare or in
 * brackets, with or without a zone (no resolution needed). */
bool snmp_target_is_numeric(const char *host);

/* Writes numeric address host in its canonical form (fm_addr.h: no
 * brackets, IPv6 compressed and lower case, zone kept), as the trap receiver
 * sees sources; other text is copied as is. */
void snmp_target_canonical(const char *host, char *out, size_t cap);

/* Builds the USM key (Ku) of passphrase for an auth protocol into key.
 * Returns 0 or -EINVAL. Used by the trap receiver too. */
int snmp_target_ku(int auth_proto, const char *pass, unsigned char *key, size_t *keylen);

/* Sets the session's security level and auth/priv protocol OIDs for the
 * config enums (snmp_usm.h). 0, or -ENOTSUP if net-snmp lacks one. */
int snmp_target_set_protocols(netsnmp_session *s, int auth_proto, int priv_proto);

/* Parses hex ("0x80001f88..." or "80001f88...") into buf. Returns the byte
 * count, or -EINVAL. */
int snmp_target_parse_hex(const char *hex, unsigned char *buf, size_t cap);

/* Returns a new engine-id discovery PDU (an empty unauthenticated GET that
 * the device answers with a Report carrying its engine id). */
netsnmp_pdu *snmp_target_probe_pdu(void);

/* Stores the engine id found in report into the session if it has none,
 * or (replace) if it has another one, and localises its keys for it.
 * Returns 0, 1 if the engine id changed, or -EPROTO if the report carries
 * no engine id. */
int snmp_target_set_engine_id(void *sessp, const netsnmp_pdu *report, bool replace);

#endif
