/* motion: see motion.h. */
#include "motion.h"

#include <math.h>

double sim_rng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

double sim_motion_next(const struct sim_motion *m, double value, double wall_s, double elapsed_s,
                       bool moved, uint64_t *rng)
{
    switch (m->kind) {
    case SIM_CONSTANT:
        return m->base;
    case SIM_WALK:
        /* The draw happens either way, so a seed gives one sequence. */
        value += (2 * sim_rng_next(rng) - 1) * m->step * (moved ? 1 : 0);
        return fmin(fmax(value, m->min), m->max);
    case SIM_SINE:
        return m->base + m->amplitude * sin(2 * M_PI * fmod(wall_s, m->period_s) / m->period_s);
    case SIM_DRIFT:
        return m->base + m->rate * elapsed_s / 86400.0;
    }
    return value;
}
