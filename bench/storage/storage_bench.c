/* storage_bench: bench/storage's program (bench/storage/run.sh starts the
 * PostgreSQL it needs). See storage.h for the parts and bench/README.md for
 * what the figures mean.
 *
 *   storage_bench --every DSN --rbe DSN [--points N] [--interval S]
 *                 [--day YYYY-MM-DD] [--year-series N] [--seed N] [--edge-only]
 *
 * DSN: two migrated, empty databases; the every-poll day goes to the first,
 * the report-by-exception day to the second. --edge-only runs the edge part
 * alone (no database): the reduction and the most reported points. */
#include "storage.h"

#include "site_model.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The defaults of the collector's database section (docs/collector.md). */
#define RAW_DAYS 30
#define R5_DAYS 90
#define R1H_DAYS 1830

/* The typical site of the scale model: 30 devices x 50 points (issue 24). */
#define SITE_POINTS 1500

static void usage(void)
{
    fputs("usage: storage_bench --every DSN --rbe DSN [--points N] [--interval S]\n"
          "                     [--day YYYY-MM-DD] [--year-series N] [--seed N] [--edge-only]\n",
          stderr);
    exit(2);
}

static int64_t parse_day(const char *s)
{
    struct tm tm = {0};

    if (strptime(s, "%Y-%m-%d", &tm) == NULL) {
        fprintf(stderr, "storage: --day %s: want YYYY-MM-DD\n", s);
        exit(2);
    }
    return (int64_t)timegm(&tm) * 1000;
}

/* Prints the scale model from the measured bytes per point-day. */
static void scale_model(double rows_pd, double raw_pd, double r5_pd, double r1h_pd)
{
    static const int sites[] = {10, 100, 1000, 10000};

    printf("\nscale model (typical site %d points at the measured per-point figures;"
           " retention raw %d d, 5m %d d, 1h %d d):\n",
           SITE_POINTS, RAW_DAYS, R5_DAYS, R1H_DAYS);
    printf("%8s %12s %12s %12s %14s\n", "sites", "points", "rows/s", "GB/day", "retained GB");
    for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
        double pts = (double)sites[i] * SITE_POINTS;
        double day = pts * (raw_pd + r5_pd + r1h_pd);
        double kept = pts * (raw_pd * RAW_DAYS + r5_pd * R5_DAYS + r1h_pd * R1H_DAYS);

        printf("%8d %12.0f %12.0f %12.2f %14.0f\n", sites[i], pts, pts * rows_pd / 86400.0,
               day / 1e9, kept / 1e9);
    }
}

/* The model points that cost the most rows by exception, per point and day:
 * where a profile's deadband would pay. */
static void top_points(const struct st_edge *e, const struct st_pass *p, size_t sites)
{
    size_t per_site = site_model_points();
    size_t *n = fm_xcalloc(per_site, sizeof(*n));

    for (size_t i = 0; i < p->n_rows; i++)
        n[p->rows[i].point % per_site]++;
    printf("most reported points (rows per point and day, by exception):");
    for (int k = 0; k < 8; k++) {
        size_t best = 0;
        for (size_t i = 1; i < per_site; i++) {
            if (n[i] > n[best])
                best = i;
        }
        /* The first site's device names, without their "s001-" prefix. */
        const char *dev = strchr(e->points[best].device, '-') + 1;
        printf(" %s/%s %zu", dev, e->points[best].point, n[best] / sites);
        n[best] = 0; /* printed */
    }
    printf("\n");
    free(n);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"every", required_argument, NULL, 'e'},
        {"rbe", required_argument, NULL, 'r'},
        {"points", required_argument, NULL, 'p'},
        {"interval", required_argument, NULL, 'i'},
        {"day", required_argument, NULL, 'd'},
        {"year-series", required_argument, NULL, 'y'},
        {"seed", required_argument, NULL, 's'},
        {"edge-only", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    const char *dsn_every = NULL, *dsn_rbe = NULL;
    long points = 1000, interval = 30, year_series = 100;
    uint64_t seed = 24;
    int64_t day_ms = ((int64_t)time(NULL) / 86400 - 1) * 86400000;
    bool edge_only = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            dsn_every = optarg;
            break;
        case 'r':
            dsn_rbe = optarg;
            break;
        case 'p':
            points = atol(optarg);
            break;
        case 'i':
            interval = atol(optarg);
            break;
        case 'd':
            day_ms = parse_day(optarg);
            break;
        case 'y':
            year_series = atol(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'E':
            edge_only = true;
            break;
        default:
            usage();
        }
    }
    size_t per_site = site_model_points();
    if ((!edge_only && (dsn_every == NULL || dsn_rbe == NULL)) || points < (long)per_site ||
        points % (long)per_site != 0 || interval < 1 || year_series < 1)
        usage();
    fm_log_init("storage_bench", 2);
    fm_log_level = FM_LOG_WARNING;

    struct st_edge e = {0};
    struct st_pass every = {.agent_id = "bench-every", .every_poll = true};
    struct st_pass rbe = {.agent_id = "bench-rbe"};
    size_t sites = (size_t)points / per_site;

    if (st_edge_run(&e, &every, &rbe, sites, (int)interval, day_ms, seed) != 0)
        return 1;
    double rows_reduction = (double)every.n_rows / (double)rbe.n_rows;
    bool alarms_same = every.n_alarms == rbe.n_alarms &&
                       (every.alarms_len == 0 || strcmp(every.alarms, rbe.alarms) == 0);
    printf("edge: %zu points, %llu values polled; reported: every poll %zu, by exception %zu"
           " (x%.1f fewer); alarm transitions %zu and %zu, %s\n",
           e.n_points, (unsigned long long)e.polls, every.n_rows, rbe.n_rows, rows_reduction,
           every.n_alarms, rbe.n_alarms, alarms_same ? "the same" : "DIFFERENT");

    top_points(&e, &rbe, sites);
    if (edge_only)
        return alarms_same ? 0 : 1;

    struct st_sizes se, sr;
    if (st_db_load(dsn_every, &e, &every, true, &se) != 0 ||
        st_db_load(dsn_rbe, &e, &rbe, false, &sr) != 0)
        return 1;
    double n = (double)e.n_points;
    printf("every poll: %zu rows, raw %.0f B, 5m %.0f B, 1h %.0f B, series %.0f B; %.0f rows/s;"
           " the same rows in the old shape %.0f B (%.1f B/row before, %.1f after)\n",
           every.n_rows, se.raw_bytes, se.r5_bytes, se.r1h_bytes, se.series_bytes,
           (double)every.n_rows / se.ingest_s, se.legacy_bytes,
           se.legacy_bytes / (double)every.n_rows, se.raw_bytes / (double)every.n_rows);
    printf("by exception: %zu rows, raw %.0f B, 5m %.0f B, 1h %.0f B, series %.0f B; %.0f rows/s\n",
           rbe.n_rows, sr.raw_bytes, sr.r5_bytes, sr.r1h_bytes, sr.series_bytes,
           (double)rbe.n_rows / sr.ingest_s);
    printf("rollups against a recomputation from raw rows: %lld and %lld buckets differ\n",
           se.rollup_mismatches, sr.rollup_mismatches);

    long long trend_rows = 0;
    double trend_ms = st_db_trend(dsn_rbe, (int)year_series, day_ms + 86400000, &trend_rows);
    if (trend_ms < 0)
        return 1;
    printf("one point, one year through fm_series: %lld hourly rows, median %.1f ms of 21"
           " (%ld series hold a year)\n",
           trend_rows, trend_ms, year_series);

    double bpd = (sr.raw_bytes + sr.r5_bytes + sr.r1h_bytes) / n;
    scale_model((double)rbe.n_rows / n, sr.raw_bytes / n, sr.r5_bytes / n, sr.r1h_bytes / n);
    printf("\nbytes_per_point_day=%.0f bytes_per_point_day_every_poll=%.0f"
           " bytes_per_point_day_before=%.0f rows_reduction=%.1f trend_1y_ms=%.1f"
           " ingest_rows_per_s=%.0f alarms_lost=%zu rollup_mismatches=%lld\n",
           bpd, (se.raw_bytes + se.r5_bytes + se.r1h_bytes) / n, se.legacy_bytes / n,
           rows_reduction, trend_ms, (double)every.n_rows / se.ingest_s,
           alarms_same ? (size_t)0
                       : (every.n_alarms > rbe.n_alarms ? every.n_alarms - rbe.n_alarms : 1),
           se.rollup_mismatches + sr.rollup_mismatches);
    free(every.rows);
    free(rbe.rows);
    free(every.alarms);
    free(rbe.alarms);
    free(e.points);
    return alarms_same && se.rollup_mismatches == 0 && sr.rollup_mismatches == 0 ? 0 : 1;
}
