/* fm_clock: see fm_clock.h. */
#include "fm_clock.h"

#include <time.h>

int64_t fm_clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t fm_clock_mono_ms(void)
{
    return mono_ns() / 1000000u;
}

uint64_t fm_clock_mono_us(void)
{
    return mono_ns() / 1000u;
}
