/* storage: what bench/storage's program shares between its files.
 *
 *   storage_edge.c  a simulated day of the site model through the agent's
 *                   alarm stage (calibration, alarms, report by exception),
 *                   twice: every poll reported, and the defaults;
 *   storage_db.c    the reported rows through the collector's DB writer
 *                   into PostgreSQL, then sizes, the rollup check and the
 *                   one-year trend read;
 *   storage_bench.c options, the scale model and the last line. */
#ifndef BENCH_STORAGE_H
#define BENCH_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One reported measurement, compact: the point is an index into the pass's
 * point list. */
struct st_row {
    int64_t ts_ms;
    double value;
    uint32_t point;
};

struct st_pass {
    const char *agent_id;
    bool every_poll;
    struct st_row *rows;
    size_t n_rows, cap_rows;
    char *alarms; /* "device code state ts\n" per transition, in order */
    size_t alarms_len, alarms_cap;
    size_t n_alarms;
};

/* The point list shared by both passes: device and point names. */
struct st_point {
    char device[48];
    const char *point;
};

struct st_edge {
    struct st_point *points;
    size_t n_points;
    uint64_t polls; /* values polled per pass */
};

/* Runs one simulated day (from day_ms, UTC midnight) of sites copies of the
 * site model, polled every interval_s, through the alarm stage of both
 * passes. Returns 0, or -1 after printing why. */
int st_edge_run(struct st_edge *e, struct st_pass *every, struct st_pass *rbe, size_t sites,
                int interval_s, int64_t day_ms, uint64_t seed);

struct st_sizes {
    double raw_bytes, r5_bytes, r1h_bytes, series_bytes, legacy_bytes;
    double ingest_s;
    long long rollup_mismatches;
};

/* Writes the pass's rows through the collector's DB writer into dsn (a
 * migrated database of its own), then reads the sizes; legacy also loads
 * the same rows into a table of the old one-row-per-value shape (schema
 * 002) and measures it. Returns 0 or -1 after printing why. */
int st_db_load(const char *dsn, const struct st_edge *e, const struct st_pass *p, bool legacy,
               struct st_sizes *out);

/* Writes a year of hourly rollups for nseries series ending at end_ms and
 * returns the median time of reading one series' year through fm_series
 * (the query path of the API and fieldmonctl), ms; -1 on failure. *rows
 * gets the rows one read returns. */
double st_db_trend(const char *dsn, int nseries, int64_t end_ms, long long *rows);

#endif
