/* snmp_trap: the trap and inform receiver.
 *
 * Listens on one UDP address (trap_receiver.listen) with a net-snmp server
 * session driven by the libuv loop (uv_poll on its socket). Accepts SNMPv1
 * and v2c notifications carrying one of the configured communities, and
 * SNMPv3 ones from the configured USM users (traps: the user's engine_id;
 * informs: the agent's own engine id). Informs are acknowledged: at once
 * when the sink keeps nothing (JSON), and only once their event is spooled
 * when the sink is durable (event_sink.h, emit_durable). Each
 * notification becomes a Trap event with its varbinds, attached to the
 * device whose address sent it (or named by the agent-address field of a
 * v1 trap or the snmpTrapAddress.0 varbind), and mapped to an alarm code by
 * that device's profile.
 *
 * Datagrams larger than max_packet, packets that do not parse, wrong
 * communities, failed v3 authentication and unknown users are dropped and
 * counted by reason; each source is logged at most once a minute.
 *
 * Loop thread only. */
#ifndef AGENT_SNMP_TRAP_H
#define AGENT_SNMP_TRAP_H

#include "config.h"
#include "event_sink.h"
#include "snmp_poll.h"

#include <stdint.h>
#include <uv.h>

typedef struct snmp_trap snmp_trap_t;

enum snmp_trap_drop {
    TRAP_DROP_OVERSIZE,
    TRAP_DROP_MALFORMED,
    TRAP_DROP_COMMUNITY,
    TRAP_DROP_AUTH,
    TRAP_DROP_USER,
    TRAP_DROP_NOT_NOTIFICATION,
    TRAP_DROP_TOO_MANY_VARBINDS,
    TRAP_DROP_ENGINE, /* v3 trap user not configured for the sender's engine id */
    TRAP_DROP_N,
};

struct snmp_trap_stats {
    uint64_t received; /* notifications turned into events */
    uint64_t informs_acked;
    uint64_t dropped[TRAP_DROP_N];
};

/* Opens the receiver (cfg and sink borrowed; must outlive it). Returns 0
 * with *out, or a negative errno after logging why (address in use, bad
 * listen address, user set-up). */
int snmp_trap_create(uv_loop_t *loop, const struct agent_cfg *cfg, event_sink_t *sink,
                     snmp_trap_t **out);

/* Stops receiving and frees the receiver once libuv has closed its handle
 * (run the loop until it is empty). Logs the counters. NULL does nothing. */
void snmp_trap_destroy(snmp_trap_t *t);

/* Calls cb(arg) once the receiver's memory is freed after snmp_trap_destroy
 * (its handle closed and every inform waiting for the spool answered or
 * dropped): from then on it borrows nothing of the configuration. Loop
 * thread. */
void snmp_trap_set_freed_cb(snmp_trap_t *t, void (*cb)(void *arg), void *arg);

const struct snmp_trap_stats *snmp_trap_stats(const snmp_trap_t *t);

/* Matches notifications to devices by the addresses poller polls them at
 * (borrowed; set it again, or to NULL, before destroying the poller), which
 * covers devices configured by host name. Without a poller (no SNMP
 * devices) notifications have no device. t may be NULL. */
void snmp_trap_set_poller(snmp_trap_t *t, const snmp_poll_t *poller);

/* Static name of a drop reason ("oversize", "wrong community", ...). */
const char *snmp_trap_drop_name(enum snmp_trap_drop why);

#endif
