/* snmp_server: the UDP side of the SNMP devices.
 *
 * Each device owns one uv_udp_t bound to its address and port. Requests are
 * answered by snmp_agent from the device's view; a dead device stays silent,
 * a slow one answers after its delay (one timer per delayed reply). Traps and
 * informs leave from the device's own socket, so a receiver sees the
 * device's address as their source; informs are resent until the receiver's
 * response arrives on that socket or the retries run out. */
#ifndef SIM_SNMP_SERVER_H
#define SIM_SNMP_SERVER_H

#include "sim.h"

#include <stddef.h>

/* Binds and starts the device. 0, or -errno with "address:port: why" in err. */
int snmp_server_start(struct sim_dev *d, char *err, size_t errlen);

/* Sends a v2c trap or inform (per the fleet's traps settings) with sysUpTime,
 * snmpTrapOID = trap, and the current values of objects (absent ones are
 * skipped). 0, or -ENOTCONN (no receiver configured) / -EMSGSIZE / -errno. */
int snmp_server_notify(struct sim_dev *d, const struct ber_oid *trap, const struct ber_oid *objects,
                       size_t n);

/* Closes the device's socket and cancels its delayed replies and informs;
 * each closed handle decrements sim->closing when its close completes. */
void snmp_server_stop(struct sim_dev *d);

/* Informs sent and acknowledged so far, and traps sent (for `status`). */
struct snmp_server_stats {
    uint64_t requests, answered, dropped, malformed, traps, informs, inform_acks;
    uint64_t dropped_big; /* answers withheld by a drop-big fault */
};
extern struct snmp_server_stats snmp_server_stats;

#endif
