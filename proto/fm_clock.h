/* fm_clock: the one clock helper of every fieldmon program.
 *
 * Wall time stamps what an operator reads (event times, ticket times); the
 * monotonic clock measures intervals, timeouts and back-offs, which a step
 * of the wall clock (NTP, an operator's `date`) must neither stretch nor cut.
 * Any thread. Code whose behaviour depends on time takes the time as an
 * argument (its caller reads the clock), so tests can give it any time. */
#ifndef FM_CLOCK_H
#define FM_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t fm_clock_wall_ms(void);

/* Milliseconds and microseconds on CLOCK_MONOTONIC (the clock uv_hrtime and
 * uv_cond_timedwait use); only differences mean anything. */
uint64_t fm_clock_mono_ms(void);
uint64_t fm_clock_mono_us(void);

#endif
