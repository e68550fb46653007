/* generate: writes a fleet file for N SNMP and M Modbus TCP devices from the
 * bundled device templates (`fieldmon-sim --generate`). */
#ifndef SIM_GENERATE_H
#define SIM_GENERATE_H

#include <stdio.h>

struct generate_opts {
    unsigned n_snmp;
    unsigned n_modbus;
    const char *data_dir; /* written into the file as given */
    const char *snmp_use; /* comma-separated template names, NULL = all */
    const char *modbus_use;
    unsigned per_site; /* devices per site */
};

/* Writes the fleet to out. 0, or -EINVAL with a reason in err (unknown
 * template name). */
int generate_fleet(FILE *out, const struct generate_opts *o, char *err, size_t errlen);

#endif
