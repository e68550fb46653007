/* fleet: the fleet file (YAML, read with fm_conf) and the fleet it builds.
 *
 * The keys are the table in fleet.c; docs/simulator.md lists them all
 * (`fieldmon-sim --reference` prints that table). Template files are found
 * relative to the fleet file's directory. Every error names the fleet file,
 * the line and the key path, or the data file and its line. */
#ifndef SIM_FLEET_H
#define SIM_FLEET_H

#include "sim.h"

#include <stdio.h>

/* Loads path into s (zeroed; s->loop set): templates, buses, devices and
 * their points, all checked. Nothing is bound yet. 0, or -EINVAL / -errno
 * with the message in err; on failure s holds what was built so far and is
 * released by sim_free. */
int fleet_load(struct sim *s, const char *path, char *err, size_t errlen);

/* Prints the fleet file reference (Markdown) from the key table. */
void fleet_print_reference(FILE *out);

#endif
