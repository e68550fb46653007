/* ctl_time: the time zone fieldmonctl reads and prints times in.
 *
 * Every time a command reads or prints is in the contract's time zone: the
 * one given with --tz, else that of the contract named by the command (e.g.
 * `sla --contract C`), else of the default contract, else of the only
 * contract published; UTC when no contract is published (sla_contracts,
 * written by the collector). The zone is set on the PostgreSQL session, so
 * a time without an offset is read in it and every TS() column prints in it
 * with its offset.
 *
 * Times are read by PostgreSQL ("2026-12-04", "2026-12-04 08:00",
 * "2026-12-04T08:00+08:00", "now", "yesterday"); a bad one is refused in
 * the user's words, never with PostgreSQL's message. */
#ifndef CTL_TIME_H
#define CTL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl;

/* Parses a fixed UTC offset ("UTC", "Z", "+08:00", "-05:30", "+8") into
 * seconds east of UTC and its canonical name ("+08:00", "UTC") in name
 * (>= 8 bytes). Returns 0 or -EINVAL. */
int ctl_tz_parse(const char *text, int *offset_s, char *name, size_t namelen);

/* Sets the session time zone of c's connection: c->tz_arg if given, else
 * the zone of contract (NULL: the default or only one). Returns CTL_OK or
 * CTL_FAIL/CTL_USAGE after printing why. Called by ctl_conn with contract
 * NULL; a command that names a contract calls it again. */
int ctl_tz_apply(struct ctl *c, const char *contract);

/* How a date without a time is read. */
enum ctl_time_day {
    CTL_DAY_START, /* 2026-12-04 is 00:00 of that day */
    CTL_DAY_END,   /* 2026-12-04 is 00:00 of the next day (an inclusive range end) */
};

/* Reads text (see above) in the session's zone into Unix seconds (*t, with
 * fractions). cmd and opt name the command and option for the message
 * ("fieldmonctl sla: --from \"x\": not a time ..."). Returns CTL_OK,
 * CTL_USAGE (not a time) or CTL_FAIL (no connection). */
int ctl_parse_time(struct ctl *c, const char *cmd, const char *opt, const char *text,
                   enum ctl_time_day day, double *t);

/* Formats Unix seconds t as a parameter PostgreSQL reads back exactly
 * ("1764806400.250"), for to_timestamp($n::float8). buf >= 32 bytes. */
void ctl_time_param(double t, char *buf, size_t len);

#endif
