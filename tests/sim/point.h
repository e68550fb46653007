/* point: device values that move (behaviours) or are forced (overrides).
 *
 * Behaviours, evaluated on every tick of the fleet (simulated time t, which
 * runs time_scale times faster than the wall clock):
 *   constant  base
 *   walk      previous value + uniform(-step, step), kept within [min, max]
 *   sine      base + amplitude * sin(2 pi * wall_seconds / period): with the
 *             default period of one day, base at 00:00 and 12:00 UTC, the
 *             maximum at 06:00 UTC and the minimum at 18:00 UTC
 *   drift     base + rate * days since start
 * `base` defaults to the value recorded in the device's data. An override
 * (control command `set` or `flap`) replaces the value until cleared.
 *
 * SNMP points address a record by OID and are served through the device's
 * overlay (struct snmp_ovl); Modbus points write the device's registers. */
#ifndef SIM_POINT_H
#define SIM_POINT_H

#include "sim.h"

#include <stddef.h>

/* The device's point for name, creating one (not configured, constant) if
 * the device has such a value. NULL with a reason in why otherwise. */
struct sim_point *point_get(struct sim_dev *d, const char *name, char *why, size_t whylen);

/* Finds an existing point. */
struct sim_point *point_find(const struct sim_dev *d, const char *name);

/* Forces the point to text (parsed per the value's type). 0 or -EINVAL with
 * why. flapping: the override applies only in the flap "on" phase. */
int point_override(struct sim_point *p, const char *text, bool flapping, char *why, size_t whylen);

/* Drops the override; a point that was not configured is removed. */
void point_clear(struct sim_point *p);

/* Re-resolves SNMP points after the device's data changed (command `data`). */
void point_resolve_all(struct sim_dev *d);

/* Advances behaviours by dt simulated seconds and serves the new values. */
void point_tick(struct sim_dev *d, double dt);

/* Serves the current values (after any change of override or flap phase). */
void point_apply(struct sim_dev *d);

/* The value the point serves now, as text, into buf. */
void point_format(const struct sim_point *p, char *buf, size_t len);

void point_free(struct sim_point *p);

#endif
