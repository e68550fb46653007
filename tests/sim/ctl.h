/* ctl: the control socket, a unix stream socket with a line protocol.
 *
 * A client writes one command per line; the simulator answers with zero or
 * more lines of data, then `ok` or `error: <reason>`. Commands (see `help`
 * and docs/simulator.md):
 *
 *   help | list | ports | status DEVICE | get DEVICE POINT
 *   dead DEVICE | slow DEVICE MS | exception DEVICE CODE
 *   garble DEVICE MODE | error DEVICE STATUS [INDEX] | set DEVICE POINT=VALUE... [trap=OID]
 *   flap DEVICE SECONDS dead|POINT=VALUE... | data DEVICE TEMPLATE
 *   trap DEVICE OID [OID...] | bus BUS [reset] | site-dead SITE | site-alive SITE
 *   clear DEVICE | clear-all
 *
 * Commands are executed on the loop thread between requests, so a fault
 * applies from the next request a device receives. */
#ifndef SIM_CTL_H
#define SIM_CTL_H

#include "sim.h"

#include <stddef.h>

/* Default socket path: $FIELDMON_SIM_CONTROL, else /tmp/fieldmon-sim-UID.sock.
 * Returns a static buffer. */
const char *ctl_default_path(void);

/* Listens on path (an existing socket file is replaced). 0 or a negative
 * libuv error with err. */
int ctl_start(struct sim *s, const char *path, char *err, size_t errlen);

/* Closes the listener and clients (sim->closing counts them) and removes
 * the socket file. */
void ctl_stop(struct sim *s);

/* Executes one command line; appends the answer lines (each ending in
 * '\n', the last being `ok` or `error: ...`) to out, which grows as needed
 * (out, len and cap; the caller frees out). Returns 0 for ok, -EINVAL for an error. */
int ctl_execute(struct sim *s, const char *line, char **out, size_t *len, size_t *cap);

/* The client side (`fieldmon-sim ctl ...`): sends argv joined by spaces,
 * prints data lines to stdout and errors to stderr. Returns the exit status. */
int ctl_client(const char *path, int argc, char **argv);

#endif
