/* regmap: loads a register map (a JSON file of tests/sim/data/modbus/, modbus-regmap/1)
 * for integration tests: the points to plan and read, and the values a
 * poller must decode from what a server returns. */
#ifndef TESTS_REGMAP_H
#define TESTS_REGMAP_H

#include "mb_decode.h"
#include "mb_plan.h"

#include <stddef.h>

struct regmap_point {
    char name[64];
    struct mb_plan_point where;
    int type;  /* enum mb_type */
    int order; /* enum mb_order */
    double scale;
    double value; /* expected engineering value */
};

struct regmap {
    int unit_id;
    size_t n;
    struct regmap_point *pts;    /* malloc'd */
    struct mb_plan_point *where; /* pts[i].where, contiguous, for mb_plan_build */
};

/* Loads path; returns 0 or -EINVAL (message on stderr). */
int regmap_load(const char *path, struct regmap *map);
void regmap_free(struct regmap *map);

#endif
