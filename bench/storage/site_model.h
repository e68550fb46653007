/* site_model: the points of one typical site for bench/storage, with the
 * simulator's behaviours (tests/sim/motion.h) moving their values.
 *
 * A site is 100 points on 10 devices: two UPS units, two environmental
 * probes, four cameras, an AHU DDC and a power meter, as the demo fleet's
 * device images describe them (tests/sim/data). Each point has a unit (the
 * agent's report-by-exception defaults go by unit), the resolution its
 * device reports in (a UPS gives whole volts, a probe tenths of a degree)
 * and a behaviour: status words, set points and capacities stay constant,
 * temperatures follow the day (sine), loads and mains wander (walk), run
 * hours and energy counters grow (drift). */
#ifndef BENCH_SITE_MODEL_H
#define BENCH_SITE_MODEL_H

#include "motion.h"

#include <stddef.h>

struct model_point {
    const char *name;
    const char *unit;
    const char *type;    /* the agent's point type: gauge, enum */
    double quantum;      /* the device's resolution; values are rounded to it */
    struct sim_motion m; /* period_s 0: one day */
    const char *keys;    /* more keys of the point in the agent's profile ("" none) */
};

struct model_device {
    const char *profile; /* profile name, also the device name's stem */
    const char *dev_class;
    int per_site;
    const struct model_point *points;
    size_t n_points;
};

extern const struct model_device site_model[];
extern const size_t site_model_n;

/* Points per site (100). */
size_t site_model_points(void);

#endif
