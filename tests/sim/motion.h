/* motion: how a simulated value moves, as a pure function of time.
 *
 * The behaviours of point.h (constant, walk, sine, drift) without the
 * simulator around them: the fleet calls sim_motion_next on every tick with
 * its own clock, and a benchmark can call it with any clock (a simulated day
 * in a second), so both move values the same way. */
#ifndef SIM_MOTION_H
#define SIM_MOTION_H

#include <stdbool.h>
#include <stdint.h>

enum sim_behaviour { SIM_CONSTANT, SIM_WALK, SIM_SINE, SIM_DRIFT };

struct sim_motion {
    enum sim_behaviour kind;
    double base;      /* constant, sine (centre), drift (start) */
    double min, max;  /* walk: bounds */
    double step;      /* walk: largest change per tick */
    double amplitude; /* sine: half the swing */
    double period_s;  /* sine: length of one cycle */
    double rate;      /* drift: change per day */
};

/* Uniform in [0, 1) from the xorshift64* state (never 0); reproducible per
 * seed. */
double sim_rng_next(uint64_t *state);

/* The value after one tick: value is the current one, wall_s the simulated
 * Unix time (sine is anchored to it: base at 00:00 and 12:00 UTC with the
 * default one-day period), elapsed_s the simulated seconds since the start
 * (drift), moved false for a tick that advanced no time (a walk stays). */
double sim_motion_next(const struct sim_motion *m, double value, double wall_s, double elapsed_s,
                       bool moved, uint64_t *rng);

#endif
