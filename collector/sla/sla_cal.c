/* sla_cal: see sla_cal.h.
 *
 * Both functions walk the time line from the start: find the next window at
 * or after the cursor, cut it at the next paused interval, count the piece,
 * and move the cursor past it. A window is at most one day long and every
 * step moves the cursor forward by at least one piece or one pause, so the
 * walk ends; a bound on the number of days walked (far beyond any contract's
 * longest clock) turns a calendar without any working day into SLA_NEVER. */
#include "sla_cal.h"

#include <stdlib.h>

#define DAY_S 86400
/* Longest walk: ten years of days. Contract clocks are limited to a year. */
#define SLA_CAL_MAX_DAYS (3660)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t sla_cal_local_day(const struct contract_calendar *cal, int64_t t)
{
    return floor_div(t + cal->utc_offset_s, DAY_S);
}

static int cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static bool has_day(const int64_t *days, size_t n, int64_t day)
{
    return n > 0 && bsearch(&day, days, n, sizeof(*days), cmp_day) != NULL;
}

bool sla_cal_is_working_day(const struct contract_calendar *cal, int64_t day)
{
    /* 1970-01-01 was a Thursday (weekday 4, Sunday = 0). */
    int wd = (int)(((day % 7) + 7 + 4) % 7);

    if (has_day(cal->extra_days, cal->n_extra_working_days, day))
        return true;
    if (has_day(cal->holiday_days, cal->n_holidays, day))
        return false;
    return (cal->weekday_mask >> wd) & 1u;
}

/* The first window [*ws, *we) that ends after t, with *ws >= t. Returns
 * false if none within SLA_CAL_MAX_DAYS. */
static bool next_window(const struct contract_calendar *cal, enum sla_window w, int64_t t,
                        int64_t *ws, int64_t *we)
{
    int64_t day;

    if (w == SLA_WIN_ALWAYS) {
        *ws = t;
        *we = SLA_NEVER;
        return true;
    }
    day = sla_cal_local_day(cal, t);
    for (int i = 0; i < SLA_CAL_MAX_DAYS; i++, day++) {
        int64_t base = day * DAY_S - cal->utc_offset_s; /* local midnight in UTC */
        int64_t s = base, e = base + DAY_S;

        if (!sla_cal_is_working_day(cal, day))
            continue;
        if (w == SLA_WIN_BUSINESS) {
            s = base + cal->day_start_s;
            e = base + cal->day_end_s;
        }
        if (e <= t)
            continue;
        *ws = s > t ? s : t;
        *we = e;
        return true;
    }
    return false;
}

/* Walks from start, counting until `need` is reached (returns that instant)
 * or the cursor reaches `limit` (returns SLA_NEVER); *counted receives the
 * time counted. */
static int64_t walk(const struct contract_calendar *cal, enum sla_window w, int64_t start,
                    int64_t need, int64_t limit, const struct sla_interval *paused, size_t n_paused,
                    int64_t *counted)
{
    int64_t t = start, got = 0;
    size_t p = 0;

    *counted = 0;
    while (t < limit) {
        int64_t ws, we, end;

        if (!next_window(cal, w, t, &ws, &we))
            break;
        if (ws >= limit)
            break;
        /* Skip pauses that ended before this window piece starts. */
        while (p < n_paused && paused[p].end <= ws)
            p++;
        if (p < n_paused && paused[p].start <= ws) {
            if (paused[p].end == SLA_NEVER)
                break;
            t = paused[p].end;
            continue;
        }
        end = we;
        if (p < n_paused && paused[p].start < end)
            end = paused[p].start;
        if (end > limit)
            end = limit;
        if (need - got <= end - ws) {
            *counted = need;
            return ws + (need - got);
        }
        got += end - ws;
        t = end;
    }
    *counted = got;
    return SLA_NEVER;
}

int64_t sla_cal_add(const struct contract_calendar *cal, enum sla_window w, int64_t start,
                    int64_t need, const struct sla_interval *paused, size_t n_paused)
{
    int64_t counted;

    if (need <= 0)
        return start;
    return walk(cal, w, start, need, SLA_NEVER, paused, n_paused, &counted);
}

int64_t sla_cal_between(const struct contract_calendar *cal, enum sla_window w, int64_t a,
                        int64_t b, const struct sla_interval *paused, size_t n_paused)
{
    int64_t counted;

    if (b <= a)
        return 0;
    walk(cal, w, a, SLA_NEVER, b, paused, n_paused, &counted);
    return counted;
}
