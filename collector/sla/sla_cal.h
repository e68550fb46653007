/* sla_cal: counting contract time on a business calendar.
 *
 * A clock counts only inside its windows: always (7x24), whole working days
 * (resolution in working days), or business hours of working days (5x8).
 * Working days are the calendar's weekdays, minus holidays, plus make-up
 * working days, in the contract's local time (a fixed UTC offset, see
 * contract_cal.c). Paused intervals never count. Times are Unix seconds.
 * Pure functions: no clock, no allocation, any thread. */
#ifndef SLA_CAL_H
#define SLA_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"

#define SLA_NEVER INT64_MAX /* a deadline that cannot be reached (paused clock) */

enum sla_window {
    SLA_WIN_ALWAYS = 0,       /* every second counts */
    SLA_WIN_WORKING_DAYS = 1, /* 00:00-24:00 local of working days */
    SLA_WIN_BUSINESS = 2,     /* business hours of working days */
};

/* A paused interval [start, end); end == SLA_NEVER while still paused. */
struct sla_interval {
    int64_t start, end;
};

/* Local day number (days since 1970-01-01 in the calendar's offset) of t. */
int64_t sla_cal_local_day(const struct contract_calendar *cal, int64_t t);

/* Whether local day `day` is a working day. */
bool sla_cal_is_working_day(const struct contract_calendar *cal, int64_t day);

/* The instant at which `need` seconds of counting time have passed since
 * start, skipping time outside window w and inside the paused intervals
 * (sorted by start, not overlapping). need <= 0 returns start. SLA_NEVER if
 * an open pause stops the count first. */
int64_t sla_cal_add(const struct contract_calendar *cal, enum sla_window w, int64_t start,
                    int64_t need, const struct sla_interval *paused, size_t n_paused);

/* Counting time in [a, b) under the same rules (0 if b <= a). */
int64_t sla_cal_between(const struct contract_calendar *cal, enum sla_window w, int64_t a,
                        int64_t b, const struct sla_interval *paused, size_t n_paused);

#endif
