/* contract_cal: parses the calendar strings of a contract (time zone,
 * working days, business hours, dates) into the numbers the SLA clocks use.
 *
 * Time zone choice: a contract carries a fixed UTC offset, not a TZ database
 * name. The C library's only route to the TZ database is the process-wide TZ
 * variable (setenv + tzset + localtime_r), which the collector's worker
 * threads and its logger would see change underneath them; and the seed
 * contracts' region keeps one offset all year. A customer in a region with
 * daylight saving gets the offset of its standard time; docs/contracts.md
 * says so. Dates are converted with the civil-calendar arithmetic below
 * (proleptic Gregorian), which needs no library and no global state. */
#include "contract.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Days since 1970-01-01 of y-m-d (month 1..12): shift the year to start in
 * March so the leap day is last, then count 400-year eras. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int contract_parse_date(const char *text, int64_t *day)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, n = 0;

    if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        text[4] != '-' || text[7] != '-')
        return -EINVAL;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return -EINVAL;
    }
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
        return -EINVAL;
    *day = days_from_civil(y, m, d);
    return 0;
}

static int parse_offset(const char *s, int32_t *off)
{
    int h, m, n = 0;

    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0) {
        *off = 0;
        return 0;
    }
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 ||
        sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5 || !isdigit((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[4]) ||
        !isdigit((unsigned char)s[5]) || h > 14 || m > 59)
        return -EINVAL;
    *off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
    return 0;
}

static int day_index(const char *s, size_t len)
{
    for (int i = 0; i < 7; i++) {
        if (len == 3 && strncasecmp(s, day_names[i], 3) == 0)
            return i;
    }
    return -1;
}

/* "mon-fri" (a range, may wrap: "sat-tue") or "mon,tue,thu" or one day. */
static int parse_weekdays(const char *s, unsigned *mask)
{
    const char *dash = strchr(s, '-');

    *mask = 0;
    if (dash != NULL) {
        int a = day_index(s, (size_t)(dash - s)), b = day_index(dash + 1, strlen(dash + 1));

        if (a < 0 || b < 0)
            return -EINVAL;
        for (int i = a;; i = (i + 1) % 7) {
            *mask |= 1u << i;
            if (i == b)
                break;
        }
        return 0;
    }
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        int d;

        while (len > 0 && *s == ' ') {
            s++;
            len--;
        }
        d = day_index(s, len);
        if (d < 0)
            return -EINVAL;
        *mask |= 1u << d;
        s += len + (comma != NULL);
    }
    return *mask ? 0 : -EINVAL;
}

static int parse_hhmm(const char *s, int32_t *sec)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -EINVAL;
    *sec = h * 3600 + m * 60;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int parse_dates(char **list, size_t n, int64_t **out, const char *name, char *key,
                       size_t keylen, char *why, size_t whylen)
{
    *out = calloc(n ? n : 1, sizeof(**out));
    if (*out == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (contract_parse_date(list[i], &(*out)[i]) != 0) {
            snprintf(key, keylen, "%s[%zu]", name, i);
            snprintf(why, whylen, "\"%s\" is not a date (YYYY-MM-DD)", list[i]);
            return -EINVAL;
        }
    }
    qsort(*out, n, sizeof(**out), cmp_i64);
    return 0;
}

int contract_cal_derive(struct contract_calendar *cal, char *key, size_t keylen, char *why,
                        size_t whylen)
{
    const char *bh = cal->business_hours;
    int rc;

    if (parse_offset(cal->time_zone ? cal->time_zone : "", &cal->utc_offset_s) != 0) {
        snprintf(key, keylen, "time_zone");
        snprintf(why, whylen, "\"%s\" is not UTC or a fixed offset like +08:00",
                 cal->time_zone ? cal->time_zone : "");
        return -EINVAL;
    }
    if (parse_weekdays(cal->working_days ? cal->working_days : "", &cal->weekday_mask) != 0) {
        snprintf(key, keylen, "working_days");
        snprintf(why, whylen, "\"%s\" is not a day range (mon-fri) or list (mon,tue,thu)",
                 cal->working_days ? cal->working_days : "");
        return -EINVAL;
    }
    if (bh == NULL || strlen(bh) != 11 || bh[5] != '-' || parse_hhmm(bh, &cal->day_start_s) ||
        parse_hhmm(bh + 6, &cal->day_end_s) || cal->day_end_s <= cal->day_start_s) {
        snprintf(key, keylen, "business_hours");
        snprintf(why, whylen, "\"%s\" is not HH:MM-HH:MM with the end after the start",
                 bh ? bh : "");
        return -EINVAL;
    }
    rc = parse_dates(cal->holidays, cal->n_holidays, &cal->holiday_days, "holidays", key, keylen,
                     why, whylen);
    if (rc == 0)
        rc = parse_dates(cal->extra_working_days, cal->n_extra_working_days, &cal->extra_days,
                         "extra_working_days", key, keylen, why, whylen);
    return rc;
}

void contract_cal_free_derived(struct contract_calendar *cal)
{
    free(cal->holiday_days);
    free(cal->extra_days);
    cal->holiday_days = NULL;
    cal->extra_days = NULL;
}
