/* mb_rtu: Modbus RTU buses on pseudo-terminals, several unit ids per bus.
 *
 * Each bus is an openpty() pair: the simulator keeps the master and the
 * slave (so the line stays up and raw between clients) and publishes the
 * slave's path, e.g. /dev/pts/7, in the ports file and optionally as a
 * symlink. A client such as `mbpoll -m rtu` opens that path as its serial
 * port. Requests are framed by mb_frame (libmodbus 3.1.6's RTU server drops
 * frames for any unit id but its own, see mb_frame.h), checked by CRC,
 * routed to the device with that unit id and answered by modbus_reply().
 * Frames with a bad CRC or an unknown unit id get no answer, as on a real
 * bus; unit id 0 is a broadcast: every unit applies it, none answers. */
#ifndef SIM_MB_RTU_H
#define SIM_MB_RTU_H

#include "mb_frame.h"
#include "sim.h"

#include <stddef.h>

struct sim_rtu_bus {
    struct sim *sim;
    char *name;
    char *link; /* symlink to create, or NULL */
    char path[64];
    int master;
    int slave;
    uv_poll_t poll;
    uv_timer_t timer; /* held-back reply, or end of a partial frame */
    bool delaying;
    struct sim_dev **units;
    size_t n_units;
    /* Inter-frame gaps seen on the bus (command `bus`): from just before a
     * reply is written to the first byte of the next request. Taking the
     * time before the write and after the read makes each gap an upper
     * bound of the master's real silence: a slow simulator can only make it
     * larger, so `min_gap_ns >= delay` is a safe check of the master. */
    uint64_t reply_ns; /* uv_hrtime before the last reply; 0 after it was used */
    uint64_t min_gap_ns;
    uint64_t n_gaps;
    uint64_t n_replies;
    size_t len;
    uint8_t buf[4 * 256];
};

/* Creates the bus (openpty, raw mode, symlink). 0 or -errno with err. */
int mb_rtu_open(struct sim *s, struct sim_rtu_bus *bus, char *err, size_t errlen);

/* Adds device d (unit d->unit_id); -EEXIST if that unit id is taken. */
int mb_rtu_attach(struct sim_rtu_bus *bus, struct sim_dev *d);

/* Prints the bus's counters into buf: `replies N gaps N min_gap_us N`
 * (min_gap_us -1 before the first gap); with reset, zeroes them after. */
void mb_rtu_stats(struct sim_rtu_bus *bus, bool reset, char *buf, size_t len);

/* Closes the poll and timer (sim->closing counts them), the pty and the
 * symlink. The struct is freed by the caller after the loop drained. */
void mb_rtu_close(struct sim_rtu_bus *bus);

#endif
