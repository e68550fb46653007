/* storage_db: the database half of bench/storage (see storage.h).
 *
 * Rows go in through the collector's own DB writer (collector/ingest/dbs:
 * the Hello, then dbs_write of batches of 1,000 events, each one
 * transaction with the binary COPY and the rollup trigger), so the figure
 * is what one writer thread of fieldmon-collector sustains. */
#include "storage.h"

#include "dbs.h"
#include "fm_alloc.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int hello(struct dbs *s, const char *agent_id)
{
    Fm__Hello h = FM__HELLO__INIT;
    uint64_t committed = 0;

    h.agent_id = (char *)agent_id;
    h.site_id = "bench";
    h.site_name = "bench/storage";
    h.epoch = 1;
    h.software_version = "bench";
    if (dbs_hello(s, &h, "127.0.0.1", &committed) != 0) {
        fprintf(stderr, "storage: Hello of %s: %s\n", agent_id, s->why);
        return -1;
    }
    return 0;
}

/* Writes every row of p in batches; seconds spent in dbs_write, or < 0. */
static double ingest(struct dbs *s, const struct st_edge *e, const struct st_pass *p)
{
    Fm__Event *ev = fm_xcalloc(BATCH, sizeof(*ev));
    Fm__Event **evp = fm_xcalloc(BATCH, sizeof(*evp));
    Fm__Measurement *m = fm_xcalloc(BATCH, sizeof(*m));
    double spent = 0;
    uint64_t seq = 0;

    for (size_t at = 0; at < p->n_rows; at += BATCH) {
        size_t n = p->n_rows - at < BATCH ? p->n_rows - at : BATCH;
        Fm__EventBatch b = FM__EVENT_BATCH__INIT;
        struct dbs_batch db = {.agent_id = p->agent_id, .batch = &b};

        for (size_t i = 0; i < n; i++) {
            const struct st_row *r = &p->rows[at + i];

            fm__measurement__init(&m[i]);
            fm__event__init(&ev[i]);
            m[i].point = (char *)e->points[r->point].point;
            m[i].quality = FM__QUALITY__QUALITY_GOOD;
            m[i].has_value = true;
            m[i].value = m[i].raw = r->value;
            ev[i].seq = ++seq;
            ev[i].ts_ms = r->ts_ms;
            ev[i].device = (char *)e->points[r->point].device;
            ev[i].kind_case = FM__EVENT__KIND_MEASUREMENT;
            ev[i].measurement = &m[i];
            evp[i] = &ev[i];
        }
        b.epoch = 1;
        b.events = evp;
        b.n_events = n;
        double t0 = now_s();
        if (dbs_write(s, &db, 1) != 0) {
            fprintf(stderr, "storage: write: %s\n", s->why);
            spent = -1;
            break;
        }
        spent += now_s() - t0;
    }
    free(ev);
    free(evp);
    free(m);
    return spent;
}

static PGresult *q(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "storage: %s\n  %s", sql, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static double q_num(PGconn *c, const char *sql)
{
    PGresult *r = q(c, sql);
    double v = -1;

    if (r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return v;
}

/* Bytes of a partitioned table: its partitions with their indexes and
 * TOAST. */
static double parted_bytes(PGconn *c, const char *parent)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
             " WHERE inhparent = '%s'::regclass",
             parent);
    return q_num(c, sql);
}

/* The rows in the shape of schema 002 (one row per value, labels, the
 * (agent_key, epoch, seq, ts) key and the (point_id, ts) index), loaded
 * from the new table: what the same day cost before. */
static const char legacy_sql[] =
    "CREATE TABLE legacy_measurements (ts timestamptz NOT NULL, point_id bigint NOT NULL,"
    " labels jsonb, value double precision, raw double precision, rate double precision,"
    " text_value text, quality smallint NOT NULL DEFAULT 1, quality_detail text,"
    " agent_key integer NOT NULL, epoch bigint NOT NULL, seq bigint NOT NULL,"
    " PRIMARY KEY (agent_key, epoch, seq, ts));"
    "CREATE INDEX legacy_measurements_point_ts ON legacy_measurements (point_id, ts);"
    "INSERT INTO legacy_measurements SELECT v.ts, v.point_id, NULL, v.value, v.raw, v.rate,"
    " v.text_value, v.quality, v.quality_detail, a.agent_key, 1, v.seq"
    " FROM measurement_values v JOIN agents a USING (agent_id) ORDER BY v.ts";

int st_db_load(const char *dsn, const struct st_edge *e, const struct st_pass *p, bool legacy,
               struct st_sizes *out)
{
    struct dbs s;
    PGconn *c;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    dbs_init(&s, "bench-storage");
    if (dbs_connect(&s, dsn) != 0) {
        fprintf(stderr, "storage: connect: %s\n", s.why);
        dbs_close(&s);
        return -1;
    }
    if (hello(&s, p->agent_id) != 0 || (out->ingest_s = ingest(&s, e, p)) < 0) {
        dbs_close(&s);
        return -1;
    }
    dbs_close(&s);
    c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "storage: connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    /* The day is over: its last buckets move to the stored rollups, as
     * partition maintenance would move them an hour later. */
    PGresult *r = q(c, "SELECT fm_rollup_flush(now())");
    if (r == NULL)
        goto out;
    PQclear(r);
    if ((r = q(c, "VACUUM ANALYZE")) == NULL)
        goto out;
    PQclear(r);
    out->raw_bytes = parted_bytes(c, "measurements");
    out->r5_bytes =
        parted_bytes(c, "rollup_5m") + q_num(c, "SELECT pg_total_relation_size('rollup_5m_open')");
    out->r1h_bytes =
        parted_bytes(c, "rollup_1h") + q_num(c, "SELECT pg_total_relation_size('rollup_1h_open')");
    out->series_bytes = q_num(c, "SELECT pg_total_relation_size('series')");
    out->rollup_mismatches =
        (long long)q_num(c, "SELECT count(*) FROM fm_rollup_verify('-infinity', 'infinity')");
    if (legacy) {
        if ((r = q(c, legacy_sql)) == NULL)
            goto out;
        PQclear(r);
        if ((r = q(c, "VACUUM ANALYZE legacy_measurements")) == NULL)
            goto out;
        PQclear(r);
        out->legacy_bytes = q_num(c, "SELECT pg_total_relation_size('legacy_measurements')");
    }
    rc = out->raw_bytes < 0 || out->rollup_mismatches < 0 ? -1 : 0;
out:
    PQfinish(c);
    return rc;
}

/* A year of hourly rollups for the first nseries series, in the shape the
 * trigger writes, with the partitions each month needs. */
static const char year_sql[] =
    "SELECT fm_range_partition('rollup_1h', 'rollup_1h_' || to_char(m, 'YYYYMM'), m,"
    " m + interval '1 month', 80) FROM generate_series(date_trunc('month', $1::timestamptz"
    " - interval '366 days'), $1::timestamptz, interval '1 month') m";
static const char year_rows_sql[] =
    "INSERT INTO rollup_1h (series_id, n, bucket, min, max, sum, last, last_ms)"
    " SELECT s.series_id, 120, h, 20 + random(), 22 + random(), 120 * 21, 21, 3570000"
    " FROM (SELECT series_id FROM series ORDER BY series_id LIMIT $2::int) s,"
    " generate_series($1::timestamptz - interval '365 days', $1::timestamptz - interval '1 day',"
    " interval '1 hour') h ON CONFLICT DO NOTHING";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double st_db_trend(const char *dsn, int nseries, int64_t end_ms, long long *rows)
{
    PGconn *c = PQconnectdb(dsn);
    char end[32], ns[16];
    double times[21], median = -1;
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "storage: connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    snprintf(end, sizeof(end), "%.3f", (double)end_ms / 1000.0);
    snprintf(ns, sizeof(ns), "%d", nseries);
    const char *p[] = {end, ns};
    r = PQexecParams(c, "SELECT to_timestamp($1::double precision)::text", 1, NULL, p, NULL, NULL,
                     0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto fail;
    snprintf(end, sizeof(end), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexecParams(c, year_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto fail;
    PQclear(r);
    r = PQexecParams(c, year_rows_sql, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        goto fail;
    PQclear(r);
    r = PQexec(c, "VACUUM ANALYZE rollup_1h");
    PQclear(r);
    /* What the API does for a one-year chart: the series, then fm_series
     * with 'auto' over the year (hourly rollups by its rule). */
    for (int i = 0; i < 21; i++) {
        char sid[16];
        snprintf(sid, sizeof(sid), "%d", 1 + (i * 7919) % nseries);
        const char *tp[] = {sid, end};
        double t0 = now_s();
        r = PQexecParams(c,
                         "SELECT * FROM fm_series((SELECT series_id FROM series ORDER BY series_id"
                         " OFFSET $1::int - 1 LIMIT 1), $2::timestamptz - interval '365 days',"
                         " $2::timestamptz)",
                         2, NULL, tp, NULL, NULL, 0);
        times[i] = (now_s() - t0) * 1000.0;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            goto fail;
        *rows = PQntuples(r);
        if (strcmp(PQgetvalue(r, 0, 1), "1h") != 0) {
            fprintf(stderr, "storage: a year was read at resolution %s, not 1h\n",
                    PQgetvalue(r, 0, 1));
            PQclear(r);
            PQfinish(c);
            return -1;
        }
        PQclear(r);
    }
    qsort(times, 21, sizeof(times[0]), cmp_double);
    median = times[10];
    PQfinish(c);
    return median;
fail:
    fprintf(stderr, "storage: trend: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return -1;
}
